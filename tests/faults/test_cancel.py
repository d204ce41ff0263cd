"""A CI cancel: SIGTERM, SIGHUP or SIGINT to a real `sharder run` / `local` / `replay` while a test sleeps.

The suite's sleeping test starts a grandchild (`sleep 300` in Python) and writes, into a marker file, its own pid,
its process group and the grandchild's pid; the harness waits for the marker, signals sharder (only sharder, as
an agent does), and then checks: sharder exits 128 + the signal; no process of pytest's group is left (scanned
in /proc; a zombie counts as dead), so no report can appear later; no report was left behind; `sharder merge` is
red and calls the shard cancelled. Unfixed, sharder exited 143 at once and pytest ran on under PID 1, wrote its
report later, and a merge believed it.

sharder is started in a session of its own here, so that "pytest's group" is never the test runner's own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sharder.running.supervision import FORWARDED_SIGNALS

# Guards, not assertions: how long to wait for a sleeping test to start, and for sharder to stop.
START_DEADLINE_SECONDS = 180
STOP_DEADLINE_SECONDS = 120

SLEEPER = '''\
import os
import pathlib
import signal
import subprocess
import sys
import time


def _sleep_here(name):
    if os.environ.get("SUITE_IGNORES_SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                              "signal.SIG_IGN); time.sleep(300)"])
    marker = pathlib.Path(os.environ["CANCEL_MARKERS"]) / f"{name}-{os.getpid()}.json"
    marker.write_text(f'{{"pid": {os.getpid()}, "pgid": {os.getpgid(0)}, "child": {child.pid}}}')
    time.sleep(300)


def test_a_first():
    pass


def test_b_sleeps_NAME():
    _sleep_here("NAME")


def test_c_after_NAME():
    pass
'''


def _suite(root: Path, modules: tuple[str, ...] = ("one",)) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "tests").mkdir()
    for name in modules:
        (root / "tests" / f"test_{name}.py").write_text(SLEEPER.replace("NAME", name))
    # the sleepers are the long tests: `local` and `--parallel` put each on a shard or worker of its own
    tests = {f"tests/test_{name}.py::{test}": {"seconds": seconds, "runs": 1} for name in modules
             for test, seconds in (("test_a_first", 0.1), (f"test_b_sleeps_{name}", 100.0),
                                   (f"test_c_after_{name}", 0.1))}
    (root / "durations.json").write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": tests}))


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return fields[0] not in ("Z", "X")


def _group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) whose process group is `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _leftovers(markers: list[dict[str, int]]) -> list[int]:
    found = {pid for marker in markers for pid in (marker["pid"], marker["child"]) if _alive(pid)}
    for marker in markers:
        found.update(_group_members(marker["pgid"]))
    return sorted(found)


def _cancel_signals_at_their_defaults() -> None:
    """In the child before sharder starts: the cancel signals at their defaults, as a CI runner's step has them,
    even where this run inherited them ignored (`nohup`, a shell's `&`), which sharder rightly leaves ignored."""
    for number in FORWARDED_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


class Run:
    """A sharder process started in its own session, and the markers of the tests it got to."""

    def __init__(self, root: Path, args: list[str], env: dict[str, str]) -> None:
        self.root = root
        self.markers_dir = root / "markers"
        self.markers_dir.mkdir()
        # Output to files: a pytest that outlives sharder would hold pipes open, and the harness would wait for it.
        self._out = (root / "sharder.out").open("w+")
        self._err = (root / "sharder.err").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sharder", *args], cwd=root, stdout=self._out, stderr=self._err,
            env={**env, "CANCEL_MARKERS": str(self.markers_dir), "PYTHONDONTWRITEBYTECODE": "1"},
            start_new_session=True, text=True, preexec_fn=_cancel_signals_at_their_defaults,
        )
        self.markers: list[dict[str, int]] = []
        self.stdout = self.stderr = ""

    def wait_for_sleepers(self, count: int) -> None:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            found = sorted(self.markers_dir.glob("*.json"))
            if len(found) >= count:
                time.sleep(0.2)  # the marker is written just before the sleep starts
                self.markers = [json.loads(path.read_text()) for path in found]
                return
            if self.proc.poll() is not None:
                self._read()
                pytest.fail(f"sharder ended (exit {self.proc.returncode}) before the tests slept: "
                            f"{self.stdout[-2000:]}{self.stderr[-2000:]}")
            time.sleep(0.1)
        pytest.fail(f"the sleeping tests did not start within {START_DEADLINE_SECONDS} s")

    def _read(self) -> None:
        self._out.seek(0)
        self._err.seek(0)
        self.stdout, self.stderr = self._out.read(), self._err.read()

    def stop(self, number: int) -> int:
        self.proc.send_signal(number)
        code = self.proc.wait(timeout=STOP_DEADLINE_SECONDS)
        self._read()
        return code

    def cleanup(self) -> None:
        """Whatever the outcome, end what this test started (by id: sharder's session, the recorded groups)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._err.close()
        for marker in self.markers:
            for pid in (marker["child"], marker["pid"]):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            if _group_members(marker["pgid"]):
                os.killpg(marker["pgid"], signal.SIGKILL)


@pytest.fixture
def start(sharder_env: dict[str, str]) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def make(root: Path, args: list[str], **env: str) -> Run:
        run = Run(root, args, {**sharder_env, **env})
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.cleanup()


def _merge(root: Path, *extra: str) -> tuple[int, dict[str, object]]:
    proc = subprocess.run([sys.executable, "-m", "sharder", "merge", "reports", "--json", *extra], cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _statuses(verdict: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    shards = verdict["shards"]
    assert isinstance(shards, list)
    return {shard["shard"]: (shard["status"], shard.get("cancelled_by")) for shard in shards}


def _assert_cancelled(run: Run, number: int, code: int) -> None:
    name = signal.Signals(number).name
    leftovers = _leftovers(run.markers)
    assert not leftovers, f"processes of pytest's group outlived sharder: {leftovers}"
    assert code == 128 + number, (code, run.stdout[-2000:], run.stderr[-2000:])
    assert f"cancelled by {name}" in run.stderr.strip().splitlines()[-1], run.stderr[-2000:]
    assert "Traceback" not in run.stderr


RUN_CASES = [
    ("SIGTERM", {}),
    ("SIGHUP", {}),
    ("SIGINT", {}),  # pytest handles it and writes its report during the grace period: that report is removed
    ("SIGTERM", {"SUITE_IGNORES_SIGTERM": "1"}),  # nothing stops by itself: SIGKILL after the grace period
]


@pytest.mark.parametrize(("signal_name", "env"), RUN_CASES,
                         ids=["SIGTERM", "SIGHUP", "SIGINT", "SIGTERM-ignored-by-the-suite"])
def test_a_cancelled_run_leaves_no_pytest_and_merges_red(
    signal_name: str, env: dict[str, str], tmp_path: Path, start: Callable[..., Run],
    ledger: Callable[[str, str], None],
) -> None:
    _suite(tmp_path)
    number = getattr(signal, signal_name)
    run = start(tmp_path, ["run", "--shard", "1/1", "--", "-p", "no:randomly", "-p", "no:cacheprovider"], **env)
    run.wait_for_sleepers(1)
    code = run.stop(number)
    leftovers = _leftovers(run.markers)
    merged, verdict = _merge(tmp_path)
    status = _statuses(verdict)["1/1"]
    ledger(f"{signal_name} to `sharder run` while a test sleeps{' (suite ignores SIGTERM)' if env else ''}",
           f"exit {code}; pytest group left: {len(leftovers)}; report: "
           f"{(tmp_path / 'reports' / 'shard-1-of-1.xml').exists()}; merge exit {merged}: {status[0]}")
    _assert_cancelled(run, number, code)
    if env:  # pytest ignores SIGTERM too: only the SIGKILL at the end of the grace period stops it
        assert "SIGKILL after the 5 s grace period" in run.stderr, run.stderr[-2000:]
    assert not (tmp_path / "reports" / "shard-1-of-1.xml").exists()
    assert merged == 1 and status == ("cancelled", signal_name), verdict
    assert verdict["reported"] == 1  # test_a_first, from the progress log


def test_a_cancelled_parallel_run_takes_its_xdist_workers_with_it(
    tmp_path: Path, start: Callable[..., Run], ledger: Callable[[str, str], None]
) -> None:
    _suite(tmp_path, ("one", "two"))
    run = start(tmp_path, ["run", "--shard", "1/1", "--parallel", "2", "--dist", "load", "--",
                           "-p", "no:randomly", "-p", "no:cacheprovider"])
    run.wait_for_sleepers(1)  # xdist's load scheduling may give both sleepers to one worker
    members = _group_members(run.markers[0]["pgid"])
    assert len(members) >= 4, members  # the controller, two workers and the sleeper's grandchild
    code = run.stop(signal.SIGTERM)
    merged, verdict = _merge(tmp_path)
    ledger("SIGTERM to `sharder run --parallel 2` while a worker sleeps",
           f"exit {code}; pytest group left: {len(_leftovers(run.markers))}; merge exit {merged}: "
           f"{_statuses(verdict)['1/1'][0]}")
    _assert_cancelled(run, signal.SIGTERM, code)
    assert merged == 1 and _statuses(verdict)["1/1"] == ("cancelled", "SIGTERM")


def test_pytest_dies_with_a_sharder_that_was_sigkilled(
    tmp_path: Path, start: Callable[..., Run], ledger: Callable[[str, str], None]
) -> None:
    """SIGKILL cannot be forwarded: the watchdog sees sharder's end of its pipe close and kills pytest's group."""
    _suite(tmp_path)
    run = start(tmp_path, ["run", "--shard", "1/1", "--", "-p", "no:randomly", "-p", "no:cacheprovider"])
    run.wait_for_sleepers(1)
    code = run.stop(signal.SIGKILL)
    deadline = time.monotonic() + STOP_DEADLINE_SECONDS  # the watchdog acts on its own time
    while _leftovers(run.markers) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = _leftovers(run.markers)
    merged, verdict = _merge(tmp_path)
    ledger("SIGKILL to `sharder run` while a test sleeps",
           f"exit {code}; pytest group left: {len(leftovers)}; merge exit {merged}: {_statuses(verdict)['1/1'][0]}")
    assert code == -signal.SIGKILL
    assert not leftovers, f"processes of pytest's group outlived sharder: {leftovers}"
    assert not (tmp_path / "reports" / "shard-1-of-1.xml").exists()
    assert merged == 1 and _statuses(verdict)["1/1"][0] == "died", verdict


@pytest.mark.parametrize(("jobs", "signal_name"), [("2", "SIGTERM"), ("1", "SIGHUP")], ids=["jobs-2", "jobs-1"])
def test_a_cancelled_local_run_stops_every_shard_and_merges_red(
    jobs: str, signal_name: str, tmp_path: Path, start: Callable[..., Run], ledger: Callable[[str, str], None]
) -> None:
    _suite(tmp_path, ("one", "two"))
    number = getattr(signal, signal_name)
    run = start(tmp_path, ["local", "--shards", "2", "--jobs", jobs, "--", "-p", "no:randomly",
                           "-p", "no:cacheprovider"])
    sleeping = 2 if jobs == "2" else 1
    run.wait_for_sleepers(sleeping)
    code = run.stop(number)
    merged, verdict = _merge(tmp_path, "--plan", "reports/plan.json")
    statuses = _statuses(verdict)
    ledger(f"{signal_name} to `sharder local --shards 2 --jobs {jobs}` while shards sleep",
           f"exit {code}; pytest groups left: {len(_leftovers(run.markers))}; merge exit {merged}: "
           f"{statuses['1/2'][0]}, {statuses['2/2'][0]}")
    _assert_cancelled(run, number, code)
    assert not list((tmp_path / "reports").glob("shard-*.xml"))
    assert merged == 1
    cancelled = [shard for shard, (status, by) in statuses.items() if status == "cancelled" and by == signal_name]
    assert len(cancelled) == sleeping, statuses
    assert "merged.xml" not in os.listdir(tmp_path / "reports")  # no merge after a cancel


def test_a_cancelled_replay_leaves_no_pytest(
    tmp_path: Path, start: Callable[..., Run], sharder_env: dict[str, str], ledger: Callable[[str, str], None]
) -> None:
    _suite(tmp_path)
    planned = subprocess.run([sys.executable, "-m", "sharder", "plan", "--shards", "1", "-o", "plan.json", "--",
                              "-p", "no:cacheprovider"], cwd=tmp_path, env=sharder_env, capture_output=True,
                             text=True, timeout=300, check=False)
    assert planned.returncode == 0, planned.stderr
    run = start(tmp_path, ["replay", "--plan", "plan.json", "--shard", "1/1", "--", "-p", "no:cacheprovider"])
    run.wait_for_sleepers(1)
    code = run.stop(signal.SIGTERM)
    ledger("SIGTERM to `sharder replay` while a test sleeps",
           f"exit {code}; pytest group left: {len(_leftovers(run.markers))}")
    _assert_cancelled(run, signal.SIGTERM, code)
