"""Input files are regular files of bounded size: the checks on real files, FIFOs, directories and symlinks.

The endless inputs (a symlink to /dev/zero, a sparse file) are attacked through the real CLI, under a memory
ceiling, in `tests/faults/test_bounds.py`; these are the cases safe to try in the test process itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.core.inputfile import LIMIT_ENV, BoundedInput, read_input


def test_a_regular_file_and_a_symlink_to_one_are_read_whole(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4000  # more than one read's worth would be if the size were not known
    (tmp_path / "d.json").write_bytes(data)
    (tmp_path / "link.json").symlink_to(tmp_path / "d.json")
    assert read_input(tmp_path / "d.json", "durations") == data
    assert read_input(tmp_path / "link.json", "durations") == data
    assert read_input(_empty(tmp_path), "durations") == b""


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    return path


@pytest.mark.timeout(30, method="signal")  # the unchecked open() of a FIFO waits for a writer forever
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "durations.json"
    os.mkfifo(fifo)
    with pytest.raises(SharderError, match=r"durations file '.*durations.json' is a FIFO \(named pipe\), not a "
                       r"regular file"):
        read_input(fifo, "durations")
    with pytest.raises(SharderError, match="is a FIFO"):
        BoundedInput(fifo, "report")


def test_a_directory_and_a_dangling_symlink_get_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SharderError, match=r"plan file '.*' is a directory"):
        read_input(tmp_path, "plan")
    (tmp_path / "plan.json").symlink_to(tmp_path / "gone.json")
    with pytest.raises(SharderError, match=r"plan file '.*plan.json' \(a symlink to '.*gone.json'\) does not exist"):
        read_input(tmp_path / "plan.json", "plan")
    with pytest.raises(SharderError, match=r"plan file '.*nope.json' does not exist"):
        read_input(tmp_path / "nope.json", "plan")


def test_a_symlink_to_a_device_names_the_device(tmp_path: Path) -> None:
    """Refused on the stat, before any open: reading /dev/zero never ends, and opening a device can do things."""
    (tmp_path / "durations.json").symlink_to("/dev/null")
    with pytest.raises(SharderError, match=r"\(a symlink to '/dev/null'\) is a character device, not a regular"):
        read_input(tmp_path / "durations.json", "durations")


def test_a_file_over_the_limit_is_refused_with_its_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.xml"
    path.write_bytes(b"x" * 3 * 1024 * 1024)
    monkeypatch.setenv(LIMIT_ENV, "2")
    with pytest.raises(SharderError, match=r"report file '.*report.xml' is 3 MB, over the 2 MB limit for an input "
                       rf"file \(set {LIMIT_ENV} to raise it\)"):
        read_input(path, "report")
    with pytest.raises(SharderError, match="over the 2 MB limit"):
        BoundedInput(path, "report")
    monkeypatch.setenv(LIMIT_ENV, "4")
    assert len(read_input(path, "report")) == 3 * 1024 * 1024


def test_a_streamed_file_stops_at_the_limit_even_if_it_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size is checked when the file is opened and counted while it is read: a file that grows past the
    limit after the open (a writer still appending) is cut off at the limit, not read to its end."""
    monkeypatch.setenv(LIMIT_ENV, "1")
    path = tmp_path / "report.xml"
    path.write_bytes(b"x" * 1000)
    with BoundedInput(path, "report") as source:
        with path.open("ab") as grower:
            grower.write(b"y" * 2 * 1024 * 1024)
        with pytest.raises(SharderError, match="grew past the limit while it was read"):
            while source.read(65536):
                pass


@pytest.mark.parametrize("value", ["0", "-1", "lots", "nan"])
def test_a_bad_limit_setting_is_one_line(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_ENV, value)
    with pytest.raises(SharderError, match=rf"{LIMIT_ENV}=.*expected a number of megabytes > 0"):
        read_input(_empty(tmp_path), "durations")
