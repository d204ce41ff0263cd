"""Several attempts of one shard in one merge (CI's "Re-run failed jobs"): which of them is the shard's verdict.

Every `sharder run` names its report and progress logs with one run id, and stamps beside it the CI job's attempt
(`sharder_ci_attempt` on the report, `ci_attempt` in the log) and, in the log, when it started. A shard whose
inputs carry two or more run ids ran more than once: its **latest** run is its verdict, by the attempt number, and
when the attempts are equal or one is unknown (a plain `pytest --shard` session, a GitLab without a retry count),
by the progress log's start time. The earlier runs are superseded: their tests still count as attempts (failed
there and passed in the latest: flaky) and their cases stay in the merged XML, but an earlier run that failed,
died, was cancelled or left an unreadable report does not make the shard red once its latest run is complete and
green, and a test's final word is its latest run's (passed earlier and failed in the latest: failed).

Inputs that carry no run id (another runner's report, an older sharder's) belong to no run: they count with the
latest, as every input of a shard did before attempts were told apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from sharder.core.shardspec import ShardSpec
from sharder.reports.inputs import AnyAttempt, MergeInputs, writable


@dataclass
class _Run:
    run_id: str
    ci_attempt: int | None = None
    started_at: float | None = None
    where: str = ""  # the first file seen of it: the last tie-break, so the order never depends on luck

    def note(self, ci_attempt: int | None, started_at: float | None, where: str) -> None:
        self.ci_attempt = self.ci_attempt if ci_attempt is None else ci_attempt
        if started_at is not None:  # a run's passes each start a log: the run began with the first
            self.started_at = started_at if self.started_at is None else min(self.started_at, started_at)
        self.where = min(self.where, where) if self.where else where


@dataclass(frozen=True)
class ShardRuns:
    """The runs of one shard that ran more than once, earliest first; the last is the shard's verdict."""

    order: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)  # run id -> "attempt 2" (or "run 2 of 2")
    note: str | None = None  # why the attempt numbers could not order the runs, when they could not

    @property
    def latest(self) -> str:
        return self.order[-1]

    @property
    def earlier(self) -> tuple[str, ...]:
        return self.order[:-1]

    def is_current(self, run_id: str | None) -> bool:
        """Whether an input of this run id counts for the shard's verdict (one of no known run always does)."""
        return run_id is None or run_id == self.latest


def _ordered(runs: Iterable[_Run]) -> list[_Run]:
    runs = list(runs)
    numbered = all(run.ci_attempt is not None for run in runs)
    return sorted(runs, key=lambda run: ((run.ci_attempt or 0) if numbered else 0,
                                         -math.inf if run.started_at is None else run.started_at, run.where))


def _labels(ordered: list[_Run]) -> dict[str, str]:
    attempts = [run.ci_attempt for run in ordered]
    if None not in attempts and len(set(attempts)) == len(attempts):
        return {run.run_id: f"attempt {run.ci_attempt}" for run in ordered}
    return {run.run_id: f"run {number} of {len(ordered)}" for number, run in enumerate(ordered, start=1)}


def _order_note(ordered: list[_Run]) -> str | None:
    attempts = [run.ci_attempt for run in ordered]
    if None not in attempts and len(set(attempts)) == len(attempts):
        return None
    why = "two of them record the same CI attempt" if None not in attempts else "not all of them record a CI attempt"
    return (f"{len(ordered)} runs, and {why}: ordered by their progress logs' start times, the verdict is the run of "
            f"{ordered[-1].where}")


def shard_runs(inputs: MergeInputs) -> dict[ShardSpec, ShardRuns]:
    """Each shard that ran more than once (two or more run ids among its reports and logs) and its runs' order."""
    found: dict[ShardSpec, dict[str, _Run]] = {}

    def add(shard: ShardSpec | None, run_id: str | None, ci_attempt: int | None, started_at: float | None,
            where: str) -> None:
        if shard is not None and run_id is not None:
            found.setdefault(shard, {}).setdefault(run_id, _Run(run_id)).note(ci_attempt, started_at, where)

    for log in inputs.logs:
        add(log.shard, log.run_id, log.ci_attempt, log.started_at, str(log.path))
    for report in inputs.reports:
        add(report.shard, report.run_id, report.ci_attempt, None, str(report.path))
    for item in inputs.unreadable:
        add(item.shard, item.run_id, None, None, str(item.path))
    retried: dict[ShardSpec, ShardRuns] = {}
    for shard, runs in found.items():
        if len(runs) > 1:
            ordered = _ordered(runs.values())
            retried[shard] = ShardRuns(tuple(run.run_id for run in ordered), _labels(ordered), _order_note(ordered))
    return retried


def mark_superseded(attempts: list[AnyAttempt], retried: dict[ShardSpec, ShardRuns]) -> None:
    """Label each attempt of a shard that ran more than once with its run, and mark those of earlier runs."""
    if not retried:
        return
    for index, attempt in enumerate(attempts):
        runs = retried.get(attempt.shard) if attempt.shard is not None else None
        if runs is None or attempt.run_id is None:
            continue
        marked = writable(attempts, index)
        marked.attempt_label = runs.labels.get(attempt.run_id)
        marked.superseded = attempt.run_id != runs.latest
