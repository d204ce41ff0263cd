"""The fault report stays quiet unless asked: one line by default, the table with `--fault-report`, the file always."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

pytestmark = pytest.mark.integration

ATTACKS = '''
import json

def _row(request, attack, observed):
    request.node.user_properties.append(("sharder_fault_ledger", json.dumps(["test_x.py", attack, observed])))

def test_one(request):
    _row(request, "first attack", "exit 2: refused")

def test_two(request):
    _row(request, "second attack", "exit 1: red")
'''


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_x.py").write_text(ATTACKS)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SHARDER_")}
    environment.update(PYTHONPATH=os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")]), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.faults.ledger", "-p", "no:randomly",
                           "-p", "no:cacheprovider", *args], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=120, check=False)


def test_by_default_one_line_counts_the_attacks(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sharder fault report: 2 attacks; --fault-report prints them" in done.stdout
    assert "first attack" not in done.stdout


@pytest.mark.parametrize("how", ["option", "variable"])
def test_asked_for_it_prints_the_table(tmp_path: Path, how: str) -> None:
    done = _run(tmp_path, "--fault-report") if how == "option" else _run(tmp_path, SHARDER_PRINT_FAULT_REPORT="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first attack" in done.stdout and "second attack" in done.stdout


def test_the_file_is_written_either_way(tmp_path: Path) -> None:
    target = tmp_path / "faults.txt"
    done = _run(tmp_path, SHARDER_FAULTS_REPORT=str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"(table written to {target})" in done.stdout
    assert "first attack" in target.read_text() and "first attack" not in done.stdout
