"""The example suite bundled with sharder, for the README demo and sharder's own end-to-end tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sharder.core.errors import SharderError

EXAMPLE_DIR = Path(__file__).parent / "example_suite"


def copy_example(destination: str | os.PathLike[str]) -> Path:
    """Copy the example suite (tests, pytest.ini, its recorded durations.json) into an empty or new directory."""
    target = Path(destination)
    if target.exists() and any(target.iterdir()):
        raise SharderError(f"{os.fspath(target)!r} is not empty; give a new or empty directory for the example")
    shutil.copytree(
        EXAMPLE_DIR, target, dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "reports", "plan.json"),
    )
    return target
