"""The JUnit reader: expat's events (or a parsed tree's elements) turned into a `Report`, nothing of the document
kept. Which cases count, how they are named, folded and qualified: `sharder.reports.junit`'s docstring."""

from __future__ import annotations

import math
import pyexpat
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

from sharder.core.errors import SharderError
from sharder.core.junit_names import NODEID_PROPERTY, fallback_key, suite_labels

# MAX_TEST_SECONDS lives in the pure durations layer, whose reader applies the same limit to stored seconds: a
# report and a durations file can never disagree on what is a test duration.
from sharder.durations.store import MAX_TEST_SECONDS
from sharder.reports.case_xml import CaseCapture
from sharder.reports.junit_cases import (
    EARLIER_FAILURE_TAGS,
    NO_PROPERTIES,
    XFAIL_TYPE,
    CaseResult,
    LazyManglingIndex,
    Report,
    parse_number,
    plain_case,
)
from sharder.reports.plain_runs import RunFinder, is_xml_text
from sharder.reports.safe_xml import is_junit_root, not_junit


def _seconds(text: str | None) -> float | None:
    """A case's time, or None for "no observation" (missing, empty, unparseable, negative, NaN). A time over
    `MAX_TEST_SECONDS` comes back as it is: the reader refuses the whole report for it."""
    try:
        value: float | None = float(text)  # type: ignore[arg-type]  # None lands in parse_number
    except (TypeError, ValueError):
        value = parse_number(text)
    if value is None or math.isnan(value) or value < 0:
        return None
    return value


def _too_long(where: str, case_name: str, text: str) -> SharderError:
    return SharderError(
        f"report {where!r}: test case {case_name!r} has time={text!r}, more than {MAX_TEST_SECONDS:,.0f} s "
        "(115 days); not a test duration, refused"
    )


def _declared(attrs: Mapping[str, str], *names: str) -> int:
    """The sum of a suite's counters; unreadable ones count 0 (they only ever make a report look worse)."""
    total = 0.0
    for name in names:
        value = parse_number(attrs.get(name))
        if value is not None and math.isfinite(value) and value > 0:
            total += value
    return int(total)


@dataclass(slots=True)
class _Suite:
    """A `<testsuite>` (or the root) and what its counters declare beside what it holds."""

    index: int
    tag: str
    name: str
    hostname: str
    timestamp: str
    declared_tests: int
    declared_failing: int
    properties: dict[str, str] = field(default_factory=dict)
    properties_read: bool = False  # only a suite's first <properties> child counts
    cases: int = 0  # at any depth below it
    failing: int = 0


_FAILING_RESULTS = {"failure": "failed", "error": "error"}
_KNOWN_TIMES = 4096


class _FirstCases:
    """Which ids the report has shown, and the position of each one's first case, found only when asked.

    Reruns are rare, a million distinct ids are not: a dict of a million ids to positions (a new int object each)
    costs three times a set of them, so ids read in bulk (`take`) go only into the set, and their positions are
    found by one scan of the cases the first time a rerun asks for one of them."""

    def __init__(self, node_ids: list[str]) -> None:
        self.node_ids = node_ids  # the reader's list of every case's id, appended to as cases are read
        self.seen: set[str] = set()
        self.positions: dict[str, int] = {}  # the first case of every id read one by one, and of those scanned
        self.scanned = 0  # the cases up to here have their ids' positions in `positions`

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.seen

    def get(self, node_id: str) -> int | None:
        if node_id not in self.seen:
            return None
        position = self.positions.get(node_id)
        if position is None:  # read in bulk: scan what was not scanned yet, each id's first case kept
            setdefault = self.positions.setdefault
            for index in range(self.scanned, len(self.node_ids)):
                setdefault(self.node_ids[index], index)
            self.scanned = len(self.node_ids)
            position = self.positions[node_id]
        return position

    def add(self, node_id: str, position: int) -> None:
        self.seen.add(node_id)
        self.positions[node_id] = position

    def add_new(self, node_ids: list[str]) -> bool:
        """Take the ids of a run read in bulk, which is about to follow the cases so far, if every one is new (and
        none repeats in the run); False, and nothing taken, if not."""
        seen = self.seen
        known = len(seen)
        seen.update(node_ids)
        if len(seen) == known + len(node_ids):
            return True
        seen.difference_update(node_ids)  # none of them is an earlier case's...
        seen.update(self.node_ids)  # ...but for those that were
        return False


class ReportReader:
    """expat's handlers for one report: suites and cases as their tags go by, nothing of the document kept.

    Mirrors what a walk of the tree would find: the root's and every nested suite's cases, a suite's first
    `<properties>`, a case's first `<properties>` (every `<property>` inside it, at any depth), its results in
    order. Elements anywhere else (a suite's `<system-out>`, a case inside an unknown element) are skipped whole."""

    def __init__(self, where: str, index: Mapping[tuple[str, str], str] | None,
                 parser: pyexpat.XMLParserType | None, capture: CaseCapture | None) -> None:
        self.where = where
        self.index = index
        self.parser = parser
        self.capture = capture
        self.depth = 0
        self.suites: list[_Suite] = []
        self.open: list[_Suite] = []  # the suites enclosing the current element, outermost first
        self.foreign_root: str | None = None
        self.skip_depth = 0  # inside an element whose subtree means nothing here (0: not)
        self.suite_properties: dict[str, str] | None = None  # a suite's first <properties>, while inside it
        self.properties_depth = 0
        # The case being read (case_depth 0: none).
        self.case_depth = 0
        self.attrs: Mapping[str, str] = NO_PROPERTIES
        self.child = ""  # the tag of the case's child being read
        self.case_properties: dict[str, str] | None = None
        self.in_case_properties = False
        self.outcome = "passed"
        self.message = ""
        self.earlier = 0
        self.nested = False  # markup inside a result, output or property: its XML must go through the tree
        self.text: list[str] | None = None  # a failure's text, while it is wanted
        # The cases so far, and per case what folding and qualifying need (arrays: a million cases are read).
        self.node_ids: list[str] = []  # per case (see `Report`)
        self.seconds: list[float] = []
        self.special: dict[int, CaseResult] = {}
        self.where_of: array[int] = array("q")  # 2 * its suite + 1 if its id is exact (from a property or index)
        self.attributes_of: array[int] = array("q")  # hash of (classname, name, file)
        self.content_of: array[int] | None = None  # the occurrence each case's XML is, once a rerun folded
        self.first_case = _FirstCases(self.node_ids)  # node id -> its first case
        self.other_cases: dict[tuple[str, int, int], int] = {}  # (node id, suite, attributes) -> case, the rest
        self.spread: set[str] = set()  # keys from attributes alone met in more than one suite
        self.unnamed = 0
        self.too_long: tuple[int, str] | None = None  # the first case whose time refuses the report
        # Times as written, read once: most reports repeat a few thousand values ("0.003"), and one float object
        # per case would be 24 MB a million cases (shared by the merge's attempts and outcomes, all alive at once).
        self.seconds_of: dict[str, float] = {}
        self.runs = RunFinder()
        if parser is not None:
            parser.StartElementHandler = self.start
            parser.EndElementHandler = self.end

    # -- expat's handlers ---------------------------------------------------------------------------------------

    def start(self, name: str, attrs: Mapping[str, str]) -> None:
        self.depth += 1
        if self.case_depth:
            self._case_child(name, attrs, self.depth - self.case_depth)
        elif self.skip_depth:
            pass
        elif self.suite_properties is not None:
            if name == "property":
                self.suite_properties[attrs.get("name", "")] = attrs.get("value", "")
        elif self.depth == 1:
            if is_junit_root(name):
                self._open_suite(name, attrs)
            else:
                self._foreign(name)
        elif name == "testcase":
            self._open_case(attrs)
        elif name in ("testsuite", "testsuites"):
            self._open_suite(name, attrs)
        elif name == "properties" and not self.open[-1].properties_read:
            self.open[-1].properties_read = True
            self.suite_properties = self.open[-1].properties
            self.properties_depth = self.depth
        else:
            self.skip_depth = self.depth

    def end(self, name: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if depth == self.case_depth:
            if self.child:
                self._close_case()
            else:
                self._close_plain_case()
        elif self.case_depth:
            if depth == self.case_depth + 1:
                if self.text is not None:
                    self._end_text()
                if self.in_case_properties:
                    self.in_case_properties = False
                    if self.capture is not None:
                        self.capture.properties_ended()
        elif self.skip_depth:
            if depth == self.skip_depth:
                self.skip_depth = 0
        elif self.suite_properties is not None:
            if depth == self.properties_depth:
                self.suite_properties = None
        else:
            suite = self.open.pop()
            if self.open:  # an enclosing suite counts every case below it
                self.open[-1].cases += suite.cases
                self.open[-1].failing += suite.failing

    def add_text(self, text: str) -> None:
        assert self.text is not None
        self.text.append(text)

    # -- suites and cases ---------------------------------------------------------------------------------------

    def _foreign(self, name: str) -> None:
        """Not JUnit: nothing more to read, but the rest is parsed, so a broken file is still called broken."""
        self.foreign_root = "{" + name if "}" in name else name
        if self.parser is not None:
            self.parser.StartElementHandler = None
            self.parser.EndElementHandler = None
        self.skip_depth = self.depth

    def _open_suite(self, tag: str, attrs: Mapping[str, str]) -> None:
        suite = _Suite(len(self.suites), tag, attrs.get("name") or "", attrs.get("hostname") or "",
                       attrs.get("timestamp") or "", _declared(attrs, "tests"), _declared(attrs, "failures", "errors"))
        self.suites.append(suite)
        self.open.append(suite)

    def _open_case(self, attrs: Mapping[str, str]) -> None:
        self.case_depth = self.depth
        self.attrs = attrs
        if self.capture is not None:
            self.capture.case_started()

    def _case_child(self, name: str, attrs: Mapping[str, str], level: int) -> None:
        """An element inside the case: a result (the first failure or error wins over a skip, as in junitparser;
        pytest's xfail marker makes the outcome "xfailed"), an earlier attempt, or its properties."""
        if level == 1:
            if not self.child and self.capture is not None:
                self.capture.child_started()
            self.child = name
            if name in _FAILING_RESULTS:
                if self.outcome not in ("failed", "error"):
                    self.outcome = _FAILING_RESULTS[name]
                    message = attrs.get("message")
                    if message:
                        self.message = message.strip()
                    else:  # the result's text then, up to its first child element
                        self.message = ""
                        self._start_text()
            elif name == "skipped":
                if self.outcome == "passed":
                    self.outcome = "xfailed" if attrs.get("type") == XFAIL_TYPE else "skipped"
                    self.message = (attrs.get("message") or "").strip()
            elif name in EARLIER_FAILURE_TAGS:
                self.earlier += 1
            elif name == "properties" and self.case_properties is None:
                self.case_properties = {}
                self.in_case_properties = True
            return
        if self.text is not None:
            self._end_text()
        if self.child != "properties" or level > 2:
            self.nested = True
        if self.in_case_properties and name == "property":
            assert self.case_properties is not None
            self.case_properties[attrs.get("name", "")] = attrs.get("value", "")

    def _start_text(self) -> None:
        self.text = []
        if self.parser is not None:
            self.parser.CharacterDataHandler = self.add_text

    def _end_text(self) -> None:
        assert self.text is not None
        self.message = "".join(self.text).strip()
        self.text = None
        if self.parser is not None:
            self.parser.CharacterDataHandler = None

    def _close_plain_case(self) -> None:
        """`_close_case` for the usual case of a big foreign report: no child element, no file or line, a name, a
        time, an id not met before. The busiest code of a merge, so anything else goes to `_close_case` before a
        thing is changed; what is left is what `_close_case` does for such a case, step for step."""
        attrs = self.attrs
        if "file" in attrs or "line" in attrs:
            self._close_case()
            return
        classname, name = attrs.get("classname") or "", attrs.get("name") or ""
        node_id = None
        index = self.index
        if index is not None:
            if type(index) is LazyManglingIndex:  # first needed now: from here on, the dict itself
                index = self.index = index.built()
            node_id = index.get((classname, name)) if index else None
        exact = bool(node_id)
        if not node_id:
            if not classname and not name:
                self._close_case()
                return
            node_id = f"{classname}::{name}" if classname else name  # `fallback_key` without a file
        first_case = self.first_case
        time_text = attrs.get("time") or ""
        seconds = self.seconds_of.get(time_text)
        if seconds is None:
            seconds = _seconds(time_text)
            if seconds is not None and seconds <= MAX_TEST_SECONDS and len(self.seconds_of) < _KNOWN_TIMES:
                self.seconds_of[time_text] = seconds
        if seconds is None or seconds > MAX_TEST_SECONDS or node_id in first_case:
            self._close_case()  # no time, or one refused, or a rerun
            return
        self.case_depth = 0
        suite = self.open[-1]
        suite.cases += 1
        occurrence = self.capture.plain_case_ended() if self.capture is not None else -1
        node_ids = self.node_ids
        first_case.add(node_id, len(node_ids))
        node_ids.append(node_id)
        self.seconds.append(seconds)
        self.where_of.append(2 * suite.index + exact)
        self.attributes_of.append(hash((classname, name, None)))
        if self.content_of is not None:
            self.content_of.append(occurrence)

    def _close_case(self) -> None:
        """The case ends: its result, folded into the case it repeats if it is a rerun. The busiest code of a
        merge (once per case, a million times for a big report), hence the locals."""
        attrs = self.attrs
        properties: Mapping[str, str] = self.case_properties if self.case_properties is not None else NO_PROPERTIES
        classname, name, file = attrs.get("classname") or "", attrs.get("name") or "", attrs.get("file")
        node_id = properties.get(NODEID_PROPERTY) if properties else None
        if not node_id and self.index is not None:
            if type(self.index) is LazyManglingIndex:  # first needed now: from here on, the dict itself
                self.index = self.index.built()
            node_id = self.index.get((classname, name)) if self.index else None
        exact = bool(node_id)
        if not node_id and (classname or name or file):
            node_id = fallback_key(classname, name, file)
        outcome, earlier = self.outcome, self.earlier
        suite = self.open[-1]
        suite.cases += 1
        if outcome == "failed" or outcome == "error":
            suite.failing += 1
        occurrence = self.capture.case_ended(self.nested, earlier) if self.capture is not None else -1
        named = bool(node_id)
        if not node_id:
            self.unnamed += 1
            node_id = f"(unnamed test case {self.unnamed} in {Path(self.where).name})"
        time_text = attrs.get("time") or ""  # "" reads as no time, as a missing one does
        seconds = self.seconds_of.get(time_text)
        if seconds is None:
            seconds = _seconds(time_text)
            if seconds is not None and len(self.seconds_of) < _KNOWN_TIMES:
                self.seconds_of[time_text] = seconds
        too_long = seconds is not None and seconds > MAX_TEST_SECONDS
        line = attrs.get("line")
        line_number = int(line) if line and line.isascii() and line.isdigit() else None
        stored = 0.0 if seconds is None or too_long else seconds
        node_ids = self.node_ids
        position = len(node_ids)
        # Two occurrences are one case only with the same attributes; a 64-bit hash stands in for them, a million
        # times smaller than the strings (a chance of 2**-64 that two different ones compare equal).
        attributes = hash((classname, name, file))
        where = 2 * suite.index + exact
        folded_into = None
        if named:
            first = self.first_case.get(node_id)
            if first is None:
                self.first_case.add(node_id, position)
            else:
                folded_into = self._rerun_of(first, node_id, where, attributes)
        # A plain pass (no child element, no file or line, a time, a name) is its id and seconds alone; any other
        # case, and any case a rerun folds into, is a record of its own.
        result = None
        if self.child or file is not None or line_number is not None or seconds is None or not named or (
                folded_into is not None):
            result = CaseResult(node_id, outcome, stored, self.message, properties, file, line_number, earlier,
                                seconds is not None, named)
        if folded_into is None:
            node_ids.append(node_id)
            self.seconds.append(stored)
            if result is not None:
                self.special[position] = result
            self.where_of.append(where)
            self.attributes_of.append(attributes)
            if self.content_of is not None:
                self.content_of.append(occurrence)
        else:
            # a rerun: the first occurrence's place, the last one's result, the earlier ones as failed attempts
            assert result is not None
            position = folded_into
            folded = self.special.get(folded_into) or plain_case(node_ids[folded_into], self.seconds[folded_into])
            result.earlier_failures += folded.earlier_failures + 1
            result.folded_messages = (*folded.folded_messages, folded.message)
            self.special[folded_into] = result
            self.seconds[folded_into] = stored
            if self.content_of is None:
                self.content_of = array("i", range(len(node_ids)))
            self.content_of[folded_into] = occurrence
        if too_long and self.too_long is None:
            self.too_long = (position, time_text)
        self.case_depth = 0
        if self.child:  # what the case's children set, back as a case without any has it
            self.case_properties = None
            self.child = ""
            self.outcome, self.message, self.earlier, self.nested = "passed", "", 0, False

    def _rerun_of(self, first: int, key: str, where: int, attributes: int) -> int | None:
        """The case an occurrence of a known id repeats: same suite, same attributes (two cases whose different
        attributes map to one key are not reruns); None for a new case, which is then remembered. `where`: the
        occurrence's suite and whether its id is exact, as `where_of` holds them."""
        suite = where >> 1
        if self.where_of[first] >> 1 == suite and self.attributes_of[first] == attributes:
            return first
        if not where & 1 and self.where_of[first] >> 1 != suite:
            self.spread.add(key)
        slot = (key, suite, attributes)
        found = self.other_cases.get(slot)
        if found is None:
            self.other_cases[slot] = len(self.node_ids)
        return found

    # -- runs of plain cases (a `safe_xml.RunTaker`; see `plain_runs`) -------------------------------------------

    def find(self, chunk: bytes) -> list[tuple[int, int]]:
        return self.runs.find(chunk)

    def take(self, run: bytes, offset: int) -> bool:
        """Read a run of plain cases in bulk, as `_close_plain_case` would read each of them, or leave it to expat
        (False) where it is not inside a suite's own content or holds anything that case does not: a rerun, an id
        met before, a time that is no observation, an unnamed case."""
        capture = self.capture
        if (self.case_depth or self.skip_depth or self.suite_properties is not None or not self.open
                or self.foreign_root is not None or (capture is not None and not capture.takes_runs())
                or not is_xml_text(run)):
            return False
        # The run has `RUN`'s form, and no value in it holds a quote: split at the quotes, every case is six
        # pieces, its classname, name and time the second, fourth and sixth.
        pieces = run.split(b'"')
        classnames = list(map(bytes.decode, pieces[1::6]))
        case_names = list(map(bytes.decode, pieces[3::6]))
        count = len(case_names)
        spelled = "" not in classnames  # every id `classname::name`, as a template can spell it from the bytes
        if not spelled:
            fallback = [f"{classname}::{name}" if classname else name
                        for classname, name in zip(classnames, case_names, strict=True)]
            if "" in fallback:
                return False
        else:
            fallback = list(map("::".join, zip(classnames, case_names, strict=True)))
        index = self.index
        if index is not None and type(index) is LazyManglingIndex:
            index = self.index = index.built()
        mapped = list(map(index.get, zip(classnames, case_names, strict=True))) if index else None
        node_ids = fallback if mapped is None else [exact or key for exact, key in zip(mapped, fallback, strict=True)]
        seconds = self._run_seconds(list(map(bytes.decode, pieces[5::6])))
        if seconds is None:
            return False
        if not self.first_case.add_new(node_ids):  # an id met before, or twice in the run: reruns, for `_close_case`
            self.runs.enabled = False  # and no more runs: a report with reruns is read case by case
            return False
        suite = self.open[-1]
        suite.cases += count
        occurrence = (capture.plain_run(offset, len(run), count, spelled and not (mapped and any(mapped)))
                      if capture is not None else -1)
        self.node_ids.extend(node_ids)
        self.seconds.extend(seconds)
        where = 2 * suite.index
        if mapped is None:
            self.where_of.extend(array("q", (where,)) * count)
        else:
            self.where_of.extend(array("q", [where + 1 if exact else where for exact in mapped]))
        self.attributes_of.extend(map(hash, zip(classnames, case_names, repeat(None, count), strict=True)))
        if self.content_of is not None:
            self.content_of.extend(range(occurrence, occurrence + count))
        return True

    def _run_seconds(self, texts: list[str]) -> list[float] | None:
        """Each time of a run, through the cache of times as written; None if one is no observation or too long
        (the case then goes through `_close_case`, which says so)."""
        known = self.seconds_of
        seconds = list(map(known.get, texts))
        if None not in seconds:
            return seconds  # type: ignore[return-value]  # no None left
        new: dict[str, float] = {}
        for text in set(texts).difference(known):
            value = _seconds(text)
            if value is None or value > MAX_TEST_SECONDS:
                return None
            new[text] = value
        if len(known) + len(new) <= _KNOWN_TIMES:
            known.update(new)
            return list(map(known.__getitem__, texts))
        return [known[text] if text in known else new[text] for text in texts]

    # -- the end ------------------------------------------------------------------------------------------------

    def report(self) -> Report:
        if self.foreign_root is not None:
            raise not_junit(self.where, self.foreign_root)
        if not self.suites:  # a document expat accepted has a root; a tree walk always starts with one
            raise not_junit(self.where, "none")
        self._qualify_spread_keys()
        if self.too_long is not None:
            position, text = self.too_long
            raise _too_long(self.where, self.node_ids[position], text)
        suites = self.suites
        property_sets = [suite.properties for suite in suites]
        suite_properties = dict(property_sets[0]) if suites[0].tag == "testsuite" else {}
        for own in property_sets[1:]:
            for key, value in own.items():
                suite_properties.setdefault(key, value)
        timestamps = [suite.timestamp for suite in suites if suite.tag == "testsuite"]
        xml = self.capture.finish(self.content_of, bool(self.spread)) if self.capture is not None else None
        return Report(self.where, self.node_ids, self.seconds, self.special, suite_properties, timestamps,
                      self._contradiction(), property_sets, xml)

    def _qualify_spread_keys(self) -> None:
        """A key from attributes alone found in several suites names several tests: give each suite's its label."""
        if not self.spread:
            return
        suites_of: dict[str, list[int]] = {}
        for position, node_id in enumerate(self.node_ids):
            where = self.where_of[position]
            if node_id in self.spread and not where & 1:
                found = suites_of.setdefault(node_id, [])
                if where >> 1 not in found:
                    found.append(where >> 1)
        labels: dict[tuple[str, int], str] = {}
        for key, indices in suites_of.items():
            if len(indices) > 1:
                named = suite_labels([(self.suites[i].name, self.suites[i].hostname) for i in indices])
                labels.update({(key, index): label for index, label in zip(indices, named, strict=True)})
        for position, node_id in enumerate(self.node_ids):
            where = self.where_of[position]
            case = self.special.get(position)
            if not where & 1 and (case is None or case.named):
                label = labels.get((node_id, where >> 1))
                if label is not None:
                    self.node_ids[position] = f"{node_id}[{label}]"
                    if case is not None:
                        case.node_id = self.node_ids[position]

    def _contradiction(self) -> str | None:
        """Only "declared > 0, found 0": pytest counts a case that fails in call and errors in teardown twice."""
        for suite in self.suites:
            what = f"<{suite.tag}{f' name={suite.name!r}' if suite.name else ''}>"
            if suite.declared_tests and not suite.cases:
                return (f"report {self.where!r}: {what} declares {suite.declared_tests} tests but holds no test "
                        "case; its results cannot be trusted")
            if suite.declared_failing and not suite.failing:
                return (f"report {self.where!r}: {what} declares {suite.declared_failing} failures/errors but holds "
                        "no failing test case; its results cannot be trusted")
        return None
