"""The streamed reader and the walk of a parsed tree give the same report, on any JUnit-shaped document; a reader
that keeps the cases' XML gives the same report too, and bytes that parse on their own."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from sharder.core.errors import SharderError
from sharder.reports import safe_xml
from sharder.reports.junit import Report, parse_xml_root, read_report, report_from_root

TAGS = ["testsuites", "testsuite", "testcase", "testcase", "properties", "property", "failure", "error", "skipped",
        "system-out", "flakyFailure", "rerunFailure", "x"]
NAMES = ["name", "classname", "file", "time", "line", "message", "type", "value", "tests", "failures", "hostname"]
VALUES = st.sampled_from(["", "a", "b", "a.b", "t::x", "1", "0.5", "-1", "nan", "1,234.5", "2e7", "pytest.xfail",
                          "sharder_nodeid", "sharder_shard", "1/2", "tests/a.py", "tests.a", 'é<&>"', " m "])
TEXTS = st.sampled_from(["", "", "txt", " e & <x> ", "<![CDATA[c]]>", "<!-- c -->"])


def _element(tag: str, attributes: dict[str, str], text: str, children: list[str]) -> str:
    written = "".join(f" {name}={quoteattr(value)}" for name, value in attributes.items())
    inner = (text if text.startswith("<!") else escape(text)) + "".join(children)
    return f"<{tag}{written}>{inner}</{tag}>" if inner else f"<{tag}{written}/>"


def _elements(depth: int) -> st.SearchStrategy[str]:
    children = st.lists(_elements(depth + 1), max_size=4) if depth < 4 else st.just([])
    return st.builds(_element, st.sampled_from(TAGS), st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=4),
                     TEXTS, children)


DOCUMENTS = st.builds(_element, st.sampled_from(["testsuites", "testsuite"]),
                      st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=3), TEXTS,
                      st.lists(_elements(1), max_size=6))


def _summary(read: Any) -> object:
    try:
        report: Report = read()
    except SharderError as exc:
        return str(exc)
    cases = [(c.node_id, c.outcome, c.seconds, c.message, dict(c.properties), c.file, c.line, c.earlier_failures,
              c.timed, c.named, c.folded_messages) for c in report.cases]
    return cases, report.suite_properties, report.suite_timestamps, report.contradiction, report.suite_property_sets


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS, index=st.booleans(), chunk=st.sampled_from([safe_xml.CHUNK_BYTES, 5]))
def test_a_stream_and_a_tree_read_alike(tmp_path: Path, document: str, index: bool, chunk: int) -> None:
    path = tmp_path / "r.xml"
    path.write_text(document, encoding="utf-8")
    known = {("a", "b"): "tests/a.py::b", ("tests.a", "t::x"): "tests/a.py::t::x"} if index else None
    expected = _summary(lambda: report_from_root(parse_xml_root(path), path, known))
    original, safe_xml.CHUNK_BYTES = safe_xml.CHUNK_BYTES, chunk  # hypothesis and monkeypatch do not mix
    try:
        assert _summary(lambda: read_report(path, known)) == expected
        kept: list[bytes] = []

        def keeping() -> Report:
            report = read_report(path, known, keep_xml=True)
            assert report.xml is not None
            kept.extend(fragment for fragment, _, _ in report.xml.fragments())
            report.xml.close()
            return report

        assert _summary(keeping) == expected
    finally:
        safe_xml.CHUNK_BYTES = original
    for fragment in kept:
        assert ElementTree.fromstring(fragment).tag == "testcase"
