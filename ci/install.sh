#!/usr/bin/env bash
# Install sharder with its dev extras into the job's Python (a fresh runner each job).
set -euo pipefail
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e '.[dev]'
sharder --version
