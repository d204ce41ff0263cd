"""`PlainPass`, the tuple a plain passing case becomes in a merge, reads as the `Attempt` it stands for, and the
code that marks attempts puts a real `Attempt` in its place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sharder.core.progress_log import progress_log_path_for
from sharder.core.shardspec import ShardSpec
from sharder.reports.inputs import (
    Attempt,
    PlainPass,
    _add_logged_reruns,
    collect,
    plain_passes,
    writable,
)
from sharder.reports.shard_attempts import ShardRuns, mark_superseded
from sharder.reports.verdict import _outcomes

SHARD = ShardSpec(1, 2)


def _passes() -> list[PlainPass]:
    return list(plain_passes(["a::t1", "a::t2"], [0.5, 1.5], [SHARD, None], "r.xml", "sha256:x", "run-1"))


def test_a_plain_pass_reads_field_for_field_as_its_attempt() -> None:
    for plain in _passes():
        full = plain.as_attempt()
        assert type(full) is Attempt
        for field in dataclasses.fields(Attempt):
            assert getattr(plain, field.name) == getattr(full, field.name), field.name


def test_writable_replaces_a_plain_pass_and_leaves_an_attempt_alone() -> None:
    attempts: list[Attempt | PlainPass] = [*_passes(), Attempt("a::t3", "failed", 1.0, SHARD, "r.xml")]
    first = writable(attempts, 0)
    first.earlier_failures = 2
    assert attempts[0] is first and attempts[0].earlier_failures == 2
    assert type(attempts[1]) is PlainPass
    assert writable(attempts, 2) is attempts[2]


def test_an_earlier_runs_plain_passes_are_marked_superseded() -> None:
    attempts: list[Attempt | PlainPass] = list(
        plain_passes(["a::t1"], [0.5], [SHARD], "r1.xml", "", "run-1"))
    attempts += plain_passes(["a::t1"], [0.7], [SHARD], "r2.xml", "", "run-2")
    mark_superseded(attempts, {SHARD: ShardRuns(("run-1", "run-2"), {"run-1": "attempt 1", "run-2": "attempt 2"})})
    assert [(a.superseded, a.attempt_label) for a in attempts] == [(True, "attempt 1"), (False, "attempt 2")]
    assert _outcomes(attempts)["a::t1"].seconds == 0.7  # the latest run's word


def test_a_plain_report_is_read_into_plain_passes_and_a_logged_rerun_marks_one(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    cases = "".join(f'<testcase classname="t.m" name="test_{i}" time="0.{i}"/>' for i in range(40))
    report.write_text(f'<testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>')
    attempts = collect([report], None).attempts
    assert [type(a) for a in attempts] == [PlainPass] * 40
    assert [a.node_id for a in attempts] == [f"t.m::test_{i}" for i in range(40)]
    _add_logged_reruns(attempts, report, {progress_log_path_for(report).resolve(): {"t.m::test_3": 2}})
    assert [type(a) for a in attempts] == [PlainPass] * 3 + [Attempt] + [PlainPass] * 36
    assert attempts[3].earlier_failures == 2 and attempts[3].seconds == 0.3
    assert _outcomes(attempts)["t.m::test_3"].outcome == "flaky"
