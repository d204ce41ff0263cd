"""The supervised launch, in this process: pytest's stand-in runs in a session of its own, a signal to us is
passed on to its whole group, and one that came between two launches is not lost.

The signals here are sent to this test process itself while `supervising()` has its handlers installed (they
are restored after); the end-to-end cases, with the real CLI and a real pytest, are in tests/faults/test_cancel.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sharder.core.errors import Cancelled
from sharder.running import supervision

# A pytest stand-in that hangs its own process group up: it lives on only if the hangup is ignored, as inherited.
IGNORES_HANGUPS = """
import os, signal, sys
assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
os.killpg(0, signal.SIGHUP)
open(sys.argv[1], "w").write("survived")
"""
IDENTITY = "import json, os, sys; json.dump([os.getpid(), os.getpgid(0), os.getsid(0)], open(sys.argv[1], 'w'))"
# Tells its parent (this test process) to stop, then sleeps in a child of its own, as a test would.
SIGNALS_PARENT = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open(sys.argv[1], "w").write(str(child.pid))
os.kill(os.getppid(), signal.SIGTERM)
time.sleep(300)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_the_child_leads_a_session_and_group_of_its_own(tmp_path: Path) -> None:
    out = tmp_path / "identity.json"
    assert supervision.call([sys.executable, "-c", IDENTITY, str(out)]) == 0
    pid, pgid, sid = json.loads(out.read_text())
    assert pid == pgid == sid and sid != os.getsid(0)


def test_a_raw_exit_code_and_a_death_by_signal_come_back_as_they_are() -> None:
    assert supervision.call([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert supervision.call([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]) == -signal.SIGKILL


@pytest.mark.timeout(120, method="thread")
@pytest.mark.parametrize("without_reaping", [True, False], ids=["waitid-WNOWAIT", "reaping-first-as-on-macOS"])
def test_a_sigterm_to_us_reaches_the_whole_group_and_raises_cancelled(
    without_reaping: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervision, "_CAN_WAIT_WITHOUT_REAPING", without_reaping)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Cancelled) as cancel:
        supervision.call([sys.executable, "-c", SIGNALS_PARENT, str(tmp_path / "child")])
    assert cancel.value.signum == signal.SIGTERM and cancel.value.exit_code == 143
    assert "cancelled by SIGTERM: sent on to pytest's process group, which has stopped" in str(cancel.value)
    assert _gone(int((tmp_path / "child").read_text()))  # the grandchild, SIGKILLed with the group
    assert signal.getsignal(signal.SIGTERM) == previous


@pytest.fixture
def hangups_not_ignored() -> Iterator[None]:
    """SIGHUP at its default, whatever this run inherited (`nohup` makes it ignored), restored after."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGHUP, previous)


@pytest.mark.usefixtures("hangups_not_ignored")
def test_a_signal_between_two_launches_stops_the_next_one_and_the_block(tmp_path: Path) -> None:
    with pytest.raises(Cancelled) as cancel, supervision.supervising():
        os.kill(os.getpid(), signal.SIGHUP)  # handled: no pytest running, nothing to forward yet
        with pytest.raises(Cancelled):
            supervision.start([sys.executable, "-c", IDENTITY, str(tmp_path / "never")])
    assert cancel.value.signum == signal.SIGHUP and cancel.value.exit_code == 129
    assert not (tmp_path / "never").exists()
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL


@pytest.mark.usefixtures("hangups_not_ignored")
def test_a_signal_ignored_before_supervision_stays_ignored_for_sharder_and_its_pytest(tmp_path: Path) -> None:
    """`nohup sharder local`: the hangup that closes the terminal neither cancels sharder nor stops its pytest."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with supervision.supervising():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGHUP)
        code = supervision.call([sys.executable, "-c", IGNORES_HANGUPS, str(tmp_path / "survived")])
    assert code == 0
    assert (tmp_path / "survived").read_text() == "survived"
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
