"""The store's lock: one holder at a time, a bounded wait with a clear error, nothing left behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.stores.lock import lock_path, lock_timeout, store_lock

WAITER = """
import sys
from pathlib import Path
from sharder.stores.lock import store_lock
with store_lock(sys.argv[1], timeout=120):
    Path(sys.argv[2]).write_text("got it", encoding="utf-8")
"""


def test_a_second_holder_waits_then_gives_up_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    with store_lock(path):
        assert lock_path(path).exists()
        with pytest.raises(SharderError) as caught, store_lock(path, timeout=0.1):
            pass
    message = str(caught.value)
    assert "durations.json is being updated by another sharder" in message and "\n" not in message
    assert "after 0.1 s" in message and "SHARDER_LOCK_TIMEOUT" in message
    assert f"held by process {os.getpid()}" in message
    assert not lock_path(path).exists()  # released: the sidecar is gone, nothing for `git add -A` to pick up
    with store_lock(path, timeout=0):
        pass


def test_a_waiting_process_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    path, marker = tmp_path / "durations.json", tmp_path / "marker"
    with store_lock(path):
        waiter = subprocess.Popen([sys.executable, "-c", WAITER, str(path), str(marker)])
        with contextlib.suppress(subprocess.TimeoutExpired):
            waiter.wait(timeout=1.0)
        assert not marker.exists()  # it cannot have had the lock while this process held it
    assert waiter.wait(timeout=120) == 0
    assert marker.read_text(encoding="utf-8") == "got it" and not lock_path(path).exists()


def test_a_sidecar_left_by_a_killed_holder_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    lock_path(path).write_text("12345\n", encoding="utf-8")  # the kernel released the dead holder's flock
    with store_lock(path, timeout=0):
        assert lock_path(path).read_text(encoding="utf-8").strip().isdigit()
    assert not lock_path(path).exists()


@pytest.mark.parametrize("text", ["soon", "-1", "inf", "nan"])
def test_a_bad_timeout_setting_is_refused(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARDER_LOCK_TIMEOUT", text)
    with pytest.raises(SharderError, match="SHARDER_LOCK_TIMEOUT"):
        lock_timeout()
    monkeypatch.setenv("SHARDER_LOCK_TIMEOUT", "2.5")
    assert lock_timeout() == 2.5


def test_a_lock_file_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    with store_lock(tmp_path / "new-dir" / "durations.json", timeout=0):  # a first store's directory is made
        pass
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    with pytest.raises(SharderError, match="cannot create the lock file"), store_lock(tmp_path / "a-file" / "x.json"):
        pass
