"""Each case's bytes as the reader keeps them for a writer, and the splicing that adds the merge's properties."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from sharder.reports import safe_xml
from sharder.reports.case_xml import flatten_markup, with_additions
from sharder.reports.junit import read_report

CASES = [
    '<testcase classname="a" name="empty" time="0.1"/>',
    '<testcase classname="a" name="spaced" time="0.1" ></testcase >',
    '<testcase classname="a" name="gt" data="x>y" time="0.1"><properties/></testcase>',
    '<testcase classname="a" name="props" time="0.1">\n <properties>\n  <property name="k" value="v"/>\n </properties>'
    '<failure message="m"><![CDATA[<b> & c]]></failure></testcase>',
    '<testcase classname="a" name="comment" time="0.1"><!-- kept --><system-out>o &amp; &#13;</system-out></testcase>',
]


def _report(tmp_path: Path, cases: list[str], head: str = "", encoding: str = "utf-8") -> Path:
    path = tmp_path / "r.xml"
    path.write_bytes(f'{head}<testsuites><testsuite name="s">{"".join(cases)}</testsuite></testsuites>'.encode(encoding))
    return path


def _fragments(path: Path) -> list[tuple[bytes, int, int]]:
    report = read_report(path, keep_xml=True)
    assert report.xml is not None
    found = list(report.xml.fragments())
    report.xml.close()
    assert len(found) == len(report.cases)
    return found


@pytest.mark.parametrize("chunk", [safe_xml.CHUNK_BYTES, 1, 7, 64])
def test_a_cases_bytes_are_kept_as_written_wherever_chunks_end(
    chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safe_xml, "CHUNK_BYTES", chunk)
    found = _fragments(_report(tmp_path, CASES))
    assert [fragment.decode() for fragment, _, _ in found] == CASES
    properties_at = [at for _, at, _ in found]
    assert properties_at[:2] == [-1, -1]  # no child element
    assert found[2][0][properties_at[2]:].startswith(b"/></testcase>")  # at the "/>" of an empty <properties/>
    assert found[3][0][properties_at[3]:].startswith(b"</properties>")
    assert found[4][0][properties_at[4]:].startswith(b"<system-out>")  # no <properties>: its first child


def test_a_rerun_keeps_the_first_place_and_the_last_bytes(tmp_path: Path) -> None:
    cases = ['<testcase classname="a" name="t" time="1"><failure message="first"/><flakyFailure/></testcase>',
             '<testcase classname="a" name="u" time="1"/>',
             '<testcase classname="a" name="t" time="2"><flakyFailure/><flakyFailure/></testcase>']
    found = _fragments(_report(tmp_path, cases))
    assert [fragment.decode() for fragment, _, _ in found] == [cases[2], cases[1]]
    assert [earlier for _, _, earlier in found] == [2, 0]  # the earlier-attempt children the kept bytes hold


def _through_tree(case: str, namespaces: str = "") -> bytes:
    element = ElementTree.fromstring(f"<w {namespaces}>{case}</w>")[0] if namespaces else ElementTree.fromstring(case)
    flatten_markup(element)
    element.tail = None
    return ElementTree.tostring(element, encoding="unicode").encode()


def _canonical(xml: bytes) -> str:
    return ElementTree.canonicalize(xml.decode("utf-8"))


@pytest.mark.parametrize(("head", "encoding", "case"), [
    ('<?xml version="1.0" encoding="iso-8859-1"?>', "latin-1", '<testcase classname="é" name="t" time="1">'
                                                               '<failure message="é">ü</failure></testcase>'),
    ('<?xml version="1.0" encoding="cp1252"?>', "cp1252", '<testcase classname="a" name="t€" time="1">'
                                                          '<failure message="m"/></testcase>'),
    ("\ufeff", "utf-16-le", '<testcase classname="a" name="t€" time="1"><properties><property name="k" value="v"/>'
                            '</properties></testcase>'),
    ("", "utf-8", '<testcase classname="a" name="t" time="1"><system-out>a<x>b<y>c</y></x>d</system-out>'
                  '<properties><property name="k" value="v"><junk/>text</property></properties></testcase>'),
    ("", "utf-8", '<testcase classname="a" name="t" time="1">x<?target data?>y<failure message="m"/></testcase>'),
])
def test_a_case_that_cannot_stand_alone_goes_through_the_tree(
    head: str, encoding: str, case: str, tmp_path: Path
) -> None:
    ((fragment, properties_at, _),) = _fragments(_report(tmp_path, [case], head, encoding))
    assert fragment == _through_tree(case)
    assert fragment[properties_at:].startswith(b"</properties>" if "<properties>" in case else b"<failure")


def test_a_prefix_declared_outside_the_case_comes_with_it(tmp_path: Path) -> None:
    case = '<testcase classname="a" name="t" q:flag="1" time="1"><q:note>n</q:note></testcase>'
    path = tmp_path / "r.xml"
    path.write_text(f'<testsuites xmlns:q="urn:q"><testsuite name="s">{case}</testsuite></testsuites>', encoding="utf-8")
    ((fragment, _, _),) = _fragments(path)
    assert fragment == _through_tree(case, 'xmlns:q="urn:q"')
    assert b'xmlns:ns0="urn:q"' in fragment  # declared in the fragment itself: it stands alone in any document


@pytest.mark.parametrize(("fragment", "properties_at", "expected"), [
    (b'<testcase a="1"/>', -1, b'<testcase a="1"><properties><p/></properties><c/></testcase>'),
    (b'<testcase a="1" />', -1, b'<testcase a="1" ><properties><p/></properties><c/></testcase>'),
    (b'<testcase a=">"></testcase>', -1, b'<testcase a=">"><properties><p/></properties><c/></testcase>'),
    (b"<testcase a='\">'>x</testcase>", -1, b"<testcase a='\">'>x<properties><p/></properties><c/></testcase>"),
    (b"<testcase>t<failure/>u</testcase>", 11, b"<testcase>t<properties><p/></properties><failure/>u<c/></testcase>"),
    (b'<testcase><properties/>t</testcase >', 21, b'<testcase><properties><p/></properties>t<c/></testcase >'),
    (b"<testcase><properties><q/></properties></testcase>", 26,
     b'<testcase><properties><q/><p/></properties><c/></testcase>'),
])
def test_additions_are_spliced_where_elementtree_put_them(fragment: bytes, properties_at: int, expected: bytes) -> None:
    assert with_additions(fragment, properties_at, b"<p/>", b"<c/>") == expected
    case = ElementTree.fromstring(fragment)  # what the merge did before: SubElement and insert(0) on the tree
    properties = case.find("properties")
    if properties is None:
        properties = ElementTree.Element("properties")
        case.insert(0, properties)
    ElementTree.SubElement(properties, "p")
    ElementTree.SubElement(case, "c")
    assert _canonical(ElementTree.tostring(case)) == _canonical(expected)


def test_no_additions_leave_the_bytes_alone() -> None:
    assert with_additions(b'<testcase a="1"/>', -1, b"", b"") == b'<testcase a="1"/>'
    assert with_additions(b'<testcase a="1"/>', -1, b"", b"<c/>") == b'<testcase a="1"><c/></testcase>'
