"""Reading JUnit XML from any producer safely, and mapping its test cases back to pytest node ids.

Parsing goes through defusedxml with DTDs forbidden: no entity expansion (billion laughs, quadratic blowup),
no external entities, no network. The parsed tree is then read through junitparser's model.

Mapping a case to a node id, in order of trust:
1. the `sharder_nodeid` property sharder's plugin writes on every case;
2. forward mangling: pytest's classname is the node id's path and classes joined by dots (`tests.test_io.TestX`),
   which cannot be turned back into a path, so each known id is turned forward into (classname, name) and looked up;
3. otherwise `classname::name` (or the xunit1 `file` attribute when present), so foreign runners still get a
   stable, unique key.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeElementTree
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from sharder.errors import SharderError
from sharder.junit_names import NODEID_PROPERTY, SHARD_PROPERTY
from sharder.nodeid import parse_node_id


@dataclass
class CaseResult:
    node_id: str
    outcome: str  # passed | failed | error | skipped
    seconds: float
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def shard(self) -> str | None:
        return self.properties.get(SHARD_PROPERTY)


@dataclass
class Report:
    path: str
    cases: list[CaseResult]
    suite_properties: dict[str, str]


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
        raise SharderError(f"report {name!r} is not well-formed XML ({exc}); truncated or corrupt?") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise SharderError(f"report {name!r} has an unreadable encoding ({exc})") from None
    except OSError as exc:
        raise SharderError(f"cannot read report {name!r}: {exc.strerror}") from None
    root = tree.getroot()
    if root is None or root.tag not in ("testsuites", "testsuite"):
        tag = "none" if root is None else root.tag
        raise SharderError(f"report {name!r} is not JUnit XML (root element <{tag}>)")
    return root


def _outcome(case: TestCase) -> tuple[str, str]:
    for result in case.result:
        if isinstance(result, Failure | Error):
            kind = "error" if isinstance(result, Error) else "failed"
            return kind, (result.message or result.text or "").strip()
    for result in case.result:
        if isinstance(result, Skipped):
            return "skipped", (result.message or "").strip()
    return "passed", ""


def _properties(element: ElementTree.Element) -> dict[str, str]:
    found: dict[str, str] = {}
    properties = element.find("properties")
    if properties is not None:
        for prop in properties.findall("property"):
            found[prop.get("name", "")] = prop.get("value", "")
    return found


def _suites(xml: JUnitXml) -> Iterator[TestSuite]:
    """Every suite, nested ones included (some producers nest testsuite elements)."""
    pending = list(xml)
    while pending:
        suite = pending.pop(0)
        yield suite
        pending[0:0] = [TestSuite.fromelem(e) for e in suite._elem.findall("testsuite")]  # type: ignore[no-untyped-call]


def forward_key(node_id: str) -> tuple[str, str]:
    """(classname, name) that pytest's JUnit writer gives this node id."""
    parts = parse_node_id(node_id)
    path = parts.path[:-3] if parts.path.endswith(".py") else parts.path
    classname = ".".join([path.replace("/", "."), *parts.classes])
    return classname, parts.function + parts.params


def mangling_index(known_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for node_id in known_ids:
        index.setdefault(forward_key(node_id), node_id)
    return index


def read_report(path: str | os.PathLike[str], index: dict[tuple[str, str], str] | None = None) -> Report:
    root = parse_xml_root(path)
    xml = JUnitXml.fromroot(root)  # type: ignore[arg-type]  # junitparser wraps any ElementTree element
    suite_properties = _properties(root) if root.tag == "testsuite" else {}
    cases: list[CaseResult] = []
    for suite in _suites(xml):
        for key, value in _properties(suite._elem).items():
            suite_properties.setdefault(key, value)
        for case in suite:
            properties = _properties(case._elem)
            classname, name = case.classname or "", case.name or ""
            node_id = properties.get(NODEID_PROPERTY)
            if not node_id and index is not None:
                node_id = index.get((classname, name))
            if not node_id:
                file_attr = case._elem.get("file")
                node_id = f"{file_attr or classname}::{name}" if (file_attr or classname) else name
            outcome, message = _outcome(case)
            try:
                seconds = float(case._elem.get("time") or 0.0)
            except ValueError:
                seconds = 0.0
            cases.append(CaseResult(node_id, outcome, max(seconds, 0.0), message, properties))
    return Report(os.fspath(path), cases, suite_properties)


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
