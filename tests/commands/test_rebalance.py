"""`sharder rebalance`: durations updated from real shard reports, pruned only after a full run; `--check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharder.cli import main
from sharder.core.nodeid import forward_key
from sharder.durations.store import load_durations
from sharder.planning.plan import write_plan
from sharder.planning.planner import make_plan
from tests.example_runs import plan_bins
from tests.reports.test_merge import case_xml, example_run, report_xml, run_dir

__all__ = ["example_run", "run_dir"]  # fixtures shared with test_merge

STALE = "tests/test_removed.py::test_gone"


def _add_stale_entry(durations: Path) -> None:
    document = json.loads(durations.read_text(encoding="utf-8"))
    document["tests"][STALE] = {"seconds": 3.0, "runs": 4}
    durations.write_text(json.dumps(document), encoding="utf-8")


def rebalance(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["rebalance", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err


def test_rebalance_after_a_full_run_updates_and_prunes(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(run_dir)
    _add_stale_entry(run_dir / "durations.json")
    before = load_durations(run_dir / "durations.json").tests
    code, out = rebalance(["reports", "--plan", "plan.json", "--durations", "durations.json"], capsys)
    assert code == 0, out
    after = load_durations(run_dir / "durations.json").tests
    planned = {t for tests in plan_bins(run_dir) for t in tests}
    assert set(after) == planned  # the stale entry is gone: the reports cover a plan of the whole suite
    for node_id in planned:
        assert after[node_id].runs == before[node_id].runs + 1
        assert after[node_id].seconds != before[node_id].seconds  # the run took 5% of the recorded time
    assert "1 pruned; the reports cover the whole plan" in out
    assert "predicted slowest shard for 3 shards over 35 tests:" in out


def test_rebalance_without_the_plan_does_not_prune(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reports say they cover their plan, but only plan.json says whether the plan was of the whole suite."""
    monkeypatch.chdir(run_dir)
    _add_stale_entry(run_dir / "durations.json")
    code, out = rebalance(["reports", "--durations", "durations.json"], capsys)
    assert code == 0, out
    assert STALE in load_durations(run_dir / "durations.json").tests
    assert "nothing pruned; no --plan given" in out


def test_rebalance_after_a_partial_run_does_not_prune(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(run_dir)
    for lost in (run_dir / "reports").glob("shard-2-of-3*"):
        lost.unlink()
    _add_stale_entry(run_dir / "durations.json")
    before = load_durations(run_dir / "durations.json").tests
    code, out = rebalance(["reports", "--durations", "durations.json"], capsys)
    assert code == 0, out
    after = load_durations(run_dir / "durations.json").tests
    first, second, third = plan_bins(run_dir)
    assert STALE in after and after[STALE] == before[STALE]
    assert all(after[t] == before[t] for t in second)  # shard 2 never reported: its timings are untouched
    assert all(after[t].runs == before[t].runs + 1 for t in first + third)
    assert "nothing pruned; shard 2/3 sent no complete report" in out


def _drifting_plan(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """Four equal tests on two shards; the reports will say shard 1's two tests got ten times slower."""
    ids = ["tests/test_a.py::test_one", "tests/test_a.py::test_two", "tests/test_b.py::test_three",
           "tests/test_b.py::test_four"]
    (tmp_path / "durations.json").write_text(json.dumps({node_id: 1.0 for node_id in ids}), encoding="utf-8")
    plan = make_plan(ids, dict.fromkeys(ids, 1.0), 2)
    write_plan(tmp_path / "plan.json", plan)
    sizes = ",".join(str(len(b.tests)) for b in plan.bins)
    for shard_bin in plan.bins:
        seconds = "10.0" if shard_bin.shard == 1 else "1.0"
        shard = f"{shard_bin.shard}/2"
        cases = [case_xml(*forward_key(t), properties={"sharder_nodeid": t, "sharder_shard": shard},
                          time_text=seconds) for t in shard_bin.tests]
        suite = {"sharder_shard": shard, "sharder_plan_id": plan.plan_id, "sharder_plan_sizes": sizes}
        (tmp_path / "reports").mkdir(exist_ok=True)
        (tmp_path / "reports" / f"shard-{shard_bin.shard}-of-2.xml").write_text(report_xml(cases, suite))
    return tmp_path / "durations.json", [list(b.tests) for b in plan.bins]


def test_check_writes_nothing_and_exits_1_past_the_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    durations, _ = _drifting_plan(tmp_path)
    monkeypatch.chdir(tmp_path)
    original = durations.read_bytes()
    code, out = rebalance(["reports", "--plan", "plan.json", "--durations", "durations.json", "--check"], capsys)
    # new timings 5.5, 5.5, 1, 1: the plan in use has 11 s on shard 1, a fresh plan 6.5 s (+69%)
    assert code == 1, out
    assert "slowest shard 11.0 s, +69.2% over a fresh plan (threshold 10%)" in out
    assert durations.read_bytes() == original
    code, out = rebalance(["reports", "--plan", "plan.json", "--durations", "durations.json", "--check",
                           "--threshold", "0.8"], capsys)
    assert code == 0 and durations.read_bytes() == original
    code, out = rebalance(["reports", "--plan", "plan.json", "--durations", "durations.json"], capsys)
    assert code == 0 and durations.read_bytes() != original
    assert "6.5 s with the new" in out


def test_reports_from_any_junit_producer_map_onto_known_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    known = ["tests/io/test_x.py::TestRead::test_big[a::b]", "tests/io/test_x.py::test_small"]
    (tmp_path / "durations.json").write_text(json.dumps(dict.fromkeys(known, 1.0)), encoding="utf-8")
    cases = [case_xml(*forward_key(node_id), time_text="3.0") for node_id in known]  # no sharder properties
    (tmp_path / "junit.xml").write_text(report_xml(cases, root="testsuite"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out = rebalance(["junit.xml", "--shards", "2"], capsys)
    assert code == 0, out
    after = load_durations(tmp_path / "durations.json").tests
    assert set(after) == set(known)  # mapped, not stored under made-up classname keys; nothing pruned
    assert all(after[node_id].seconds == 2.0 and after[node_id].runs == 2 for node_id in known)
    assert "nothing pruned; the reports carry no plan identity" in out


def test_threshold_without_check_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.xml").write_text(report_xml([case_xml("tests.test_a", "test_x")]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["rebalance", "r.xml", "--threshold", "0.2"]) == 2
    assert "--threshold goes with --check" in capsys.readouterr().err
