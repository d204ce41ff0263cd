"""Reading JUnit XML from any producer safely, and mapping its test cases back to pytest node ids.

A report is streamed (`safe_xml.stream`: expat with DTDs and entities refused, as defusedxml refuses them) and
nothing of its document is kept: as its end tag is read, each case becomes its id and seconds, and a `CaseResult`
only when it is more than a plain pass (`Report.special`), so a report of a million cases costs its results, not
its element tree (2 GB before). A writer that copies the cases into another
report asks for `keep_xml`: each case's bytes are then spooled to a temporary file (`case_xml`). The cases are read
under any root (`<testsuite>` or `<testsuites>`) and at any depth; junitparser's view of a report stops at the
`<testsuite>` children of the root, so a nested `<testsuites>` or a bare `<testcase>` would go unseen, and its
per-element wrappers cost several microseconds per attribute. Runs of plain passes in pytest's own form skip expat's
events and are read in bulk (`plain_runs`, whose docstring says why that accepts and reads nothing expat would not).

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

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from sharder.core.collector import collector_paused
from sharder.core.errors import SharderError

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
    mangling_index,
    optional_number,
    parse_number,
)
from sharder.reports.junit_reader import ReportReader
from sharder.reports.safe_xml import CorruptReport, defused_parser, parse_root, release, stream

__all__ = [
    "EARLIER_FAILURE_TAGS", "MAX_TEST_SECONDS", "NO_PROPERTIES", "XFAIL_TYPE", "CaseResult", "CorruptReport",
    "LazyManglingIndex", "Report", "mangling_index", "optional_number", "parse_number", "parse_xml_root", "read_report",
    "report_files", "report_from_root",
]


def parse_xml_root(path: str | os.PathLike[str]) -> ElementTree.Element:
    """The whole tree, parsed with every XML trick refused; any failure is a one-line `SharderError` naming the
    file. For callers that edit a report as a tree; reading one is `read_report`'s job."""
    return parse_root(path)


def read_report(
    path: str | os.PathLike[str],
    index: Mapping[tuple[str, str], str] | None = None,
    *,
    keep_xml: bool = False,
) -> Report:
    """Every test case of a report, mapped to a node id (see the module docstring for how), read as a stream;
    `keep_xml` also spools each case's XML (`Report.xml`), for a caller that writes the cases out again."""
    where = os.fspath(path)
    parser = defused_parser()
    capture = CaseCapture(parser) if keep_xml else None
    reader = ReportReader(where, index, parser, capture)
    try:
        with collector_paused():
            stream(where, parser, capture, reader)
            return reader.report()
    except BaseException:
        if capture is not None:
            capture.discard()
        raise
    finally:
        # The parser holds the reader's methods and the reader the parser: without this, the cases would wait
        # for the cyclic collector to be freed.
        release(parser)
        reader.parser = None


def report_from_root(
    root: ElementTree.Element,
    path: str | os.PathLike[str],
    index: Mapping[tuple[str, str], str] | None = None,
) -> Report:
    """`read_report` on an already parsed tree (`parse_xml_root`): its elements are handed to the same reader, in
    document order, so a tree and a stream always give the same report."""
    reader = ReportReader(os.fspath(path), index, None, None)
    stack: list[Iterator[ElementTree.Element]] = [iter((root,))]
    while stack:
        element = next(stack[-1], None)
        if element is None:
            stack.pop()
            if stack:
                reader.end("")
            continue
        reader.start(element.tag, element.attrib)
        if reader.text is not None:
            reader.add_text(element.text or "")
        stack.append(iter(element))
    return reader.report()


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
