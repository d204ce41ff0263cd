"""The HTML report's timeline as plain data: one lane per progress log (or per report without one), each test a bar.

Why lanes are keyed by the files a job wrote and not by the shard: one job is one machine, so one clock and one
fixed cost. A job's files are those of one folder with one report stem (`shard-3-of-8.progress.jsonl`, and the
`shard-3-of-8.memory-intensive` pass's log beside it). In shard mode that is one lane per shard; in queue mode,
where every job writes its own report and log, one lane per job; a shard retried in another CI attempt, whose
files a merge reads from another folder, gets a lane per attempt. A lane is labelled by its shard when that
shard has one lane, else by its folder and stem.

Times come from the progress log's `at` stamps (`sharder.core.progress_log`): a bar runs from the test's `start`
line to its `test` line, relative to the session's start, so the fixed cost before the first test (pytest start,
collection, session setup) and after the last (session teardown, the report) are segments of their own. A log
without stamps (an older sharder) or a JUnit report without a log gives no times: its tests are placed one after
another in run order by their durations, and the lane says so (`timed` is False). Tests that ran at the same time
(xdist workers within one shard) are packed into rows of the lane, the fewest that keep bars apart.

The predicted time of a shard and the plan's lower bound are drawn from a lane's 0, the session's start: a plan
that predicts the tests alone then shows the fixed cost it left out as the lane running past its marker. What the
job paid where no session's clock runs (`sharder run`'s own start before pytest, the interpreter's exit after the
last session's last line: the logs' `outside` events) is a segment after the lane's end, so the lane is as long
as the job's wall, the figure the prediction is made for. The exits between one job's passes need no segment:
they are the gaps between its sessions, on the clock already.

Each bar's colour is the test's final outcome from the verdict (flaky, failed, ...), so the picture and the
terminal summary never disagree; the bar's own attempt outcome (a rerun) is kept beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sharder.core.progress_log import SUFFIX as PROGRESS_SUFFIX
from sharder.core.progress_log import LoggedTest, ProgressLog
from sharder.core.shardspec import ShardSpec
from sharder.reports.inputs import AnyAttempt

# The outcome of a bar for a test that had started when its job died: it never finished, so it has no other.
DIED = "died"


@dataclass(frozen=True, slots=True)
class Bar:
    """One attempt of one test, in seconds from its lane's origin."""

    node_id: str
    start: float
    end: float
    outcome: str  # the test's final outcome (the verdict's)
    attempt_outcome: str  # this attempt's own
    peak_rss_mb: float | None
    row: int = 0


@dataclass
class Lane:
    key: str  # the file the lane was read from (a path for a log, a report's name otherwise)
    label: str
    shard: ShardSpec | None
    timed: bool  # False: bars placed by order and duration, no clock times
    bars: list[Bar] = field(default_factory=list)
    rows: int = 1
    end: float = 0.0  # the session's end (its `finish` line), else the last bar's end
    predicted_seconds: float | None = None
    status: str | None = None
    outside_seconds: float | None = None  # the job's seconds off every session's clock, drawn after `end`

    @property
    def fixed_before(self) -> float | None:
        """Seconds from the session's start to its first test: pytest's start, collection, session setup."""
        return min(bar.start for bar in self.bars) if self.timed and self.bars else None

    @property
    def fixed_after(self) -> float | None:
        """Seconds from the last test's end to the session's end (teardown of the session, writing the report)."""
        if not self.timed or not self.bars:
            return None
        return max(0.0, self.end - max(bar.end for bar in self.bars))


def _stem(name: str) -> str:
    lowered = name.lower()
    for suffix in (PROGRESS_SUFFIX, ".xml"):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _pack_rows(bars: list[Bar]) -> tuple[list[Bar], int]:
    """Bars sorted by start, each in the lowest row free at its start (rows end where their last bar ends).

    A tolerance of a millisecond: consecutive tests of one process touch (the next starts as the last ends), and
    clock rounding must not push them into a row of their own."""
    ordered = sorted(bars, key=lambda bar: (bar.start, bar.end))
    row_ends: list[float] = []
    packed: list[Bar] = []
    for bar in ordered:
        row = next((index for index, end in enumerate(row_ends) if end <= bar.start + 1e-3), len(row_ends))
        if row == len(row_ends):
            row_ends.append(bar.end)
        else:
            row_ends[row] = bar.end
        packed.append(Bar(bar.node_id, bar.start, bar.end, bar.outcome, bar.attempt_outcome, bar.peak_rss_mb,
                          row))
    packed.sort(key=lambda bar: (bar.row, bar.start))
    return packed, max(1, len(row_ends))


def _placed(tests: Iterable[tuple[str, float, str, float | None]], outcome_of: Mapping[str, str]) -> list[Bar]:
    """(id, seconds, attempt outcome, peak) one after another from 0: the picture a report without clock gives."""
    bars: list[Bar] = []
    clock = 0.0
    for node_id, seconds, attempt_outcome, peak in tests:
        bars.append(Bar(node_id, clock, clock + seconds, outcome_of.get(node_id, attempt_outcome), attempt_outcome,
                        peak))
        clock += seconds
    return bars


def _timed_bar(test: LoggedTest, origin: float, outcome_of: Mapping[str, str]) -> Bar | None:
    if test.ended_at is None:
        return None
    start = test.started_at if test.started_at is not None else test.ended_at - test.seconds
    start = min(start, test.ended_at)
    return Bar(test.node_id, start - origin, test.ended_at - origin, outcome_of.get(test.node_id, test.outcome),
               test.outcome, test.peak_rss_mb)


def _job(log: ProgressLog) -> tuple[str, str]:
    """Logs of one job: the same folder and the same report stem before its first dot (a shard's
    `shard-3-of-8.memory-intensive.progress.jsonl` pass belongs to `shard-3-of-8`'s lane)."""
    return str(log.path.parent), log.path.name.split(".", 1)[0]


def _off_clock(logs: list[ProgressLog]) -> float | None:
    """The first session's time before pytest started and the last one's exit after its last line (None when the
    last session's exit was not measured: killed, under xdist, an older sharder)."""
    ordered = sorted(logs, key=lambda log: log.started_at or 0.0)
    first, last = ordered[0], ordered[-1]
    if last.outside_seconds is None:
        return None
    before = first.outside_before_seconds if first.outside_seconds is not None else 0.0
    return before + last.outside_seconds - last.outside_before_seconds


def _logs_lane(logs: list[ProgressLog], outcome_of: Mapping[str, str]) -> Lane:
    """One job's sessions on one clock: its first session's start is the lane's 0."""
    tests = [test for log in logs for test in log.tests]
    shards = {log.shard for log in logs}
    folder, base = _job(logs[0])
    lane = Lane(key=str(Path(folder) / base), label="", shard=shards.pop() if len(shards) == 1 else None,
                timed=all(test.ended_at is not None for test in tests))
    if lane.timed:
        starts = [log.started_at for log in logs if log.started_at is not None]
        origin = min(starts) if starts else min(
            (t.started_at if t.started_at is not None else t.ended_at - t.seconds)  # type: ignore[operator]
            for t in tests)
        bars = [bar for test in tests if (bar := _timed_bar(test, origin, outcome_of)) is not None]
        last = max([bar.end for bar in bars], default=0.0)
        # what was running when a job died: from its start to the log's last word (when it died is not known)
        bars += [Bar(node_id, start - origin, max(start - origin, last), DIED, DIED, None)
                 for log in logs if not log.finished for node_id, start in log.unfinished_started_at.items()]
        lane.bars, lane.rows = _pack_rows(bars)
        ends = [log.finished_at - origin for log in logs if log.finished_at is not None]
        lane.end = max([*ends, *(bar.end for bar in bars)])
        lane.outside_seconds = _off_clock(logs)
        return lane
    lane.bars = _placed(((t.node_id, t.seconds, t.outcome, t.peak_rss_mb) for t in tests), outcome_of)
    lane.end = max((bar.end for bar in lane.bars), default=0.0)
    return lane


def _label(lanes: list[Lane]) -> None:
    """`shard 3/8` when that shard has one lane; its file (with its folder, for retried attempts) when several."""
    by_shard: dict[ShardSpec | None, int] = {}
    for lane in lanes:
        by_shard[lane.shard] = by_shard.get(lane.shard, 0) + 1
    for lane in lanes:
        path = Path(lane.key)
        where = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        if lane.shard is None:
            lane.label = _stem(where)
        elif by_shard[lane.shard] == 1:
            lane.label = f"shard {lane.shard}"
        else:
            lane.label = f"shard {lane.shard} ({_stem(where)})"


def build_lanes(
    logs: Sequence[ProgressLog], attempts: Sequence[AnyAttempt], outcome_of: Mapping[str, str],
) -> list[Lane]:
    """Lanes for every job's progress logs, and for every report whose tests no log beside it holds.

    `outcome_of` is the verdict's final outcome per test (`MergeResult.tests`), the colour of each bar."""
    jobs: dict[tuple[str, str], list[ProgressLog]] = {}
    for log in logs:
        if log.tests:
            jobs.setdefault(_job(log), []).append(log)
    lanes = [_logs_lane(of_job, outcome_of) for _, of_job in sorted(jobs.items())]
    logged_stems = {_stem(log.path.name) for log in logs if log.tests}
    unlogged: dict[str, list[AnyAttempt]] = {}
    for attempt in attempts:
        if not attempt.recovered and _stem(attempt.source) not in logged_stems:
            unlogged.setdefault(attempt.source, []).append(attempt)
    for source, of_source in unlogged.items():
        shards = {a.shard for a in of_source}
        lane = Lane(key=source, label="", shard=shards.pop() if len(shards) == 1 else None, timed=False)
        lane.bars = _placed(((a.node_id, a.seconds, a.outcome, a.peak_rss_mb) for a in of_source), outcome_of)
        lane.end = max((bar.end for bar in lane.bars), default=0.0)
        lanes.append(lane)
    lanes.sort(key=lambda lane: (lane.shard is None, lane.shard.index if lane.shard else 0, lane.key))
    _label(lanes)
    return lanes

