"""Writing the merged JUnit report with junitparser: one suite per input report, plus the tests recovered from
progress logs and an error case for every planned test that never reported.

Streaming, because 100,000 cases held as element trees cost hundreds of MB: each input report's suite is built
with junitparser's classes and serialised as soon as its report is read, and its tree is dropped. Only the
`<testsuites>` container tag, whose totals are known at the end, is written here by hand.

junitparser builds elements with lxml when lxml is installed and with ElementTree otherwise, while our parser
(defusedxml) always gives ElementTree elements; cases are handed over as they are when the two agree, and
copied into junitparser's element type when not.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from junitparser import Error, Failure, Properties, Property, Skipped, TestCase, TestSuite
from junitparser import junitparser as junitparser_module

from sharder.core.atomic import atomic_write_bytes
from sharder.core.junit_names import (
    MERGED_PROPERTY,
    NODEID_PROPERTY,
    PLAN_ID_PROPERTY,
    RECOVERED_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.nodeid import forward_key
from sharder.reports.inputs import Attempt, ReportInfo
from sharder.reports.junit import EARLIER_FAILURE_TAGS, XFAIL_TYPE, Report
from sharder.reports.verdict import MergeResult, ShardResult

# Characters XML 1.0 cannot hold at all (control characters, lone surrogates): a message from a progress log
# may carry them (ANSI colours, bytes a test printed), and one would make the whole merged file unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MISSING_TYPE = "sharder.never_reported"


def xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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

    def merge(self, other: _Totals) -> None:
        self.tests += other.tests
        self.failures += other.failures
        self.errors += other.errors
        self.skipped += other.skipped
        self.time += other.time


def _target_etree() -> Any:
    return getattr(junitparser_module, "etree")  # noqa: B009  # not exported; the module junitparser builds with


def _copy_element(source: ElementTree.Element, etree: Any) -> Any:
    """An iterative deep copy into another element implementation (no recursion limit to hit)."""
    root = etree.Element(source.tag, dict(source.attrib))
    pending = [(source, root)]
    while pending:
        old, new = pending.pop()
        new.text, new.tail = old.text, old.tail
        for child in old:
            copy = etree.SubElement(new, child.tag, dict(child.attrib))
            pending.append((child, copy))
    return root


def _flatten_markup(case: ElementTree.Element) -> None:
    """JUnit results and captured output hold text only; markup nested in them (a producer's bug, or an attack
    100,000 levels deep) becomes its text, so serialising the case cannot recurse without bound."""
    for child in case:
        if child.tag == "properties":
            for prop in child:
                del prop[:]
        elif len(child):
            text = "".join(child.itertext())
            attrib = dict(child.attrib)
            child.clear()
            child.attrib.update(attrib)
            child.text = text


def _set_property(case: Any, etree: Any, name: str, value: str) -> None:
    properties = case.find("properties")
    if properties is None:
        properties = etree.Element("properties")
        case.insert(0, properties)
    etree.SubElement(properties, "property", {"name": name, "value": value})


def _suite(name: str, properties: list[tuple[str, str]]) -> TestSuite:
    suite = TestSuite(name)
    for key, value in properties:
        suite.add_property(key, value)
    return suite


def _set_statistics(suite: TestSuite, totals: _Totals) -> None:
    suite.tests = totals.tests
    suite.failures = totals.failures
    suite.errors = totals.errors
    suite.skipped = totals.skipped
    suite.time = round(totals.time, 3)


def _serialised(suite: TestSuite, etree: Any) -> bytes:
    """The suite's XML through the element library junitparser uses. As text, then encoded once: junitparser's
    own `tostring()` asks for UTF-8 bytes, which sends each of millions of tokens through a codec."""
    text: str = etree.tostring(suite._elem, encoding="unicode")
    return text.encode("utf-8", "surrogatepass")


class MergedReportWriter:
    """Collects serialised suites as the reports are read, then writes the file once the verdict is known."""

    def __init__(self) -> None:
        self.etree = _target_etree()
        self.same_elements = self.etree.Element is ElementTree.Element
        self.chunks: list[bytes] = []
        self.totals = _Totals()

    def add_report(self, report: Report, info: ReportInfo, attempts: list[Attempt]) -> None:
        """A `merge_inputs.CaseSink`: serialise this report's cases, then let its tree go."""
        label = f"shard {info.shard}" if info.shard is not None else "unattributed"
        properties = self._suite_properties(info.shard, info.plan_id, info.path.name)
        suite = _suite(f"{label} ({info.path.name})", [*properties, *_kept_properties(report, properties)])
        totals = _Totals()
        for case, attempt in zip(report.cases, attempts, strict=True):
            element = case.element
            if element is None:
                continue
            _flatten_markup(element)
            adopted = element if self.same_elements else _copy_element(element, self.etree)
            adopted.tail = None
            if NODEID_PROPERTY not in case.properties:
                _set_property(adopted, self.etree, NODEID_PROPERTY, attempt.node_id)
            if SHARD_PROPERTY not in case.properties and attempt.shard is not None:
                _set_property(adopted, self.etree, SHARD_PROPERTY, str(attempt.shard))
            _add_earlier_attempts(adopted, self.etree, attempt, case.folded_messages)
            suite._elem.append(adopted)
            case.element = None
            totals.add(attempt.outcome, attempt.seconds)
        self._add_suite(suite, totals)

    def _suite_properties(self, shard: object, plan_id: str | None, source: str) -> list[tuple[str, str]]:
        properties = [(MERGED_PROPERTY, "1"), ("sharder_source", xml_text(source))]
        if shard is not None:
            properties.append((SHARD_PROPERTY, str(shard)))
        if plan_id:
            properties.append((PLAN_ID_PROPERTY, plan_id))
        return properties

    def _add_suite(self, suite: TestSuite, totals: _Totals) -> None:
        _set_statistics(suite, totals)
        self.chunks.append(_serialised(suite, self.etree))
        self.totals.merge(totals)

    def add_recovered(self, attempts: list[Attempt], plan_id: str | None) -> None:
        """Tests a dead shard finished, as its progress log recorded them (it wrote no report of its own)."""
        by_source: dict[str, list[Attempt]] = {}
        for attempt in attempts:
            by_source.setdefault(attempt.source, []).append(attempt)
        for source, group in by_source.items():
            shard = group[0].shard
            label = f"shard {shard}" if shard is not None else "unattributed"
            suite = _suite(f"{label} (recovered from {source})", self._suite_properties(shard, plan_id, source))
            totals = _Totals()
            for attempt in group:
                case = self._case(attempt.node_id, attempt.seconds, attempt.shard)
                _add_case_property(case, RECOVERED_PROPERTY, xml_text(source))
                result = _result(attempt.outcome, xml_text(attempt.message))
                if result is not None:
                    case.result = [result]
                _add_earlier_attempts(case._elem, self.etree, attempt, [])
                suite._elem.append(case._elem)
                totals.add(attempt.outcome, attempt.seconds)
            self._add_suite(suite, totals)

    def add_missing(self, result: MergeResult) -> None:
        """One error case per planned test that never reported: the merged file is never green on partial data."""
        missing = result.missing
        if not missing:
            return
        suite = _suite("sharder: planned tests that never reported",
                       [(MERGED_PROPERTY, "1"), *([(PLAN_ID_PROPERTY, result.identity.plan_id)]
                                                  if result.identity.plan_id else [])])
        totals = _Totals()
        for node_id, shard in missing:
            case = self._case(node_id, 0.0, shard.spec)
            error = Error(xml_text(_missing_reason(node_id, shard)), MISSING_TYPE)
            case.result = [error]
            suite._elem.append(case._elem)
            totals.add("error", 0.0)
        self._add_suite(suite, totals)

    def _case(self, node_id: str, seconds: float, shard: object) -> TestCase:
        classname, name = forward_key(node_id)
        case = TestCase(xml_text(name), xml_text(classname), round(seconds, 6))
        case._elem.set("file", xml_text(node_id.split("::", 1)[0]))
        _add_case_property(case, NODEID_PROPERTY, xml_text(node_id))
        if shard is not None:
            _add_case_property(case, SHARD_PROPERTY, str(shard))
        return case

    def write(self, path: str | os.PathLike[str]) -> None:
        totals = self.totals
        head = (
            '<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="sharder merge" '
            f'tests="{totals.tests}" failures="{totals.failures}" errors="{totals.errors}" '
            f'skipped="{totals.skipped}" time={quoteattr(f"{totals.time:.3f}")}>'
        ).encode()
        atomic_write_bytes(path, b"".join([head, *self.chunks, b"</testsuites>\n"]))


def _kept_properties(report: Report, written: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The input report's own suite properties (pytest-randomly's seed, the plan's sizes, a project's
    `record_testsuite_property`): the merged suite of a shard must say how that shard ran, or a replay of it from
    the merged file could not reseed as CI did. What this writer sets itself is not repeated."""
    taken = {name for name, _ in written} | {MERGED_PROPERTY}
    return [(xml_text(name), xml_text(value)) for name, value in report.suite_properties.items()
            if name and name not in taken]


def _add_earlier_attempts(case: Any, etree: Any, attempt: Attempt, messages: list[str]) -> None:
    """The failed attempts a report wrote as separate `<testcase>` elements (pytest-rerunfailures), or that only
    the progress log saw, become Surefire's `<flakyFailure>` (the test then passed) or `<rerunFailure>` children
    of the one case kept: one case per test, so the merged counters say what the verdict says."""
    present = sum(1 for child in case if child.tag in EARLIER_FAILURE_TAGS)
    missing = attempt.earlier_failures - present
    if missing <= 0:
        return
    tag = "flakyFailure" if attempt.outcome == "passed" else "rerunFailure"
    messages = [*messages, *[""] * missing][:missing]
    for number, message in enumerate(messages, start=1):
        first_line = message.splitlines()[0] if message else ""
        text = first_line or f"attempt {number} of {attempt.earlier_failures + 1} failed; the test was run again"
        etree.SubElement(case, tag, {"message": xml_text(text), "type": "sharder.earlier_attempt"})


def _add_case_property(case: TestCase, name: str, value: str) -> None:
    properties = case.child(Properties)  # type: ignore[no-untyped-call]
    if properties is None:
        properties = Properties()  # type: ignore[no-untyped-call]
        case.append(properties)  # type: ignore[no-untyped-call]
    properties.add_property(Property(name, value))


def _result(outcome: str, message: str) -> Failure | Error | Skipped | None:
    first_line = message.splitlines()[0] if message else ""
    if outcome in ("failed", "rerun"):
        result: Failure | Error | Skipped = Failure(first_line, "sharder.recovered")
    elif outcome == "error":
        result = Error(first_line, "sharder.recovered")
    elif outcome == "skipped":
        result = Skipped(first_line)
    elif outcome == "xfailed":
        result = Skipped(first_line, XFAIL_TYPE)
    else:
        return None
    if message:
        result.text = message
    return result


def _missing_reason(node_id: str, shard: ShardResult) -> str:
    if shard.died_in == node_id:
        return f"never reported: shard {shard.label} died while running this test"
    if shard.error:  # the shard refused to run: its own error is the reason, for each of its tests
        first_line = (shard.error.strip().splitlines() or [""])[0]
        return f"never reported: shard {shard.label} stopped with an error: {first_line}"
    if shard.status in ("died", "no report", "report unreadable", "stale report", "deselected"):
        return f"never reported: shard {shard.label} {shard.status}"
    return f"never reported: shard {shard.label} sent a report without this test"
