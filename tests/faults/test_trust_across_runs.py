"""Trust across runs: a verdict is built only from files the run being judged wrote, and nothing ran is no pass.

Every case runs the real CLI (`python -m sharder run` / `merge` / `replay`, plain `python -m pytest` where a user
would drive the plugin alone) on a little suite written into tmp_path, twice into one directory where the attack
needs an earlier run's leftovers:
- a green run, then a run of the same shard that dies (os._exit(0), SIGKILL mid-test, SIGKILL before pytest's
  session, `sharder run` itself killed before pytest starts): last run's report must not stand in for it;
- the same with plain `pytest --shard`, which clears nothing: the merge must refuse the report by its run identity;
- leftovers that are only a progress log, or only a coverage file;
- `-k typo` (and `-m`, `--parallel`, `--plan`) on every shard: pytest's exit 5, and a merge that says no test ran;
- a replay of a shard that ran with `--pyargs`/`-k`, given no arguments, or other ones;
- every shard refusing to run (a stale plan, a corrupt plan after a green run, xdist workers refusing, a bad pytest
  option): the merge names each shard's error once, with its tests under it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import Outcome, assert_clean_refusal

pytestmark = pytest.mark.integration

SUITE = '''\
import os
import signal

HOW = os.environ.get("DIE_HOW", "")


def test_1():
    pass


def test_2_dies():
    if HOW == "exit0":
        os._exit(0)
    elif HOW == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif HOW == "hang":
        import time
        time.sleep(120)


def test_3():
    pass
'''

# pytest starts, and is killed before its session writes anything (the OOM killer during start-up).
CONFTEST = '''\
import os
import signal

if os.environ.get("DIE_HOW") == "before-session":
    os.kill(os.getpid(), signal.SIGKILL)
'''

REPORT = "reports/shard-1-of-1.xml"
LOG = "reports/shard-1-of-1.progress.jsonl"
FIRST = "tests/test_a.py::test_1"
DYING = "tests/test_a.py::test_2_dies"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def suite(tmp_path: Path, sharder_capped: Callable[..., Outcome]) -> Path:
    root = _write(tmp_path / "suite", {
        "tests/test_a.py": SUITE, "conftest.py": CONFTEST,
        "pytest.ini": "[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n",
    })
    planned = sharder_capped(["plan", "--shards", "1", "-o", "plan.json"], cwd=root)
    assert planned.code == 0, planned.stderr
    return root


def _run(root: Path, env: dict[str, str], *args: str, how: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sharder", "run", *args], cwd=root, env={**env, "DIE_HOW": how},
                          capture_output=True, text=True, timeout=300, check=False)


def _green_run(root: Path, env: dict[str, str], *args: str) -> None:
    first = _run(root, env, "--shard", "1/1", "--plan", "plan.json", *args)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert (root / REPORT).is_file()


def _merge(root: Path, sharder_capped: Callable[..., Outcome], *args: str) -> tuple[Outcome, dict[str, Any]]:
    outcome = sharder_capped(["merge", "reports", "--json", *args], cwd=root)
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    return outcome, json.loads(outcome.stdout) if outcome.stdout.strip() else {}


def _kill_sharder_run_before_pytest(root: Path, env: dict[str, str]) -> int:
    """`sharder run` killed (a cancelled CI job) once it cleared the shard's outputs, before pytest could start:
    the conftest makes pytest's start-up wait for a file this never writes, so the kill always lands there."""
    gate = root / "pytest-started"
    proc = subprocess.Popen([sys.executable, "-m", "sharder", "run", "--shard", "1/1", "--plan", "plan.json"],
                            cwd=root, env={**env, "DIE_HOW": "", "HOLD_AT_START": os.fspath(gate)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not gate.exists():  # the conftest's mark: pytest is importing, the outputs were cleared before it
            if proc.poll() is not None:
                raise AssertionError(f"sharder run ended before pytest started (exit {proc.returncode})")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    return proc.returncode


HOLDING_CONFTEST = CONFTEST + '''
gate = os.environ.get("HOLD_AT_START")
if gate:
    open(gate, "w").close()
    import time
    time.sleep(300)
'''

# how -> (attack, the second run's exit code, tests the merge may count: only what the second run finished)
DEATHS = {
    "exit0": ("os._exit(0) in a test", 1, [FIRST]),
    "sigkill": ("SIGKILL mid-test", 128 + signal.SIGKILL, [FIRST]),
    "before-session": ("pytest SIGKILLed while starting, before its session", 128 + signal.SIGKILL, []),
    "sharder-run-killed": ("`sharder run` SIGKILLed before pytest started", -signal.SIGKILL, []),
}


@pytest.mark.parametrize("how", sorted(DEATHS))
def test_a_report_from_an_earlier_run_never_stands_in_for_a_shard_that_died(
    how: str, suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    attack, exit_code, counted = DEATHS[how]
    _green_run(suite, sharder_env)
    if how == "sharder-run-killed":
        (suite / "conftest.py").write_text(HOLDING_CONFTEST, encoding="utf-8")
        code = _kill_sharder_run_before_pytest(suite, sharder_env)
    else:
        code = _run(suite, sharder_env, "--shard", "1/1", "--plan", "plan.json", how=how).returncode
    assert code == exit_code
    assert not (suite / REPORT).exists()  # the green run's report went before this run started
    outcome, verdict = _merge(suite, sharder_capped, "--plan", "plan.json")
    shard = verdict.get("shards", [{}])[0]
    ledger(f"second run into one reports/: {attack}",
           f"run exit {code}; merge exit {outcome.code}: {shard.get('status', outcome.observed)}, "
           f"{verdict.get('reported', 0)} reported")
    if not counted and outcome.code == 2:  # nothing of this run's is left at all: no input, never green
        assert "holds no .xml reports and no progress logs" in outcome.stderr
        return
    assert outcome.code == 1 and verdict["exit_code"] == 1
    assert verdict["reported"] == len(counted)
    assert shard["status"] in ("died", "error"), shard
    assert shard["missing"] == [node_id for node_id in ["tests/test_a.py::test_1", DYING, "tests/test_a.py::test_3"]
                                if node_id not in counted]


def test_plain_pytest_leaves_last_runs_report_and_the_merge_refuses_it_by_its_run_identity(
    suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    """`pytest --shard` clears nothing (pytest writes its report only at the end): the merge must see that the
    report beside the log is another run's."""
    _green_run(suite, sharder_env)
    killed = subprocess.run([sys.executable, "-m", "pytest", "--shard=1/1", "--sharder-plan=plan.json",
                             f"--junitxml={REPORT}"], cwd=suite, env={**sharder_env, "DIE_HOW": "sigkill"},
                            capture_output=True, text=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert (suite / REPORT).is_file()  # last run's, still there
    outcome, verdict = _merge(suite, sharder_capped)
    shard = verdict["shards"][0]
    ledger("second run by plain `pytest --shard`, SIGKILL mid-test, last run's report left beside it",
           f"merge exit {outcome.code}: {shard['status']} in {shard['died_in']}, {verdict['reported']} reported")
    assert outcome.code == 1
    assert shard["status"] == "died" and shard["died_in"] == DYING
    assert verdict["reported"] == 1 and shard["stale_reports"] == ["shard-1-of-1.xml"]
    assert any("a report an earlier run left behind" in note for note in verdict["notes"])


def test_a_progress_log_from_an_earlier_run_does_not_speak_for_this_one(
    suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    first = _run(suite, sharder_env, "--shard", "1/1", "--plan", "plan.json", how="sigkill")
    assert first.returncode == 128 + signal.SIGKILL and (suite / LOG).is_file()  # a log of one finished test
    second = _run(suite, sharder_env, "--shard", "1/1", "--plan", "plan.json", how="before-session")
    assert second.returncode == 128 + signal.SIGKILL
    outcome, verdict = _merge(suite, sharder_capped)
    shard = verdict["shards"][0]
    ledger("leftover progress log only, the next run killed before its session",
           f"merge exit {outcome.code}: {shard['status']}, {shard['recovered']} recovered")
    assert outcome.code == 1
    assert shard["recovered"] == 0 and verdict["reported"] == 0  # the first run's test_1 is not this run's
    assert shard["status"] == "error" and "before its session began" in shard["error"]


def test_a_coverage_file_from_an_earlier_run_is_not_combined_for_a_run_that_stopped_before_pytest(
    suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    """pytest-cov erases its data file when pytest starts; a run that stops before that (here a bad flag) left the
    earlier run's file in place, and `merge --coverage` combined it as this run's."""
    pytest.importorskip("pytest_cov")
    assert sharder_capped(["plan", "--shards", "2", "-o", "plan2.json"], cwd=suite).code == 0
    for k in (1, 2):
        green = _run(suite, sharder_env, "--shard", f"{k}/2", "--plan", "plan2.json", "--coverage")
        assert green.returncode == 0, green.stdout[-2000:] + green.stderr[-2000:]
    stale = suite / "reports" / "shard-2-of-2.coverage"
    assert stale.is_file()
    refused = _run(suite, sharder_env, "--shard", "2/2", "--plan", "plan2.json", "--coverage", "--timeout", "0")
    assert refused.returncode == 2
    assert not stale.exists()
    outcome = sharder_capped(["merge", "reports", "--coverage", "--coverage-file", "combined.coverage"], cwd=suite)
    coverage_line = next(line for line in outcome.stdout.splitlines() if line.startswith("coverage"))
    ledger("leftover coverage file, the next run of that shard stopped before pytest (a bad --timeout)",
           f"merge exit {outcome.code}: {coverage_line[:120]}")
    assert outcome.code == 1
    assert coverage_line.startswith("coverage: 1 data files combined")  # shard 1's, not the stale one of shard 2


# case -> (the shards' pytest arguments, sharder run options)
DESELECTING = {
    "-k typo": (["-k", "typo"], []),
    "-m no_such_marker": (["-m", "no_such_marker"], []),
    "-k typo, --parallel 2": (["-k", "typo"], ["--parallel", "2"]),
    "-k typo, with --plan": (["-k", "typo"], ["--plan", "plan2.json"]),
}


@pytest.mark.parametrize("case", sorted(DESELECTING))
def test_shards_whose_pytest_arguments_deselect_every_test_are_never_green(
    case: str, suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    pytest_args, options = DESELECTING[case]
    assert sharder_capped(["plan", "--shards", "2", "-o", "plan2.json"], cwd=suite).code == 0
    codes = [_run(suite, sharder_env, "--shard", f"{k}/2", *options, "--", *pytest_args).returncode for k in (1, 2)]
    outcome, verdict = _merge(suite, sharder_capped)
    ledger(f"every shard run with {case}",
           f"run exits {codes}; merge exit {outcome.code}: {verdict['verdict'][:110]}")
    assert codes == [5, 5]  # plain pytest with the same arguments exits 5
    assert outcome.code == 1 and verdict["exit_code"] == 1
    assert verdict["nothing_ran"] == f"no test ran: the shards' pytest arguments ({' '.join(pytest_args)}) " \
                                     "deselected every test"
    assert [shard["status"] for shard in verdict["shards"]] == ["deselected", "deselected"]


def test_with_more_shards_than_tests_the_empty_shard_passes_and_the_typo_is_still_named(
    suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    assert sharder_capped(["plan", "--shards", "4", "-o", "plan4.json"], cwd=suite).code == 0
    codes = [_run(suite, sharder_env, "--shard", f"{k}/4", "--plan", "plan4.json", "--", "-k", "typo").returncode
             for k in (1, 2, 3, 4)]
    outcome, verdict = _merge(suite, sharder_capped)
    ledger("-k typo on 4 shards of a 3-test plan", f"run exits {codes}; merge exit {outcome.code}: "
           f"{verdict['verdict'][:100]}")
    assert sorted(codes) == [0, 5, 5, 5]  # the shard with no tests of its own is no failure
    assert outcome.code == 1
    assert verdict["nothing_ran"] == "no test ran: the shards' pytest arguments (-k typo) deselected every test"


def test_an_empty_shard_of_a_narrowed_run_is_still_a_pass(
    suite: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
) -> None:
    """The control: `-k test_1` keeps one test, so one of two computed shards is empty, and that is no failure."""
    codes = [_run(suite, sharder_env, "--shard", f"{k}/2", "--", "-k", "test_1").returncode for k in (1, 2)]
    outcome, verdict = _merge(suite, sharder_capped)
    assert codes == [0, 0]
    assert outcome.code == 0 and verdict["reported"] == 1 and verdict["nothing_ran"] is None


REPLAY_SUITE = {
    "pytest.ini": "[pytest]\ntestpaths = tests\naddopts = -p no:cacheprovider\n",
    "tests/test_elsewhere.py": "def test_not_the_shards():\n    pass\n",
    "pkg/__init__.py": "",
    "pkg/test_inside.py": (
        "def test_ok():\n    pass\n\n"
        "def test_broken():\n    assert 1 == 2\n\n"
        "def test_skipme():\n    raise RuntimeError('deselected by the shard, must stay so')\n"
    ),
}
SHARD_ARGS = ["--pyargs", "pkg", "-k", "not skipme", "-p", "no:randomly"]


@pytest.fixture
def recorded_shard(tmp_path: Path, sharder_env: dict[str, str]) -> Path:
    root = _write(tmp_path / "replayed", REPLAY_SUITE)
    ran = _run(root, sharder_env, "--shard", "1/1", "--", *SHARD_ARGS)
    assert ran.returncode == 1, ran.stdout[-2000:] + ran.stderr[-2000:]  # test_broken fails: that is the point
    return root


@pytest.mark.parametrize("source", [REPORT, LOG])
def test_a_replay_reuses_the_shards_recorded_pytest_arguments(
    source: str, recorded_shard: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None],
) -> None:
    outcome = sharder_capped(["replay", "--from", source, "--allow-missing", "--work-dir", "work"], cwd=recorded_shard)
    ledger(f"replay --from {source.split('.', 1)[1]} of a `--pyargs pkg -k` shard, no arguments given",
           f"exit {outcome.code}: {outcome.stdout.splitlines()[-2][:120]}")
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert "with the shard's pytest arguments `--pyargs pkg -k 'not skipme' -p no:randomly`" in outcome.stdout
    assert "sharder replay: 1 failed here (pkg/test_inside.py::test_broken); the same outcome as recorded" \
        in outcome.stdout


def test_a_replay_with_other_arguments_names_the_shards_instead_of_allow_missing(
    recorded_shard: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None],
) -> None:
    refused = sharder_capped(["replay", "--from", REPORT, "--work-dir", "work", "--", "tests"], cwd=recorded_shard)
    ledger("replay of a `--pyargs pkg` shard with other arguments (`-- tests`)", refused.observed)
    assert_clean_refusal(refused)
    assert ("the shard ran with `--pyargs pkg -k 'not skipme' -p no:randomly`, this replay with `tests`; pass the "
            "shard's after `--`") in refused.stderr
    assert "--allow-missing" not in refused.stderr
    nothing = sharder_capped(["replay", "--from", REPORT, "--allow-missing", "--work-dir", "work", "--", "tests"],
                             cwd=recorded_shard)
    ledger("the same with --allow-missing (none of the shard's tests collected)", nothing.observed)
    assert_clean_refusal(nothing)
    assert "none of the 2 tests of reports/shard-1-of-1.xml (shard 1/1) is collected here" in nothing.stderr
    assert "the same outcome" not in nothing.stdout


def _stale_plan(root: Path, env: dict[str, str], parallel: bool = False) -> list[int]:
    (root / "tests" / "test_quick.py").unlink()
    extra = ["--parallel", "2"] if parallel else []
    return [_run(root, env, "--shard", f"{k}/2", "--plan", "plan.json", *extra).returncode for k in (1, 2)]


def _corrupt_plan_after_a_green_run(root: Path, env: dict[str, str]) -> list[int]:
    assert [_run(root, env, "--shard", f"{k}/2", "--plan", "plan.json").returncode for k in (1, 2)] == [0, 0]
    (root / "plan.json").write_text('{"format": "sharder-plan", "version": 1, "shards": 2, "bi', encoding="utf-8")
    return [_run(root, env, "--shard", f"{k}/2", "--plan", "plan.json").returncode for k in (1, 2)]


def _unknown_pytest_option(root: Path, env: dict[str, str]) -> list[int]:
    return [_run(root, env, "--shard", f"{k}/2", "--plan", "plan.json", "--", "--no-such-option").returncode
            for k in (1, 2)]


# case -> (attack, what every shard's run does, the shard's error names, whether the plan file still reads)
REFUSALS: dict[str, tuple[str, Callable[[Path, dict[str, str]], list[int]], str, bool]] = {
    "stale plan": ("every shard refuses a stale plan (a test file removed since planning)", _stale_plan,
                   "sharder: plan plan.json does not match this test suite: 14 planned tests were not collected", True),
    "stale plan, --parallel 2": ("every shard's xdist workers refuse a stale plan",
                                 lambda root, env: _stale_plan(root, env, parallel=True),
                                 "sharder: plan plan.json does not match this test suite", True),
    "corrupt plan after a green run": ("the plan corrupted after a green run into the same reports/",
                                       _corrupt_plan_after_a_green_run, "sharder run: plan.json: not valid plan JSON",
                                       False),
    "unknown pytest option": ("every shard given an option pytest does not know", _unknown_pytest_option,
                              "sharder run: pytest exited 2 before its session began", True),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_the_merge_names_each_shards_own_error_once_above_its_tests(
    case: str, example_dir: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    attack, run_every_shard, error, plan_reads = REFUSALS[case]
    assert sharder_capped(["plan", "--shards", "2", "-o", "plan.json"], cwd=example_dir).code == 0
    codes = run_every_shard(example_dir, sharder_env)
    assert codes == [2, 2]
    outcome = sharder_capped(["merge", "reports", *(["--plan", "plan.json"] if plan_reads else [])], cwd=example_dir)
    lines = outcome.stdout.splitlines()
    ledger(attack, f"run exits {codes}; merge exit {outcome.code}: {lines[-1][:120] if lines else outcome.observed}")
    assert outcome.code == 1, outcome.stdout[-2000:] + outcome.stderr[-2000:]
    for k in (1, 2):
        said = [index for index, line in enumerate(lines) if line.startswith(f"  shard {k}/2: error: ")]
        assert len(said) == 1, outcome.stdout  # once per shard
        assert error in lines[said[0]]
        if plan_reads:  # the shard's tests are listed under its error
            assert lines[said[0] + 1].startswith("    NEVER REPORTED ")
    assert sum(error in line for line in lines) == 2  # nowhere else
    if case != "stale plan, --parallel 2":  # there xdist's controller adds an INTERNALERROR case of its own
        assert lines[-1].startswith("sharder merge: FAILED: no test ran: every shard stopped with an error")
