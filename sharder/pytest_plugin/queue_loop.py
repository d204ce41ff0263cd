"""Queue mode on the pytest side: the job collects the whole plan, joins the run's queue, and drives pytest's run
loop itself, one leased batch after another, in this one session.

Registered by the plugin when `--sharder-queue-run NAME` is given (with `--shard K/N --sharder-plan plan.json`:
the shard names the job, the plan gives the manifest and the units); the Redis URL comes from
`$SHARDER_QUEUE_URL` only. Before any test runs, the collection must match the plan and the queue's manifest
(else a usage error, which `sharder run` turns into exit 2): the first job seeds the queue from the plan's units.

`pytest_runtestloop` runs items as pytest's own loop does (`pytest_runtest_protocol(item, nextitem)`), except that
the next item is known only once the next batch is leased. As pytest-xdist's worker does, the last test of a batch
waits until the job tries for the next lease, so module and session fixtures shared with the next batch are kept;
when nothing is waiting the test runs with `nextitem=None` (everything torn down) rather than hold up the run. A
thread heartbeats every held lease. Each result goes to the queue as the test ends, so a job that dies loses only
the test it was running; the progress log and the JUnit report record the exact order this job ran.

Redis lost mid-run: the job runs what it already holds, takes nothing more, and fails (exit 1), so the merge names
whatever never reported. `-x`/`--maxfail`: the job gives its unfinished leases back at once and stops.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.core.junit_names import (
    NODEID_PROPERTY,
    ORDER_PROPERTY,
    QUEUE_CAUSES_PROPERTY,
    QUEUE_RELEASED_PROPERTY,
    QUEUE_RUN_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.log_text import log_safe
from sharder.core.shardspec import ShardSpec
from sharder.durations import store
from sharder.planning.plan import Plan, read_plan
from sharder.planning.queue_batches import seed_batches
from sharder.planning.queue_units import queue_units
from sharder.pytest_plugin.options import QUEUE_URL_ENV
from sharder.pytest_plugin.selection import check_plan_matches
from sharder.pytest_plugin.shard_outputs import ShardIdentity, ShardOutputs, _log_xml
from sharder.queue.lease_queue import Lease, LeaseQueue, QueueError, QueueState

DEFAULT_LEASE_SECONDS = 60.0
# How often a job with nothing to lease looks again while others still hold leases (they may expire).
MAX_POLL_SECONDS = 1.0
QUEUE_LOOP_NAME = "sharder-queue-loop"


def lease_seconds_argument(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.5 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"expected a lease length in seconds from 0.5 to 86400, got {text!r}")
    return value


def _outcome(report: pytest.TestReport, previous: str | None) -> str | None:
    if report.when == "setup":
        previous = None  # a rerun (pytest-rerunfailures) starts the test afresh: its last attempt counts
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped and previous is None:
        return "skipped"
    return previous or ("passed" if report.when == "call" else None)


@dataclass
class _Held:
    lease: Lease
    left: set[str]
    lost: bool = False


@dataclass
class _Heartbeat:
    """A thread that renews every held lease a few times per lease length; it notes a lease another job now
    holds (`lost`) and a Redis that stopped answering (`error`)."""

    queue: LeaseQueue
    lease_seconds: float
    held: dict[str, _Held] = field(default_factory=dict)
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sharder-queue-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            with self._lock:
                leases = list(self.held.values())
            for held in leases:
                try:
                    if not self.queue.heartbeat(held.lease, now=time.time(), lease_seconds=self.lease_seconds):
                        held.lost = True
                        self.remove(held)
                except QueueError as exc:
                    self.error = str(exc)
                    return

    def add(self, held: _Held) -> None:
        with self._lock:
            self.held[held.lease.batch_id] = held

    def remove(self, held: _Held) -> None:
        with self._lock:
            self.held.pop(held.lease.batch_id, None)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class QueueLoop:
    """The queue-mode plugin object of one pytest session (see the module docstring)."""

    def __init__(self, config: pytest.Config, spec: ShardSpec, plan_path: str, namespace: str,
                 lease_seconds: float, outputs: ShardOutputs | None) -> None:
        self.config = config
        self.spec = spec
        self.plan_path = plan_path
        self.namespace = namespace
        self.lease_seconds = lease_seconds
        self.outputs = outputs
        self.worker = f"{spec}@{socket.gethostname()}:{os.getpid()}"
        self.deselected: set[str] = set()
        self.queue: LeaseQueue | None = None
        self.plan: Plan | None = None
        self.redis_lost: str | None = None
        self.ran = 0
        self.leases = 0
        self.released_leases = 0
        self.state: QueueState | None = None
        self._outcomes: dict[str, str | None] = {}

    # ---------------------------------------------------------------------------------------------- joining
    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.update(item.nodeid for item in items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """Check the collection against the plan and the queue, seeding it if this job is first; run nothing."""
        ids = [item.nodeid for item in items]
        try:
            plan = self.plan = read_plan(self.plan_path)
            check_plan_matches(plan, ids, f"plan {self.plan_path}", deselected=self.deselected)
            self.queue = self._connect()
            seeded = self.queue.seed(ids, self._batches(plan, ids), now=time.time())
        except (SharderError, OSError) as exc:
            if self.outputs is not None:
                self.outputs.refused(f"sharder: {exc}")
            raise pytest.UsageError(f"sharder: {exc}") from None
        if self.outputs is not None:
            self.outputs.shard_selected(ShardIdentity.of_plan(plan, self.spec), len(ids))
        xml = _log_xml(config)
        if xml is not None:
            xml.add_global_property(QUEUE_RUN_PROPERTY, self.namespace)
        how = "seeded" if seeded else "joined"
        _write_line(config, f"sharder: shard {self.spec} {how} queue run {self.namespace} ({len(ids)} tests, "
                    f"leases of {self.lease_seconds:g} s)")

    def _connect(self) -> LeaseQueue:
        from sharder.queue.connection import connect

        url = os.environ.get(QUEUE_URL_ENV)
        if not url:
            raise SharderError(f"queue mode needs the Redis URL in ${QUEUE_URL_ENV}")
        return LeaseQueue(connect(url), self.namespace)

    def _batches(self, plan: Plan, ids: list[str]) -> list[tuple[str, ...]]:
        given = self.config.getoption("sharder_durations", None)
        path = Path(given) if given else store.find_durations_file(self.config.rootpath)
        recorded = store.load_durations_if_present(path)
        return seed_batches(queue_units(ids, recorded.seconds(), plan.group_by), plan.shards)

    # ---------------------------------------------------------------------------------------------- running
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._outcomes[report.nodeid] = _outcome(report, self._outcomes.get(report.nodeid))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} error{'s' if session.testsfailed != 1 else ''} "
                                      "during collection")
        if session.config.option.collectonly or self.queue is None:
            return True
        heartbeat = _Heartbeat(self.queue, self.lease_seconds)
        heartbeat.start()
        try:
            self._loop(session, heartbeat)
        finally:
            heartbeat.stop()
            self._give_back(heartbeat)
        return True

    def _loop(self, session: pytest.Session, heartbeat: _Heartbeat) -> None:
        assert self.queue is not None
        by_id = {item.nodeid: item for item in session.items}
        pending: tuple[pytest.Item, _Held] | None = None
        poll = min(MAX_POLL_SECONDS, self.lease_seconds / 4)
        while self.redis_lost is None:
            if heartbeat.error is not None:
                self.redis_lost = heartbeat.error
                break
            try:
                lease = self.queue.lease(self.worker, now=time.time(), lease_seconds=self.lease_seconds)
            except QueueError as exc:
                self.redis_lost = str(exc)
                break
            if lease is None:
                if pending is not None:  # nothing to share fixtures with: run it now rather than hold the run up
                    self._run(session, *pending, None, heartbeat)
                    pending = None
                    continue
                try:
                    if self.queue.finished(now=time.time()):
                        break
                except QueueError as exc:
                    self.redis_lost = str(exc)
                    break
                time.sleep(poll)
                continue
            self.leases += 1
            self.released_leases += lease.released
            held = _Held(lease, set(lease.tests))
            heartbeat.add(held)
            for node_id in lease.tests:
                item = by_id[node_id]
                if pending is not None:
                    self._run(session, *pending, item, heartbeat)
                pending = (item, held)
        if pending is not None:
            self._run(session, *pending, None, heartbeat)

    def _run(self, session: pytest.Session, item: pytest.Item, held: _Held, nextitem: pytest.Item | None,
             heartbeat: _Heartbeat) -> None:
        # A lost lease (it expired under this job: a stalled heartbeat) still runs here: this item was already the
        # previous one's `nextitem`, and skipping it would leave fixtures set up that pytest's next setup refuses.
        # The other job's result or this one's, whichever comes first, counts.
        self.ran += 1
        item.user_properties.append((NODEID_PROPERTY, item.nodeid))
        item.user_properties.append((ORDER_PROPERTY, self.ran))
        item.user_properties.append((SHARD_PROPERTY, str(self.spec)))
        if self.outputs is not None and self.outputs.writer is not None:
            self.outputs.writer.index_of[item.nodeid] = self.ran
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        held.left.discard(item.nodeid)
        if not held.left:
            heartbeat.remove(held)
        outcome = self._outcomes.get(item.nodeid) or "error"
        if self.redis_lost is None and self.queue is not None:
            try:
                self.queue.complete(held.lease, {item.nodeid: outcome}, now=time.time())
            except QueueError as exc:
                self.redis_lost = str(exc)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)

    def _give_back(self, heartbeat: _Heartbeat) -> None:
        """Leases still held when the loop ends early (-x, --maxfail, an interrupt) go back to the queue at once."""
        if self.queue is None or self.redis_lost is not None:
            return
        for held in list(heartbeat.held.values()):
            if held.left and not held.lost:
                try:
                    self.queue.release(held.lease, now=time.time())
                except QueueError:
                    return

    # ---------------------------------------------------------------------------------------------- finishing
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Before the JUnit report is written: the queue's re-leased tests and causes go on it, for the merge."""
        if self.queue is None:
            return
        if self.redis_lost is None:
            try:
                self.state = self.queue.snapshot()
            except QueueError as exc:
                self.redis_lost = str(exc)
        xml = _log_xml(self.config)
        if self.state is not None and xml is not None:
            xml.add_global_property(QUEUE_RELEASED_PROPERTY, json.dumps(list(self.state.re_leased), ensure_ascii=True))
            xml.add_global_property(QUEUE_CAUSES_PROPERTY, json.dumps(dict(self.state.causes), ensure_ascii=True))
        leases = f"{self.leases} lease{'' if self.leases == 1 else 's'}"
        line = (f"sharder: shard {self.spec} ran {self.ran} tests in {leases} of queue run "
                f"{self.namespace}, {self.queue.ops} Redis round trips")
        if self.released_leases:
            line += f" ({self.released_leases} held tests another job had leased before)"
        _write_line(self.config, line)
        if self.state is not None:
            for node_id, kills in sorted(self.state.causes.items()):
                _write_line(self.config, f"sharder: {log_safe(node_id)} was running when {kills} jobs died: it is "
                            "the cause and was not leased again")
        if self.redis_lost is not None:
            _write_line(self.config, f"sharder: lost the queue mid-run ({log_safe(self.redis_lost)}); this job ran "
                        "what it held and took nothing more: the run is incomplete")
            if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _write_line(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
