"""Trust across runs: what may change the durations store, and what must not.

Real `sharder record` / `plan` / `run` / `rebalance` / `record --from-junit` subprocesses on little suites in
tmp_path: a run where every test errors (an autouse fixture finding the database down), reruns, xfails and
timeouts; plans and records made from a selection (-k, -m, paths, --pyargs, a subdirectory, a module that does
not import); the same reports applied twice; several writers at once on one store, and one that cannot get the
lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.durations.store import load_durations
from tests.faults.conftest import Outcome, assert_clean_refusal

pytestmark = pytest.mark.integration

Sharder = Callable[..., Outcome]
Ledger = Callable[[str, str], None]

# Each test sleeps this long: above the store's REGIME_VOTE_MIN_SECONDS, so that every test votes on "other
# hardware", as real suites' tests do.
SLEEP = 0.06
CONFTEST = '''
import os
import pytest


@pytest.fixture(autouse=True)
def database(request):
    """Down for the modules named in $DB_DOWN ("all" for every one): each test errors in setup at once."""
    down = os.environ.get("DB_DOWN", "")
    if down == "all" or request.module.__name__.rsplit(".", 1)[-1] in down.split(","):
        raise RuntimeError("database is down")
'''


def _module(letter: str) -> str:
    return "import time\n\nimport pytest\n" + "".join(
        ("\n\n@pytest.mark.slow" if i == 1 else "\n") + f"\ndef test_{letter}{i}():\n    time.sleep({SLEEP})\n"
        for i in range(1, 6))


def _suite(root: Path) -> Path:
    """Ten tests in tests/test_a.py and tests/test_b.py (test_a1 and test_b1 marked slow)."""
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\nmarkers =\n    slow: slow\n"
                                     "addopts = -p no:randomly -p no:cacheprovider\n", encoding="utf-8")
    (root / "tests" / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    for letter in "ab":
        (root / "tests" / f"test_{letter}.py").write_text(_module(letter), encoding="utf-8")
    return root


ALL = [f"tests/test_{letter}.py::test_{letter}{i}" for letter in "ab" for i in range(1, 6)]


@pytest.fixture
def recorded_suite(tmp_path: Path, sharder_capped: Sharder) -> Path:
    """The suite with durations.json recorded by a full, green `sharder record`."""
    root = _suite(tmp_path / "suite")
    done = sharder_capped(["record"], cwd=root)
    assert done.code == 0, done.stdout + done.stderr
    assert sorted(load_durations(root / "durations.json").tests) == sorted(ALL)
    return root


def _said(outcome: Outcome, root: Path, fragment: str) -> str:
    """The first line of output holding `fragment`, with the temporary directory taken out, for the ledger."""
    lines = [line for line in (outcome.stdout + outcome.stderr).splitlines() if fragment in line]
    text = lines[0].replace(os.fspath(root) + os.sep, "").strip() if lines else "(no such line)"
    return f"exit {outcome.code}: {text[:150]}"


def _stored_times(root: Path) -> str:
    seconds = load_durations(root / "durations.json").seconds().values()
    return f"stored times {min(seconds):.3f}-{max(seconds):.3f} s"


def _run_plan(sharder_capped: Sharder, root: Path, *pytest_args: str, **env: str) -> None:
    planned = sharder_capped(["plan", "--shards", "2", "-o", "plan.json", "--", *pytest_args], cwd=root)
    assert planned.code == 0, planned.stdout + planned.stderr
    for shard in ("1/2", "2/2"):
        ran = sharder_capped(["run", "--shard", shard, "--plan", "plan.json", "--", *pytest_args], cwd=root, **env)
        assert ran.code in (0, 1), ran.stdout + ran.stderr


# ------------------------------------------------------------------------- item 3: only passes teach the store


def test_a_run_where_every_test_errors_leaves_the_store_alone(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    before = (root / "durations.json").read_bytes()
    _run_plan(sharder_capped, root, DB_DOWN="all")
    outcome = sharder_capped(["rebalance", "reports", "--plan", "plan.json"], cwd=root)
    ledger("rebalance of a run where every test errored in setup (database down)",
           f"{_stored_times(root)}; {outcome.observed}")
    assert_clean_refusal(outcome)
    assert "10 cases not used: 10 errored" in outcome.stderr
    assert (root / "durations.json").read_bytes() == before


def test_a_half_failed_run_blends_only_the_passes_and_says_what_it_left_out(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    before = load_durations(root / "durations.json").tests
    _run_plan(sharder_capped, root, DB_DOWN="test_b")
    outcome = sharder_capped(["rebalance", "reports", "--plan", "plan.json"], cwd=root)
    ledger("rebalance of a run where half the tests errored in setup", _said(outcome, root, "not used"))
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert "5 cases not used: 5 errored" in outcome.stdout
    after = load_durations(root / "durations.json").tests
    assert all(after[t] == before[t] for t in ALL if "test_b" in t)  # untouched, not replaced by 1 ms
    assert all(after[t].runs == before[t].runs + 1 and after[t].seconds >= SLEEP for t in ALL if "test_a" in t)


def test_record_of_a_failed_run_and_of_its_report_leave_the_store_alone(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    before = load_durations(root / "durations.json").tests
    ran = sharder_capped(["record", "--", "--junitxml=down.xml"], cwd=root, DB_DOWN="all")
    ledger("record of a run where every test errored in setup", f"{_stored_times(root)}; {_said(ran, root, 'recorded')}")
    assert ran.code == 1 and "10 tests not used: 10 errored" in ran.stdout
    after = load_durations(root / "durations.json")
    assert after.tests == before  # no time learned; only the failures are remembered (for --order failed-first)
    assert {outcome for outcome, _ in after.outcomes.values()} == {"failed"} and len(after.outcomes) == 10
    written = (root / "durations.json").read_bytes()
    outcome = sharder_capped(["record", "--from-junit", "down.xml"], cwd=root)
    ledger("record --from-junit of that run's report", f"{_stored_times(root)}; {outcome.observed}")
    assert_clean_refusal(outcome)
    assert "10 cases not used: 10 errored" in outcome.stderr
    assert (root / "durations.json").read_bytes() == written  # a refusal writes nothing


KINDS = '''
import os
import time
from pathlib import Path

import pytest


def test_ok():
    time.sleep(0.06)


def test_flaky():
    """Fails its first attempt after a long setup of its own; the rerun passes at once."""
    marker = Path(os.environ["FLAKY_MARKER"])
    if not marker.exists():
        marker.write_text("1")
        time.sleep(1.0)
        assert False, "first attempt"


@pytest.mark.xfail(reason="known bug")
def test_known_bug():
    assert False


@pytest.mark.timeout(0.5)
def test_hangs():
    time.sleep(5)
'''


@pytest.mark.parametrize("via", ["record", "record --from-junit"])
def test_reruns_xfails_and_timeouts(tmp_path: Path, sharder_capped: Sharder, ledger: Ledger, via: str) -> None:
    """A rerun that passed costs its last attempt, not the sum; an xfail and a timeout are no timings."""
    root = tmp_path / "kinds"
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n", encoding="utf-8")
    (root / "tests" / "test_kinds.py").write_text(KINDS, encoding="utf-8")
    env = {"FLAKY_MARKER": os.fspath(tmp_path / "flaky-ran")}
    pytest_args = ["--reruns", "1", "--only-rerun", "AssertionError", "--timeout-method=signal"]
    if via == "record":
        outcome = sharder_capped(["record", "--", *pytest_args], cwd=root, **env)
        assert outcome.code == 1, outcome.stdout + outcome.stderr
        said = "2 tests not used: 1 timed out, 1 xfailed"
    else:
        ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:sharder", *pytest_args, "--junitxml=kinds.xml",
                              "-o", "junit_family=xunit1"], cwd=root, capture_output=True, text=True, check=False,
                             env={**os.environ, **env})
        assert ran.returncode == 1, ran.stdout
        outcome = sharder_capped(["record", "--from-junit", "kinds.xml"], cwd=root)
        assert outcome.code == 0, outcome.stdout + outcome.stderr
        said = "2 cases not used: 1 timed out, 1 xfailed"
    tests = load_durations(root / "durations.json").tests
    flaky = tests.get("tests/test_kinds.py::test_flaky")
    ledger(f"{via}: a rerun that passed, an xfail, a timeout",
           f"exit {outcome.code}: recorded {sorted(t.rsplit('::', 1)[1] for t in tests)}, test_flaky "
           f"{flaky.seconds if flaky else 0:.2f} s (its failed first attempt took 1 s)")
    assert said in outcome.stdout
    assert sorted(tests) == ["tests/test_kinds.py::test_flaky", "tests/test_kinds.py::test_ok"]
    assert tests["tests/test_kinds.py::test_flaky"].seconds < 1.0  # the passing attempt's time only
    assert tests["tests/test_kinds.py::test_flaky"].runs == 1


# ------------------------------------------------------------- item 4: a selection never prunes outside itself


@pytest.mark.parametrize("selection", [["-k", "a1 or b1"], ["-m", "slow"], ["tests/test_a.py"],
                                       ["tests/test_a.py::test_a1", "tests/test_b.py::test_b2"]],
                         ids=["-k", "-m", "path", "node ids"])
def test_a_plan_of_a_selection_fully_run_and_rebalanced_prunes_nothing(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger, selection: list[str]
) -> None:
    root = recorded_suite
    _run_plan(sharder_capped, root, *selection)
    outcome = sharder_capped(["rebalance", "reports", "--plan", "plan.json"], cwd=root)
    tests = load_durations(root / "durations.json").tests
    ledger(f"plan made with {' '.join(selection)}, every shard run, rebalanced",
           f"{len(tests)} of 10 timings kept; " + _said(outcome, root, "pruned"))
    plan = json.loads((root / "plan.json").read_text(encoding="utf-8"))
    assert plan.get("selected_by") and sum(len(b["tests"]) for b in plan["bins"]) < len(ALL)
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert sorted(tests) == sorted(ALL)
    assert "nothing pruned; the plan was made from a selection" in outcome.stdout


def test_a_plan_of_the_whole_suite_still_prunes_and_counts_it(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    (root / "tests" / "test_b.py").unlink()
    _run_plan(sharder_capped, root)
    outcome = sharder_capped(["rebalance", "reports", "--plan", "plan.json"], cwd=root)
    ledger("plan of the whole suite after test_b.py was deleted, rebalanced", _said(outcome, root, "pruned"))
    assert outcome.code == 0 and "5 pruned; the reports cover the whole plan" in outcome.stdout
    assert sorted(load_durations(root / "durations.json").tests) == sorted(t for t in ALL if "test_a" in t)


def _packages(root: Path) -> Path:
    """Two importable packages of tests and no testpaths: the whole suite is the rootdir."""
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n", encoding="utf-8")
    for package, count in (("pkg_a", 6), ("pkg_b", 3)):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("", encoding="utf-8")
        (root / package / "test_it.py").write_text(
            "".join(f"def test_{package}_{i}():\n    pass\n\n\n" for i in range(count)), encoding="utf-8")
    return root


@pytest.mark.parametrize("narrowing", [["--pyargs", "pkg_b"], ["pkg_b"], ["-k", "pkg_b"]],
                         ids=["--pyargs", "path", "-k"])
def test_record_of_a_selection_keeps_the_other_timings(
    tmp_path: Path, sharder_capped: Sharder, ledger: Ledger, narrowing: list[str]
) -> None:
    root = _packages(tmp_path / "pkgs")
    assert sharder_capped(["record"], cwd=root).code == 0
    assert len(load_durations(root / "durations.json").tests) == 9
    outcome = sharder_capped(["record", "--", *narrowing], cwd=root)
    tests = load_durations(root / "durations.json").tests
    ledger(f"record -- {' '.join(narrowing)} into a store holding both packages",
           f"{len(tests)} of 9 timings kept; " + _said(outcome, root, "pruned"))
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert len(tests) == 9 and all(tests[t].runs == 2 for t in tests if "pkg_b" in t)
    assert "sharder: nothing pruned (the run was narrowed by" in outcome.stdout


def test_record_started_in_a_subdirectory_keeps_the_other_timings(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    (root / "tests" / "unit").mkdir()
    (root / "tests" / "test_a.py").rename(root / "tests" / "unit" / "test_a.py")
    (root / "durations.json").write_text(
        (root / "durations.json").read_text(encoding="utf-8").replace("tests/test_a.py", "tests/unit/test_a.py"),
        encoding="utf-8")
    outcome = sharder_capped(["record"], cwd=root / "tests" / "unit")
    tests = load_durations(root / "durations.json").tests
    ledger("record started in tests/unit (pytest collects only there)",
           f"{len(tests)} of 10 timings kept; " + _said(outcome, root, "pruned"))
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert len(tests) == 10 and "nothing pruned (the run was narrowed by paths tests/unit)" in outcome.stdout


def test_record_with_a_module_that_does_not_import_keeps_its_timings(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    (root / "tests" / "test_b.py").write_text("import no_such_module\n", encoding="utf-8")
    outcome = sharder_capped(["record", "--", "--continue-on-collection-errors"], cwd=root)
    tests = load_durations(root / "durations.json").tests
    ledger("record while tests/test_b.py fails to import",
           f"{len(tests)} of 10 timings kept; " + _said(outcome, root, "recorded"))
    assert outcome.code == 1 and sorted(tests) == sorted(ALL)
    assert "nothing pruned (the run was narrowed by 1 collection error)" in outcome.stdout


def test_a_full_record_prunes_what_is_gone_and_counts_it(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    (root / "tests" / "test_b.py").unlink()
    outcome = sharder_capped(["record"], cwd=root)
    ledger("record of the whole suite after test_b.py was deleted", _said(outcome, root, "pruned"))
    assert outcome.code == 0 and "sharder: pruned 5 tests no longer collected" in outcome.stdout
    assert len(load_durations(root / "durations.json").tests) == 5


# ----------------------------------------------------------------------- item 5: the same reports, once


def test_the_same_reports_rebalanced_twice_count_once(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    _run_plan(sharder_capped, root)
    first = sharder_capped(["rebalance", "reports", "--plan", "plan.json"], cwd=root)
    assert first.code == 0, first.stdout + first.stderr
    once = (root / "durations.json").read_bytes()
    assert {t.runs for t in load_durations(root / "durations.json").tests.values()} == {2}
    again = sharder_capped(["rebalance", "reports", "--plan", "plan.json"], cwd=root)
    ledger("the same reports rebalanced twice",
           f"runs {sorted({t.runs for t in load_durations(root / 'durations.json').tests.values()})}; "
           + _said(again, root, "sharder rebalance"))
    assert again.code == 0 and "absorbed these 2 reports before; nothing changed" in again.stdout
    assert (root / "durations.json").read_bytes() == once
    by_junit = sharder_capped(["record", "--from-junit", "reports/shard-1-of-2.xml"], cwd=root)
    ledger("record --from-junit of a report rebalance had absorbed", _said(by_junit, root, "sharder record"))
    assert by_junit.code == 0 and "absorbed this report before; nothing changed" in by_junit.stdout
    assert (root / "durations.json").read_bytes() == once


def test_the_same_reports_recorded_twice_count_once(tmp_path: Path, sharder_capped: Sharder, ledger: Ledger) -> None:
    report = tmp_path / "r.xml"
    report.write_text('<testsuite name="s" tests="2"><testcase classname="t.m" name="a" time="1.0"/>'
                      '<testcase classname="t.m" name="b" time="2.0"/></testsuite>', encoding="utf-8")
    assert sharder_capped(["record", "--from-junit", "r.xml"], cwd=tmp_path).code == 0
    once = (tmp_path / "durations.json").read_bytes()
    again = sharder_capped(["record", "--from-junit", "r.xml"], cwd=tmp_path)
    ledger("the same report given to record --from-junit twice",
           f"runs {sorted({t.runs for t in load_durations(tmp_path / 'durations.json').tests.values()})}; "
           + _said(again, tmp_path, "sharder record"))
    assert again.code == 0 and "nothing changed" in again.stdout
    assert (tmp_path / "durations.json").read_bytes() == once
    assert {t.runs for t in load_durations(tmp_path / "durations.json").tests.values()} == {1}


# ---------------------------------------------------------------- item 6: writers at once, one at a time


def _report(path: Path, writer: int, cases: int) -> None:
    """A report observing the shared test and `cases` tests of this writer's own."""
    own = "".join(f'<testcase classname="tests.test_w{writer}" name="test_{i}" time="{0.1 + i % 7 * 0.01:.2f}"/>'
                  for i in range(cases))
    path.write_text(f'<testsuite name="w{writer}" tests="{cases + 1}" timestamp="2026-01-0{writer % 9 + 1}T00:00:00">'
                    f'<testcase classname="tests.test_shared" name="test_shared" time="1.0"/>{own}</testsuite>',
                    encoding="utf-8")


WRITERS = 6
ROUNDS = 3
CASES = 1500


def test_writers_at_once_lose_no_update(tmp_path: Path, sharder_env: dict[str, str], ledger: Ledger) -> None:
    """Half `sharder rebalance`, half `record --from-junit`, all started together on one store, several rounds:
    every writer's own tests must be there afterwards, and the shared test counted once per writer."""
    store_path = tmp_path / "durations.json"
    lost_rounds = 0
    for round_number in range(ROUNDS):
        procs = []
        for writer in range(WRITERS):
            report = tmp_path / f"round{round_number}-w{writer}.xml"
            _report(report, writer + 10 * round_number, CASES)
            command = (["rebalance", os.fspath(report), "--shards", "2"] if writer % 2
                       else ["record", "--from-junit", os.fspath(report)])
            procs.append(subprocess.Popen([sys.executable, "-m", "sharder", *command, "--durations",
                                           os.fspath(store_path)], cwd=tmp_path, env=sharder_env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, out + err
        tests = load_durations(store_path).tests
        missing = [w for w in range(WRITERS) if f"tests.test_w{w + 10 * round_number}::test_0" not in tests]
        lost_rounds += bool(missing) or tests["tests.test_shared::test_shared"].runs != WRITERS * (round_number + 1)
    ledger(f"{WRITERS} rebalance/record --from-junit at once on one store, {ROUNDS} rounds",
           f"exit 0 all; {lost_rounds} of {ROUNDS} rounds lost an update")
    assert lost_rounds == 0
    assert not (tmp_path / "durations.json.lock").exists()


def test_a_writer_that_cannot_get_the_lock_gives_up_in_one_line(
    recorded_suite: Path, sharder_capped: Sharder, ledger: Ledger
) -> None:
    root = recorded_suite
    report = root / "r.xml"
    report.write_text('<testsuite name="s"><testcase classname="tests.test_a" name="test_a1" time="9.0"/>'
                      "</testsuite>", encoding="utf-8")
    before = (root / "durations.json").read_bytes()
    with open(root / "durations.json.lock", "w", encoding="ascii") as held:  # another writer, as the lock takes it
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(f"{os.getpid()}\n")
        held.flush()
        for command in (["rebalance", "r.xml"], ["record", "--from-junit", "r.xml"]):
            outcome = sharder_capped(command, cwd=root, SHARDER_LOCK_TIMEOUT="0.5")
            ledger(f"{' '.join(command[:2])} while another process holds the store's lock", outcome.observed)
            assert_clean_refusal(outcome)
            assert "is being updated by another sharder" in outcome.stderr and f"process {os.getpid()}" in outcome.stderr
        recording = sharder_capped(["record"], cwd=root, SHARDER_LOCK_TIMEOUT="0.5")
        ledger("record (a pytest run) while another process holds the store's lock", recording.observed)
        assert recording.code != 0 and "is being updated by another sharder" in recording.stdout + recording.stderr
        assert "Traceback" not in recording.stdout + recording.stderr
    assert (root / "durations.json").read_bytes() == before
