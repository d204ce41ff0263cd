"""What reports teach the store: passes only (the rest counted), each report once, pruning only after a plan of
the whole suite. Real JUnit files and plan.json in tmp_path, read by the merge's own reader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sharder.core.nodeid import forward_key
from sharder.durations import store
from sharder.planning.plan import Plan, read_plan, write_plan
from sharder.planning.planner import make_plan
from sharder.reports.inputs import collect, resolve_identity
from sharder.reports.learning import nothing_learned, observations, rebalance
from sharder.reports.verdict import MergeResult, judge
from tests.reports.test_merge import case_xml, report_xml

IDS = [f"tests/test_m.py::test_{i}" for i in range(6)]
STALE = "tests/test_gone.py::test_gone"
ERROR = '<error message="failed on setup with &quot;RuntimeError: db down&quot;"/>'


def _store() -> store.Durations:
    return store.Durations({node_id: store.TestTiming(1.0, 3) for node_id in [*IDS, STALE]})


def _run(tmp_path: Path, *, selected_by: tuple[str, ...] | None = (), body: dict[str, str] | None = None,
         seconds: str = "1.2") -> tuple[Plan, Path]:
    """A 2-shard plan of IDS and each shard's report; `body` gives a test a failure or error element."""
    plan = replace(make_plan(IDS, dict.fromkeys(IDS, 1.0), 2), selected_by=selected_by)
    write_plan(tmp_path / "plan.json", plan)
    sizes = ",".join(str(len(b.tests)) for b in plan.bins)
    (tmp_path / "reports").mkdir(exist_ok=True)
    for shard_bin in plan.bins:
        shard = f"{shard_bin.shard}/2"
        cases = [case_xml(*forward_key(t), (body or {}).get(t, ""), {"sharder_nodeid": t, "sharder_shard": shard},
                          time_text=seconds if t not in (body or {}) else "0.001") for t in shard_bin.tests]
        suite = {"sharder_shard": shard, "sharder_plan_id": plan.plan_id, "sharder_plan_sizes": sizes}
        (tmp_path / "reports" / f"shard-{shard_bin.shard}-of-2.xml").write_text(report_xml(cases, suite))
    return read_plan(tmp_path / "plan.json"), tmp_path / "reports"


def _result(paths: list[Path], plan: Plan | None) -> MergeResult:
    inputs = collect(paths, plan)
    return judge(inputs, resolve_identity(inputs, plan))


def test_a_run_where_every_test_errored_teaches_nothing(tmp_path: Path) -> None:
    plan, reports = _run(tmp_path, body=dict.fromkeys(IDS, ERROR))
    outcome = rebalance(_store(), _result([reports], plan))
    assert outcome.observed == 0 and dict(outcome.not_used) == {"errored": 6}
    assert nothing_learned(outcome) == ("the reports hold no test that passed with a usable time (6 cases not used: "
                                        "6 errored); durations left as they are")


def test_only_the_passes_are_blended_and_the_rest_keep_their_timings(tmp_path: Path) -> None:
    failing = {IDS[0]: ERROR, IDS[1]: '<failure message="Failed: Timeout (&gt;1.0s) from pytest-timeout."/>',
               IDS[2]: '<skipped type="pytest.xfail" message=""/>'}
    plan, reports = _run(tmp_path, body=failing)
    recorded = _store()
    outcome = rebalance(recorded, _result([reports], plan))
    assert dict(outcome.not_used) == {"errored": 1, "timed out": 1, "xfailed": 1} and outcome.observed == 3
    for node_id in IDS[:3]:
        assert outcome.durations.tests[node_id] == recorded.tests[node_id]
    for node_id in IDS[3:]:
        assert outcome.durations.tests[node_id].runs == 4


def test_the_last_passing_attempt_of_a_test_is_its_observation(tmp_path: Path) -> None:
    one, two = tmp_path / "one.xml", tmp_path / "two.xml"
    one.write_text(report_xml([case_xml("tests.test_m", "test_0", time_text="3.0")]), encoding="utf-8")
    two.write_text(report_xml([case_xml("tests.test_m", "test_0", ERROR, time_text="0.001")],
                              timestamp="2026-01-02T00:00:00"), encoding="utf-8")
    observed, not_used = observations(_result([one, two], None).attempts)
    assert observed["tests.test_m::test_0"].seconds == 3.0 and not not_used


def test_the_same_reports_twice_change_nothing_the_second_time(tmp_path: Path) -> None:
    plan, reports = _run(tmp_path)
    first = rebalance(_store(), _result([reports], plan))
    assert first.inputs == 2 and first.absorbed_before == 0 and len(first.durations.absorbed) == 2
    second = rebalance(first.durations, _result([reports], plan))
    assert second.nothing_new and second.observed == 0 and second.durations.tests == first.durations.tests


def test_a_report_not_absorbed_yet_still_counts_beside_one_that_was(tmp_path: Path) -> None:
    plan, reports = _run(tmp_path)
    shard_one = reports / "shard-1-of-2.xml"
    first = rebalance(_store(), _result([shard_one], plan))
    both = rebalance(first.durations, _result([reports], plan))
    assert both.absorbed_before == 1 and not both.nothing_new
    assert all(both.durations.tests[t].runs == 4 for t in IDS)  # every test counted once: shard 1 not again
    assert all(both.durations.tests[t] == first.durations.tests[t] for t in plan.bins[0].tests)


@pytest.mark.parametrize(("selected_by", "pruned", "note"), [
    ((), 1, "the reports cover the whole plan"),
    (("-k fast",), 0, "the plan was made from a selection (-k fast)"),
    (None, 0, "an older sharder made it"),
])
def test_only_a_plan_of_the_whole_suite_prunes(tmp_path: Path, selected_by: tuple[str, ...] | None, pruned: int,
                                               note: str) -> None:
    plan, reports = _run(tmp_path, selected_by=selected_by)
    outcome = rebalance(_store(), _result([reports], plan))
    assert outcome.pruned == pruned and (STALE in outcome.durations.tests) == (pruned == 0)
    assert note in outcome.prune_note
    assert outcome.durations.last_update is not None and outcome.durations.last_update.selected_by == selected_by


def test_reports_without_their_plan_never_prune(tmp_path: Path) -> None:
    _, reports = _run(tmp_path)
    outcome = rebalance(_store(), _result([reports], None))
    assert outcome.pruned == 0 and "no --plan given" in outcome.prune_note


def test_a_selection_read_from_plan_json_is_printed_on_one_line(tmp_path: Path) -> None:
    plan, reports = _run(tmp_path, selected_by=("-k a\n::error::injected",))
    outcome = rebalance(_store(), _result([reports], plan))
    assert "\n" not in outcome.prune_note and "(-k a\\n::error::injected)" in outcome.prune_note


def test_a_rebalance_remembers_each_tests_last_outcome_failures_included(tmp_path: Path) -> None:
    failing = {IDS[0]: ERROR, IDS[1]: '<failure message="assert 1 == 2"/>', IDS[2]: '<skipped message="no db"/>'}
    plan, reports = _run(tmp_path, body=failing)
    recorded = replace(_store(), outcomes={IDS[2]: ("failed", 1767225600),
                                           IDS[3]: ("failed", 1767225600)})
    outcome = rebalance(recorded, _result([reports], plan))
    remembered = {node_id: last[0] for node_id, last in outcome.durations.outcomes.items()}
    # errors and failures are failed (their times unlearned); a skip leaves the last outcome as it was; a pass
    # clears an old failure
    assert remembered == {IDS[0]: "failed", IDS[1]: "failed", IDS[2]: "failed", IDS[3]: "passed",
                          IDS[4]: "passed", IDS[5]: "passed"}
    assert outcome.durations.outcomes[IDS[2]][1] == 1767225600
    assert outcome.durations.tests[IDS[0]] == recorded.tests[IDS[0]]
