"""Reading JUnit XML from any producer safely, and mapping its test cases back to pytest node ids.

Parsing goes through defusedxml with DTDs forbidden: no entity expansion (billion laughs, quadratic blowup),
no external entities, no network. junitparser normalises the root (a bare `<testsuite>` or `<testsuites>`); the
cases are then read straight from the ElementTree elements, because junitparser's per-element wrappers cost
several microseconds per attribute and a merge reads hundreds of thousands of cases.

Mapping a case to a node id, in order of trust:
1. the `sharder_nodeid` property sharder's plugin writes on every case;
2. forward mangling: pytest's classname is the node id's path and classes joined by dots (`tests.test_io.TestX`),
   which cannot be turned back into a path, so each known id is turned forward into (classname, name) and looked up;
3. otherwise `classname::name` (or the xunit1 `file` attribute when present), so foreign runners still get a
   stable, unique key.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeElementTree
from junitparser import JUnitXml

from sharder.errors import SharderError
from sharder.junit_names import NODEID_PROPERTY, SHARD_PROPERTY
from sharder.nodeid import forward_key


class CorruptReport(SharderError):
    """A report that is not well-formed (truncated, empty, bad bytes): a shard that died while writing it, or a
    broken upload. Unlike a hostile or foreign file, a merge can go on and count that shard as unreported."""


@dataclass
class CaseResult:
    node_id: str
    outcome: str  # passed | failed | error | skipped
    seconds: float
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None
    # Failed attempts before this result (Maven surefire's <flakyFailure>/<rerunFailure> children): a case that
    # passed with earlier failures is flaky.
    earlier_failures: int = 0
    element: ElementTree.Element | None = field(default=None, repr=False, compare=False)

    @property
    def shard(self) -> str | None:
        return self.properties.get(SHARD_PROPERTY)


@dataclass
class Report:
    path: str
    cases: list[CaseResult]
    suite_properties: dict[str, str]
    suite_timestamps: list[str] = field(default_factory=list)


def parse_xml_root(path: str | os.PathLike[str]) -> ElementTree.Element:
    """Parse with every XML trick refused; any failure is a one-line `SharderError` naming the file."""
    name = os.fspath(path)
    try:
        tree = SafeElementTree.parse(name, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except FileNotFoundError:
        raise SharderError(f"report {name!r} does not exist") from None
    except IsADirectoryError:
        raise SharderError(f"report {name!r} is a directory") from None
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
_EARLIER_FAILURES = frozenset({"flakyFailure", "flakyError", "rerunFailure", "rerunError"})


def _outcome(case: ElementTree.Element) -> tuple[str, str, int]:
    """(outcome, message, earlier failed attempts); a failure or error wins over a skip, as in junitparser."""
    outcome, message, earlier = "passed", "", 0
    for result in case:
        tag = result.tag
        if tag in _RESULT_OUTCOMES:
            if outcome not in ("failed", "error"):
                outcome, message = _RESULT_OUTCOMES[tag], (result.get("message") or result.text or "").strip()
        elif tag == "skipped":
            if outcome == "passed":
                outcome, message = "skipped", (result.get("message") or "").strip()
        elif tag in _EARLIER_FAILURES:
            earlier += 1
    return outcome, message, earlier


def _properties(element: ElementTree.Element) -> dict[str, str]:
    found: dict[str, str] = {}
    properties = element.find("properties")
    if properties is not None:
        for prop in properties.iter("property"):
            found[prop.get("name", "")] = prop.get("value", "")
    return found


def _suites(xml: JUnitXml) -> Iterator[ElementTree.Element]:
    """Every suite element, nested ones included (some producers nest testsuite elements), in document order."""
    pending: list[ElementTree.Element] = [suite._elem for suite in reversed(list(xml))]
    while pending:
        suite = pending.pop()
        yield suite
        pending.extend(reversed(suite.findall("testsuite")))


def _seconds(text: str | None) -> float:
    try:
        seconds = float(text or 0.0)
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


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


def report_from_root(
    root: ElementTree.Element,
    path: str | os.PathLike[str],
    index: Mapping[tuple[str, str], str] | None = None,
    *,
    keep_elements: bool = False,
) -> Report:
    """`read_report` on an already parsed root; `keep_elements` keeps each case's element on its `CaseResult`,
    for a caller that writes the cases out again."""
    xml = JUnitXml.fromroot(root)  # type: ignore[arg-type]  # junitparser wraps any ElementTree element
    suite_properties = _properties(root) if root.tag == "testsuite" else {}
    cases: list[CaseResult] = []
    timestamps: list[str] = []
    for suite in _suites(xml):
        for key, value in _properties(suite).items():
            suite_properties.setdefault(key, value)
        timestamps.append(suite.get("timestamp") or "")
        for case in suite.iterfind("testcase"):
            properties = _properties(case)
            classname, name = case.get("classname") or "", case.get("name") or ""
            node_id = properties.get(NODEID_PROPERTY)
            if not node_id and index is not None:
                node_id = index.get((classname, name))
            file_attr = case.get("file")
            if not node_id:
                node_id = f"{file_attr or classname}::{name}" if (file_attr or classname) else name
            outcome, message, earlier = _outcome(case)
            cases.append(CaseResult(
                node_id, outcome, _seconds(case.get("time")), message, properties,
                file=file_attr, line=_line(case.get("line")), earlier_failures=earlier,
                element=case if keep_elements else None,
            ))
    return Report(os.fspath(path), cases, suite_properties, timestamps)


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
