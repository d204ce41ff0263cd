"""Shards that die the ways CI shards die: a real pytest process, a real signal, a real memory limit.

A suite of six tests in one shard; the fourth dies in the way each case names. When the process dies with it
(abort, segfault, SIGKILL, pytest-timeout's thread method ending the process, `os._exit(0)`, which pytest's exit
code calls a success), no JUnit report is written, `sharder run` is red, and
`sharder merge` must go red, name the test that was running, and name exactly the two that never started; the three
that finished come back from the progress log. When the process survives (a MemoryError under `RLIMIT_AS`, the
signal method's per-test timeout), the shard reports all six and the dying test as failed.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import Outcome

TESTS = ["test_01", "test_02", "test_03", "test_04_dies", "test_05", "test_06"]
VICTIM = f"tests/test_dying.py::{TESTS[3]}"

SUITE = '''\
import ctypes
import os
import signal
import time

HOW = os.environ.get("DIE_HOW", "")


def test_01():
    pass


def test_02():
    pass


def test_03():
    pass


def test_04_dies():
    if HOW == "abort":
        os.abort()
    elif HOW == "segfault":
        ctypes.string_at(0)
    elif HOW == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif HOW == "hang":
        time.sleep(120)
    elif HOW == "exit0":
        os._exit(0)
    elif HOW == "memory":
        blob = bytearray(8 * 1024 ** 3)  # over the child's RLIMIT_AS: MemoryError, the process survives
        blob[0] = 1


def test_05():
    pass


def test_06():
    pass
'''

# The shard's address space, capped in the `sharder run` child (inherited by its pytest): room for pytest, not for
# the 8 GiB the memory case asks for.
SHARD_ADDRESS_SPACE = 2 * 1024 ** 3


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SHARD_ADDRESS_SPACE, SHARD_ADDRESS_SPACE))


@pytest.fixture
def planned_suite(tmp_path: Path, sharder_capped: Callable[..., Outcome]) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_dying.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n", encoding="utf-8")
    planned = sharder_capped(["plan", "--shards", "1", "-o", "plan.json"], cwd=tmp_path)
    assert planned.code == 0, planned.stderr
    return tmp_path


def _run_shard(suite: Path, env: dict[str, str], how: str, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sharder", "run", "--shard", "1/1", "--plan", "plan.json", "--junit-dir", "reports",
         *(["--timeout", "2"] if how in ("hang", "hang-thread") else []), "--", *pytest_args],
        cwd=suite, env={**env, "DIE_HOW": how.removesuffix("-thread")}, capture_output=True, text=True,
        timeout=300, check=False, preexec_fn=_cap_address_space if how == "memory" else None,
    )


def _merge(suite: Path, sharder_capped: Callable[..., Outcome]) -> tuple[Outcome, dict[str, Any]]:
    outcome = sharder_capped(["merge", "reports", "--plan", "plan.json", "--json"], cwd=suite)
    return outcome, json.loads(outcome.stdout)


# case -> (attack, extra pytest args, the exit code `sharder run` must give: 128 + signal, as a shell reports it;
# pytest-timeout's thread method ends the process itself with os._exit(1))
PROCESS_DIES = {
    "abort": ("os.abort() in a test (SIGABRT)", (), 128 + signal.SIGABRT),
    "segfault": ("ctypes.string_at(0) in a test (SIGSEGV)", (), 128 + signal.SIGSEGV),
    "sigkill": ("SIGKILL mid-test (what the OOM killer sends)", (), 128 + signal.SIGKILL),
    "hang-thread": ("a hanging test, pytest-timeout thread method (ends the process)",
                    ("-o", "timeout_method=thread"), 1),
    "exit0": ("os._exit(0) in a test (pytest's exit code says success)", (), 1),
}


@pytest.mark.parametrize("how", sorted(PROCESS_DIES))
def test_a_shard_that_dies_mid_test_is_red_and_names_exactly_the_unfinished_tests(
    how: str, planned_suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    attack, pytest_args, exit_code = PROCESS_DIES[how]
    ran = _run_shard(planned_suite, sharder_env, how, *pytest_args)
    assert ran.returncode == exit_code, ran.stdout[-2000:] + ran.stderr[-2000:]
    if exit_code > 128:
        assert f"sharder: pytest was killed by {signal.Signals(exit_code - 128).name}" in ran.stderr
    if how == "exit0":
        assert f"pytest exited 0 without writing its JUnit report, while {VICTIM} was running" in ran.stderr
    assert not (planned_suite / "reports" / "shard-1-of-1.xml").exists()
    outcome, verdict = _merge(planned_suite, sharder_capped)
    shard = verdict["shards"][0]
    ledger(f"shard killed: {attack}",
           f"run exit {ran.returncode}; merge exit {outcome.code}: {shard['status']} in {shard['died_in']}, "
           f"{shard['recovered']} recovered, {len(shard['missing'])} never reported")
    assert outcome.code == 1 and verdict["exit_code"] == 1
    assert shard["status"] == "died" and shard["died_in"] == VICTIM
    assert shard["recovered"] == 3
    assert shard["missing"] == [f"tests/test_dying.py::{name}" for name in TESTS[3:]]
    assert verdict["missing"] == 3 and verdict["reported"] == 3
    assert "Traceback" not in outcome.stderr


PROCESS_SURVIVES = {
    "memory": "a test over the shard's RLIMIT_AS (MemoryError)",
    "hang": "a hanging test, per-test --timeout 2 (signal method)",
}


@pytest.mark.parametrize("how", sorted(PROCESS_SURVIVES))
def test_a_shard_that_survives_a_dying_test_reports_it_failed_and_goes_on(
    how: str, planned_suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    ran = _run_shard(planned_suite, sharder_env, how)
    assert ran.returncode == 1, ran.stdout[-2000:] + ran.stderr[-2000:]
    outcome, verdict = _merge(planned_suite, sharder_capped)
    ledger(f"shard survives: {PROCESS_SURVIVES[how]}",
           f"run exit {ran.returncode}; merge exit {outcome.code}: {verdict['reported']} reported, "
           f"{verdict['failed']} failed ({verdict['failures'][0]['message'][:60]!r}), {verdict['missing']} missing")
    assert outcome.code == 1
    assert verdict["reported"] == 6 and verdict["missing"] == 0
    assert [failure["nodeid"] for failure in verdict["failures"]] == [VICTIM]
    expected = "MemoryError" if how == "memory" else "Timeout"
    assert expected in verdict["failures"][0]["message"]
