"""The verdict over a set of shard reports: what happened to every planned test, shard by shard.

Pure bookkeeping over `merge_inputs`' attempts; rendering is `summary`'s job, writing merged XML
`merged_report`'s. The verdict is green (exit 0) only when every planned test reported, none failed, and every
shard that had tests sent a readable report. A shard that died is never green, even if its progress log shows
every test passed: its report is what CI keeps. Nor is a merge in which no test ran at all, a shard that stopped
with an error (its progress log names it, and the merge says it once, above the shard's tests), or a shard whose
own pytest arguments deselected every test it would have run.

A shard that ran more than once (CI's "Re-run failed jobs", every attempt's reports given) is judged by its latest
run (`shard_attempts`); the earlier ones only add attempts to its tests' histories.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter, is_not

from sharder.core.command_text import command_text
from sharder.core.session_timeline import SessionTimeline
from sharder.core.shardspec import ShardSpec
from sharder.reports.inputs import AnyAttempt, Attempt, MergeInputs, PlainPass, PlanIdentity, attempts_from_logs
from sharder.reports.junit_cases import is_collection_skip
from sharder.reports.shard_attempts import ShardRuns, mark_superseded, shard_runs

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
# Queue mode: a job that died or never reported is no problem by itself, its leases went to the other jobs;
# completeness is judged over the whole plan, test by test.
LEFT_QUEUE = "left the queue"


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


def _passed(only: AnyAttempt) -> TestOutcome:
    """The outcome of a test whose one attempt passed with no earlier failure: no history to build."""
    return TestOutcome(only.node_id, "passed", only.shard, only.seconds, 1, "", only.file, only.line, (), only.recovered)


class TestOutcomes(Mapping[str, TestOutcome]):
    """Every test's outcome, in the order of its first attempt. A test whose one attempt passed (all but a few, in a
    big merge) is held as that attempt and becomes its `TestOutcome` only when asked for: a million outcome records
    built and kept cost more than the rest of the verdict. Likewise the ids are a set, and the mapping from id to
    outcome is built only when a test is looked up by id: a million-entry dict costs a merge three times the set
    (and most merges look nothing up)."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, held: list[TestOutcome | AnyAttempt], ids: AbstractSet[str], decided: list[TestOutcome]) -> None:
        self._held = held  # one value per test, in order: its outcome, or its one passing attempt
        self._ids = ids  # the ids of `held`, each once
        self._decided = decided  # the values of `held` that are outcomes, in its order
        self._by_id: dict[str, TestOutcome | AnyAttempt] | None = None
        self._seconds: list[float] | None = None
        self._slowest: dict[int, list[TestOutcome]] = {}

    def __getitem__(self, node_id: str) -> TestOutcome:
        if self._by_id is None:
            self._by_id = dict(zip(map(_node_id, self._held), self._held, strict=True))
        value = self._by_id[node_id]
        return value if isinstance(value, TestOutcome) else _passed(value)

    def __iter__(self) -> Iterator[str]:
        return map(_node_id, self._held)

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._ids

    @property
    def ids(self) -> AbstractSet[str]:
        """The tests' ids, for lookups at C speed."""
        return self._ids

    def items(self) -> Iterator[tuple[str, TestOutcome]]:  # type: ignore[override]  # an iterator, not a view
        """(id, outcome) of every test, in order, without the lookup by id."""
        return ((outcome.node_id, outcome) for outcome in self.all())

    def values(self) -> Iterator[TestOutcome]:  # type: ignore[override]  # an iterator, not a view
        return self.all()

    def all(self) -> Iterator[TestOutcome]:
        """Every outcome, in order (the passing ones built as they go by)."""
        for value in self._held:
            yield value if isinstance(value, TestOutcome) else _passed(value)

    def seconds(self) -> list[float]:
        """Every test's seconds, in order; read off the million attempts once, for the slowest and the total."""
        if self._seconds is None:
            self._seconds = list(map(_seconds, self._held))
        return self._seconds

    def decided(self) -> Iterator[TestOutcome]:
        """The outcomes that are not a single passing attempt (failures, skips, flaky and rerun tests), in order."""
        return iter(self._decided)

    def slowest(self, count: int) -> list[TestOutcome]:
        """The `count` longest, ties by id: an attempt has the seconds and id its outcome would have. The
        count-th longest time is found among the bare seconds (`_count_th_longest`), and the tests at or above it
        picked out, at C speed; only those above it are ordered by (time, id) in Python, and those at it (a suite's
        many equal times can make them most of a million) by id at C speed."""
        if count not in self._slowest:
            values = self._held
            seconds = self.seconds()
            threshold = _count_th_longest(seconds, count)
            chosen: list[TestOutcome | AnyAttempt] = []
            if threshold is not None:
                candidates = list(itertools.compress(values, map(threshold.__le__, seconds)))
                chosen = sorted((value for value in candidates if value.seconds > threshold),
                                key=lambda t: (-t.seconds, t.node_id))
                at_threshold = [value for value in candidates if value.seconds == threshold]
                first_ids = set(heapq.nsmallest(count - len(chosen), map(_node_id, at_threshold)))  # ids are unique
                chosen += sorted((value for value in at_threshold if value.node_id in first_ids), key=_node_id)
            self._slowest[count] = [value if isinstance(value, TestOutcome) else _passed(value) for value in chosen]
        return self._slowest[count]


def _count_th_longest(seconds: list[float], count: int) -> float | None:
    """The `count`-th largest of `seconds` (the smallest when there are fewer), None for none.

    A report's times repeat (written to the millisecond, a million cases hold a few thousand distinct ones): the
    distinct values give a floor that at least `count` of the times reach, and only those are sorted. A Python
    loop over a million times (`heapq.nlargest`) cost half a second of a merge."""
    if not seconds or count < 1:
        return None
    distinct = set(seconds)
    floor = min(distinct) if len(distinct) <= count else heapq.nlargest(count, distinct)[-1]
    top = sorted(itertools.compress(seconds, map(floor.__le__, seconds)), reverse=True)
    return top[min(count, len(top)) - 1]


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
    # What the shard's session spent besides its tests (its progress log's `costs` event), and the wall its plan
    # predicted: None when the log or the plan does not say (`sharder.reports.wall_summary` shows both).
    timeline: SessionTimeline | None = None
    predicted_wall_seconds: float | None = None
    attempt: str | None = None  # the run judged ("attempt 2"), only for a shard that ran more than once
    earlier_attempts: list[tuple[str, str]] = field(default_factory=list)  # (label, status) of the runs before it

    @property
    def label(self) -> str:
        return str(self.spec) if self.spec is not None else "-"

    @property
    def is_problem(self) -> bool:
        return self.status not in (OK, EMPTY, LEFT_QUEUE)


@dataclass(frozen=True)
class QueueOutcome:
    """Queue mode: the queue runs the reports name, the tests that went back to the queue from a lease that
    expired (a job died or hung), and the causes, never leased again after two jobs died running them."""

    runs: tuple[str, ...]
    re_leased: tuple[str, ...] = ()
    causes: dict[str, int] = field(default_factory=dict)


def queue_outcome(inputs: MergeInputs) -> QueueOutcome | None:
    runs = sorted({r.queue_run for r in inputs.reports if r.queue_run} | {log.queue_run for log in inputs.logs
                                                                         if log.queue_run})
    if not runs:
        return None
    causes: dict[str, int] = {}
    for report in inputs.reports:
        for node_id, kills in report.queue_causes.items():
            causes[node_id] = max(kills, causes.get(node_id, 0))
    released = sorted({node_id for report in inputs.reports for node_id in report.queue_released})
    return QueueOutcome(tuple(runs), tuple(released), dict(sorted(causes.items())))


@dataclass
class MergeResult:
    identity: PlanIdentity
    shards: list[ShardResult]
    tests: TestOutcomes
    unplanned: list[str]
    notes: list[str]
    unreadable: list[str]
    report_count: int
    fail_on_flaky: bool = False
    recovered: list[Attempt] = field(default_factory=list)  # progress-log lines standing in for lost reports
    attempts: list[AnyAttempt] = field(default_factory=list, repr=False)  # every attempt, recovered ones included
    queue: QueueOutcome | None = None

    @cached_property
    def _by_outcome(self) -> dict[str, list[TestOutcome]]:
        """The outcomes other than a lone pass, by outcome (a lone pass is asked for by nothing but "passed")."""
        grouped: dict[str, list[TestOutcome]] = {}
        for test in self.tests.decided():
            grouped.setdefault(test.outcome, []).append(test)
        return grouped

    def with_outcome(self, *outcomes: str) -> list[TestOutcome]:
        if "passed" in outcomes:
            return [test for test in self.tests.all() if test.outcome in outcomes]
        if len(outcomes) == 1:
            return self._by_outcome.get(outcomes[0], [])
        return [test for test in self.tests.decided() if test.outcome in outcomes]

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
        return self.tests.slowest(count)

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


def _final(node_id: str, attempts: list[AnyAttempt]) -> TestOutcome:
    """Each attempt is one report's (or one progress log's) final result for the test, its reruns before it
    folded into `earlier_failures` by the reader. Flaky: something failed and some final result passed;
    failed (or error): every final result failed. A rerun that passed in one report does not make a test that
    failed to the end elsewhere pass, but it does make it flaky, the way CI's "re-run failed jobs" is read."""
    if len(attempts) == 1 and attempts[0].outcome == "passed" and not attempts[0].earlier_failures:
        only = attempts[0]  # the common case, 100,000 times in a big merge: no history to build
        return TestOutcome(node_id, "passed", only.shard, only.seconds, 1, "", only.file, only.line, (),
                           only.recovered)
    everything = attempts
    superseded = [a for a in attempts if a.superseded]
    if superseded and len(superseded) < len(attempts):  # its shard ran again: the latest run has the last word
        attempts = [a for a in attempts if not a.superseded]
    else:
        superseded = []
    failed_before = any(a.outcome in FAILING or a.earlier_failures for a in superseded)
    outcomes = [a.outcome for a in attempts]
    failing = [a for a in attempts if a.outcome in FAILING]
    passed = "passed" in outcomes
    earlier = sum(a.earlier_failures for a in attempts)
    if (failing or earlier or failed_before) and passed:
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
    if outcome == "flaky" and not message:
        message = next((a.message for a in reversed(superseded) if a.outcome in FAILING), "")
    located = next((a for a in attempts if a.file), first)
    quiet = ("passed", *SKIP_LIKE)
    shown = [*superseded, *attempts]  # an earlier run's attempts first: the history reads in the order they ran
    history = [(a.outcome, _where(a)) for a in shown] if outcome not in quiet or earlier or failed_before else []
    earlier_total = earlier + sum(a.earlier_failures for a in superseded)
    if earlier_total:
        history.insert(0, (f"{earlier_total} earlier failed attempt(s)", _where(shown[0])))
    return TestOutcome(
        node_id=node_id, outcome=outcome, shard=shard, seconds=max(a.seconds for a in attempts),
        attempts=len(everything) + earlier_total, message=message, file=located.file, line=located.line,
        history=history, recovered=all(a.recovered for a in attempts),
    )


def _where(attempt: AnyAttempt) -> str:
    """The attempt's source, and which run of its shard it was when the shard ran more than once."""
    return f"{attempt.source} ({attempt.attempt_label})" if attempt.attempt_label else attempt.source


def _outcomes(attempts: list[AnyAttempt]) -> TestOutcomes:
    """Attempts grouped by test; a list only for a test with several, which a big merge seldom has."""
    # At C speed: the set of ids tells whether any test has two attempts; when none has, every attempt is its
    # test's last, in order, and only the attempts that are not a lone pass need an outcome of their own.
    ids = set(map(_node_id, attempts))
    if len(ids) == len(attempts):
        held: list[TestOutcome | AnyAttempt] = list(attempts)
        decided = []
        for index in itertools.compress(range(len(held)), map(is_not, map(type, held), itertools.repeat(PlainPass))):
            attempt = attempts[index]
            if attempt.outcome != "passed" or attempt.earlier_failures:
                outcome = held[index] = _final(attempt.node_id, [attempt])
                decided.append(outcome)
        return TestOutcomes(held, ids, decided)
    first: dict[str, AnyAttempt] = {}
    more: dict[str, list[AnyAttempt]] = {}
    for attempt in attempts:
        node_id = attempt.node_id
        if node_id not in first:
            first[node_id] = attempt
        elif node_id in more:
            more[node_id].append(attempt)
        else:
            more[node_id] = [first[node_id], attempt]
    outcomes: list[TestOutcome | AnyAttempt] = [
        only if only.outcome == "passed" and not only.earlier_failures and node_id not in more
        else _final(node_id, more.get(node_id) or [only])
        for node_id, only in first.items()
    ]
    return TestOutcomes(outcomes, first.keys(), [value for value in outcomes if isinstance(value, TestOutcome)])


def _not_plain(attempts: list[AnyAttempt]) -> Iterator[AnyAttempt]:
    """The attempts that are not a `PlainPass`, found at C speed (no Python step per plain pass)."""
    return itertools.compress(attempts, map(is_not, map(type, attempts), itertools.repeat(PlainPass)))


_node_id = attrgetter("node_id")
_outcome = attrgetter("outcome")
_seconds = attrgetter("seconds")
_source = attrgetter("source")
_recovered = attrgetter("recovered")
_shard = attrgetter("shard")


def _failed_count(attempts: list[AnyAttempt]) -> int:
    """How many tests have a failing attempt; the outcomes are looked at once at C speed, most merges having few."""
    if FAILING.isdisjoint(map(_outcome, attempts)):
        return 0
    return len({a.node_id for a in _not_plain(attempts) if a.outcome in FAILING})


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
    spec: ShardSpec, inputs: MergeInputs, identity: PlanIdentity, attempts: list[AnyAttempt],
    planned_list: list[str] | None, seen: Collection[str], *, queued: bool = False, runs: ShardRuns | None = None,
) -> ShardResult:
    if runs is not None:  # it ran more than once: the latest run is the verdict, each earlier one is said apart
        result = _shard_result(spec, _of_run(inputs, spec, runs.is_current), identity,
                               [a for a in attempts if not a.superseded], planned_list, seen, queued=queued)
        result.attempt = runs.labels.get(runs.latest)
        for run_id in runs.earlier:
            earlier = _shard_result(spec, _of_run(inputs, spec, _is(run_id)), identity,
                                    [a for a in attempts if a.run_id == run_id], planned_list, seen, queued=queued)
            result.earlier_attempts.append((runs.labels.get(run_id, run_id), status_of(earlier)))
        return result
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
    reported_ids = set(map(_node_id, attempts))
    missing = [node_id for node_id in planned_list if node_id not in seen] if planned_list is not None else []
    unnamed = max(0, planned - len(reported_ids) - len(missing)) if planned is not None else 0
    if queued:  # a queue job ran what it leased: its bin's size says nothing (the run's total is judged in `judge`)
        unnamed = 0
    failed = _failed_count(attempts)
    recovered = sum(map(_recovered, attempts))
    died_in = next((log.running_when_stopped for log in logs if log.running_when_stopped), None)
    # Reports that name no shard (plain `pytest --junitxml`, another runner) are credited to no shard, but with a
    # plan their tests are still this shard's: judged by what they hold, never "no report" for a shard whose every
    # test reported. Tests recovered from a progress log do not count: that shard's report is missing.
    unattributed: list[str] = []
    unattributed_names = {r.path.name for r in inputs.reports if r.shard is None}
    if unattributed_names:
        sources = set(map(_source, attempts)) if not recovered else {a.source for a in attempts if not a.recovered}
        unattributed = sorted(sources & unattributed_names)
    if error is not None:  # the run refused, or stopped before pytest's session began: that says it all
        status = ERROR
    elif all_deselected is not None and not attempts:
        status = DESELECTED
    elif reports or (unattributed and not recovered):
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
    elif queued and status in (DIED, NO_REPORT, STALE, INCOMPLETE):
        status = LEFT_QUEUE if status != INCOMPLETE else OK  # its bin's missing tests are still listed, and red
    return ShardResult(
        spec=spec, planned=planned, predicted_seconds=predicted, reported=len(reported_ids), failed=failed,
        actual_seconds=math.fsum(map(_seconds, attempts)), status=status,
        sources=[r.path.name for r in reports] + unattributed + [u.path.name for u in unreadable]
        + [log.path.name for log in logs],
        missing=missing, missing_unnamed=unnamed, died_in=died_in,
        recovered=recovered, error=error, all_deselected=all_deselected,
        pytest_args=pytest_args, stale=[u.path.name for u in stale], cancelled_by=cancelled_by,
        timeline=next((log.timeline for log in reversed(logs) if log.timeline is not None), None),
        predicted_wall_seconds=(identity.plan.bins[spec.index - 1].predicted_wall_seconds
                                if identity.plan is not None else None),
    )


def _queue_total(shards: list[ShardResult], identity: PlanIdentity, reported: int) -> None:
    """A queue run merged without its plan: only the run's total is known (the reports' plan sizes), so the tests
    short of it are counted, unnamed, once (on the first shard's row, where the summary says to pass --plan)."""
    planned = sum(identity.sizes) if identity.sizes is not None else None
    if planned is not None and reported < planned:
        shards[0].missing_unnamed = planned - reported


def _is(run_id: str) -> Callable[[str | None], bool]:
    return lambda other: other == run_id


def status_of(shard: ShardResult) -> str:
    """A shard's status in a word or two (an earlier attempt's, beside the one judged)."""
    return f"cancelled by {shard.cancelled_by}" if shard.cancelled_by else shard.status


def _of_run(inputs: MergeInputs, spec: ShardSpec, counts: Callable[[str | None], bool]) -> MergeInputs:
    """The shard's inputs of the runs `counts` accepts (by run id): what the shard's verdict is made of. Reports
    that name no shard stay (their tests are credited to their plan's shards, as without attempts)."""
    return MergeInputs(
        reports=[r for r in inputs.reports if r.shard in (spec, None) and counts(r.run_id)],
        unreadable=[u for u in inputs.unreadable if u.shard == spec and counts(u.run_id)],
        stale=[u for u in inputs.stale if u.shard == spec and counts(u.run_id)],
        logs=[log for log in inputs.logs if log.shard == spec and counts(log.run_id)],
    )


def _superseded_unreadable(inputs: MergeInputs, retried: dict[ShardSpec, ShardRuns]) -> list[str]:
    """Unreadable reports of earlier runs of a shard that ran again: no longer a reason for a red run."""
    return [u.reason for u in inputs.unreadable
            if u.shard in retried and not retried[u.shard].is_current(u.run_id)]


def judge(inputs: MergeInputs, identity: PlanIdentity, *, fail_on_flaky: bool = False) -> MergeResult:
    recovered = attempts_from_logs(inputs)
    attempts = inputs.attempts + recovered
    retried = shard_runs(inputs)
    mark_superseded(attempts, retried)
    tests = _outcomes(attempts)
    seen = tests.ids
    by_shard: dict[ShardSpec | None, list[AnyAttempt]] = {}
    for spec, group in itertools.groupby(attempts, _shard):  # a report's attempts come mostly of one shard
        by_shard.setdefault(spec, []).extend(group)
    planned_lists = _planned_lists(inputs, identity)
    queue = queue_outcome(inputs)
    shards: list[ShardResult] = []
    if identity.shards is not None:
        for index in range(1, identity.shards + 1):
            spec = ShardSpec(index, identity.shards)
            shards.append(_shard_result(spec, inputs, identity, by_shard.get(spec, []), planned_lists.get(index), seen,
                                        queued=queue is not None, runs=retried.get(spec)))
    if queue is not None and identity.plan is None and shards:
        _queue_total(shards, identity, len(tests))
    unclaimed = by_shard.get(None, [])
    if unclaimed:
        # Every attempt unclaimed (foreign reports, no plan): its tests are all of them, no second set of a million
        # ids; and when each test had one attempt, their seconds are the outcomes' column.
        everything = len(unclaimed) == len(attempts)
        reported = len(tests) if everything else len(set(map(_node_id, unclaimed)))
        failed = _failed_count(unclaimed)
        total = math.fsum(tests.seconds() if everything and len(tests) == len(attempts) else map(_seconds, unclaimed))
        shards.append(ShardResult(
            spec=None, planned=None, predicted_seconds=None, reported=reported, failed=failed,
            actual_seconds=total, status=FAILED if failed else OK,
            sources=sorted(set(map(_source, unclaimed))),
        ))
    unplanned: list[str] = []
    if identity.plan is not None:
        planned_ids = identity.plan.shard_of()
        unplanned = [node_id for node_id in tests if node_id not in planned_ids]
        if unplanned:  # a module that skipped itself at collection is reported by every shard, and was never a test
            unplanned = [node_id for node_id in unplanned
                         if not is_collection_skip(tests[node_id].outcome, tests[node_id].message)]
    notes = list(inputs.notes)
    set_aside = _superseded_unreadable(inputs, retried)
    notes += [f"shard {spec}: {runs.note}" for spec, runs in sorted(retried.items(), key=lambda item: item[0].index)
              if runs.note]
    notes += [f"an earlier attempt's report, superseded by its shard's latest: {reason}" for reason in set_aside]
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
        unreadable=[u.reason for u in inputs.unreadable if u.reason not in set_aside],
        report_count=len(inputs.reports),
        fail_on_flaky=fail_on_flaky, recovered=recovered, attempts=attempts, queue=queue,
    )
