"""Writing the merged JUnit report: one suite per input report, plus the tests recovered from progress logs and an
error case for every planned test that never reported.

Written as bytes, never held as a tree: as soon as an input report has been read, its cases are copied as that
report wrote them (`Report.xml`, spooled by the reader) into a temporary file, with the properties and earlier
attempts the merge adds spliced in (`case_xml.with_additions`). Before, each report's cases were adopted into
junitparser's tree and serialised by ElementTree, whose serialiser is pure Python: 24 s and 2 GB for one report of a
million cases. The cases the merge makes itself (recovered, never reported) are written here the way junitparser's
classes wrote them; the `<testsuites>` container, whose totals are known only at the end, goes first in the file.
"""

from __future__ import annotations

import itertools
import os
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from xml.sax.saxutils import quoteattr

from sharder.core.atomic import AtomicFile
from sharder.core.junit_names import (
    MERGED_PROPERTY,
    NODEID_PROPERTY,
    PLAN_ID_PROPERTY,
    RECOVERED_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.nodeid import forward_key
from sharder.reports.case_xml import with_additions
from sharder.reports.inputs import AnyAttempt, ReportInfo
from sharder.reports.junit import NO_PROPERTIES, XFAIL_TYPE, CaseResult, Report
from sharder.reports.plain_runs import case_pieces
from sharder.reports.verdict import MergeResult, ShardResult

# Characters XML 1.0 cannot hold at all (control characters, lone surrogates): a message from a progress log
# may carry them (ANSI colours, bytes a test printed), and one would make the whole merged file unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MISSING_TYPE = "sharder.never_reported"
_HEAD_ROOM = 512  # bytes kept at the start of the file for the XML declaration and the <testsuites> tag
_outcome = attrgetter("outcome")
_seconds = attrgetter("seconds")
_node_id = attrgetter("node_id")
_shard = attrgetter("shard")
_earlier_failures = attrgetter("earlier_failures")
_PIECES_PER_WRITE = 4 * 4096
# Below this many cases written one by one, their ids are escaped one by one rather than checked all at once.
_IDS_ASKED_ONE_BY_ONE = 50_000


def xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


# What ElementTree escapes in an attribute value (a newline or tab kept raw would be read back as a space).
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\r\n\t]')
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"})


def _attribute(value: str) -> str:
    """`value` quoted as an attribute value."""
    if _ATTRIBUTE_SPECIAL.search(value) is None:
        return f'"{value}"'
    return f'"{value.translate(_ATTRIBUTE_ESCAPES)}"'


def _attribute_bytes(value: str) -> bytes:
    """`value` made fit for XML (`xml_text`) and escaped for an attribute, without quotes: once per case, so the
    usual value (printable ASCII, nothing to escape) is told apart at C speed."""
    if not (value.isascii() and value.isprintable()):
        value = xml_text(value)
    elif '"' not in value and "&" not in value and "<" not in value and ">" not in value:
        return value.encode()
    return value.translate(_ATTRIBUTE_ESCAPES).encode("utf-8", "surrogatepass")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _start_tag(tag: str, attributes: list[tuple[str, str]]) -> str:
    """The tag without its closing `>` (or `/>`)."""
    return "<" + tag + "".join(f" {name}={_attribute(value)}" for name, value in attributes)


def _element(tag: str, attributes: list[tuple[str, str]], content: str = "") -> str:
    start = _start_tag(tag, attributes)
    return f"{start}>{content}</{tag}>" if content else f"{start} />"


def _property_bytes(name: str, value: str) -> bytes:
    return _element("property", [("name", name), ("value", value)]).encode("utf-8", "surrogatepass")


_NODEID_START = _start_tag("property", [("name", NODEID_PROPERTY)]).encode() + b' value="'
_PROPERTY_END = b'" />'
_PLAIN_PROPERTIES_START = b"><properties>" + _NODEID_START
_PLAIN_CASE_END = b"</properties></testcase>"


def _properties(properties: list[tuple[str, str]]) -> str:
    return _element("properties", [], "".join(_element("property", [("name", name), ("value", value)])
                                              for name, value in properties)) if properties else ""


@dataclass
class _Totals:
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    time: float = 0.0

    def add(self, outcome: str, seconds: float) -> None:
        self.tests += 1
        self.time += seconds
        if outcome in ("failed", "rerun"):
            self.failures += 1
        elif outcome == "error":
            self.errors += 1
        elif outcome in ("skipped", "xfailed"):  # pytest counts an xfail among a suite's skipped too
            self.skipped += 1

    @classmethod
    def of(cls, attempts: list[AnyAttempt]) -> _Totals:
        """`add` for each attempt, at C speed: the time summed in the same order, the outcomes counted."""
        counts = Counter(map(_outcome, attempts))
        return cls(len(attempts), counts["failed"] + counts["rerun"], counts["error"],
                   counts["skipped"] + counts["xfailed"], sum(map(_seconds, attempts), 0.0))

    def merge(self, other: _Totals) -> None:
        self.tests += other.tests
        self.failures += other.failures
        self.errors += other.errors
        self.skipped += other.skipped
        self.time += other.time

    def of_suite(self) -> list[tuple[str, str]]:
        return [("tests", str(self.tests)), ("failures", str(self.failures)), ("errors", str(self.errors)),
                ("skipped", str(self.skipped)), ("time", str(round(self.time, 3)))]


class MergedReportWriter:
    """Writes each suite into the new file (`AtomicFile`: a temp file beside `path`) as the reports are read, and
    its first bytes, the `<testsuites>` totals, once the verdict is known: `_HEAD_ROOM` bytes are kept for them,
    the start tag padded with spaces before its `>`. A spool copied behind the totals at the end cost a second
    write and a read of the whole report (150 MB for a million cases)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = AtomicFile(path)
        self._file.write(b" " * _HEAD_ROOM)
        self.totals = _Totals()

    def add_report(self, report: Report, info: ReportInfo, attempts: list[AnyAttempt]) -> None:
        """A `inputs.CaseSink`: copy this report's cases into the merged report, then let its spool go."""
        xml = report.xml
        assert xml is not None, "collect() keeps the cases' XML when it is given a sink"
        label = f"shard {info.shard}" if info.shard is not None else "unattributed"
        properties = self._suite_properties(info.shard, info.plan_id, info.path.name)
        totals = _Totals.of(attempts)
        self._file.write(self._suite_start(f"{label} ({info.path.name})",
                                            [*properties, *_kept_properties(report, properties)], totals))
        shard_properties: dict[object, bytes] = {}
        plain_ends: dict[object, bytes] = {}  # per shard: what ends a plain case after its id
        pending: list[bytes] = []  # written a few thousand cases at a time: one write call per case costs
        write = pending.append
        write_all = pending.extend
        special = report.special
        runs = _copyable_runs(xml.runs, attempts, special)
        spelled = xml.runs_named_as_written
        # Whether every id is printable ASCII with nothing to escape, as `_attribute_bytes` would find each one:
        # asked once of all of them at C speed, not once per case; not asked where most cases are in runs spelled
        # from their bytes (`_spelled_run`), which need no id.
        covered = sum(count for first, count, _, _ in runs if first in spelled)
        plain_ids = False
        if len(attempts) - covered > _IDS_ASKED_ONE_BY_ONE:
            ids = "".join(map(_node_id, attempts))
            plain_ids = ids.isascii() and ids.isprintable() and _ATTRIBUTE_SPECIAL.search(ids) is None
            del ids
        done = 0  # the cases written so far
        for first, count, run_start, run_end in [*runs, (len(attempts), 0, 0, 0)]:
            for position, (fragment, properties_at, present) in enumerate(xml.fragments(done, first), done):
                attempt = attempts[position]
                if len(pending) >= _PIECES_PER_WRITE:
                    self._file.write(b"".join(pending))
                    pending.clear()
                shard = b""
                if attempt.shard is not None:
                    shard = shard_properties.get(attempt.shard, b"")
                    if not shard:
                        shard = shard_properties[attempt.shard] = _property_bytes(SHARD_PROPERTY, str(attempt.shard))
                case = special.get(position) if special else None
                if case is None and not attempt.earlier_failures and fragment.endswith(b"/>"):
                    # a plain pass written as an empty element, a million times in a big report: its id (and shard)
                    # in a new <properties>, as `with_additions` adds them, in pieces joined once per write
                    end = plain_ends.get(attempt.shard)
                    if end is None:
                        end = plain_ends[attempt.shard] = _PROPERTY_END + shard + _PLAIN_CASE_END
                    write_all((fragment[:-2], _PLAIN_PROPERTIES_START,
                               attempt.node_id.encode() if plain_ids else _attribute_bytes(attempt.node_id), end))
                    continue
                case_properties = case.properties if case is not None else NO_PROPERTIES
                added = b""
                if NODEID_PROPERTY not in case_properties:
                    added = _NODEID_START + _attribute_bytes(attempt.node_id) + _PROPERTY_END
                if SHARD_PROPERTY not in case_properties:
                    added += shard
                earlier = b""
                if attempt.earlier_failures > present:
                    earlier = _earlier_attempts(attempt, present, case.folded_messages if case is not None else ()
                                                ).encode("utf-8", "surrogatepass")
                write(with_additions(fragment, properties_at, added, earlier))
            if count:  # a run of plain passes (`plain_runs`), copied as a whole
                self._file.write(b"".join(pending))
                pending.clear()
                run_shard = attempts[first].shard
                shard = b"" if run_shard is None else _property_bytes(SHARD_PROPERTY, str(run_shard))
                run = xml.run_bytes(run_start, run_end)
                end = _PROPERTY_END + shard + _PLAIN_CASE_END
                self._file.write(_spelled_run(run, end) if first in spelled else
                                 _run_with_ids(run, attempts[first:first + count], plain_ids, end))
            done = first + count
        write(b"</testsuite>")
        self._file.write(b"".join(pending))
        xml.close()
        self.totals.merge(totals)

    def _suite_properties(self, shard: object, plan_id: str | None, source: str) -> list[tuple[str, str]]:
        properties = [(MERGED_PROPERTY, "1"), ("sharder_source", xml_text(source))]
        if shard is not None:
            properties.append((SHARD_PROPERTY, str(shard)))
        if plan_id:
            properties.append((PLAN_ID_PROPERTY, plan_id))
        return properties

    def _suite_start(self, name: str, properties: list[tuple[str, str]], totals: _Totals) -> bytes:
        start = _start_tag("testsuite", [("name", name), *totals.of_suite()])
        return f"{start}>{_properties(properties)}".encode("utf-8", "surrogatepass")

    def _add_suite(self, name: str, properties: list[tuple[str, str]], cases: list[str], totals: _Totals) -> None:
        self._file.write(self._suite_start(name, properties, totals))
        self._file.write("".join(cases).encode("utf-8", "surrogatepass"))
        self._file.write(b"</testsuite>")
        self.totals.merge(totals)

    def add_recovered(self, attempts: Sequence[AnyAttempt], plan_id: str | None) -> None:
        """Tests a dead shard finished, as its progress log recorded them (it wrote no report of its own)."""
        by_source: dict[str, list[AnyAttempt]] = {}
        for attempt in attempts:
            by_source.setdefault(attempt.source, []).append(attempt)
        for source, group in by_source.items():
            shard = group[0].shard
            label = f"shard {shard}" if shard is not None else "unattributed"
            totals = _Totals()
            cases = []
            for attempt in group:
                content = _result(attempt.outcome, xml_text(attempt.message))
                content += _earlier_attempts(attempt, 0, ())
                cases.append(_case(attempt.node_id, attempt.seconds, attempt.shard,
                                   [(RECOVERED_PROPERTY, xml_text(source))], content))
                totals.add(attempt.outcome, attempt.seconds)
            self._add_suite(f"{label} (recovered from {source})", self._suite_properties(shard, plan_id, source),
                            cases, totals)

    def add_missing(self, result: MergeResult) -> None:
        """One error case per planned test that never reported: the merged file is never green on partial data."""
        missing = result.missing
        if not missing:
            return
        totals = _Totals()
        cases = []
        for node_id, shard in missing:
            error = _element("error", [("message", xml_text(_missing_reason(node_id, shard))), ("type", MISSING_TYPE)])
            cases.append(_case(node_id, 0.0, shard.spec, [], error))
            totals.add("error", 0.0)
        plan_id = result.identity.plan_id
        self._add_suite("sharder: planned tests that never reported",
                        [(MERGED_PROPERTY, "1"), *([(PLAN_ID_PROPERTY, plan_id)] if plan_id else [])], cases, totals)

    def write(self) -> None:
        totals = self.totals
        head = (
            '<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="sharder merge" '
            f'tests="{totals.tests}" failures="{totals.failures}" errors="{totals.errors}" '
            f'skipped="{totals.skipped}" time={quoteattr(f"{totals.time:.3f}")}'
        ).encode()
        # Counts of at most a dozen digits and a time of at most 20: far below the room kept.
        assert len(head) < _HEAD_ROOM, head
        self._file.write(b"</testsuites>\n")
        self._file.write_at(0, head + b" " * (_HEAD_ROOM - 1 - len(head)) + b">")
        self._file.commit()


def _copyable_runs(runs: list[tuple[int, int, int, int]], attempts: list[AnyAttempt],
                   special: dict[int, CaseResult]) -> list[tuple[int, int, int, int]]:
    """The runs of plain cases (`CaseXml.runs`) still plain passes of one shard each: no case of theirs became
    special (a later rerun folded into it) or gained earlier attempts (its progress log saw a rerun)."""
    if not runs:
        return []
    special_positions = sorted(special)
    kept = []
    for run in runs:
        first, count = run[0], run[1]
        at = bisect_left(special_positions, first)
        if at < len(special_positions) and special_positions[at] < first + count:
            continue
        members = attempts[first:first + count]
        if any(map(_earlier_failures, members)) or len(set(map(_shard, members))) != 1:
            continue
        kept.append(run)
    return kept


def _spelled_run(run: bytes, end: bytes) -> bytes:
    """`_run_with_ids` for a run whose ids are `classname::name` as its bytes spell them (no value in a run needs
    escaping in an attribute): the ids are joined from the bytes between its quotes, never decoded or checked."""
    quoted = run.split(b'"')
    ids = list(map(b"::".join, zip(quoted[1::6], quoted[3::6], strict=True)))
    pieces = case_pieces(run, len(ids))
    return b"".join(itertools.chain.from_iterable(zip(pieces, itertools.repeat(_PLAIN_PROPERTIES_START), ids,
                                                      itertools.repeat(end), strict=False)))


def _run_with_ids(run: bytes, attempts: list[AnyAttempt], plain_ids: bool, end: bytes) -> bytes:
    """A run's bytes with each case's id (and shard) added in a new `<properties>`, as the per-case copy adds
    them: every case of a run ends at its `/>` (no value in it holds a `>`), so the run splits there."""
    pieces = case_pieces(run, len(attempts))
    ids = list(map(_node_id, attempts))
    id_bytes = "\n".join(ids).encode().split(b"\n") if plain_ids else list(map(_attribute_bytes, ids))
    return b"".join(itertools.chain.from_iterable(zip(pieces, itertools.repeat(_PLAIN_PROPERTIES_START), id_bytes,
                                                      itertools.repeat(end), strict=False)))


def _case(node_id: str, seconds: float, shard: object, extra: list[tuple[str, str]], content: str) -> str:
    """A case the merge writes itself, as junitparser's `TestCase` wrote it: name, classname, time, file."""
    classname, name = forward_key(node_id)
    properties = [(NODEID_PROPERTY, xml_text(node_id)), *([(SHARD_PROPERTY, str(shard))] if shard is not None else []),
                  *extra]
    attributes = [("name", xml_text(name)), ("classname", xml_text(classname)), ("time", str(round(seconds, 6))),
                  ("file", xml_text(node_id.split("::", 1)[0]))]
    return _element("testcase", attributes, _properties(properties) + content)


def _kept_properties(report: Report, written: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The input report's own suite properties (pytest-randomly's seed, the plan's sizes, a project's
    `record_testsuite_property`): the merged suite of a shard must say how that shard ran, or a replay of it from
    the merged file could not reseed as CI did. What this writer sets itself is not repeated."""
    taken = {name for name, _ in written} | {MERGED_PROPERTY}
    return [(xml_text(name), xml_text(value)) for name, value in report.suite_properties.items()
            if name and name not in taken]


def _earlier_attempts(attempt: AnyAttempt, present: int, messages: tuple[str, ...]) -> str:
    """The failed attempts a report wrote as separate `<testcase>` elements (pytest-rerunfailures), or that only
    the progress log saw, become Surefire's `<flakyFailure>` (the test then passed) or `<rerunFailure>` children
    of the one case kept: one case per test, so the merged counters say what the verdict says. `present`: how many
    such children the case already holds."""
    missing = attempt.earlier_failures - present
    if missing <= 0:
        return ""
    tag = "flakyFailure" if attempt.outcome == "passed" else "rerunFailure"
    written = []
    for number, message in enumerate([*messages, *[""] * missing][:missing], start=1):
        first_line = message.splitlines()[0] if message else ""
        text = first_line or f"attempt {number} of {attempt.earlier_failures + 1} failed; the test was run again"
        written.append(_element(tag, [("message", xml_text(text)), ("type", "sharder.earlier_attempt")]))
    return "".join(written)


def _result(outcome: str, message: str) -> str:
    """A recovered attempt's result element, as junitparser's Failure, Error and Skipped wrote it."""
    first_line = message.splitlines()[0] if message else ""
    if outcome in ("failed", "rerun"):
        tag, kind = "failure", "sharder.recovered"
    elif outcome == "error":
        tag, kind = "error", "sharder.recovered"
    elif outcome == "skipped":
        tag, kind = "skipped", ""
    elif outcome == "xfailed":
        tag, kind = "skipped", XFAIL_TYPE
    else:
        return ""
    attributes = [*([("message", first_line)] if first_line else []), *([("type", kind)] if kind else [])]
    return _element(tag, attributes, _text(message))


def _missing_reason(node_id: str, shard: ShardResult) -> str:
    if shard.died_in == node_id:
        return f"never reported: shard {shard.label} died while running this test"
    if shard.error:  # the shard refused to run: its own error is the reason, for each of its tests
        first_line = (shard.error.strip().splitlines() or [""])[0]
        return f"never reported: shard {shard.label} stopped with an error: {first_line}"
    if shard.status in ("died", "no report", "report unreadable", "stale report", "deselected"):
        return f"never reported: shard {shard.label} {shard.status}"
    return f"never reported: shard {shard.label} sent a report without this test"
