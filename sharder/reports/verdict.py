"""The verdict over a set of shard reports: what happened to every planned test, shard by shard.

Pure bookkeeping over `merge_inputs`' attempts; rendering is `summary`'s job, writing merged XML
`merged_report`'s. The verdict is green (exit 0) only when every planned test reported, none failed, and every
shard that had tests sent a readable report. A shard that died is never green, even if its progress log shows
every test passed: its report is what CI keeps. Nor is a merge in which no test ran at all, a shard that stopped
with an error (its progress log names it, and the merge says it once, above the shard's tests), or a shard whose
own pytest arguments deselected every test it would have run.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from sharder.core.command_text import command_text
from sharder.core.shardspec import ShardSpec
from sharder.reports.inputs import Attempt, MergeInputs, PlanIdentity, attempts_from_logs

EXIT_OK = 0
EXIT_PROBLEMS = 1

FAILING = frozenset({"failed", "error", "rerun"})
# Final outcomes that are neither a pass nor a problem: a skip, and an expected failure (pytest's xfail).
SKIP_LIKE = ("skipped", "xfailed")

# Shard statuses
OK = "ok"
FAILED = "failed"
INCOMPLETE = "incomplete"
NO_REPORT = "no report"
DIED = "died"
UNREADABLE = "report unreadable"
EMPTY = "empty"
ERROR = "error"  # the shard refused to run: its progress log holds the error
DESELECTED = "deselected"  # its own -k/-m/--deselect left it nothing to run
STALE = "stale report"  # only a report an earlier run left, and no log of this run
CANCELLED = "cancelled"  # a progress log says sharder was told to stop (a CI cancel): never green


@dataclass(slots=True)  # one per test: a million of them in a big merge
class TestOutcome:
    """A test's final word over all its attempts (reruns, retried jobs, several reports of one shard)."""

    node_id: str
    outcome: str  # passed | failed | error | skipped | xfailed | flaky
    shard: ShardSpec | None
    seconds: float  # the longest attempt
    attempts: int
    message: str = ""
    file: str | None = None
    line: int | None = None
    history: Sequence[tuple[str, str]] = ()  # (outcome, source) when not simply passed
    recovered: bool = False


@dataclass
class ShardResult:
    spec: ShardSpec | None  # None: cases no shard claims (foreign reports without a plan)
    planned: int | None
    predicted_seconds: float | None
    reported: int
    failed: int
    actual_seconds: float
    status: str
    sources: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    missing_unnamed: int = 0
    died_in: str | None = None
    recovered: int = 0
    error: str | None = None
    all_deselected: int | None = None
    pytest_args: tuple[str, ...] | None = None
    stale: list[str] = field(default_factory=list)  # reports set aside as an earlier run's
    cancelled_by: str | None = None  # the signal, when a progress log of the shard records a cancel

    @property
    def label(self) -> str:
        return str(self.spec) if self.spec is not None else "-"

    @property
    def is_problem(self) -> bool:
        return self.status not in (OK, EMPTY)


@dataclass
class MergeResult:
    identity: PlanIdentity
    shards: list[ShardResult]
    tests: dict[str, TestOutcome]
    unplanned: list[str]
    notes: list[str]
    unreadable: list[str]
    report_count: int
    fail_on_flaky: bool = False
    recovered: list[Attempt] = field(default_factory=list)  # progress-log lines standing in for lost reports
    attempts: list[Attempt] = field(default_factory=list, repr=False)  # every attempt, recovered ones included

    @cached_property
    def _by_outcome(self) -> dict[str, list[TestOutcome]]:
        grouped: dict[str, list[TestOutcome]] = {}
        for test in self.tests.values():
            grouped.setdefault(test.outcome, []).append(test)
        return grouped

    def with_outcome(self, *outcomes: str) -> list[TestOutcome]:
        if len(outcomes) == 1:
            return self._by_outcome.get(outcomes[0], [])
        return [test for test in self.tests.values() if test.outcome in outcomes]

    @cached_property
    def failures(self) -> list[TestOutcome]:
        return self.with_outcome("failed", "error")

    @property
    def flaky(self) -> list[TestOutcome]:
        return self.with_outcome("flaky")

    @property
    def missing(self) -> list[tuple[str, ShardResult]]:
        return [(node_id, shard) for shard in self.shards for node_id in shard.missing]

    @property
    def missing_count(self) -> int:
        return sum(len(shard.missing) + shard.missing_unnamed for shard in self.shards)

    @property
    def planned_total(self) -> int | None:
        identity = self.identity
        if identity.plan is not None:
            return identity.plan.total_tests
        if identity.sizes is not None:
            return sum(identity.sizes)
        return None

    @property
    def problem_shards(self) -> list[ShardResult]:
        return [shard for shard in self.shards if shard.is_problem and shard.status != FAILED]

    @property
    def imbalance(self) -> float | None:
        """Slowest shard over the mean, over the shards that ran: 1.0 is perfect."""
        ran = [s.actual_seconds for s in self.shards if s.spec is not None and s.reported]
        if len(ran) < 2 or not math.fsum(ran):
            return None
        return max(ran) / (math.fsum(ran) / len(ran))

    def slowest(self, count: int = 10) -> list[TestOutcome]:
        return heapq.nsmallest(count, self.tests.values(), key=lambda t: (-t.seconds, t.node_id))

    @property
    def nothing_ran(self) -> str | None:
        """The sentence for a merge in which no test ran at all (never a pass), or None when some test ran."""
        if self.tests:
            return None
        shards = [shard for shard in self.shards if shard.spec is not None]
        deselected = [shard for shard in shards if shard.status == DESELECTED]
        errors = [shard for shard in shards if shard.status == ERROR]
        # shards with no tests of their own (more shards than tests) say nothing about why none ran
        empty = [shard for shard in shards if shard.status in (OK, EMPTY)]
        if deselected and len(deselected) + len(errors) + len(empty) == len(shards):
            recorded = {shard.pytest_args for shard in deselected if shard.pytest_args}
            args = f" ({command_text(recorded.pop())})" if len(recorded) == 1 else ""
            return f"no test ran: the shards' pytest arguments{args} deselected every test"
        if errors and len(errors) + len(empty) == len(shards):
            return "no test ran: every shard stopped with an error"
        if self.planned_total == 0:
            return "no test ran: no tests were collected"
        return "no test ran"

    @property
    def exit_code(self) -> int:
        bad = (
            self.failures or self.missing_count or self.problem_shards or self.unplanned or self.unreadable
            or (self.fail_on_flaky and self.flaky) or not self.tests
        )
        return EXIT_PROBLEMS if bad else EXIT_OK


def _final(node_id: str, attempts: list[Attempt]) -> TestOutcome:
    """Each attempt is one report's (or one progress log's) final result for the test, its reruns before it
    folded into `earlier_failures` by the reader. Flaky: something failed and some final result passed;
    failed (or error): every final result failed. A rerun that passed in one report does not make a test that
    failed to the end elsewhere pass, but it does make it flaky, the way CI's "re-run failed jobs" is read."""
    if len(attempts) == 1 and attempts[0].outcome == "passed" and not attempts[0].earlier_failures:
        only = attempts[0]  # the common case, 100,000 times in a big merge: no history to build
        return TestOutcome(node_id, "passed", only.shard, only.seconds, 1, "", only.file, only.line, (),
                           only.recovered)
    outcomes = [a.outcome for a in attempts]
    failing = [a for a in attempts if a.outcome in FAILING]
    passed = "passed" in outcomes
    earlier = sum(a.earlier_failures for a in attempts)
    if (failing or earlier) and passed:
        outcome = "flaky"
    elif failing:
        outcome = "error" if all(a.outcome == "error" for a in failing) else "failed"
    elif outcomes and all(o in SKIP_LIKE for o in outcomes):
        # an expected failure is neither a skip nor a pass: counted apart, as pytest's own summary does
        outcome = "xfailed" if "xfailed" in outcomes else "skipped"
    else:
        outcome = "passed"
    first = attempts[0]
    shard = next((a.shard for a in attempts if a.shard is not None), None)
    message = failing[-1].message if failing else (first.message if outcome in SKIP_LIKE else "")
    located = next((a for a in attempts if a.file), first)
    quiet = ("passed", *SKIP_LIKE)
    history = [(a.outcome, a.source) for a in attempts] if outcome not in quiet or earlier else []
    if earlier:
        history.insert(0, (f"{earlier} earlier failed attempt(s)", first.source))
    return TestOutcome(
        node_id=node_id, outcome=outcome, shard=shard, seconds=max(a.seconds for a in attempts),
        attempts=len(attempts) + earlier, message=message, file=located.file, line=located.line, history=history,
        recovered=all(a.recovered for a in attempts),
    )


def _outcomes(attempts: list[Attempt]) -> dict[str, TestOutcome]:
    """Attempts grouped by test; a list only for a test with several, which a big merge seldom has."""
    first: dict[str, Attempt] = {}
    more: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        node_id = attempt.node_id
        if node_id not in first:
            first[node_id] = attempt
        elif node_id in more:
            more[node_id].append(attempt)
        else:
            more[node_id] = [first[node_id], attempt]
    return {node_id: _final(node_id, more.get(node_id) or [attempt]) for node_id, attempt in first.items()}


def _planned_lists(inputs: MergeInputs, identity: PlanIdentity) -> dict[int, list[str]]:
    """Each shard's planned tests: from the plan, else from its progress logs' headers (their run order)."""
    if identity.plan is not None:
        return {b.shard: list(b.tests) for b in identity.plan.bins}
    lists: dict[int, list[str]] = {}
    for log in inputs.logs:
        # a log that records an error ran nothing: under xdist its order is the workers' whole collection
        if log.shard is not None and log.order and log.error is None:
            lists[log.shard.index] = list(dict.fromkeys([*lists.get(log.shard.index, []), *log.order]))
    return lists


def _shard_result(
    spec: ShardSpec, inputs: MergeInputs, identity: PlanIdentity, attempts: list[Attempt],
    planned_list: list[str] | None, seen: set[str],
) -> ShardResult:
    reports = [r for r in inputs.reports if r.shard == spec]
    unreadable = [u for u in inputs.unreadable if u.shard == spec]
    stale = [u for u in inputs.stale if u.shard == spec]
    logs = [log for log in inputs.logs if log.shard == spec]
    error = next((log.error for log in logs if log.error), None)
    all_deselected = next((r.all_deselected for r in reports if r.all_deselected is not None),
                          next((log.all_deselected for log in logs if log.all_deselected is not None), None))
    pytest_args = next((r.pytest_args for r in reports if r.pytest_args is not None),
                       next((log.pytest_args for log in logs if log.pytest_args is not None), None))
    planned: int | None = None
    predicted: float | None = None
    if identity.plan is not None:
        shard_bin = identity.plan.bins[spec.index - 1]
        planned, predicted = len(shard_bin.tests), shard_bin.predicted_seconds
    else:
        if identity.sizes is not None:
            planned = identity.sizes[spec.index - 1]
        elif planned_list is not None:
            planned = len(planned_list)
        predicted = next((r.predicted_seconds for r in reports if r.predicted_seconds is not None), None)
        if predicted is None:
            predicted = next((log.predicted_seconds for log in logs if log.predicted_seconds is not None), None)
    reported_ids = {a.node_id for a in attempts}
    missing = [node_id for node_id in planned_list if node_id not in seen] if planned_list is not None else []
    unnamed = max(0, planned - len(reported_ids) - len(missing)) if planned is not None else 0
    failed = len({a.node_id for a in attempts if a.outcome in FAILING})
    died_in = next((log.running_when_stopped for log in logs if log.running_when_stopped), None)
    # Reports that name no shard (plain `pytest --junitxml`, another runner) are credited to no shard, but with a
    # plan their tests are still this shard's: judged by what they hold, never "no report" for a shard whose every
    # test reported. Tests recovered from a progress log do not count: that shard's report is missing.
    unattributed = sorted({a.source for a in attempts if not a.recovered}
                          & {r.path.name for r in inputs.reports if r.shard is None})
    if error is not None:  # the run refused, or stopped before pytest's session began: that says it all
        status = ERROR
    elif all_deselected is not None and not attempts:
        status = DESELECTED
    elif reports or (unattributed and not any(a.recovered for a in attempts)):
        status = FAILED if failed else (INCOMPLETE if missing or unnamed else OK)
    elif planned == 0 and not unreadable and not stale:
        status = EMPTY
    elif unreadable:
        status = UNREADABLE
    elif any(not log.finished for log in logs):
        status = DIED
    elif stale:
        status = STALE
    else:
        status = NO_REPORT
    # A cancelled shard did not finish, whatever its report says (pytest writes one when SIGINT interrupts it).
    cancelled_by = next((log.cancelled_by for log in logs if log.cancelled_by), None)
    if cancelled_by is not None:
        status = CANCELLED
    return ShardResult(
        spec=spec, planned=planned, predicted_seconds=predicted, reported=len(reported_ids), failed=failed,
        actual_seconds=math.fsum(a.seconds for a in attempts), status=status,
        sources=[r.path.name for r in reports] + unattributed + [u.path.name for u in unreadable]
        + [log.path.name for log in logs],
        missing=missing, missing_unnamed=unnamed, died_in=died_in,
        recovered=sum(1 for a in attempts if a.recovered), error=error, all_deselected=all_deselected,
        pytest_args=pytest_args, stale=[u.path.name for u in stale], cancelled_by=cancelled_by,
    )


def judge(inputs: MergeInputs, identity: PlanIdentity, *, fail_on_flaky: bool = False) -> MergeResult:
    recovered = attempts_from_logs(inputs)
    attempts = inputs.attempts + recovered
    tests = _outcomes(attempts)
    seen = set(tests)
    by_shard: dict[ShardSpec | None, list[Attempt]] = {}
    for attempt in attempts:
        by_shard.setdefault(attempt.shard, []).append(attempt)
    planned_lists = _planned_lists(inputs, identity)
    shards: list[ShardResult] = []
    if identity.shards is not None:
        for index in range(1, identity.shards + 1):
            spec = ShardSpec(index, identity.shards)
            shards.append(_shard_result(spec, inputs, identity, by_shard.get(spec, []), planned_lists.get(index), seen))
    unclaimed = by_shard.get(None, [])
    if unclaimed:
        ids = {a.node_id for a in unclaimed}
        failed = len({a.node_id for a in unclaimed if a.outcome in FAILING})
        shards.append(ShardResult(
            spec=None, planned=None, predicted_seconds=None, reported=len(ids), failed=failed,
            actual_seconds=math.fsum(a.seconds for a in unclaimed), status=FAILED if failed else OK,
            sources=sorted({a.source for a in unclaimed}),
        ))
    unplanned: list[str] = []
    if identity.plan is not None:
        planned_ids = identity.plan.shard_of()
        unplanned = [node_id for node_id in tests if node_id not in planned_ids]
    notes = list(inputs.notes)
    if identity.shards is None and identity.plan is None:
        notes.append(
            "no plan known: these reports carry no sharder plan identity and no --plan was given, so tests that "
            "never ran cannot be detected; only failures are judged"
        )
    for shard in shards:
        if shard.spec is not None and not shard.reported and shard.is_problem and shard.planned is None:
            notes.append(f"shard {shard.spec} sent no report and its size is unknown; pass --plan to list its tests")
    return MergeResult(
        identity=identity, shards=shards, tests=tests, unplanned=unplanned, notes=notes,
        unreadable=[u.reason for u in inputs.unreadable], report_count=len(inputs.reports),
        fail_on_flaky=fail_on_flaky, recovered=recovered, attempts=attempts,
    )
