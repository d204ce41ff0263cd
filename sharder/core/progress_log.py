"""The per-test progress log: JSON lines a shard appends while it runs, and the reader the merge uses.

Why it exists: a shard killed by the OOM killer, a job timeout or `kill -9` never writes its JUnit report (pytest
writes that at the very end), so without this log everything the shard did is lost. Each line is appended and
flushed as soon as it is known, so a SIGKILL loses at most the test that was running, and the `start` line of
that test still says which one it was.

The file sits beside the JUnit report (`reports/shard-3-of-8.xml` -> `reports/shard-3-of-8.progress.jsonl`), or
where `--sharder-progress-log` puts it. Events, one JSON object per line:

- `{"event": "session", "format": 1, "shard": "3/8" | null, "plan_id": ..., "plan_sizes": [..] | null,
  "predicted_seconds": s | null, "collected": n, "selected": n, "order": [ids in run order],
  "randomly_seed": int | null, "report": "shard-3-of-8.xml" | null, "pid": ..., "run_id": "..." | null,
  "pytest_args": [the user's pytest arguments] | null, "all_deselected": n | null, "queue_run": name | null,
  "ci_attempt": n | null, "started_at": t, "at": t,
  "ordered_by": "plan" | "failed-first" | "fast-first" | "slowest-first" | null}` first (`order` is the order
  the tests were handed to pytest's run loop, after that reordering: the replay's order; a queue job's `order` is
  empty: it learns its tests as it leases them, and its `start` lines are its order);
- `{"event": "start", "nodeid": ..., "at": t}` when a test starts;
- `{"event": "test", "nodeid": ..., "outcome": "passed|failed|error|skipped|rerun", "setup": s, "call": s,
  "teardown": s, "seconds": s, "shard": "3/8" | null, "index": i, "message": ..., "peak_rss_mb": mb?, "at": t}`
  when it finished (after teardown);
- `{"event": "finish", "exitstatus": n, "at": t}` when the session ended normally, written before pytest writes
  the JUnit report: a report beside a log that did not finish is not that session's;
- `{"event": "costs", "timeline": {startup_seconds, collection_seconds, files: {file: s}, session_setup_seconds,
  tests_span_seconds, tests_seconds, tests, teardown_seconds, wall_seconds}, "at": t}` (`sharder.core.session_timeline`)
  when pytest unconfigures, after `finish`: what the shard paid besides its tests, for the merge and rebalance;
- `{"event": "outside", "seconds": s, "before": b, "by": "sharder run" | "sharder record"}`, written by the sharder
  process that started pytest, once pytest has exited after a `costs` event: what the job paid outside the session
  (its own start before pytest, `before` of the `seconds`, and pytest's interpreter exit after the `costs` line's
  `at`), `sharder.running.outside_cost`;
- `{"event": "error", "message": ...}` when the shard refused to run (a plan that does not match the checkout, a
  bad option): `sharder merge` names this error for the shard instead of listing its tests bare;
- `{"event": "cancelled", "signal": "SIGTERM", "shard": "3/8" | null, "by": "sharder run", "pid": ...}`, written
  by sharder, not pytest, after a CI cancel (a SIGTERM, SIGHUP or SIGINT to sharder) once pytest's whole process
  group is dead: the last line, since nothing of that session is left to write. A log may hold nothing else (the
  cancel came before pytest wrote its header); then the record's shard says whose log it is.

`run_id` is the run's identity, also on the JUnit report (`sharder_run_id`): a merge takes a report for its shard
only when the two agree. `all_deselected` is set when the shard's pytest arguments deselected every test it would
have run (a `-k` typo): such a shard ran nothing and is no pass. `ci_attempt` (also on the report,
`sharder_ci_attempt`) is the CI job's attempt that ran the session, and `started_at` when it began: a merge of
several attempts of one shard takes the latest (by attempt, then by start) as the shard's verdict.

`at` is when the line was written and `started_at` when pytest configured sharder's plugin (before collection),
both wall-clock seconds since the epoch: the HTML report draws each test from its start line to its test line, and
the fixed cost before the first test and after the last as segments of their own. Older logs have neither field.

The replay (`sharder replay`) reads `order` and `randomly_seed` from the header: keep those fields.
This module knows the format only; the pytest side that writes it is `sharder.pytest_plugin.shard_outputs`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sharder.core.errors import SharderError
from sharder.core.inputfile import read_input
from sharder.core.session_timeline import SessionTimeline, timeline_from_json
from sharder.core.shardspec import ShardSpec, parse_shard

FORMAT_VERSION = 1
SUFFIX = ".progress.jsonl"
SESSION_EVENT = "session"
START_EVENT = "start"
TEST_EVENT = "test"
FINISH_EVENT = "finish"
ERROR_EVENT = "error"
CANCELLED_EVENT = "cancelled"
COSTS_EVENT = "costs"
OUTSIDE_EVENT = "outside"
_TAIL_BLOCK = 1 << 16  # how much of a log's end `costs_written_at` reads at a time
# `rerun` is pytest-rerunfailures' outcome for an attempt that failed and will be tried again.
OUTCOMES = ("passed", "failed", "error", "skipped", "rerun")


def progress_log_path_for(junit_path: str | os.PathLike[str]) -> Path:
    """`reports/shard-3-of-8.xml` -> `reports/shard-3-of-8.progress.jsonl` (any other name: name + suffix)."""
    path = Path(junit_path)
    stem = path.name[: -len(".xml")] if path.name.lower().endswith(".xml") else path.name
    return path.with_name(stem + SUFFIX)


# One encoder for every line: `json.dumps` with options builds a new encoder per call, and a shard writes two
# lines per test.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_event(event: dict[str, Any]) -> bytes:
    """One line; `allow_nan=False` because a NaN would make the line unreadable JSON for everyone else."""
    return (_LINE_ENCODER.encode(event) + "\n").encode("utf-8", "surrogatepass")


@dataclass
class LoggedTest:
    """One finished test as the log recorded it."""

    node_id: str
    outcome: str
    seconds: float
    setup_seconds: float | None
    shard: ShardSpec | None
    index: int | None
    message: str = ""
    peak_rss_mb: float | None = None
    started_at: float | None = None  # the time of its `start` line, when the log has one
    ended_at: float | None = None  # the time of this line


@dataclass
class ProgressLog:
    """What one pytest session wrote: its header, the tests it finished, and whether it ended normally."""

    path: Path
    shard: ShardSpec | None = None
    plan_id: str | None = None
    plan_sizes: tuple[int, ...] | None = None
    predicted_seconds: float | None = None
    order: list[str] = field(default_factory=list)
    randomly_seed: int | None = None
    report_name: str | None = None
    tests: list[LoggedTest] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    finished: bool = False
    exitstatus: int | None = None
    bad_lines: int = 0
    run_id: str | None = None
    pytest_args: tuple[str, ...] | None = None  # None: not recorded (an older log)
    all_deselected: int | None = None
    error: str | None = None  # why the shard refused to run, when it did
    cancelled_by: str | None = None  # the signal name of a `cancelled` record: the shard was cancelled
    queue_run: str | None = None  # queue mode: the queue run the job leased its tests from
    timeline: SessionTimeline | None = None  # the `costs` event: what the session spent besides its tests
    # The `outside` event: the job's seconds outside this session, and how many of them came before pytest started
    # (0.0 when the event does not say: a log of an older sharder, whose runs started one pytest a shard).
    outside_seconds: float | None = None
    outside_before_seconds: float = 0.0
    started_at: float | None = None  # when the session began (the header's `started_at`), for the timeline
    finished_at: float | None = None  # the time of the `finish` line
    # tests whose `start` line has no `test` line after it, with its time: what ran when a killed shard died
    unfinished_started_at: dict[str, float] = field(default_factory=dict)
    ci_attempt: int | None = None  # the CI job's attempt (None: not recorded, an older log or a plain pytest run)
    ordered_by: str | None = None  # `sharder run --order`'s mode; None: not recorded (a plain pytest, an older log)

    @property
    def running_when_stopped(self) -> str | None:
        """The test that had started but not finished when the log ends (the one a SIGKILL interrupted)."""
        if self.finished or not self.started:
            return None
        done = {test.node_id for test in self.tests}
        last = self.started[-1]
        return None if last in done else last


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _shard(value: object, source: str) -> ShardSpec | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SharderError(f"progress log {source!r}: shard {value!r} is not K/N")
    return parse_shard(value)


def _apply_header(log: ProgressLog, event: dict[str, Any], source: str) -> None:
    if event.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        raise SharderError(f"progress log {source!r}: format {event.get('format')!r} is not supported")
    log.shard = _shard(event.get("shard"), source)
    plan_id = event.get("plan_id")
    log.plan_id = plan_id if isinstance(plan_id, str) and plan_id else None
    sizes = event.get("plan_sizes")
    if isinstance(sizes, list) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        log.plan_sizes = tuple(sizes)
    log.predicted_seconds = _number(event.get("predicted_seconds"))
    order = event.get("order")
    log.order = [node_id for node_id in order if isinstance(node_id, str)] if isinstance(order, list) else []
    seed = event.get("randomly_seed")
    log.randomly_seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    report = event.get("report")
    log.report_name = report if isinstance(report, str) else None
    run_id = event.get("run_id")
    log.run_id = run_id if isinstance(run_id, str) and run_id else None
    log.pytest_args = pytest_args_from(event.get("pytest_args"))
    queue_run = event.get("queue_run")
    log.queue_run = queue_run if isinstance(queue_run, str) and queue_run else None
    ordered_by = event.get("ordered_by")
    log.ordered_by = ordered_by if isinstance(ordered_by, str) and ordered_by else None
    deselected = event.get("all_deselected")
    log.all_deselected = (deselected if isinstance(deselected, int) and not isinstance(deselected, bool)
                          and deselected > 0 else None)
    log.ci_attempt = attempt_number(event.get("ci_attempt"))
    log.started_at = _number(event.get("started_at"))
    if log.started_at is None:
        log.started_at = _number(event.get("at"))


def attempt_number(value: object) -> int | None:
    """A recorded CI attempt (a positive whole number, or its digits as text), else None: not trusted."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000:
        return value
    return None


def pytest_args_from(value: object) -> tuple[str, ...] | None:
    """A recorded argument list, or None when it is absent or not a list of strings (then it is not trusted)."""
    if isinstance(value, list) and all(isinstance(arg, str) for arg in value):
        return tuple(value)
    return None


def _logged_test(event: dict[str, Any], log: ProgressLog, source: str) -> LoggedTest | None:
    node_id = event.get("nodeid")
    outcome = event.get("outcome")
    if not isinstance(node_id, str) or not node_id or outcome not in OUTCOMES:
        return None
    try:
        shard = _shard(event["shard"], source) if "shard" in event else log.shard
    except SharderError:
        return None
    index = event.get("index")
    message = event.get("message")
    return LoggedTest(
        node_id=node_id,
        outcome=str(outcome),
        seconds=_number(event.get("seconds")) or 0.0,
        setup_seconds=_number(event.get("setup")),
        shard=shard,
        index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        message=message if isinstance(message, str) else "",
        peak_rss_mb=_number(event.get("peak_rss_mb")),
        ended_at=_number(event.get("at")),
    )


def read_progress_log(path: str | os.PathLike[str]) -> ProgressLog:
    """Read a log, tolerating what a kill leaves: a last line cut in half is counted in `bad_lines`, not fatal.

    A file that is not a progress log at all (no session header) is a `SharderError`.
    """
    source = os.fspath(path)
    raw = read_input(path, "progress log")
    log = ProgressLog(Path(path))
    seen_header = False
    start_times: dict[str, float] = {}  # a test's latest `start` line, until its `test` line comes
    outside: float | None = None  # the `outside` event's seconds, for the session's timeline
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            event = json.loads(line.decode("utf-8", "surrogatepass"))
        except (UnicodeDecodeError, ValueError):
            log.bad_lines += 1
            continue
        if not isinstance(event, dict):
            log.bad_lines += 1
            continue
        kind = event.get("event")
        if kind == SESSION_EVENT:
            if seen_header or log.cancelled_by:  # the file was reused: the last session wins
                log = ProgressLog(Path(path), bad_lines=log.bad_lines)
                start_times.clear()
                outside = None
            _apply_header(log, event, source)
            seen_header = True
        elif kind == CANCELLED_EVENT:
            signal_name = event.get("signal")
            log.cancelled_by = signal_name if isinstance(signal_name, str) and signal_name else "a signal"
            if not seen_header:
                try:
                    log.shard = _shard(event.get("shard"), source)
                except SharderError:
                    log.shard = None
        elif not seen_header:
            log.bad_lines += 1
        elif kind == START_EVENT and isinstance(event.get("nodeid"), str):
            log.started.append(event["nodeid"])
            at = _number(event.get("at"))
            if at is not None:
                start_times[event["nodeid"]] = at
        elif kind == TEST_EVENT:
            test = _logged_test(event, log, source)
            if test is None:
                log.bad_lines += 1
            else:
                test.started_at = start_times.pop(test.node_id, None)
                log.tests.append(test)
        elif kind == FINISH_EVENT:
            log.finished = True
            log.finished_at = _number(event.get("at"))
            status = event.get("exitstatus")
            log.exitstatus = status if isinstance(status, int) and not isinstance(status, bool) else None
        elif kind == COSTS_EVENT:
            log.timeline = timeline_from_json(event.get("timeline"))
            if log.timeline is None:
                log.bad_lines += 1
        elif kind == OUTSIDE_EVENT:
            outside = _number(event.get("seconds"))
            if outside is None:
                log.bad_lines += 1
            else:
                before = _number(event.get("before"))
                log.outside_seconds = outside
                log.outside_before_seconds = min(outside, max(0.0, before)) if before is not None else 0.0
        elif kind == ERROR_EVENT:
            message = event.get("message")
            log.error = message if isinstance(message, str) and message.strip() else "an error (no message recorded)"
    log.unfinished_started_at = start_times
    if log.timeline is not None and outside is not None:
        log.timeline = replace(log.timeline, outside_seconds=outside)
    if not seen_header and not log.cancelled_by:
        raise SharderError(f"progress log {source!r} has no session header; not a sharder progress log")
    return log


def error_log_bytes(header: dict[str, Any], message: str) -> bytes:
    """A whole log for a shard that refused to run: its session header (no tests in `order`) and the error.

    Written by `sharder run` when it stops before pytest could start the session, so the merge can say why the
    shard sent nothing; `header` holds the session fields known by then (shard, run id, pytest arguments)."""
    session = {"event": SESSION_EVENT, "format": FORMAT_VERSION, "order": [], **header}
    return encode_event(session) + encode_event({"event": ERROR_EVENT, "message": message})
def costs_written_at(path: str | os.PathLike[str]) -> float | None:
    """When the log's last line, if it is the `costs` event, was written (its `at`); None otherwise.

    Read from the end: the session wrote that line last, when it unconfigured, and a log of 100,000 tests need not
    be parsed to find it. `costs` lines written before `at` existed, a log cut by a kill, or any other last line
    give None."""
    with open(path, "rb") as log:
        end = log.seek(0, os.SEEK_END)
        position, tail = end, b""
        while position > 0 and b"\n" not in tail.rstrip(b"\n"):
            step = min(_TAIL_BLOCK, position)
            position -= step
            log.seek(position)
            tail = log.read(step) + tail
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        event = json.loads(last.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(event, dict) or event.get("event") != COSTS_EVENT:
        return None
    return _number(event.get("at"))


def append_outside(path: str | os.PathLike[str], seconds: float, *, before: float, by: str) -> None:
    """Append the `outside` event: only once pytest has exited, so that it is the log's last line. `before`: the
    part of `seconds` spent before pytest started (the HTML timeline draws only what no session's clock saw)."""
    with open(path, "ab") as log:
        log.write(encode_event({"event": OUTSIDE_EVENT, "seconds": round(seconds, 6), "before": round(before, 6),
                                "by": by}))


def append_cancelled(path: str | os.PathLike[str], *, signal_name: str, shard: ShardSpec | None, by: str) -> None:
    """Append the `cancelled` record (creating the log if pytest never did): call it once the session's whole
    process group is dead, so that no line of pytest's can come after it. A last line the kill cut in half is
    ended first, so the record is a line of its own."""
    record = encode_event({"event": CANCELLED_EVENT, "signal": signal_name,
                           "shard": None if shard is None else str(shard), "by": by, "pid": os.getpid()})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as log:
        if log.tell():
            log.seek(-1, os.SEEK_END)
            if log.read(1) != b"\n":
                record = b"\n" + record
        log.write(record)
        log.flush()
        os.fsync(log.fileno())
