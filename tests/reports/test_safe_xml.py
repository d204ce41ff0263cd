"""The streamed reader refuses what the tree reader refuses, with the same line, wherever the file's chunks end."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.reports import safe_xml
from sharder.reports.junit import CorruptReport, parse_xml_root, read_report
from tests.faults.test_xml_attacks import GOOD_CASE, REFUSED, _suite

BROKEN = {
    **REFUSED,
    "non-UTF-8 bytes": _suite(GOOD_CASE).replace("test_ok", "test_\xff").encode("latin-1"),
    "an undefined entity": _suite('<testcase classname="a" name="&foo;"/>'),
    "junk after the root": _suite(GOOD_CASE) + "<testsuite/>",
    "an unbound namespace prefix": _suite('<testcase classname="a" name="b" p:x="1"/>'),
}


def _error(read: object, path: Path) -> tuple[type[BaseException], str]:
    with pytest.raises(SharderError) as caught:
        read(path)  # type: ignore[operator]
    return caught.type, str(caught.value)


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("chunk", [safe_xml.CHUNK_BYTES, 7, 1])
def test_stream_and_tree_refuse_alike(name: str, chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = BROKEN[name]
    path = tmp_path / "report.xml"
    path.write_bytes(document.encode("utf-8") if isinstance(document, str) else document)
    expected = _error(parse_xml_root, path)
    monkeypatch.setattr(safe_xml, "CHUNK_BYTES", chunk)
    assert _error(read_report, path) == expected
    assert _error(lambda p: read_report(p, keep_xml=True), path) == expected


def test_a_doctype_cut_by_a_chunk_is_refused_before_a_case_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.xml"
    path.write_text(REFUSED["billion laughs entity bomb"], encoding="utf-8")
    monkeypatch.setattr(safe_xml, "CHUNK_BYTES", 3)
    with pytest.raises(SharderError, match="has a DOCTYPE; refused") as caught:
        read_report(path, keep_xml=True)
    assert caught.type is SharderError  # a hostile file is a usage error, never a shard that died writing


def test_a_report_cut_anywhere_is_corrupt_not_short(tmp_path: Path) -> None:
    whole = _suite(GOOD_CASE * 3).encode()
    path = tmp_path / "report.xml"
    for cut in range(1, len(whole)):
        path.write_bytes(whole[:cut])
        with pytest.raises(CorruptReport):
            read_report(path, keep_xml=True)
