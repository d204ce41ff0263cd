"""The exit of a session sharder drives skips the finalization's heap walk, and loses no pending finalizer.

Real pytest processes on a generated suite. Its conftest registers an `atexit` callback when pytest imports it,
before the plugin's `pytest_configure`; callbacks run last-registered first, so the conftest's runs after
sharder's and sees what sharder left: how many objects are frozen. Another, registered at `pytest_unconfigure`
(after sharder's, so it runs before it), leaves a reference cycle with a finalizer as garbage, the collector
switched off, and the finalizer must still run (garbage a test leaves would not do: pytest collects after the
session).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = '''
import atexit, gc, os

def _report():
    with open(os.environ["EXIT_REPORT"], "w") as out:
        out.write(str(gc.get_freeze_count()))

class Cycle:
    def __init__(self):
        self.me = self

    def __del__(self, _open=open, _path=os.environ["FINALIZED"]):  # the module may be torn down by then
        with _open(_path, "w") as out:
            out.write("finalized")

def _leave_garbage():
    gc.disable()
    Cycle()

atexit.register(_report)

def pytest_unconfigure(config):
    atexit.register(_leave_garbage)  # after sharder's callback, so it runs before it
'''

TESTS = '''
def test_one():
    pass
'''


def _suite(root: Path, ini: str = "") -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text(f"[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n{ini}")
    (root / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "test_one.py").write_text(TESTS)
    return root


def _exit_state(root: Path, *args: str) -> tuple[int, bool]:
    """(objects frozen once sharder's exit callback ran, whether the exit callback's garbage was finalized)."""
    report, finalized = root / "exit-report", root / "finalized"
    env = dict(os.environ, EXIT_REPORT=str(report), FINALIZED=str(finalized))
    done = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return int(report.read_text()), finalized.read_text() == "finalized" if finalized.exists() else False


def test_a_shard_freezes_its_heap_at_exit_and_still_finalizes_garbage(tmp_path: Path) -> None:
    frozen, finalized = _exit_state(_suite(tmp_path), "--shard", "1/1")
    assert frozen > 1000  # pytest's and the suite's objects, not a handful
    assert finalized


@pytest.mark.parametrize("args, ini", [
    pytest.param([], "", id="a plain pytest session with the plugin loaded"),
    pytest.param(["--shard", "1/1"], "sharder_fast_exit = false\n", id="turned off in the ini"),
])
def test_other_sessions_exit_as_python_does(tmp_path: Path, args: list[str], ini: str) -> None:
    frozen, finalized = _exit_state(_suite(tmp_path, ini), *args)
    assert frozen == 0
    assert finalized  # the interpreter's own finalization collected it


def test_a_bad_ini_value_is_one_usage_line(tmp_path: Path) -> None:
    root = _suite(tmp_path, "sharder_fast_exit = maybe\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "--shard", "1/1"], cwd=root, capture_output=True,
                          text=True, timeout=300, check=False, env=dict(os.environ, EXIT_REPORT=str(root / "r"),
                                                                        FINALIZED=str(root / "f")))
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert done.stderr.strip() == "ERROR: invalid truth value 'maybe'"  # pytest checks the bool ini itself
    assert "Traceback" not in done.stdout + done.stderr
