"""Atomic writes keep the permissions a plain write would give (mkstemp alone makes every file 0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sharder.core.atomic import atomic_write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode_not_0600(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "durations.json", "{}\n")
        plain = tmp_path / "plain.json"
        plain.write_text("{}\n")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "durations.json") == _mode(plain) == 0o644


def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old\n")
    target.chmod(0o640)
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert _mode(target) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temp file left behind


def test_data_in_pieces_lands_whole_or_not_at_all(tmp_path: Path) -> None:
    from sharder.core.atomic import atomic_write_chunks

    target = tmp_path / "merged.xml"
    target.write_text("old\n")

    def pieces() -> Iterator[bytes]:
        yield b"<a>"
        raise KeyboardInterrupt  # the merge cancelled halfway through its spool

    with pytest.raises(KeyboardInterrupt):
        atomic_write_chunks(target, pieces())
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["merged.xml"]
    atomic_write_chunks(target, iter([b"<a>", b"</a>", b"\n"]))
    assert target.read_bytes() == b"<a></a>\n"
