"""Queue mode end to end: real `sharder run --queue` job processes on a real redis-server, a small suite written
here, the real merge. Leases are 2 s so that a dead job's tests come back quickly; nothing asserts on time.

Each test uses its own queue run name, so the session's one redis-server serves them all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sharder.core.progress_log import read_progress_log
from sharder.running.redis_server import RedisServer

LEASE = "2"
HANG = "tests/test_a.py::test_hang"
CRASH = "tests/test_c.py::test_crash"
# A bound on waiting for a job to reach a test, not an assertion on time: a loaded machine may be slow.
WAIT_SECONDS = 240

SUITE = {
    "tests/test_a.py": '''
import os, time

def test_a1():
    pass

def test_hang():
    if os.environ.get("HANG_HERE"):
        time.sleep(600)
    while os.environ.get("WAIT_FOR") and not os.path.exists(os.environ["WAIT_FOR"]):
        time.sleep(0.05)

def test_a3():
    pass
''',
    # A module fixture that logs each setup: the queue loop must keep it across the module's tests (nextitem).
    "tests/test_b.py": """
import os, pytest

@pytest.fixture(scope="module", autouse=True)
def shared():
    if os.environ.get("SETUP_LOG"):
        with open(os.environ["SETUP_LOG"], "a") as log:
            log.write("setup\\n")
""" + "".join(f"\ndef test_b{n}():\n    pass\n" for n in range(4)),
    "tests/test_c.py": "".join(f"\ndef test_c{n}():\n    pass\n" for n in range(3)),
}
CRASHING = '''
import os, signal

def test_crash():
    os.kill(os.getpid(), signal.SIGSEGV)
'''


def _ids(root: Path) -> list[str]:
    ids = ["tests/test_a.py::test_a1", HANG, "tests/test_a.py::test_a3"]
    ids += [f"tests/test_b.py::test_b{n}" for n in range(4)] + [f"tests/test_c.py::test_c{n}" for n in range(3)]
    if (root / "tests/test_c.py").read_text().count("test_crash"):
        ids.append(CRASH)
    return ids


def _suite(root: Path, *, crash: bool = False, extra_test: bool = False) -> Path:
    for name, text in SUITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + (CRASHING if crash and name.endswith("test_c.py") else ""))
    if extra_test:
        (root / "tests/test_new.py").write_text("def test_new():\n    pass\n")
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")
    # The hanging (or crashing) test is the longest, so its module is in the first batch the first job leases.
    heavy = CRASH if crash else HANG
    tests = {node_id: {"seconds": 30.0 if node_id == heavy else 0.1, "runs": 1} for node_id in _ids(root)}
    (root / "durations.json").write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": tests}))
    return root


def _first_batch(root: Path) -> list[str]:
    """The batch the first job leases (seed_batches on the suite's durations): the heavy module and, since a job
    leases again just before a batch's last test, the shortest unit left as its companion."""
    from sharder.planning.queue_batches import seed_batches
    from sharder.planning.queue_units import queue_units

    recorded = json.loads((root / "durations.json").read_text())["tests"]
    seconds = {node_id: entry["seconds"] for node_id, entry in recorded.items()}
    return list(seed_batches(queue_units(_ids(root), seconds, "module"), 4)[0])


def _env(redis: RedisServer, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GITHUB_", "GITLAB", "CI_"))}
    env.update(SHARDER_QUEUE_URL=redis.url, PYTHONPATH=os.pathsep.join(filter(None, [
        str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")])))
    env.pop("PYTEST_ADDOPTS", None)
    env.update(extra)
    return env


def _sharder(args: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sharder", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def _plan(root: Path, env: dict[str, str], shards: int = 4) -> None:
    done = _sharder(["plan", "--shards", str(shards), "--group-by", "module", "-o", "plan.json"], root, env)
    assert done.returncode == 0, done.stderr


def _job(root: Path, shard: str, run: str, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "sharder", "run", "--shard", shard, "--plan", "plan.json", "--queue-run", run,
            "--queue-lease", LEASE, *extra]
    return subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(jobs: Sequence[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    return [(job.wait(timeout=600), job.stdout.read() if job.stdout else "") for job in jobs]


def _merge(root: Path, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    done = _sharder(["merge", "reports", "--plan", "plan.json", "--json"], root, env)
    text = _sharder(["merge", "reports", "--plan", "plan.json"], root, env)
    return done.returncode, json.loads(done.stdout), text.stdout + text.stderr


def _reported_cases(root: Path) -> list[str]:
    from sharder.reports.junit import read_report

    cases: list[str] = []
    for report in sorted((root / "reports").glob("*.xml")):
        cases += [case.node_id for case in read_report(report).cases]
    return cases


def _wait_until_started(log: Path, node_id: str) -> int:
    """Wait for the job's progress log to say `node_id` started; return the pytest process's pid."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if log.is_file():
            parsed = read_progress_log(log)
            if node_id in parsed.started:
                header = json.loads(log.read_text().splitlines()[0])
                return int(header["pid"])
        time.sleep(0.1)
    raise AssertionError(f"{node_id} never started in {log}")


def _kill_job(job: subprocess.Popen[str], pytest_pid: int) -> None:
    """SIGKILL the job's sharder, as a runner that vanishes; its pytest dies with it (supervision's watchdog)."""
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=60)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pytest_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("the killed job's pytest outlived it")


def _missing(merged: dict[str, Any]) -> set[str]:
    return {node_id for shard in merged["shards"] for node_id in shard["missing"]}


@pytest.fixture
def run_name() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def test_four_jobs_run_every_test_exactly_once(tmp_path: Path, redis_server: RedisServer, run_name: str) -> None:
    root = _suite(tmp_path)
    env = _env(redis_server, SETUP_LOG=str(tmp_path / "setups"))
    _plan(root, env)
    results = _finish([_job(root, f"{k}/4", run_name, env) for k in range(1, 5)])
    assert (tmp_path / "setups").read_text() == "setup\n"  # the module's 4 tests shared one fixture setup
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    cases = _reported_cases(root)
    assert sorted(cases) == sorted(_ids(root))  # each test once, in exactly one job's report
    code, merged, text = _merge(root, env)
    assert code == 0, text
    assert merged["queue"]["re_leased"] == [] and merged["queue"]["causes"] == {}
    assert sum("seeded queue run" in out for _, out in results) == 1  # one job seeded, the others joined
    # A queue job's progress log replays as any shard's: its tests, in the order it ran them. (Which job ran how
    # many is up to the race for leases: the busiest is replayed, the idlest merged alone.)
    from sharder.reports.junit import read_report

    ran = {k: [case.node_id for case in read_report(root / f"reports/shard-{k}-of-4.xml").cases] for k in range(1, 5)}
    busiest, idlest = max(ran, key=lambda k: len(ran[k])), min(ran, key=lambda k: len(ran[k]))
    replayed = _sharder(["replay", "--from", f"reports/shard-{busiest}-of-4.progress.jsonl"], root, env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"{len(ran[busiest])} tests" in replayed.stdout
    # Without the plan file the reports' plan sizes still give the run's total.
    assert _sharder(["merge", "reports"], root, env).returncode == 0
    alone = _sharder(["merge", f"reports/shard-{idlest}-of-4.xml"], root, env)
    short = len(_ids(root)) - len(ran[idlest])
    assert alone.returncode == 1 and f"{short} planned tests never reported" in alone.stdout, alone.stdout


def test_a_killed_jobs_lease_is_run_by_the_others(tmp_path: Path, redis_server: RedisServer, run_name: str) -> None:
    root = _suite(tmp_path)
    env = _env(redis_server)
    _plan(root, env)
    doomed = _job(root, "1/4", run_name, _env(redis_server, HANG_HERE="1"))
    pid = _wait_until_started(root / "reports/shard-1-of-4.progress.jsonl", HANG)  # mid-batch: test_a1 is done
    _kill_job(doomed, pid)
    results = _finish([_job(root, f"{k}/4", run_name, env) for k in (2, 3)])
    assert [code for code, _ in results] == [0, 0], results
    code, merged, text = _merge(root, env)
    assert code == 0, text
    re_leased = sorted(set(_first_batch(root)) - {"tests/test_a.py::test_a1"})  # all it held but what it ran
    assert HANG in re_leased and merged["queue"]["re_leased"] == re_leased
    assert f"{len(re_leased)} tests re-leased" in text and HANG in text
    assert _reported_cases(root).count(HANG) == 1  # the survivors ran it once; the dead job never reported it


def test_all_jobs_killed_names_exactly_what_never_reported(tmp_path: Path, redis_server: RedisServer,
                                                          run_name: str) -> None:
    root = _suite(tmp_path)
    env = _env(redis_server, HANG_HERE="1")
    _plan(root, env)
    only = _job(root, "1/4", run_name, env)
    log = root / "reports/shard-1-of-4.progress.jsonl"
    _kill_job(only, _wait_until_started(log, HANG))
    finished = {test.node_id for test in read_progress_log(log).tests}
    assert finished == {"tests/test_a.py::test_a1"}
    code, merged, text = _merge(root, env)
    assert code == 1, text
    assert _missing(merged) == set(_ids(root)) - finished


def test_a_job_whose_collection_differs_exits_2_before_any_work(tmp_path: Path, redis_server: RedisServer,
                                                               run_name: str) -> None:
    first = _suite(tmp_path / "first")
    env = _env(redis_server)
    _plan(first, env)
    (code, out), = _finish([_job(first, "1/4", run_name, env)])
    assert code == 0, out
    other = _suite(tmp_path / "other", extra_test=True)  # its own plan matches its own checkout, not the queue
    _plan(other, env)
    (code, out), = _finish([_job(other, "2/4", run_name, env)])
    assert code == 2, out
    assert "differ from the tests the queue was seeded with" in out
    log = read_progress_log(other / "reports/shard-2-of-4.progress.jsonl")
    assert log.started == [] and log.tests == [] and log.error is not None


def test_a_segfaulting_test_kills_two_jobs_at_most_and_is_the_cause(tmp_path: Path, redis_server: RedisServer,
                                                                    run_name: str) -> None:
    root = _suite(tmp_path, crash=True)
    env = _env(redis_server)
    _plan(root, env, shards=3)
    results = _finish([_job(root, f"{k}/3", run_name, env) for k in range(1, 4)])
    codes = sorted(code for code, _ in results)
    assert codes == [0, 128 + signal.SIGSEGV, 128 + signal.SIGSEGV], results
    code, merged, text = _merge(root, env)
    assert code == 1, text
    assert merged["queue"]["causes"] == {CRASH: 2}
    assert f"CAUSE {CRASH}: 2 jobs died" in text
    assert _missing(merged) == {CRASH}  # every other test reported (the dead jobs' finished ones by their logs)
    assert merged["reported"] == len(_ids(root)) - 1


def test_unreachable_redis_falls_back_to_the_static_shard(tmp_path: Path, redis_server: RedisServer,
                                                          run_name: str) -> None:
    root = _suite(tmp_path)
    env = _env(redis_server, SHARDER_QUEUE_URL=f"unix://{tmp_path}/nothing-here.sock")
    _plan(root, env, shards=2)
    (code, out), = _finish([_job(root, "1/2", run_name, env)])
    assert code == 0, out
    assert "did not answer" in out and "running shard 1/2 of the plan instead (--queue-fallback static)" in out
    plan = json.loads((root / "plan.json").read_text())
    assert sorted(_reported_cases(root)) == sorted(plan["bins"][0]["tests"])
    (code, out), = _finish([_job(root, "2/2", run_name, env, "--queue-fallback", "fail")])
    assert code == 2 and "(--queue-fallback fail)" in out


def test_redis_lost_mid_run_the_job_finishes_what_it_holds_and_fails(tmp_path: Path, run_name: str) -> None:
    root = _suite(tmp_path)
    release = tmp_path / "release"
    with RedisServer() as server:
        env = _env(server, WAIT_FOR=str(release))
        _plan(root, env)
        job = _job(root, "1/4", run_name, env)
        _wait_until_started(root / "reports/shard-1-of-4.progress.jsonl", HANG)
    release.write_text("")  # Redis is gone now; the job's test goes on
    (code, out), = _finish([job])
    assert code == 1, out
    assert "lost the queue mid-run" in out
    held = _first_batch(root)
    assert HANG in held and sorted(_reported_cases(root)) == sorted(held)  # the batch it held, and nothing more
    code, merged, text = _merge(root, _env(server))
    assert code == 1, text
    assert _missing(merged) == set(_ids(root)) - set(held)
