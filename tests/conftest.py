"""Shared fixtures: a fresh copy of the bundled example suite and a way to run the real `sharder` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import hypothesis  # noqa: F401  (see below)
import pytest

from sharder.example import copy_example

# Imported here, before any in-process pytester run, so that every run's sys.modules snapshot already holds it.
# Otherwise the first inner run imports hypothesis (its pytest plugin does), the snapshot's restore deletes it
# from sys.modules, and the next run imports it again: hypothesis >= 6.150 carries a compiled module
# (hypothesis._native) that does not survive being initialised twice, and the interpreter then aborted at exit
# ("Fatal Python error: none_dealloc") after tests/commands/test_end_to_end.py and
# tests/pytest_plugin/test_footprint_collection.py ran in one process, exit 134 with every test passed.

# conftest_lib: gc and asyncio cleanup after each test, per-test peak memory, the unit/slow/... markers.
# tests.faults.ledger: the fault report, here so that the xdist controller, which prints it, loads it too.
# tests.redis_service: a real redis-server for queue mode's tests.
pytest_plugins = ["pytester", "conftest_lib", "tests.faults.ledger", "tests.redis_service"]

# The tests start about 700 pytest and sharder processes. pytest rewrites the asserts of every module of a plugin
# it loads (hypothesis's 95 modules, all of sharder's) and caches the result only where bytecode may be written:
# under PYTHONDONTWRITEBYTECODE (set on some CI machines) every child rewrote them again, 1.2 s of each pytest
# start. The children (xdist's workers too, started after this) may cache; this process keeps its setting.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# The example suite sleeps for real; sharder's own tests run it 20x faster.
EXAMPLE_TIME_SCALE = "0.05"


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example")


@pytest.fixture
def sharder_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SHARDER_EXAMPLE_TIME_SCALE"] = EXAMPLE_TIME_SCALE
    env.pop("GITHUB_ACTIONS", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.pop("GITHUB_OUTPUT", None)
    return env


@pytest.fixture
def run_sharder(sharder_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Run `python -m sharder ARGS` in a directory; returns the CompletedProcess (text mode)."""

    def run(args: Sequence[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sharder", *args],
            cwd=cwd, env={**sharder_env, **env}, capture_output=True, text=True, timeout=300, check=False,
        )

    return run
