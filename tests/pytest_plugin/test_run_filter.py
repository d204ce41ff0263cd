"""`sharder run --order` end to end on a copy of tests/example_suites/polluted, in real pytest processes.

A whole run of the suite fails two tests of test_pricing.py (polluters run before their victims). `sharder record`
remembers those failures in the store (not their times); the next `sharder run --order failed-first` of the shard
holding them runs that file first, the failed tests at its front, then the file of a test the store does not know
(its record removed), then the rest in plan order; the progress log and the report's case
positions say so, and `sharder replay` from the report, from the progress log, and from the plan with `--order`
run the shard in that same order.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from sharder.core.progress_log import read_progress_log
from sharder.durations import store
from sharder.planning.order import scopes_of
from sharder.planning.plan import read_plan
from tests.running.test_replay import PAIR_VICTIM, POLLUTER, VICTIM, copy_suite, line_after, replay_log, sharder

NEW_TEST = "test_shipping.py::test_shipping_tax"
EXPRESSION = "not slow and not tooslow"  # deselects nothing here; printed as one argument


@pytest.fixture(scope="module")
def ordered_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_suite(tmp_path_factory.mktemp("order") / "suite")
    # collection order: the polluters run before their victims, which fail. Recorded into a store of its own, so
    # the plan below comes from the suite's committed timings (this machine's would move tests between shards).
    recorded = sharder(["record", "--durations", "recorded.json"], root)
    assert recorded.returncode == 1, recorded.stdout + recorded.stderr
    committed = store.load_durations(root / "durations.json")
    tests = {node_id: timing for node_id, timing in committed.tests.items() if node_id != NEW_TEST}  # now new
    outcomes = store.load_durations(root / "recorded.json").outcomes
    store.save_durations(root / "durations.json", replace(committed, tests=tests, outcomes=outcomes))
    planned = sharder(["plan", "--shards", "2", "-o", "plan.json"], root)
    assert planned.returncode == 0, planned.stderr
    assert {NEW_TEST, VICTIM, PAIR_VICTIM} <= set(read_plan(root / "plan.json").bins[1].tests)
    ran = sharder(["run", "--shard", "2/2", "--plan", "plan.json", "--order", "failed-first", "--",
                   "-k", EXPRESSION], root)
    assert ran.returncode == 0, ran.stdout + ran.stderr  # the victims now run before their polluters: they pass
    printed = shlex.split(line_after(ran.stdout, "sharder run: shard 2/2: "))  # the pytest command, pasteable
    assert printed[1:3] == ["-m", "pytest"] and "--sharder-order=failed-first" in printed
    assert printed[-2:] == ["-k", EXPRESSION]
    failed = len(_failed_in_shard(root))
    assert failed and f"{failed} tests that failed last time and 1 new tests first" in ran.stdout
    return root


def _failed_in_shard(root: Path) -> list[str]:
    recorded = store.load_durations(root / "durations.json")
    return [node_id for node_id in read_plan(root / "plan.json").bins[1].tests
            if recorded.outcomes.get(node_id, ("", ""))[0] == "failed"]


def test_record_remembers_the_failure_but_does_not_learn_its_time(ordered_run: Path) -> None:
    recorded = store.load_durations(ordered_run / "recorded.json")
    assert {node_id for node_id, (outcome, _) in recorded.outcomes.items() if outcome == "failed"} == {
        VICTIM, PAIR_VICTIM}
    assert all(at > 1_700_000_000 for _, at in recorded.outcomes.values())  # Unix seconds of this run
    assert recorded.outcomes[POLLUTER][0] == "passed"
    assert POLLUTER in recorded.tests
    assert VICTIM not in recorded.tests and PAIR_VICTIM not in recorded.tests  # a failed run teaches no time


def test_failed_first_runs_the_failed_then_the_new_test_first_and_keeps_files_together(ordered_run: Path) -> None:
    planned = list(read_plan(ordered_run / "plan.json").bins[1].tests)
    log = read_progress_log(ordered_run / "reports" / "shard-2-of-2.progress.jsonl")
    assert log.ordered_by == "failed-first"
    assert sorted(log.order) == sorted(planned) and log.order != planned
    failed = _failed_in_shard(ordered_run)
    assert log.order[:len(failed)] == failed  # at the front of their file, which runs first
    files = list(dict.fromkeys(scopes_of(node_id)[0] for node_id in log.order))
    assert files[:2] == ["test_pricing.py", "test_shipping.py"]  # the victim's file, then the new test's
    for name in files:  # every file in one piece, its tests in plan order but for those moved to its front
        own = [node_id for node_id in log.order if scopes_of(node_id)[0] == name]
        start = log.order.index(own[0])
        assert log.order[start:start + len(own)] == own
    rest = [node_id for node_id in log.order if scopes_of(node_id)[0] not in files[:2]]
    assert rest == [node_id for node_id in planned if node_id in set(rest)]
    assert [test.node_id for test in log.tests] == log.order  # what ran is what the header says


def test_replay_from_the_report_the_log_and_the_plan_runs_that_order(ordered_run: Path, tmp_path: Path) -> None:
    order = read_progress_log(ordered_run / "reports" / "shard-2-of-2.progress.jsonl").order
    sources = {
        "report": ["--from", "reports/shard-2-of-2.xml"],
        "log": ["--from", "reports/shard-2-of-2.progress.jsonl"],
        "plan": ["--plan", "plan.json", "--shard", "2/2", "--order", "failed-first"],
    }
    for name, source in sources.items():
        replayed = sharder(["replay", *source, "--work-dir", str(tmp_path / name)], ordered_run)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        ran, failed = replay_log(tmp_path / name)
        assert ran == order, name
        if name != "report":  # the log names the mode that made its order; the plan's replay says which it used
            assert "--order failed-first" in replayed.stdout.splitlines()[0], replayed.stdout
        assert not failed


def test_order_with_a_report_and_two_orders_at_once_are_refused(ordered_run: Path) -> None:
    replayed = sharder(["replay", "--from", "reports/shard-2-of-2.xml", "--order", "fast-first"], ordered_run)
    assert replayed.returncode == 2 and "--order goes with --plan" in replayed.stderr
    assert "Traceback" not in replayed.stderr
    ran = sharder(["run", "--shard", "1/2", "--plan", "plan.json", "--order", "fast-first", "--slowest-first",
                   "--junit-dir", "other"], ordered_run)
    assert ran.returncode == 2 and "pick one" in ran.stderr and "Traceback" not in ran.stderr
