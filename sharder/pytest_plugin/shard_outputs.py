"""The pytest side of a shard's outputs: the progress log (format and reader: `sharder.core.progress_log`) and the
shard's identity on the JUnit suite (plan id, shard K/N, the size of every shard of the plan), the run identity
both carry (so a report and a log of different runs are told apart) and the user's pytest arguments (for replay).

`sharder.pytest_plugin.plugin` registers one `ShardOutputs` per session. The log is written only where reports arrive whole:
not in xdist workers, whose reports reach the controller, which writes the one log of the shard.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from sharder.core.errors import SharderError
from sharder.core.junit_names import (
    ALL_DESELECTED_PROPERTY,
    CI_ATTEMPT_PROPERTY,
    PEAK_RSS_PROPERTY,
    PLAN_ID_PROPERTY,
    PLAN_SIZES_PROPERTY,
    PREDICTED_SECONDS_PROPERTY,
    PYTEST_ARGS_PROPERTY,
    RUN_ID_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.log_text import log_safe
from sharder.core.progress_log import (
    ERROR_EVENT,
    FINISH_EVENT,
    FORMAT_VERSION,
    SESSION_EVENT,
    START_EVENT,
    TEST_EVENT,
    encode_event,
    progress_log_path_for,
)
from sharder.core.shardspec import ShardSpec
from sharder.planning.plan import Plan, read_plan
from sharder.pytest_plugin.run_facts import RunFacts
from sharder.pytest_plugin.selection import Selection

# How much of a failure's text the log keeps: enough for a summary line, not a whole traceback per test.
MESSAGE_LIMIT = 2000


@dataclass(frozen=True)
class ShardIdentity:
    """What a shard's outputs say about the plan they belong to, so a merge can spot a missing shard."""

    shard: str | None = None
    plan_id: str | None = None
    plan_sizes: tuple[int, ...] | None = None
    predicted_seconds: float | None = None

    @classmethod
    def of_plan(cls, plan: Plan, spec: ShardSpec) -> ShardIdentity:
        return cls(
            shard=str(spec),
            plan_id=plan.plan_id,
            plan_sizes=tuple(len(shard_bin.tests) for shard_bin in plan.bins),
            predicted_seconds=round(plan.bin_for(spec).predicted_seconds, 6),
        )

    @classmethod
    def of(cls, selection: Selection | None) -> ShardIdentity:
        return cls() if selection is None else cls.of_plan(selection.plan, selection.spec)


@dataclass
class _Running:
    """Phases seen so far of one test (setup, call, teardown arrive as three reports)."""

    outcome: str = "passed"
    phases: dict[str, float] = field(default_factory=dict)
    message: str = ""
    peak_rss_mb: float | None = None


def _now() -> float:
    """Wall-clock seconds since the epoch, to the microsecond: the HTML timeline places each test by them."""
    return round(time.time(), 6)


def _phase_outcome(report: pytest.TestReport) -> str | None:
    """The outcome this phase imposes on the test, as pytest's JUnit writer would count it."""
    if str(report.outcome) == "rerun":  # pytest-rerunfailures' outcome, outside pytest's own Literal
        return "rerun"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "skipped"
    return None


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or report.longreprtext or ""
    return str(text)[:MESSAGE_LIMIT]


def _peak_rss(report: pytest.TestReport) -> float | None:
    for name, value in report.user_properties:
        if name == PEAK_RSS_PROPERTY:
            try:
                return float(str(value))
            except ValueError:
                return None
    return None


class ProgressWriter:
    """Appends events to the log as they happen; each line is flushed to the OS before the next test starts.

    Plain methods, not hooks: `ShardOutputs` forwards to it, so it is registered with pytest only once.
    """

    def __init__(self, path: Path, report_name: str | None, run: RunFacts | None = None) -> None:
        self.path = path
        self.report_name = report_name
        self.run = run or RunFacts()
        self.identity = ShardIdentity()
        self.index_of: dict[str, int] = {}
        self._running: dict[str, _Running] = {}
        self._file: IO[bytes] | None = None
        self._closed = False  # once closed, never reopened: opening truncates
        self._opened = False
        # The timeline's origin: the fixed cost before the first test (collection, session setup) starts here.
        self.started_at = time.time()

    def _write(self, event: dict[str, Any]) -> None:
        if self._file is None:
            return
        try:
            self._file.write(encode_event(event))
            self._file.flush()
        except OSError as exc:
            self._stop_writing(exc)

    def _stop_writing(self, exc: OSError) -> None:
        """A full disk or a file-size limit: one line, and the log ends where it stopped. The session goes on (its
        JUnit report may still fit), but the log never says `finish`, so the merge does not take this session's
        report as a finished shard's, and nothing is appended to it as this session's own."""
        file, self._file = self._file, None
        self._closed = True
        self._opened = False
        print(f"sharder: the progress log {log_safe(str(self.path))} stopped: {exc.strerror or exc}", file=sys.stderr,
              flush=True)
        if file is not None:
            with contextlib.suppress(OSError):  # what did not fit is lost either way
                file.close()

    def open(self, config: pytest.Config, identity: ShardIdentity, collected: int, order: list[str]) -> None:
        """Start the log (truncating a previous run's: the JUnit report beside it is overwritten too)."""
        if self._file is not None or self._closed:
            return
        self.identity = identity
        self.index_of = {node_id: position for position, node_id in enumerate(order, start=1)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")  # noqa: SIM115  # lives as long as the session
        self._opened = True
        seed = config.getoption("randomly_seed", None)
        self._write({
            "event": SESSION_EVENT,
            "format": FORMAT_VERSION,
            "shard": identity.shard,
            "plan_id": identity.plan_id,
            "plan_sizes": list(identity.plan_sizes) if identity.plan_sizes is not None else None,
            "predicted_seconds": identity.predicted_seconds,
            "collected": collected,
            "selected": len(order),
            "order": order,
            "randomly_seed": seed if isinstance(seed, int) else None,
            "report": self.report_name,
            "pid": os.getpid(),
            "run_id": self.run.run_id,
            "pytest_args": list(self.run.pytest_args) if self.run.pytest_args is not None else None,
            "all_deselected": self.run.all_deselected,
            "queue_run": self.run.queue_run,
            "ci_attempt": self.run.ci_attempt,
            "started_at": round(self.started_at, 6),
            "at": _now(),
            "ordered_by": _ordered_by(config),
        })

    @property
    def is_open(self) -> bool:
        return self._file is not None

    @property
    def finished(self) -> bool:
        """Whether this session wrote its log and closed it (so a record appended to it is this session's)."""
        return self._opened and self._closed

    def error(self, message: str) -> None:
        self._write({"event": ERROR_EVENT, "message": message[:MESSAGE_LIMIT]})

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._write({"event": START_EVENT, "nodeid": nodeid, "at": _now()})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        running = self._running.setdefault(report.nodeid, _Running())
        running.phases[report.when or "?"] = running.phases.get(report.when or "?", 0.0) + report.duration
        outcome = _phase_outcome(report)
        if outcome is not None and running.outcome in ("passed", "skipped"):
            running.outcome = outcome
            if outcome != "skipped" or not running.message:
                running.message = _message(report)
        peak = _peak_rss(report)
        if peak is not None:
            running.peak_rss_mb = max(peak, running.peak_rss_mb or 0.0)
        # Teardown ends a test; xdist reports a crashed worker's test once, with when="???", and no teardown.
        if report.when == "teardown" or report.when not in ("setup", "call"):
            self._finish(report.nodeid, self._running.pop(report.nodeid))

    def _finish(self, node_id: str, running: _Running) -> None:
        event: dict[str, Any] = {
            "event": TEST_EVENT,
            "nodeid": node_id,
            "outcome": running.outcome,
            "setup": round(running.phases.get("setup", 0.0), 6),
            "call": round(running.phases.get("call", 0.0), 6),
            "teardown": round(running.phases.get("teardown", 0.0), 6),
            "seconds": round(sum(running.phases.values()), 6),
            "shard": self.identity.shard,
            "index": self.index_of.get(node_id),
            "at": _now(),
        }
        if running.message:
            event["message"] = running.message
        if running.peak_rss_mb is not None:
            event["peak_rss_mb"] = round(running.peak_rss_mb, 1)
        self._write(event)

    def close(self, exitstatus: int) -> None:
        self._write({"event": FINISH_EVENT, "exitstatus": int(exitstatus), "at": _now()})
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None


def _ordered_by(config: pytest.Config) -> str | None:
    """The order `sharder run` asked for (its run-time plugin's options), None when it was not loaded."""
    if config.getoption("sharder_slowest_first", False):
        return "slowest-first"
    order = config.getoption("sharder_order", None)
    return order if isinstance(order, str) else None


def _suite_properties(identity: ShardIdentity) -> list[tuple[str, str]]:
    properties: list[tuple[str, str]] = []
    if identity.shard is not None:
        properties.append((SHARD_PROPERTY, identity.shard))
    if identity.plan_id is not None:
        properties.append((PLAN_ID_PROPERTY, identity.plan_id))
    if identity.plan_sizes is not None:
        properties.append((PLAN_SIZES_PROPERTY, ",".join(str(size) for size in identity.plan_sizes)))
    if identity.predicted_seconds is not None:
        properties.append((PREDICTED_SECONDS_PROPERTY, f"{identity.predicted_seconds:.6f}"))
    return properties


def _run_properties(run: RunFacts) -> list[tuple[str, str]]:
    properties: list[tuple[str, str]] = []
    if run.run_id is not None:
        properties.append((RUN_ID_PROPERTY, run.run_id))
    if run.ci_attempt is not None:
        properties.append((CI_ATTEMPT_PROPERTY, str(run.ci_attempt)))
    if run.pytest_args is not None:
        # ASCII JSON: control characters and lone surrogates in an argument become escapes XML can carry
        properties.append((PYTEST_ARGS_PROPERTY, json.dumps(list(run.pytest_args), ensure_ascii=True)))
    return properties


def _log_xml(config: pytest.Config) -> Any:
    """pytest's JUnit writer when --junitxml is active (its stash key is not public API, so guard the import)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - a pytest without it: the report just lacks the suite properties
        return None
    return config.stash.get(xml_key, None)


class ShardOutputs:
    """Puts the shard's identity on the JUnit suite and writes the progress log.

    Without xdist both happen once the shard's tests are chosen. Under xdist the controller collects nothing: the
    log opens when a worker reports its collected ids, and the identity arrives with the workers' final output
    (or at once from the plan file, when one was given).
    """

    WORKER_OUTPUT_KEY = "sharder_identity"
    WORKER_ERROR_KEY = "sharder_error"

    def __init__(
        self, config: pytest.Config, log_path: Path | None, report_name: str | None, *,
        spec: ShardSpec | None = None, plan_path: str | None = None, run: RunFacts | None = None,
    ) -> None:
        self.config = config
        self.spec = spec
        self.plan_path = plan_path
        self.run = run or RunFacts()
        self.writer = ProgressWriter(log_path, report_name, self.run) if log_path is not None else None
        self.identity = ShardIdentity()
        self.collected: int | None = None
        self.error: str | None = None
        self._error_written = False
        self._tagged = False
        self._deselection_tagged = False

    def _tag_suite(self, identity: ShardIdentity) -> None:
        xml = _log_xml(self.config)
        if xml is None or self._tagged or identity == ShardIdentity():
            return
        self._tagged = True
        for name, value in _suite_properties(identity):
            xml.add_global_property(name, value)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """The run's identity and arguments go on the suite at once (the report and the log then name one run).
        An xdist controller chooses no tests; it knows the shard from its options and the plan from its file."""
        xml = _log_xml(self.config)
        if xml is not None:
            for name, value in _run_properties(self.run):
                xml.add_global_property(name, value)
        if self.spec is None or not self.config.pluginmanager.hasplugin("dsession"):
            return
        self.identity = ShardIdentity(shard=str(self.spec))
        if self.plan_path:  # without a plan file the workers' identity arrives later, in pytest_testnodedown
            try:
                self.identity = ShardIdentity.of_plan(read_plan(self.plan_path), self.spec)
            except SharderError:
                return  # every worker refuses the plan with the full message; the controller adds nothing
            self._tag_suite(self.identity)

    def _tag_deselection(self, all_deselected: int | None) -> None:
        xml = _log_xml(self.config)
        if xml is None or all_deselected is None or self._deselection_tagged:
            return
        self._deselection_tagged = True
        xml.add_global_property(ALL_DESELECTED_PROPERTY, str(all_deselected))

    def shard_selected(self, identity: ShardIdentity, collected: int, all_deselected: int | None = None) -> None:
        """Called by the plugin once it has chosen the shard's tests (`collected`: before the shard's choice;
        `all_deselected`: set when the user's arguments left the shard none of the tests it would have run)."""
        self.identity = identity
        self.collected = collected
        self.run.all_deselected = all_deselected
        self._tag_suite(identity)
        self._tag_deselection(all_deselected)
        workeroutput = getattr(self.config, "workeroutput", None)
        if isinstance(workeroutput, dict):
            workeroutput[self.WORKER_OUTPUT_KEY] = {
                "shard": identity.shard, "plan_id": identity.plan_id,
                "plan_sizes": list(identity.plan_sizes) if identity.plan_sizes is not None else None,
                "predicted_seconds": identity.predicted_seconds, "all_deselected": all_deselected,
            }

    def refused(self, message: str) -> None:
        """The plugin refused to run the shard (the plan does not match the checkout, ...): the log says so, with
        the shard and, when its file reads, the plan's identity, so the merge names this error for the shard."""
        self.error = message
        if self.spec is not None and self.identity == ShardIdentity():
            self.identity = ShardIdentity(shard=str(self.spec))
            if self.plan_path:
                with contextlib.suppress(SharderError):  # the plan unreadable: the shard alone is known
                    self.identity = ShardIdentity.of_plan(read_plan(self.plan_path), self.spec)
        workeroutput = getattr(self.config, "workeroutput", None)
        if isinstance(workeroutput, dict):
            workeroutput[self.WORKER_ERROR_KEY] = message
        if self.writer is not None and self.writer.is_open:
            self._write_error(message)

    def _write_error(self, message: str) -> None:
        if self.writer is not None and not self._error_written:
            self._error_written = True
            self.writer.error(message)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.writer is not None:
            # a refused shard ran nothing: its order is empty, not the whole unselected collection; a queue job's
            # order is known only as it leases (its `start` lines and the report's positions hold it)
            order = ([] if self.error is not None or self.run.queue_run is not None
                     else [item.nodeid for item in session.items])
            collected = self.collected if self.collected is not None else len(order)
            self.writer.open(self.config, self.identity, collected, order)
            if self.error is not None:
                self._write_error(self.error)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.writer is not None:
            self.writer.open(self.config, self.identity, len(ids), list(ids))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        workeroutput = getattr(node, "workeroutput", {})
        sent = workeroutput.get(self.WORKER_OUTPUT_KEY)
        if isinstance(sent, dict):
            sizes = sent.get("plan_sizes")
            self._tag_suite(ShardIdentity(
                shard=sent.get("shard"), plan_id=sent.get("plan_id"),
                plan_sizes=tuple(sizes) if isinstance(sizes, list) else None,
                predicted_seconds=sent.get("predicted_seconds"),
            ))
            deselected = sent.get("all_deselected")
            self._tag_deselection(deselected if isinstance(deselected, int) else None)
        refusal = workeroutput.get(self.WORKER_ERROR_KEY)
        if isinstance(refusal, str) and self.writer is not None:
            if not self.writer.is_open:
                self.writer.open(self.config, self.identity, 0, [])
            self._write_error(refusal)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if self.writer is not None:
            self.writer.pytest_runtest_logstart(nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.writer is not None:
            self.writer.pytest_runtest_logreport(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        """First, before pytest's JUnit writer: a log that did not finish then proves that no report beside it
        was written by its session (the merge refuses such a report: it is a previous run's)."""
        if self.writer is not None:
            self.writer.close(exitstatus)


def progress_log_path(config: pytest.Config, *, sharding: bool) -> tuple[Path | None, str | None]:
    """The log path (`--sharder-progress-log`, else beside `--junitxml` when this session runs a shard or a
    replay's id list) and the JUnit report's file name.

    Not beside the report of a plain `pytest --junitxml` run: installing sharder must not leave a file no one
    asked for next to every report (2 MB beside one real suite's).
    """
    junit = config.getoption("xmlpath", None)
    junit_path = Path(os.path.normpath(os.path.abspath(os.path.expanduser(junit)))) if junit else None
    report_name = junit_path.name if junit_path is not None else None
    given = config.getoption("sharder_progress_log", None)
    if given:
        return Path(os.path.abspath(os.path.expanduser(given))), report_name
    if junit_path is not None and sharding:
        return progress_log_path_for(junit_path), report_name
    return None, None
