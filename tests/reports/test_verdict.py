"""The verdict's shard statuses that no other file covers: a cancelled shard (a CI cancel recorded by sharder in
the shard's progress log) is red whatever its report says."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from sharder.cli import main
from sharder.core.progress_log import append_cancelled
from sharder.core.shardspec import parse_shard
from sharder.reports import verdict as verdict_module
from sharder.reports.inputs import Attempt, collect, resolve_identity
from sharder.reports.verdict import judge
from tests.example_runs import planned_and_run_example, private_copy


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planned_and_run_example(tmp_path_factory.mktemp("verdict"), 2)


@pytest.fixture
def in_dir(example_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    run = private_copy(example_run, tmp_path)
    monkeypatch.chdir(run)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    yield run


def _merge(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["merge", "reports", "--plan", "plan.json", *args])
    out = capsys.readouterr().out
    code_json = main(["merge", "reports", "--plan", "plan.json", "--json"])
    assert code_json == code
    return code, json.loads(capsys.readouterr().out), out


def test_lone_passes_kept_as_attempts_read_as_judging_them_reads(tmp_path: Path) -> None:
    """A test whose one attempt passed is held as that attempt (`TestOutcomes`, so a million-case merge builds no
    outcome per pass); asked for, it is the outcome `_final` gives it, and every view of the outcomes (all of them,
    by outcome, the slowest) is what an eager dict of every test's outcome gives, in the same order."""
    cases = [f'<testcase classname="t.m" name="test_{i}" time="0.{i:03d}" />' for i in range(12)]
    cases[3] = '<testcase classname="t.m" name="test_3" time="0.5"><failure message="boom">E boom</failure></testcase>'
    cases[5] = '<testcase classname="t.m" name="test_5" time="0.2"><skipped message="later" /></testcase>'
    cases[7] = '<testcase classname="t.m" name="test_7" time="0.9"><skipped type="pytest.xfail" /></testcase>'
    cases[9] = '<testcase classname="t.m" name="test_9" file="t/m.py" line="4" time="0.9" />'
    cases.append('<testcase classname="t.m" name="test_2" time="0.7" />')  # a rerun of test_2: flaky
    (tmp_path / "junit.xml").write_text(f'<testsuite tests="13">{"".join(cases)}</testsuite>', encoding="utf-8")
    inputs = collect([tmp_path / "junit.xml"])
    result = judge(inputs, resolve_identity(inputs, None))
    attempts: dict[str, list[Attempt]] = {}
    for attempt in result.attempts:
        attempts.setdefault(attempt.node_id, []).append(attempt)
    eager = {node_id: verdict_module._final(node_id, group) for node_id, group in attempts.items()}
    assert list(result.tests) == list(eager) and dict(result.tests) == eager
    assert list(result.tests.all()) == list(eager.values())
    for outcome in ("passed", "failed", "skipped", "xfailed", "flaky"):
        assert result.with_outcome(outcome) == [test for test in eager.values() if test.outcome == outcome]
    assert result.slowest(4) == heapq.nsmallest(4, eager.values(), key=lambda t: (-t.seconds, t.node_id))
    assert [t.node_id for t in result.with_outcome("flaky")] == ["t.m::test_2"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(times=st.lists(st.sampled_from(["0.000", "0.001", "0.002", "0.5", "1.25", "3"]), min_size=1, max_size=40),
       count=st.integers(1, 45))
def test_the_slowest_are_those_an_eager_sort_gives_ties_by_id(tmp_path: Path, times: list[str], count: int) -> None:
    """`slowest` finds its threshold among the distinct times (`_count_th_longest`): with many ties, few distinct
    times and counts beyond the number of tests, it still picks exactly what sorting every outcome picks."""
    cases = "".join(f'<testcase classname="t.m" name="test_{(i * 7919) % 1000}" time="{t}" />'
                    for i, t in enumerate(times))
    (tmp_path / "junit.xml").write_text(f'<testsuite tests="{len(times)}">{cases}</testsuite>', encoding="utf-8")
    inputs = collect([tmp_path / "junit.xml"])
    result = judge(inputs, resolve_identity(inputs, None))
    expected = sorted(result.tests.all(), key=lambda t: (-t.seconds, t.node_id))[:count]
    assert result.slowest(count) == expected


def test_a_cancelled_shard_is_red_even_with_a_complete_green_report(
    in_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pytest writes a report when SIGINT interrupts it, and a cancel can come after its last test: the record in
    the progress log says the shard did not finish, and that wins."""
    assert main(["merge", "reports", "--plan", "plan.json"]) == 0
    capsys.readouterr()
    append_cancelled(in_dir / "reports" / "shard-2-of-2.progress.jsonl", signal_name="SIGTERM",
                     shard=parse_shard("2/2"), by="sharder run")
    code, verdict, table = _merge(capsys)
    shards = {shard["shard"]: shard for shard in verdict["shards"]}
    assert code == 1
    assert (shards["2/2"]["status"], shards["2/2"]["cancelled_by"]) == ("cancelled", "SIGTERM")
    assert (shards["1/2"]["status"], shards["1/2"]["cancelled_by"]) == ("ok", None)
    assert "cancelled by SIGTERM" in table and "FAILED" in table


def test_a_shard_cancelled_before_pytest_wrote_anything_is_named_cancelled(
    in_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the record: the report and the log of the run before it were cleared, pytest never got far."""
    (in_dir / "reports" / "shard-1-of-2.xml").unlink()
    (in_dir / "reports" / "shard-1-of-2.progress.jsonl").unlink()
    append_cancelled(in_dir / "reports" / "shard-1-of-2.progress.jsonl", signal_name="SIGHUP",
                     shard=parse_shard("1/2"), by="sharder local")
    code, verdict, _ = _merge(capsys)
    shard = next(shard for shard in verdict["shards"] if shard["shard"] == "1/2")
    assert code == 1 and (shard["status"], shard["cancelled_by"]) == ("cancelled", "SIGHUP")
    assert verdict["missing"] == shard["planned"] > 0
