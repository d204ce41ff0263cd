"""Reading JUnit XML from any producer safely, and mapping its test cases back to pytest node ids.

Parsing goes through defusedxml with DTDs forbidden: no entity expansion (billion laughs, quadratic blowup),
no external entities, no network. The cases are read straight from the ElementTree elements, under any root
(`<testsuite>` or `<testsuites>`) and at any depth: junitparser's per-element wrappers cost several microseconds
per attribute and a merge reads hundreds of thousands of cases, and its view of a report stops at the
`<testsuite>` children of the root, so a nested `<testsuites>` or a bare `<testcase>` would go unseen.

Mapping a case to a node id, in order of trust:
1. the `sharder_nodeid` property sharder's plugin writes on every case;
2. forward mangling: pytest's classname is the node id's path and classes joined by dots (`tests.test_io.TestX`),
   which cannot be turned back into a path, so each known id is turned forward into (classname, name) and looked up;
3. otherwise `classname::name`, or `file::Class::name` when an xunit1 `file` attribute is present (see
   `junit_names.fallback_key`), so foreign runners still get a stable, unique key. When one report holds such a
   key in several `<testsuite>` elements (Playwright's projects, jest-junit's same title in two files), those
   are different tests: each occurrence is qualified with what tells its suite apart (`name[firefox]`).

Within one suite, repeated occurrences of the same id are attempts, in order (pytest-rerunfailures writes each
rerun as a bare, passed-looking `<testcase>` before the final one): the last is the result, the earlier ones
count as failed attempts, since a rerun only follows a failure. They are folded into one `CaseResult`.

Cases are found at any depth (nested `<testsuites>`, a `<testcase>` straight under the root). A report whose
counters contradict its cases (failures declared, no failing case; tests declared, no case at all) carries a
`contradiction`: a merge must not call it green.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeElementTree

from sharder.core.errors import SharderError
from sharder.core.inputfile import BoundedInput
from sharder.core.junit_names import NODEID_PROPERTY, SHARD_PROPERTY, fallback_key, suite_labels
from sharder.core.nodeid import forward_key

# MAX_TEST_SECONDS lives in the pure durations layer, whose reader applies the same limit to stored seconds: a
# report and a durations file can never disagree on what is a test duration.
from sharder.durations.store import MAX_TEST_SECONDS


class CorruptReport(SharderError):
    """A report that is not well-formed (truncated, empty, bad bytes): a shard that died while writing it, or a
    broken upload. Unlike a hostile or foreign file, a merge can go on and count that shard as unreported."""


@dataclass
class CaseResult:
    node_id: str
    outcome: str  # passed | failed | error | skipped | xfailed
    seconds: float
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None
    # Failed attempts before this result (Maven surefire's <flakyFailure>/<rerunFailure> children, and earlier
    # occurrences of the same id in the same suite): a case that passed with earlier failures is flaky.
    earlier_failures: int = 0
    element: ElementTree.Element | None = field(default=None, repr=False, compare=False)
    # False when the report gave no usable time (missing, empty, unparseable): `seconds` is then 0.0, which a
    # merge may add up but a durations update must not take as an observation.
    timed: bool = True
    # False when the case has no name, classname or file: `node_id` is then made up to keep it apart from every
    # other case, and must not become a durations key.
    named: bool = True
    # The messages of the earlier occurrences folded into this one ("" for a bare one), for the merged report.
    folded_messages: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def shard(self) -> str | None:
        return self.properties.get(SHARD_PROPERTY)


@dataclass
class Report:
    path: str
    cases: list[CaseResult]
    suite_properties: dict[str, str]
    suite_timestamps: list[str] = field(default_factory=list)
    # Why the report's counters cannot be believed (see the module docstring), or None.
    contradiction: str | None = None
    # Each suite's own properties, root first, in document order: `suite_properties` folds them into one view
    # (the first suite's value wins), but a merged report holds one suite per shard, each with its own seed.
    suite_property_sets: list[dict[str, str]] = field(default_factory=list)


def parse_xml_root(path: str | os.PathLike[str]) -> ElementTree.Element:
    """Parse with every XML trick refused; any failure is a one-line `SharderError` naming the file."""
    name = os.fspath(path)
    try:
        # A regular file within the input size limit, streamed to the parser (see core.inputfile).
        with BoundedInput(name, "report") as source:
            tree = SafeElementTree.parse(source, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise SharderError(f"report {name!r} has a DOCTYPE; refused (JUnit needs none, and DTDs enable XML bombs)") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise SharderError(f"report {name!r} declares XML entities; refused") from None
    except ElementTree.ParseError as exc:
        raise CorruptReport(f"report {name!r} is not well-formed XML ({exc}); truncated or corrupt?") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise CorruptReport(f"report {name!r} has an unreadable encoding ({exc})") from None
    except OSError as exc:
        raise SharderError(f"cannot read report {name!r}: {exc.strerror}") from None
    root = tree.getroot()
    if root is None or root.tag not in ("testsuites", "testsuite"):
        tag = "none" if root is None else root.tag
        raise SharderError(f"report {name!r} is not JUnit XML (root element <{tag}>)")
    return root


_RESULT_OUTCOMES = {"failure": "failed", "error": "error"}
# pytest writes an expected failure as `<skipped type="pytest.xfail">`: not a skip (the test ran and failed as
# expected), so it gets its own outcome and a merge can count it as pytest's summary does. A non-strict xpass is
# written as a plain passed case, with nothing to tell it apart; a strict xpass is a `<failure>`.
XFAIL_TYPE = "pytest.xfail"
EARLIER_FAILURE_TAGS = frozenset({"flakyFailure", "flakyError", "rerunFailure", "rerunError"})


def _outcome(case: ElementTree.Element) -> tuple[str, str, int]:
    """(outcome, message, earlier failed attempts); a failure or error wins over a skip, as in junitparser, and
    pytest's xfail marker (`<skipped type="pytest.xfail">`) makes the outcome "xfailed"."""
    outcome, message, earlier = "passed", "", 0
    for result in case:
        tag = result.tag
        if tag in _RESULT_OUTCOMES:
            if outcome not in ("failed", "error"):
                outcome, message = _RESULT_OUTCOMES[tag], (result.get("message") or result.text or "").strip()
        elif tag == "skipped":
            if outcome == "passed":
                outcome = "xfailed" if result.get("type") == XFAIL_TYPE else "skipped"
                message = (result.get("message") or "").strip()
        elif tag in EARLIER_FAILURE_TAGS:
            earlier += 1
    return outcome, message, earlier


def _properties(element: ElementTree.Element) -> dict[str, str]:
    found: dict[str, str] = {}
    properties = element.find("properties")
    if properties is not None:
        for prop in properties.iter("property"):
            found[prop.get("name", "")] = prop.get("value", "")
    return found


_GROUPED_NUMBER = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", re.ASCII)


def parse_number(text: str | None) -> float | None:
    """A number as producers write it, or None. Maven Surefire formats times with the locale's grouping
    (`1,230.1`); a comma is taken as a thousands separator only where it cannot be a decimal comma: with a
    decimal point after the groups, or with several groups (`1,234,567`). `1,230` alone stays unreadable."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    if _GROUPED_NUMBER.fullmatch(text) and ("." in text or text.count(",") > 1):
        return float(text.replace(",", ""))
    return None


def optional_number(text: str | None) -> float | None:
    """An optional non-negative measurement (`sharder_peak_rss_mb`, `sharder_setup_seconds`): absent unless it is
    a finite number >= 0, so NaN or Infinity never reach a durations file (JSON has no spelling for them)."""
    value = parse_number(text)
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def _seconds(text: str | None, where: str, case_name: str) -> float | None:
    """A case's time, or None for "no observation" (missing, empty, unparseable, negative, NaN); a time over
    `MAX_TEST_SECONDS` refuses the whole report."""
    value = parse_number(text)
    if value is None or math.isnan(value) or value < 0:
        return None
    if value > MAX_TEST_SECONDS:
        raise SharderError(
            f"report {where!r}: test case {case_name!r} has time={text!r}, more than {MAX_TEST_SECONDS:,.0f} s "
            "(115 days); not a test duration, refused"
        )
    return value


def _declared(element: ElementTree.Element, *names: str) -> int:
    """The sum of a suite's counters; unreadable ones count 0 (they only ever make a report look worse)."""
    total = 0.0
    for name in names:
        value = parse_number(element.get(name))
        if value is not None and math.isfinite(value) and value > 0:
            total += value
    return int(total)


def _line(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() else None


def mangling_index(known_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for node_id in known_ids:
        index.setdefault(forward_key(node_id), node_id)
    return index


class LazyManglingIndex(Mapping[tuple[str, str], str]):
    """`mangling_index` built on first use: sharder's own reports name every node id, so a merge of them never
    pays for turning 100,000 known ids into (classname, name) keys."""

    def __init__(self, known_ids: Iterable[str]) -> None:
        self._known_ids = known_ids
        self._index: dict[tuple[str, str], str] | None = None

    def _built(self) -> dict[tuple[str, str], str]:
        if self._index is None:
            self._index = mangling_index(self._known_ids)
        return self._index

    def __getitem__(self, key: tuple[str, str]) -> str:
        return self._built()[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


def read_report(
    path: str | os.PathLike[str],
    index: Mapping[tuple[str, str], str] | None = None,
    *,
    keep_elements: bool = False,
) -> Report:
    """Every test case of a report, mapped to a node id (see the module docstring for how)."""
    return report_from_root(parse_xml_root(path), path, index, keep_elements=keep_elements)


@dataclass(slots=True)
class _Suite:
    """A `<testsuite>` (or the root) and what its counters declare beside what it holds."""

    element: ElementTree.Element
    name: str
    hostname: str
    declared_tests: int
    declared_failing: int
    cases: int = 0
    failing: int = 0


@dataclass(slots=True)
class _Occurrence:
    """One `<testcase>` element, before repeated ones are folded into attempts."""

    suite: int  # index into the report's suites
    chain: tuple[int, ...]  # every enclosing suite, outermost first
    element: ElementTree.Element
    key: str | None  # None: nothing to name it by
    exact: bool  # from `sharder_nodeid` or a known id: never qualified
    properties: dict[str, str]
    classname: str
    name: str


def _suite(element: ElementTree.Element) -> _Suite:
    return _Suite(element, element.get("name") or "", element.get("hostname") or "",
                  _declared(element, "tests"), _declared(element, "failures", "errors"))


def _walk(root: ElementTree.Element) -> tuple[list[_Suite], list[_Occurrence]]:
    """Every suite and case at any depth, in document order; a stack of child iterators, so depth costs no
    recursion and the cases of a flat suite (the usual 100,000) are never pushed anywhere."""
    suites = [_suite(root)]
    occurrences: list[_Occurrence] = []
    stack: list[tuple[Iterator[ElementTree.Element], tuple[int, ...]]] = [(iter(root), (0,))]
    while stack:
        children, chain = stack[-1]
        for child in children:
            tag = child.tag
            if tag == "testcase":
                occurrences.append(_Occurrence(chain[-1], chain, child, None, False, {}, "", ""))
            elif tag in ("testsuite", "testsuites"):
                suites.append(_suite(child))
                stack.append((iter(child), (*chain, len(suites) - 1)))
                break
        else:
            stack.pop()
    return suites, occurrences


def _contradiction(where: str, suites: list[_Suite]) -> str | None:
    """Only "declared > 0, found 0": pytest counts a case that fails in call and errors in teardown twice."""
    for suite in suites:
        what = f"<{suite.element.tag}{f' name={suite.name!r}' if suite.name else ''}>"
        if suite.declared_tests and not suite.cases:
            return (f"report {where!r}: {what} declares {suite.declared_tests} tests but holds no test case; "
                    "its results cannot be trusted")
        if suite.declared_failing and not suite.failing:
            return (f"report {where!r}: {what} declares {suite.declared_failing} failures/errors but holds no "
                    "failing test case; its results cannot be trusted")
    return None


def _qualify_colliding_keys(occurrences: list[_Occurrence], suites: list[_Suite]) -> None:
    """A key from attributes alone found in several suites names several tests: give each suite's its label."""
    suites_of: dict[str, list[int]] = {}
    for occurrence in occurrences:
        if occurrence.key is not None and not occurrence.exact:
            found = suites_of.setdefault(occurrence.key, [])
            if occurrence.suite not in found:
                found.append(occurrence.suite)
    labels: dict[tuple[str, int], str] = {}
    for key, indices in suites_of.items():
        if len(indices) > 1:
            named = suite_labels([(suites[i].name, suites[i].hostname) for i in indices])
            labels.update({(key, index): label for index, label in zip(indices, named, strict=True)})
    if labels:
        for occurrence in occurrences:
            if occurrence.key is not None and not occurrence.exact:
                label = labels.get((occurrence.key, occurrence.suite))
                if label is not None:
                    occurrence.key = f"{occurrence.key}[{label}]"


def report_from_root(
    root: ElementTree.Element,
    path: str | os.PathLike[str],
    index: Mapping[tuple[str, str], str] | None = None,
    *,
    keep_elements: bool = False,
) -> Report:
    """`read_report` on an already parsed root; `keep_elements` keeps each case's element on its `CaseResult`,
    for a caller that writes the cases out again."""
    where = os.fspath(path)
    suites, occurrences = _walk(root)
    property_sets = [_properties(suite.element) for suite in suites]
    suite_properties = dict(property_sets[0]) if root.tag == "testsuite" else {}
    for own in property_sets[1:]:
        for key, value in own.items():
            suite_properties.setdefault(key, value)
    timestamps = [suite.element.get("timestamp") or "" for suite in suites if suite.element.tag == "testsuite"]
    for occurrence in occurrences:
        case = occurrence.element
        occurrence.properties = properties = _properties(case)
        occurrence.classname, occurrence.name = classname, name = case.get("classname") or "", case.get("name") or ""
        node_id = properties.get(NODEID_PROPERTY)
        if not node_id and index is not None:
            node_id = index.get((classname, name))
        occurrence.exact = bool(node_id)
        if not node_id and (classname or name or case.get("file")):
            node_id = fallback_key(classname, name, case.get("file"))
        occurrence.key = node_id or None
    _qualify_colliding_keys(occurrences, suites)
    cases: list[CaseResult] = []
    position: dict[tuple[object, ...], int] = {}  # (id, suite, attributes) -> its CaseResult, for folding
    unnamed = 0
    for occurrence in occurrences:
        case = occurrence.element
        outcome, message, earlier = _outcome(case)
        if outcome in ("failed", "error"):
            for suite_index in occurrence.chain:
                suites[suite_index].failing += 1
        for suite_index in occurrence.chain:
            suites[suite_index].cases += 1
        node_id = occurrence.key
        if node_id is None:
            unnamed += 1
            node_id = f"(unnamed test case {unnamed} in {Path(where).name})"
        seconds = _seconds(case.get("time"), where, node_id)
        result = CaseResult(
            node_id, outcome, seconds or 0.0, message, occurrence.properties, file=case.get("file"),
            line=_line(case.get("line")), earlier_failures=earlier, element=case if keep_elements else None,
            timed=seconds is not None, named=occurrence.key is not None,
        )
        # a rerun repeats the case exactly; two cases whose different attributes map to one key are not reruns
        slot = (node_id, occurrence.suite, occurrence.classname, occurrence.name, case.get("file"))
        if occurrence.key is not None and slot in position:
            folded = cases[position[slot]]
            result.earlier_failures += folded.earlier_failures + 1
            result.folded_messages = [*folded.folded_messages, folded.message]
            cases[position[slot]] = result  # the first occurrence's place, the last one's result
        else:
            position[slot] = len(cases)
            cases.append(result)
    return Report(where, cases, suite_properties, timestamps, _contradiction(where, suites), property_sets)


def report_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand directories to the *.xml files in them (sorted); a missing path or an empty directory is an error."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.xml") if p.is_file())
            if not found:
                raise SharderError(f"directory {os.fspath(path)!r} holds no .xml reports")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise SharderError(f"report path {os.fspath(path)!r} does not exist")
    resolved = [p.resolve() for p in files]
    if len(set(resolved)) != len(resolved):
        duplicate = next(p for p in resolved if resolved.count(p) > 1)
        raise SharderError(f"report {os.fspath(duplicate)!r} was given twice")
    return files
