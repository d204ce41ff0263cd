"""Runs of plain cases read in bulk (`plain_runs`) give exactly what expat's events give, and never let through a
document expat refuses: every document here is read by the stream (runs taken wherever the reader allows) and by
a walk of the tree defusedxml parses, and the two must agree, errors included."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from sharder.commands.merge_command import merge_and_report
from sharder.core.errors import SharderError
from sharder.reports import plain_runs, safe_xml
from sharder.reports.junit import Report, parse_xml_root, read_report, report_from_root


@contextlib.contextmanager
def runs_from(size: int, chunk: int = safe_xml.CHUNK_BYTES) -> Iterator[None]:
    """Runs taken from `size` bytes on (10**12: never), read in chunks of `chunk` bytes."""
    saved = plain_runs.MIN_RUN_BYTES, safe_xml.CHUNK_BYTES
    plain_runs.MIN_RUN_BYTES, safe_xml.CHUNK_BYTES = size, chunk  # hypothesis and monkeypatch do not mix
    try:
        yield
    finally:
        plain_runs.MIN_RUN_BYTES, safe_xml.CHUNK_BYTES = saved


def _summary(read: Any) -> object:
    try:
        report: Report = read()
    except SharderError as exc:
        return type(exc).__name__, str(exc).split(" (")[0]  # expat's column moves when runs are skipped
    cases = [(c.node_id, c.outcome, c.seconds, c.message, dict(c.properties), c.file, c.line, c.earlier_failures,
              c.timed, c.named, c.folded_messages) for c in report.cases]
    return cases, report.suite_properties, report.suite_timestamps, report.contradiction


def _plain(classname: str, name: str, time: str = "0.010", space: str = " ") -> str:
    return f'<testcase classname="{classname}" name="{name}" time="{time}"{space}/>'


def _run(prefix: str, count: int) -> str:
    return "".join(_plain("tests.test_m", f"{prefix}{i}") for i in range(count))


def _taken(path: Path, known: dict[tuple[str, str], str] | None = None) -> tuple[object, list[bytes], int]:
    """The stream's summary, each case's kept XML, and how many runs were taken."""
    kept: list[bytes] = []
    runs = 0

    def read() -> Report:
        nonlocal runs
        report = read_report(path, known, keep_xml=True)
        assert report.xml is not None
        runs = len(report.xml.runs)
        kept.extend(fragment for fragment, _, _ in report.xml.fragments())
        report.xml.close()
        return report

    return _summary(read), kept, runs


def _tree(path: Path, known: dict[tuple[str, str], str] | None = None) -> object:
    return _summary(lambda: report_from_root(parse_xml_root(path), path, known))


SEGMENTS = st.one_of(
    st.builds(lambda n, p: _run(p, n), st.integers(1, 40), st.sampled_from(["t", "u", "é", "a b", ""])),
    st.sampled_from([
        _plain("tests.test_m", "t3"),  # a rerun of a case some run may hold
        _plain("", "bare"), _plain("", ""), _plain("tests.test_m", "late", "nan"), _plain("c", "slow", "2e7"),
        _plain("c", "neg", "-1"), _plain("c", "w", "1", "\n "), '<testcase classname="c" name="f" time="1">'
        '<failure message="boom">tb</failure></testcase>', "\n  ", "<system-out>out</system-out>",
        '<properties><property name="sharder_shard" value="1/2"/></properties>',
        '<testsuite name="inner">' + _run("n", 20) + "</testsuite>",
        '<testcase classname="tests.test_m" name="p"><properties><property name="sharder_nodeid" '
        'value="tests/test_m.py::t1"/></properties></testcase>',
    ]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(SEGMENTS, max_size=12), index=st.booleans(), chunk=st.sampled_from([1 << 20, 97, 7]))
def test_runs_read_as_expat_reads_every_case(tmp_path: Path, segments: list[str], index: bool, chunk: int) -> None:
    path = tmp_path / "r.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
                    + "".join(segments) + "</testsuite></testsuites>", encoding="utf-8")
    known = {("tests.test_m", "t1"): "tests/test_m.py::t1", ("tests.test_m", "u2"): "tests/test_m.py::u2"}
    expected = _tree(path, known if index else None)
    with runs_from(1, chunk):
        taken, kept, _ = _taken(path, known if index else None)
    with runs_from(10**12, chunk):
        untaken, kept_by_expat, runs = _taken(path, known if index else None)
    assert runs == 0
    assert taken == untaken == expected
    assert kept == kept_by_expat


def test_a_big_plain_report_is_read_in_runs_and_merges_to_the_same_bytes(tmp_path: Path) -> None:
    """The pytest-shaped report bench/merge.py times: its runs are taken (the bulk path is not dead code), and the
    merged report is byte for byte the one the case-by-case path writes."""
    cases = []
    for i in range(3000):
        if i % 100 == 7:
            cases.append(f'<testcase classname="tests.test_m{i // 200}" name="test_{i}" time="0.00{i % 10}">'
                         '<failure message="assert 1 == 2">E  assert 1 == 2</failure></testcase>')
        else:
            cases.append(_plain(f"tests.test_m{i // 200}", f"test_{i}", f"0.00{i % 10}"))
    path = tmp_path / "junit.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" '
                    f'tests="3000" failures="30">{"".join(cases)}</testsuite></testsuites>', encoding="utf-8")
    taken, _, runs = _taken(path)
    assert runs >= 29  # one between each two failures
    assert taken == _tree(path)
    outputs = []
    for size in (plain_runs.MIN_RUN_BYTES, 10**12):
        with runs_from(size):
            output = tmp_path / f"merged-{size}.xml"
            assert merge_and_report([path], output=output) == 1  # 30 failures
            outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"<testcase ") == 3000


HOSTILE = {
    # a run inside a start tag's attribute value: skipping it would leave `<testsuite name="x">`, well-formed
    "inside an attribute": '<testsuites><testsuite name="x{run}">' + _plain("a", "z") + "</testsuite></testsuites>",
    "inside an attribute after a >": '<testsuites><testsuite name="x>{run}"></testsuite></testsuites>',
    "in a comment": "<testsuites><testsuite><!-- {run} -->" + _plain("a", "z") + "</testsuite></testsuites>",
    "in CDATA": "<testsuites><testsuite><system-out><![CDATA[{run}]]></system-out></testsuite></testsuites>",
    "in a processing instruction": "<testsuites><testsuite><?pi {run} ?></testsuite></testsuites>",
    "after the root": "<testsuites><testsuite></testsuite></testsuites>{run}",
    "before the root": "{run}<testsuites></testsuites>",
    "in a skipped element": "<testsuites><testsuite><system-out>{run}</system-out></testsuite></testsuites>",
    "in a case": '<testsuites><testsuite><testcase name="o">{run}</testcase></testsuite></testsuites>',
    "in properties": "<testsuites><testsuite><properties>{run}</properties></testsuite></testsuites>",
    "under a default namespace": '<testsuites xmlns="urn:x"><testsuite>{run}</testsuite></testsuites>',
    "under a prefix": '<testsuites xmlns:j="urn:j"><testsuite>{run}</testsuite></testsuites>',
    "unclosed root": "<testsuites><testsuite>{run}",
}


@pytest.mark.parametrize("where", sorted(HOSTILE))
def test_a_run_where_expat_would_refuse_or_ignore_it_is_left_to_expat(tmp_path: Path, where: str) -> None:
    path = tmp_path / "r.xml"
    path.write_text(HOSTILE[where].replace("{run}", _run("t", 60)), encoding="utf-8")
    with runs_from(1):
        taken, _, _ = _taken(path)
    assert taken == _tree(path)


@pytest.mark.parametrize(("what", "data"), [
    ("bytes that are not UTF-8", b"\xff\xfe".join([b"tests.a", b"b"])),
    ("U+FFFF", "x\uffffy".encode()),
    ("U+FFFE", "x\ufffey".encode()),
    ("a lone surrogate, encoded", b"x\xed\xa0\x80y"),
])
def test_a_run_with_characters_xml_forbids_is_refused_as_expat_refuses_it(tmp_path: Path, what: str,
                                                                          data: bytes) -> None:
    path = tmp_path / "r.xml"
    run = _run("t", 30).encode()
    path.write_bytes(b"<testsuites><testsuite>" + run + b'<testcase classname="c" name="' + data + b'" time="1"/>'
                     + run.replace(b'"t', b'"v') + b"</testsuite></testsuites>")
    with runs_from(1):
        taken, _, _ = _taken(path)
    assert taken == _tree(path)
    assert isinstance(taken, tuple) and taken[0] == "CorruptReport", what


@pytest.mark.parametrize("declaration", [
    '<?xml version="1.0" encoding="iso-8859-1"?>', '<?xml version="1.0" encoding="UTF-8"?>', "",
    '<?xml version="1.0"?>', '<?xml-stylesheet href="s.xsl"?>',
])
def test_the_declared_encoding_decides_whether_runs_are_taken(tmp_path: Path, declaration: str) -> None:
    path = tmp_path / "r.xml"
    encoding = "iso-8859-1" if "8859" in declaration else "utf-8"
    path.write_bytes((declaration + "<testsuites><testsuite>" + _run("é", 40) + "</testsuite></testsuites>")
                     .encode(encoding))
    with runs_from(1):
        taken, _, runs = _taken(path)
    assert taken == _tree(path)
    assert isinstance(taken, tuple) and len(taken[0]) == 40 and taken[0][0][0] == "tests.test_m::é0"
    assert runs == (1 if encoding == "utf-8" and "stylesheet" not in declaration else 0)
