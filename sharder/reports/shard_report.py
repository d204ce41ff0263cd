"""One shard, one JUnit file: the parallel part and the memory_intensive part of `sharder run` each write a report,
and this folds them into `reports/shard-K-of-N.xml` (written atomically), so merge and replay see one shard.

The first report's `<testsuite>` receives the other's test cases and nested suites (cases at any depth, as
`sharder.reports.junit` reads them); its counters are summed; suite properties the
first lacks (a worker-less pass knows the plan identity sooner) are copied over.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree

from sharder.core.atomic import atomic_write_bytes
from sharder.reports.junit import CorruptReport, parse_xml_root

_COUNTERS = ("tests", "failures", "errors", "skipped")


# What a part's suite holds that must reach the combined report: cases and suites at any depth below it.
_CARRIED = frozenset({"testcase", "testsuite", "testsuites"})


def _first_suite(root: ElementTree.Element) -> ElementTree.Element | None:
    if root.tag == "testsuite":
        return root
    return root.find("testsuite")


def _later_suites(root: ElementTree.Element, first: ElementTree.Element) -> list[ElementTree.Element]:
    """The `<testsuite>`/`<testsuites>` siblings after a `<testsuites>` root's first suite, and cases straight
    under that root: they would be lost if only the first suite were carried over."""
    if root is first:
        return []
    return [child for child in root if child is not first and child.tag in _CARRIED]


def _number(element: ElementTree.Element, name: str) -> float:
    try:
        return float(element.get(name, "0"))
    except ValueError:
        return 0.0


def _add_counters(into: ElementTree.Element, other: ElementTree.Element) -> None:
    for name in _COUNTERS:
        if into.get(name) is not None or other.get(name) is not None:
            into.set(name, str(int(_number(into, name) + _number(other, name))))
    into.set("time", f"{_number(into, 'time') + _number(other, 'time'):.3f}")


def _merge_properties(into: ElementTree.Element, other: ElementTree.Element) -> None:
    theirs = other.find("properties")
    if theirs is None:
        return
    ours = into.find("properties")
    if ours is None:
        ours = ElementTree.Element("properties")
        into.insert(0, ours)
    have = {prop.get("name") for prop in ours.findall("property")}
    for prop in theirs.findall("property"):
        if prop.get("name") not in have:
            ours.append(prop)


def failures_in(path: str | os.PathLike[str]) -> int:
    """failures + errors in one report (for `--maxfail` across passes); 0 if unreadable."""
    try:
        root = parse_xml_root(path)
    except CorruptReport:
        return 0
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    return int(sum(_number(suite, "failures") + _number(suite, "errors") for suite in suites))


def combine_reports(parts: Sequence[Path], output: Path) -> int:
    """Fold the readable `parts` into `output`; returns how many parts went in (0: nothing written)."""
    base_root: ElementTree.Element | None = None
    base_suite: ElementTree.Element | None = None
    used = 0
    for part in parts:
        if not part.is_file():
            continue
        try:
            root = parse_xml_root(part)
        except CorruptReport:
            continue
        suite = _first_suite(root)
        if suite is None:
            continue
        used += 1
        if base_suite is None:
            base_root, base_suite = root, suite
            continue
        # every case and nested suite, not only the direct `<testcase>` children: the readers find cases at any
        # depth (see `sharder.reports.junit`), so a nested `<testsuite>` moves over whole, its cases and properties in it
        for child in list(suite):
            if child.tag in _CARRIED:
                base_suite.append(child)
        for extra in _later_suites(root, suite):
            base_suite.append(extra)
            _add_counters(base_suite, extra)
        _add_counters(base_suite, suite)
        _merge_properties(base_suite, suite)
    if base_root is None:
        return 0
    if base_root is not base_suite:
        for name in _COUNTERS:
            if base_root.get(name) is not None:
                base_root.set(name, base_suite.get(name, "0") if base_suite is not None else "0")
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output, ElementTree.tostring(base_root, encoding="utf-8", xml_declaration=True))
    return used
