"""Atomic writes keep the permissions a plain write would give (mkstemp alone makes every file 0600), and a writer
killed mid-write leaves the old file and nothing beside it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sharder.core import atomic
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


KILLED_WRITER = """
import sys, time
from sharder.core.atomic import AtomicFile
output = AtomicFile(sys.argv[1])
output.write(b"new, half written")
print("writing", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_writer_killed_mid_write_leaves_the_old_file_and_nothing_else(tmp_path: Path, signal_number: int) -> None:
    """A merge streams into its output for as long as it reads: killed then, no temp file may stay beside it."""
    target = tmp_path / "merged.xml"
    target.write_bytes(b"old")
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"writing\n"
    finally:
        child.send_signal(signal_number)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.xml"]
    assert target.read_bytes() == b"old"


def test_without_unnamed_files_a_named_temp_file_is_committed_or_removed(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic, "_unnamed_file", lambda directory: None)
    kept = atomic.AtomicFile(tmp_path / "kept.xml")
    kept.write(b"0123456789")
    kept.write_at(0, b"ab")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kept.xml.")]  # named while it is written
    kept.commit()
    dropped = atomic.AtomicFile(tmp_path / "dropped.xml")
    dropped.write(b"x")
    dropped.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.xml"]
    assert (tmp_path / "kept.xml").read_bytes() == b"ab23456789"
