"""What a merge was given: JUnit reports and progress logs, read into one flat list of test attempts.

Usage errors stop everything (one `SharderError`, exit 2): a path that does not exist, a directory with neither
reports nor progress logs, a hostile or non-JUnit file, the same report twice (by path or by content), reports of
two different plans. A report that is merely not well-formed (truncated, empty, bad bytes) is what a shard that
died while writing leaves behind: it is set aside as unreadable, its shard counts as unreported, and the shard's
progress log fills in what finished. So is a report whose counters contradict its cases (it declares failures
but holds no failing case, or declares tests but holds none): nothing in it can be believed, least of all a pass.

A report counts only for the run that wrote it. Beside its own progress log (the one `sharder run` or the plugin
wrote next to it) it is set aside as stale when the two carry different run identities, or when the log did not
finish (the log's last line is written before the report, so a log that did not finish had no report written by its
session): what is left there is an earlier run's report, and the log's run died.

Cases are attributed to shards by their `sharder_shard` property (a shard may send several files), then by the
suite's, then by a `shard-K-of-N` file name, then by the plan.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from sharder.core.errors import SharderError
from sharder.core.junit_names import (
    ALL_DESELECTED_PROPERTY,
    CI_ATTEMPT_PROPERTY,
    MERGED_PROPERTY,
    PEAK_RSS_PROPERTY,
    PLAN_ID_PROPERTY,
    PLAN_SIZES_PROPERTY,
    PREDICTED_SECONDS_PROPERTY,
    PYTEST_ARGS_PROPERTY,
    QUEUE_CAUSES_PROPERTY,
    QUEUE_RELEASED_PROPERTY,
    QUEUE_RUN_PROPERTY,
    RUN_ID_PROPERTY,
    SETUP_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.progress_log import SUFFIX as PROGRESS_SUFFIX
from sharder.core.progress_log import (
    ProgressLog,
    attempt_number,
    progress_log_path_for,
    pytest_args_from,
    read_progress_log,
)
from sharder.core.shardspec import ShardSpec, parse_shard
from sharder.planning.plan import Plan
from sharder.reports.junit import (
    NO_PROPERTIES,
    CorruptReport,
    LazyManglingIndex,
    Report,
    optional_number,
    read_report,
)

_SHARD_IN_NAME = re.compile(r"shard-([0-9]{1,6})-of-([0-9]{1,6})", re.ASCII)


@dataclass(slots=True)
class Attempt:
    """One run of one test: a JUnit case, or a progress-log line of a shard that left no readable report."""

    node_id: str
    outcome: str  # passed | failed | error | skipped | rerun
    seconds: float
    shard: ShardSpec | None
    source: str  # the file it came from (name only, for messages)
    message: str = ""
    file: str | None = None
    line: int | None = None
    setup_seconds: float | None = None
    peak_rss_mb: float | None = None
    recovered: bool = False  # from a progress log
    earlier_failures: int = 0
    timed: bool = True  # False: the report gave no usable time; `seconds` is 0.0 and is no observation
    named: bool = True  # False: a case with no name at all, its id made up; never a durations key
    origin: str = ""  # the identity of the report or log it came from (`report_identity`), for the store's memory
    run_id: str | None = None  # the `sharder run` that wrote it (None: a report of another runner, an older sharder)
    superseded: bool = False  # an earlier attempt of a shard that ran again (`shard_attempts`): not its verdict
    attempt_label: str | None = None  # "attempt 2", only where its shard ran more than once


_PlainFields = tuple[str, float, "ShardSpec | None", str, str, "str | None"]


class PlainPass(_PlainFields):
    """A case that passed with nothing but its id and time (pytest's `<testcase .../>`), as an `Attempt` reads it:
    nearly every attempt of a big merge. A tuple of its id, time, shard, source, origin and run id, made a
    million at a time at C speed (`plain_passes`), its other fields those of every plain pass; an `Attempt`
    dataclass costs three times the time and twice the memory. Read-only: code that marks an attempt (earlier
    failures, an earlier run's) puts an `Attempt` in its place (`as_attempt`)."""

    __slots__ = ()

    if TYPE_CHECKING:
        @property
        def node_id(self) -> str: ...
        @property
        def seconds(self) -> float: ...
        @property
        def shard(self) -> ShardSpec | None: ...
        @property
        def source(self) -> str: ...
        @property
        def origin(self) -> str: ...
        @property
        def run_id(self) -> str | None: ...
    else:  # C-speed reads: an attrgetter over a million of them runs no Python frame
        node_id = property(itemgetter(0))
        seconds = property(itemgetter(1))
        shard = property(itemgetter(2))
        source = property(itemgetter(3))
        origin = property(itemgetter(4))
        run_id = property(itemgetter(5))
    outcome: ClassVar[str] = "passed"
    message: ClassVar[str] = ""
    file: ClassVar[str | None] = None
    line: ClassVar[int | None] = None
    setup_seconds: ClassVar[float | None] = None
    peak_rss_mb: ClassVar[float | None] = None
    recovered: ClassVar[bool] = False
    earlier_failures: ClassVar[int] = 0
    timed: ClassVar[bool] = True
    named: ClassVar[bool] = True
    superseded: ClassVar[bool] = False
    attempt_label: ClassVar[str | None] = None

    def as_attempt(self) -> Attempt:
        """The same attempt as a mutable `Attempt`."""
        return Attempt(self.node_id, "passed", self.seconds, self.shard, self.source, origin=self.origin,
                       run_id=self.run_id)


AnyAttempt = Attempt | PlainPass


def plain_passes(node_ids: Sequence[str], seconds: Sequence[float], shards: Iterable[ShardSpec | None], source: str,
                 origin: str, run_id: str | None) -> Iterator[PlainPass]:
    """One `PlainPass` per id, built without a Python frame per case."""
    count = len(node_ids)
    return map(tuple.__new__, repeat(PlainPass, count),
               zip(node_ids, seconds, shards, repeat(source, count), repeat(origin, count), repeat(run_id, count),
                   strict=True))


def writable(attempts: list[AnyAttempt], index: int) -> Attempt:
    """The attempt at `index`, as an `Attempt` that may be marked (a `PlainPass` there replaced by its copy)."""
    attempt = attempts[index]
    if type(attempt) is PlainPass:
        attempt = attempts[index] = attempt.as_attempt()
    return attempt  # type: ignore[return-value]  # an Attempt: the only other kind


@dataclass
class ReportInfo:
    """One readable JUnit file and what it says about its shard and plan."""

    path: Path
    shard: ShardSpec | None
    plan_id: str | None
    plan_sizes: tuple[int, ...] | None
    predicted_seconds: float | None
    cases: int
    run_id: str | None = None
    pytest_args: tuple[str, ...] | None = None
    all_deselected: int | None = None  # the shard's pytest arguments deselected all of these tests
    queue_run: str | None = None  # queue mode: the queue run the job leased from, and what the queue knew at its end
    queue_released: tuple[str, ...] = ()
    queue_causes: dict[str, int] = field(default_factory=dict)
    ci_attempt: int | None = None  # the CI job's attempt that wrote it (`sharder_ci_attempt`)


@dataclass
class UnreadableReport:
    path: Path
    reason: str
    shard: ShardSpec | None
    run_id: str | None = None  # the run of the progress log beside it, when there is one


@dataclass
class MergeInputs:
    reports: list[ReportInfo] = field(default_factory=list)
    unreadable: list[UnreadableReport] = field(default_factory=list)
    stale: list[UnreadableReport] = field(default_factory=list)  # reports an earlier run left beside a newer log
    logs: list[ProgressLog] = field(default_factory=list)
    attempts: list[AnyAttempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanIdentity:
    """Which plan the inputs belong to, as far as they (or --plan) tell."""

    plan_id: str | None = None
    shards: int | None = None
    sizes: tuple[int, ...] | None = None
    plan: Plan | None = None


# Called with each readable report while its cases' XML is still kept (`Report.xml`, to copy them into a merged
# report) and the shard each case was attributed to.
CaseSink = Callable[[Report, ReportInfo, list[AnyAttempt]], None]


def discover(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """(JUnit files, progress logs) named by `paths`; directories are searched recursively."""
    reports: list[Path] = []
    logs: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p) is not None)
            if not found:
                raise SharderError(f"directory {os.fspath(path)!r} holds no .xml reports and no progress logs")
            for item in found:
                (reports if _kind(item) == "xml" else logs).append(item)
        elif path.is_file():
            (logs if _kind(path) == "log" else reports).append(path)
        elif path.exists():
            raise SharderError(f"{os.fspath(path)!r} is neither a report file nor a directory")
        else:
            raise SharderError(f"report path {os.fspath(path)!r} does not exist")
    for found_paths in (reports, logs):
        resolved = [p.resolve() for p in found_paths]
        if len(set(resolved)) != len(resolved):
            twice = next(p for p in resolved if resolved.count(p) > 1)
            raise SharderError(f"{os.fspath(twice)!r} was given twice")
    known_logs = {p.resolve() for p in logs}
    for report in reports:  # a report's own log comes along even when only the report was named
        sibling = progress_log_path_for(report)
        if sibling.is_file() and sibling.resolve() not in known_logs:
            logs.append(sibling)
            known_logs.add(sibling.resolve())
    return reports, logs


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PROGRESS_SUFFIX):
        return "log"
    if name.endswith(".xml"):
        return "xml"
    return None


def _shard_from_name(path: Path) -> ShardSpec | None:
    match = _SHARD_IN_NAME.search(path.name)
    if match is None:
        return None
    try:
        return ShardSpec(int(match.group(1)), int(match.group(2)))
    except SharderError:
        return None


def _parse_shard_text(text: str | None, where: str) -> ShardSpec | None:
    if not text:
        return None
    try:
        return parse_shard(text)
    except SharderError:
        raise SharderError(f"{where}: shard property {text!r} is not K/N") from None


def _sizes(text: str | None, where: str) -> tuple[int, ...] | None:
    if not text:
        return None
    parts = text.split(",")
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise SharderError(f"{where}: {PLAN_SIZES_PROPERTY} {text!r} is not a list of counts")
    return tuple(int(part) for part in parts)


def _report_shard(report: Report, path: Path) -> ShardSpec | None:
    """The suite's shard, else the one shard its cases all name, else the file name's."""
    where = os.fspath(path)
    suite = _parse_shard_text(report.suite_properties.get(SHARD_PROPERTY), where)
    if suite is not None:
        return suite
    named = {case.properties.get(SHARD_PROPERTY) for case in report.special.values()} - {None, ""}  # plain: none
    if len(named) == 1:
        return _parse_shard_text(named.pop(), where)
    return _shard_from_name(path) if not named else None


def _fingerprint(report: Report, shard: ShardSpec | None) -> str:
    """Same shard, same suite timestamps, same cases with the same outcomes and times: the same report."""
    digest = hashlib.sha256(f"{shard}|{'|'.join(report.suite_timestamps)}\n".encode())
    for case in report.cases:
        digest.update(f"{case.node_id}\0{case.outcome}\0{case.seconds!r}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _same_report_as(seen: dict[tuple[str, ...], list[tuple[Path, list[AnyAttempt]]]], key: tuple[str, ...], path: Path,
                    attempts: list[AnyAttempt]) -> Path | None:
    """The report read earlier that this one repeats (`_fingerprint`'s sameness: shard, suite timestamps, every
    case's id, outcome and time), or None; this one is remembered under `key` (shard, timestamps, case count).
    Cases are compared only between reports whose keys are equal, which different shards' never are: a merge of
    one report of a million cases no longer walks them to hash them."""
    others = seen.setdefault(key, [])
    for other_path, other in others:
        if [(a.node_id, a.outcome, a.seconds) for a in other] == [(a.node_id, a.outcome, a.seconds) for a in attempts]:
            return other_path
    others.append((path, attempts))
    return None


def report_identity(report: Report, shard: ShardSpec | None = None) -> str:
    """What a durations store remembers of a report it absorbed: the run identity the report carries, per shard
    (one run's shards may be rebalanced apart; None: the report's own, `_report_shard`), else the SHA-256 of the
    file's bytes. Not `_fingerprint`: its ids depend on the store's ids a foreign report was mapped onto, which
    the first absorption changes."""
    run_id = report.suite_properties.get(RUN_ID_PROPERTY)
    if run_id:
        return f"run:{run_id}:{shard or _report_shard(report, Path(report.path)) or '-'}"
    digest = hashlib.sha256()
    try:
        with open(report.path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:  # removed since it was parsed (a merge racing a cleanup): what was read still has an identity
        return f"cases:{_fingerprint(report, shard)}"
    return f"sha256:{digest.hexdigest()}"


def log_identity(log: ProgressLog) -> str:
    """A progress log's identity, from what was read of it (its ids are exact, never mapped): its header and
    every finished test's result and times."""
    digest = hashlib.sha256(f"{log.shard}|{log.plan_id}|{log.exitstatus}|{len(log.order)}\n".encode())
    for test in log.tests:
        digest.update(f"{test.node_id}\0{test.outcome}\0{test.seconds!r}\n".encode("utf-8", "surrogatepass"))
    return f"log:{digest.hexdigest()}"


class _ShardCache:
    """Parsing "3/16" once per distinct string, not once per case."""

    def __init__(self) -> None:
        self.known: dict[str, ShardSpec | None] = {}

    def get(self, text: str | None, where: str) -> ShardSpec | None:
        if not text:
            return None
        if text not in self.known:
            self.known[text] = _parse_shard_text(text, where)
        return self.known[text]


def _attempts(report: Report, shard: ShardSpec | None, shard_of_test: dict[str, ShardSpec] | None,
              shards: _ShardCache, origin: str = "", run_id: str | None = None) -> list[AnyAttempt]:
    """One attempt per case: once per case of every report, a million times for a big one, hence the positional
    arguments (keywords cost a dataclass three times as much), in `Attempt`'s field order, and the plain passes
    between two special cases made as `PlainPass`es by one `map` (no loop step of Python's own per case)."""
    name = Path(report.path).name
    where = report.path
    out: list[AnyAttempt] = []
    append = out.append
    special = report.special
    node_ids, all_seconds = report.node_ids, report.seconds
    done = 0
    for position in [*sorted(special), len(node_ids)]:
        if position > done:  # plain passes: no properties, so the report's shard (or the plan's); made by map()
            ids = node_ids[done:position]
            count = len(ids)
            plain_shards = (map(shard_of_test.get, ids) if shard_of_test is not None and shard is None
                            else repeat(shard, count))
            out.extend(plain_passes(ids, all_seconds[done:position], plain_shards, name, origin, run_id))
        done = position + 1
        if position == len(node_ids):
            break
        node_id, seconds, case = node_ids[position], all_seconds[position], special[position]
        properties = case.properties
        if properties is NO_PROPERTIES:
            case_shard, setup_seconds, peak_rss_mb = shard, None, None
        else:
            case_shard = shards.get(properties.get(SHARD_PROPERTY), where) or shard
            setup = properties.get(SETUP_PROPERTY)
            setup_seconds = None if setup is None else optional_number(setup)
            peak = properties.get(PEAK_RSS_PROPERTY)
            peak_rss_mb = None if peak is None else optional_number(peak)
        if case_shard is None and shard_of_test is not None:
            case_shard = shard_of_test.get(node_id)
        append(Attempt(node_id, case.outcome, seconds, case_shard, name, case.message, case.file, case.line,
                       setup_seconds, peak_rss_mb, False, case.earlier_failures, case.timed, case.named, origin,
                       run_id))
    return out


def _logged_reruns(inputs: MergeInputs) -> dict[Path, dict[str, int]]:
    """Per report (by the path of the progress log beside it), how many "rerun" lines each test has."""
    reruns: dict[Path, dict[str, int]] = {}
    for log in inputs.logs:
        counts = reruns.setdefault(log.path.resolve(), {})
        for test in log.tests:
            if test.outcome == "rerun":
                counts[test.node_id] = counts.get(test.node_id, 0) + 1
    return reruns


def _add_logged_reruns(attempts: list[AnyAttempt], path: Path, reruns: dict[Path, dict[str, int]]) -> None:
    """A report's own progress log saw every rerun attempt, even where the report's writer left it out."""
    counts = reruns.get(progress_log_path_for(path).resolve())
    if counts:
        for index, attempt in enumerate(attempts):
            logged = counts.get(attempt.node_id, 0)
            if logged > attempt.earlier_failures:
                writable(attempts, index).earlier_failures = logged


def _stale_reason(path: Path, run_id: str | None, log: ProgressLog | None) -> str | None:
    """Why a report cannot be the word of the run its own progress log records, or None when it can."""
    if log is None:
        return None
    where, log_name = os.fspath(path), log.path.name
    if run_id != log.run_id:
        return (f"{where}: written by run {run_id or '(no run id)'}, but its progress log {log_name} by run "
                f"{log.run_id or '(no run id)'}: a report an earlier run left behind, not this run's")
    if not log.finished and log.error is None:
        stopped = f" while {log.running_when_stopped} was running" if log.running_when_stopped else ""
        return (f"{where}: its progress log {log_name} did not finish (the run stopped{stopped}), so this report "
                "was not written by that run: an earlier run's")
    return None


def _deselected_count(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and int(text) > 0 else None


def _json_args(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    try:
        return pytest_args_from(json.loads(text))
    except ValueError:
        return None


def _json_ids(text: str | None) -> list[str]:
    """A queue property's id list; anything else (a hand-edited or foreign report) is no list at all."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _json_causes(text: str | None) -> dict[str, int]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {key: kills for key, kills in value.items() if isinstance(kills, int) and not isinstance(kills, bool)}


def _read_logs(paths: Iterable[Path], inputs: MergeInputs) -> None:
    for path in paths:
        try:
            inputs.logs.append(read_progress_log(path))
        except SharderError as exc:
            inputs.notes.append(f"ignored: {exc}")


def collect(
    paths: Sequence[str | os.PathLike[str]],
    plan: Plan | None = None,
    *,
    extra_known_ids: Iterable[str] = (),
    sink: CaseSink | None = None,
) -> MergeInputs:
    """Read everything `paths` names. `extra_known_ids` (e.g. a durations file's) help map foreign reports."""
    report_paths, log_paths = discover(paths)
    inputs = MergeInputs()
    _read_logs(log_paths, inputs)
    known: list[str] = list(extra_known_ids)
    if plan is not None:
        known.extend(plan.all_tests())
    for log in inputs.logs:
        known.extend(log.order)
    index = LazyManglingIndex(known)
    shard_of_test = _plan_shards(plan)
    shards = _ShardCache()
    reruns = _logged_reruns(inputs)
    own_logs = {log.path.resolve(): log for log in inputs.logs}
    seen: dict[tuple[str, ...], list[tuple[Path, list[AnyAttempt]]]] = {}
    for path in report_paths:
        try:
            report = read_report(path, index, keep_xml=sink is not None)
        except CorruptReport as exc:
            inputs.unreadable.append(UnreadableReport(path, str(exc), _shard_from_name(path),
                                                      _sibling_run(path, own_logs)))
            continue
        if report.suite_properties.get(MERGED_PROPERTY):
            inputs.notes.append(f"skipped {os.fspath(path)}: it is the output of an earlier `sharder merge`")
            continue
        where = os.fspath(path)
        shard = _report_shard(report, path)
        if report.contradiction is not None:
            inputs.unreadable.append(UnreadableReport(path, report.contradiction, shard, _sibling_run(path, own_logs)))
            continue
        run_id = report.suite_properties.get(RUN_ID_PROPERTY) or None
        stale = _stale_reason(path, run_id, own_logs.get(progress_log_path_for(path).resolve()))
        if stale is not None:
            inputs.stale.append(UnreadableReport(path, stale, shard, _sibling_run(path, own_logs)))
            inputs.notes.append(f"ignored {stale}")
            continue
        info = ReportInfo(
            path=path, shard=shard,
            plan_id=report.suite_properties.get(PLAN_ID_PROPERTY) or None,
            plan_sizes=_sizes(report.suite_properties.get(PLAN_SIZES_PROPERTY), where),
            predicted_seconds=optional_number(report.suite_properties.get(PREDICTED_SECONDS_PROPERTY)),
            cases=len(report.node_ids), run_id=run_id,
            pytest_args=_json_args(report.suite_properties.get(PYTEST_ARGS_PROPERTY)),
            all_deselected=_deselected_count(report.suite_properties.get(ALL_DESELECTED_PROPERTY)),
            queue_run=report.suite_properties.get(QUEUE_RUN_PROPERTY) or None,
            queue_released=tuple(_json_ids(report.suite_properties.get(QUEUE_RELEASED_PROPERTY))),
            queue_causes=_json_causes(report.suite_properties.get(QUEUE_CAUSES_PROPERTY)),
            ci_attempt=attempt_number(report.suite_properties.get(CI_ATTEMPT_PROPERTY)),
        )
        attempts = _attempts(report, shard, shard_of_test, shards, report_identity(report, shard), run_id)
        earlier = _same_report_as(seen, (str(shard), *report.suite_timestamps, str(len(attempts))), path, attempts)
        if earlier is not None:
            raise SharderError(
                f"{os.fspath(earlier)!r} and {where!r} are the same report (same shard, same "
                f"{len(report.node_ids)} test cases and times); give each report once"
            )
        _add_logged_reruns(attempts, path, reruns)
        if sink is not None:
            sink(report, info, attempts)
        inputs.reports.append(info)
        inputs.attempts.extend(attempts)
    _attribute_unreadable(inputs)
    if not inputs.reports and not inputs.logs:
        reasons = "; ".join(item.reason for item in inputs.unreadable[:3])
        raise SharderError(f"no usable input: no report could be read and there are no progress logs ({reasons})")
    return inputs


def _sibling_run(path: Path, own_logs: dict[Path, ProgressLog]) -> str | None:
    """The run of the progress log beside a report: the run a report that cannot vouch for itself belongs to."""
    log = own_logs.get(progress_log_path_for(path).resolve())
    return log.run_id if log is not None else None


def _plan_shards(plan: Plan | None) -> dict[str, ShardSpec] | None:
    if plan is None:
        return None
    specs = [ShardSpec(shard_bin.shard, plan.shards) for shard_bin in plan.bins]
    return {node_id: specs[shard - 1] for node_id, shard in plan.shard_of().items()}


def _attribute_unreadable(inputs: MergeInputs) -> None:
    """An unreadable report whose name says nothing may still be named by its progress log's header."""
    by_report_name = {log.report_name: log for log in inputs.logs if log.report_name}
    for item in inputs.unreadable:
        if item.shard is None and item.path.name in by_report_name:
            item.shard = by_report_name[item.path.name].shard


def resolve_identity(inputs: MergeInputs, plan: Plan | None) -> PlanIdentity:
    """The one plan every input belongs to; reports of two plans mixed are a usage error."""
    ids: dict[str, str] = {}
    totals: dict[int, str] = {}
    sizes: dict[tuple[int, ...], str] = {}
    if plan is not None:
        ids[plan.plan_id] = "--plan"
        totals[plan.shards] = "--plan"
        sizes[tuple(len(b.tests) for b in plan.bins)] = "--plan"
    sources: list[tuple[str, str | None, ShardSpec | None, tuple[int, ...] | None]] = [
        (os.fspath(r.path), r.plan_id, r.shard, r.plan_sizes) for r in inputs.reports
    ] + [(os.fspath(log.path), log.plan_id, log.shard, log.plan_sizes) for log in inputs.logs]
    sources += [(os.fspath(u.path), None, u.shard, None) for u in inputs.unreadable]
    for where, plan_id, shard, shard_sizes in sources:
        if plan_id:
            if ids and plan_id not in ids:
                other_id, other = next(iter(ids.items()))
                raise SharderError(
                    f"reports of different plans mixed: {where} is from plan {plan_id}, {other} from plan "
                    f"{other_id}; merge the reports of one run"
                )
            ids.setdefault(plan_id, where)
        if shard is not None:
            if totals and shard.total not in totals:
                other_total, other = next(iter(totals.items()))
                raise SharderError(
                    f"reports of different plans mixed: {where} is shard {shard} but {other} belongs to a "
                    f"{other_total}-shard plan"
                )
            totals.setdefault(shard.total, where)
        if shard_sizes is not None:
            sizes.setdefault(shard_sizes, where)
    for attempt in inputs.attempts:
        if attempt.shard is not None and totals and attempt.shard.total not in totals:
            raise SharderError(
                f"reports of different plans mixed: {attempt.source} has a test of shard {attempt.shard} but "
                f"{next(iter(totals.values()))} belongs to a {next(iter(totals))}-shard plan"
            )
    if len(sizes) > 1:
        (first, where_first), (second, where_second) = list(sizes.items())[:2]
        raise SharderError(f"reports of different plans mixed: {where_first} and {where_second} disagree on "
                           f"the shard sizes ({_short(first)} vs {_short(second)})")
    total = next(iter(totals), None)
    shard_sizes = next(iter(sizes), None)
    if shard_sizes is not None and total is not None and len(shard_sizes) != total:
        raise SharderError(f"{sizes[shard_sizes]}: {len(shard_sizes)} shard sizes recorded for a {total}-shard plan")
    return PlanIdentity(next(iter(ids), None), total, shard_sizes, plan)


def _short(sizes: tuple[int, ...]) -> str:
    text = ",".join(map(str, sizes[:8]))
    return text + (",..." if len(sizes) > 8 else "")


def attempts_from_logs(inputs: MergeInputs) -> list[Attempt]:
    """Progress-log lines of tests that no readable report of the same shard holds: what died with a shard.

    One attempt per test and log, as for a report: its last line is the result, the lines before it (the
    "rerun" ones) its earlier failed attempts, so the merged report counts the test once. A log stands in only
    for its own run's report: another attempt's report of the same shard does not hold what this one ran (a
    report of no known run, another runner's, still does, as it always has)."""
    if not inputs.logs:  # nothing to recover from (and a million attempts not to index)
        return []
    reported: dict[ShardSpec | None, dict[str | None, set[str]]] = {}
    for attempt in inputs.attempts:
        reported.setdefault(attempt.shard, {}).setdefault(attempt.run_id, set()).add(attempt.node_id)
    recovered: list[Attempt] = []
    for log in inputs.logs:
        name = log.path.name
        origin = ""  # hashed once this log stands in for a lost report, not for every log a merge reads
        of_this_log: dict[tuple[ShardSpec | None, str], int] = {}
        for test in log.tests:
            if _reported_for(reported.get(test.shard), log.run_id, test.node_id):
                continue
            origin = origin or log_identity(log)
            attempt = Attempt(
                node_id=test.node_id, outcome=test.outcome, seconds=test.seconds, shard=test.shard, source=name,
                message=test.message, setup_seconds=test.setup_seconds, peak_rss_mb=test.peak_rss_mb,
                recovered=True, origin=origin, run_id=log.run_id,
            )
            slot = (test.shard, test.node_id)
            if slot in of_this_log:
                earlier = recovered[of_this_log[slot]]
                attempt.earlier_failures = earlier.earlier_failures + 1
                recovered[of_this_log[slot]] = attempt
            else:
                of_this_log[slot] = len(recovered)
                recovered.append(attempt)
    return recovered


def _reported_for(runs: dict[str | None, set[str]] | None, run_id: str | None, node_id: str) -> bool:
    """Whether a readable report of the shard holds the test for the run `run_id` (its own, or one of no known
    run); a log of no known run is answered by every report of the shard."""
    if not runs:
        return False
    if run_id is None:
        return any(node_id in ids for ids in runs.values())
    return node_id in runs.get(run_id, ()) or node_id in runs.get(None, ())
