"""pytest's process groups: a CI cancel reaches all of pytest, and nothing of pytest outlives sharder.

Why: a CI agent cancels a job by signalling the process it started (GitHub Actions' runner: SIGINT to the step's
entry process, SIGTERM 7.5 s later, 2.5 s after that it kills the process tree; other agents SIGTERM, then SIGKILL
after a grace period of their own). sharder used to exit 143 at once while pytest, unsignalled, ran on under PID 1
and wrote its report seconds later, which a later merge believed.

So every pytest sharder starts:

- runs in a session of its own (`setsid`): its group is pytest, its xdist workers and whatever its tests start,
  and a terminal's Ctrl-C or a `kill -- -PGID` of sharder's group reaches sharder alone, which decides;
- gets SIGTERM, SIGHUP and SIGINT forwarded to that whole group while sharder waits for it (one that was
  ignored when sharder started stays ignored, by sharder and, inherited, by pytest: `nohup`). The first signal
  starts a grace period (`GRACE_SECONDS`, under GitHub's 7.5 s, so sharder is done before the agent escalates);
  at its end what is left of the group gets SIGKILL. Once pytest has exited, the rest of
  its group gets SIGKILL too, *before* pytest is reaped: while the leader is an unreaped zombie its group id cannot
  be reused, so the kill cannot hit a stranger. Then `Cancelled` is raised, and the CLI exits 128 + the signal;
- dies with sharder even when sharder is SIGKILLed and cannot forward anything. Two mechanisms, because each
  covers a hole in the other: a watchdog, a tiny `python -I -S` process in a session of its own, holds the read
  end of a pipe whose write end only sharder has; when sharder dies, by any means, the kernel closes the write
  end, the watchdog reads EOF and SIGKILLs pytest's whole group (PR_SET_PDEATHSIG alone would kill only pytest
  itself: xdist workers and test subprocesses, orphaned, ran on). And PR_SET_PDEATHSIG (Linux, set between fork
  and exec) kills pytest in the moment before its watchdog exists. On a normal end sharder tells the watchdog so
  with one byte, and the watchdog exits without killing; leftovers of a suite that ended normally are left alone,
  as before.

Signals are handled only while a `supervising()` block is open (each launch opens one; `sharder run` and
`sharder local` hold one over all their shards and passes, so a signal between two pytest runs is not lost);
outside, Python's defaults apply. Handlers can only be installed from the main thread; elsewhere signals are not
forwarded, and the watchdog still holds.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType
from typing import IO, Any

from sharder.core.errors import Cancelled

FORWARDED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name))
# waitid(WNOWAIT) sees pytest exit without reaping it, so its group id cannot be reused before the group is killed;
# Python has no os.waitid on macOS, where pytest is reaped first and its group killed right after.
_CAN_WAIT_WITHOUT_REAPING = hasattr(os, "waitid") and hasattr(os, "WNOWAIT")
GRACE_SECONDS = 5.0
# linux/prctl.h
_PR_SET_PDEATHSIG = 1

# The watchdog: EOF on stdin (sharder gone) before the all-clear byte -> SIGKILL the group.
_WATCHDOG = """\
import os, signal, sys
try:
    done = os.read(0, 1)
except OSError:
    done = b""
if not done:
    try:
        os.killpg(int(sys.argv[1]), signal.SIGKILL)
    except OSError:
        pass
"""


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(pgid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, number)


# How long a SIGKILLed group gets to be gone from /proc (it takes microseconds; the bound is for a frozen cgroup).
_GONE_WAIT_SECONDS = 2.0


def _wait_until_gone(pgid: int) -> None:
    """Until no live process (zombies are dead) is left in the group, on Linux's /proc, for `_GONE_WAIT_SECONDS`
    at most: a killed process still shows until the kernel has finished it, and sharder must not exit before."""
    deadline = time.monotonic() + _GONE_WAIT_SECONDS
    while _live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _live_members(pgid: int) -> bool:
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


@functools.cache
def _prctl() -> Any:
    """libc's prctl, looked up in the running process (no `find_library`, which may run ldconfig); Linux only."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent() -> Any:
    """The preexec_fn: in the child after fork, before exec, SIGKILL on the parent's death; if the parent died
    already (before the prctl), now."""
    parent, prctl = os.getpid(), _prctl()

    def arm() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


class _Watchdog:
    def __init__(self, pgid: int) -> None:
        read_end, self._write_end = os.pipe()  # both non-inheritable: no other child holds the write end
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(pgid)], stdin=read_end,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
        except OSError:  # no watchdog: PR_SET_PDEATHSIG still covers pytest itself
            self._proc = None
        finally:
            os.close(read_end)

    def release(self) -> None:
        """All clear: pytest's group was dealt with by sharder; the watchdog exits without killing."""
        with contextlib.suppress(OSError):
            os.write(self._write_end, b"x")
        os.close(self._write_end)
        if self._proc is not None:
            self._proc.wait()


class PytestProcess:
    """One pytest sharder started: the leader of its own process group, watched, supervised."""

    def __init__(self, popen: subprocess.Popen[bytes], watchdog: _Watchdog) -> None:
        self.popen = popen
        self.pgid = popen.pid  # setsid made it the leader
        self._watchdog = watchdog
        self.returncode: int | None = None
        self._finished = False

    def exited(self) -> bool:
        """Whether pytest has exited, without reaping it (its pid, and so its group id, stay ours)."""
        if self.returncode is not None:
            return True
        if not _CAN_WAIT_WITHOUT_REAPING:
            self.returncode = self.popen.poll()
            return self.returncode is not None
        return os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def wait_exited(self) -> None:
        if self.returncode is not None:
            return
        if not _CAN_WAIT_WITHOUT_REAPING:
            self.returncode = self.popen.wait()
            return
        os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOWAIT)

    def finish(self, *, kill_group: bool) -> int:
        """Reap pytest and return its exit code (negative: the signal that ended it). With `kill_group`, what is
        left of its group is SIGKILLed first, while the unreaped leader still holds the group id."""
        if self._finished:
            return self.popen.returncode
        self._finished = True
        if kill_group:
            _kill_group(self.pgid, signal.SIGKILL)
            _wait_until_gone(self.pgid)
        _SUPERVISOR.forget(self)
        self._watchdog.release()
        self.returncode = self.popen.wait()
        return self.returncode


class _Supervisor:
    """The pytest groups running now, the first signal that asked sharder to stop, and the grace timer.

    The timer is a thread, not SIGALRM, so that a caller's own alarm (pytest-timeout's, in a test that runs sharder
    in-process) is left alone. Its SIGKILLs and `forget` share a lock: once a process is forgotten it is reaped, its
    group id free for the system to reuse, and the timer must not kill by that id any more. The signal handler
    takes no lock (it runs in the main thread, which may hold it): it only signals groups still registered, whose
    leaders are unreaped.
    """

    def __init__(self) -> None:
        self.running: dict[int, PytestProcess] = {}
        self.signum: int | None = None
        self.killed_after_grace = False
        self.depth = 0
        self._saved: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def open(self) -> None:
        self.depth += 1
        if self.depth > 1 or threading.current_thread() is not threading.main_thread():
            return
        self.signum, self.killed_after_grace = None, False
        for number in FORWARDED_SIGNALS:
            # An ignored signal stays ignored, for sharder and (inherited across exec) for pytest: `nohup sharder
            # local` must outlive its terminal, and a shell's `sharder run &` ignores SIGINT on purpose.
            if signal.getsignal(number) is not signal.SIG_IGN:
                self._saved[number] = signal.signal(number, self._on_signal)

    def close(self) -> None:
        self.depth -= 1
        if self.depth or not self._saved:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for number, handler in self._saved.items():
            signal.signal(number, handler)
        self._saved.clear()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = number
            self._timer = threading.Timer(GRACE_SECONDS, self._grace_over)
            self._timer.daemon = True
            self._timer.start()
        for process in list(self.running.values()):
            _kill_group(process.pgid, number)

    def _grace_over(self) -> None:
        with self._lock:
            for process in self.running.values():
                self.killed_after_grace = True
                _kill_group(process.pgid, signal.SIGKILL)

    def register(self, process: PytestProcess) -> None:
        with self._lock:
            self.running[process.pgid] = process

    def forget(self, process: PytestProcess) -> None:
        with self._lock:
            self.running.pop(process.pgid, None)

    def cancelled(self) -> Cancelled | None:
        if self.signum is None:
            return None
        how = (f"what was left of it got SIGKILL after the {GRACE_SECONDS:g} s grace period" if self.killed_after_grace
               else "which has stopped")
        return Cancelled(self.signum, f"cancelled by {signal_name(self.signum)}: sent on to pytest's process group, "
                                      f"{how}")

    def check(self) -> None:
        cancel = self.cancelled()
        if cancel is not None:
            raise cancel


_SUPERVISOR = _Supervisor()


@contextlib.contextmanager
def supervising() -> Iterator[None]:
    """Forward SIGTERM/SIGHUP/SIGINT to the pytest groups started inside; a signal that came while none was running
    is raised as `Cancelled` at the end of the outermost block."""
    _SUPERVISOR.open()
    outermost = _SUPERVISOR.depth == 1
    try:
        yield
        if outermost:
            _SUPERVISOR.check()
    finally:
        _SUPERVISOR.close()


def cancelled() -> Cancelled | None:
    """The cancel under way, if a forwarded signal has come (for callers that record it before raising)."""
    return _SUPERVISOR.cancelled()


def start(
    argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = None, stderr: int | IO[Any] | None = None,
) -> PytestProcess:
    """Start pytest in a session of its own, watched; call inside `supervising()`. Refused once a cancel came."""
    _SUPERVISOR.check()
    popen = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=stdout, stderr=stderr, start_new_session=True,
                             preexec_fn=_die_with_parent())
    process = PytestProcess(popen, _Watchdog(popen.pid))
    _SUPERVISOR.register(process)
    if _SUPERVISOR.signum is not None:  # the signal came while the process was being made: it gets it now
        _kill_group(process.pgid, _SUPERVISOR.signum)
    return process


def call(
    argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = None, stderr: int | IO[Any] | None = None,
) -> int:
    """Run pytest to its end and return its raw exit code (negative: killed by that signal); `Cancelled` once a
    forwarded signal has come and the whole group is dead."""
    with supervising():
        process = start(argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        try:
            process.wait_exited()
        except BaseException:  # a bug, or a KeyboardInterrupt outside the main thread: leave nothing running
            process.finish(kill_group=True)
            raise
        code = process.finish(kill_group=_SUPERVISOR.signum is not None)
        _SUPERVISOR.check()
    return code
