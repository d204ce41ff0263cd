"""Inputs with no end and plans out of proportion, fed to the real CLI under the fault suite's memory ceiling.

- An input file that is a symlink to /dev/zero, a FIFO, or a sparse file of 2 GiB, given as a durations file, a
  plan, a JUnit report, a progress log: one line and exit 2, at once. Unchecked, /dev/zero was read until memory
  ran out and a FIFO blocked `open()` until the job's timeout; so each run here has a timeout of its own, and a
  run that reaches it fails the test instead of hanging the suite.
- `sharder plan --shards 999999` on 10 tests: cheap (it took a minute and 1.5 GB, past the ceiling), its table one
  line for the empty shards; and a plan with more shards than tests still runs every shard, green in the merge.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import Outcome, _limit_child, assert_clean_refusal

# A refusal is immediate; a FIFO that is opened blindly waits for a writer that never comes.
REFUSAL_TIMEOUT_SECONDS = 60


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> Outcome:
    try:
        proc = subprocess.run([sys.executable, "-m", "sharder", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, errors="replace", timeout=REFUSAL_TIMEOUT_SECONDS, check=False,
                              preexec_fn=_limit_child)
    except subprocess.TimeoutExpired:
        return Outcome(-1, "", f"still running after {REFUSAL_TIMEOUT_SECONDS} s (blocked on the input?)")
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def _endless(kind: str, path: Path) -> str:
    """Make `path` an input that never ends (or is far too big); returns what the refusal must say."""
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
        return "is a character device, not a regular file"
    if kind == "FIFO":
        os.mkfifo(path)
        return "is a FIFO (named pipe), not a regular file"
    with path.open("wb") as sparse:  # 2 GiB of holes: no disk used, but a reader that trusts it reads them all
        sparse.truncate(2 * 1024 ** 3)
    return "over the 512 MB limit for an input file"


# (reader, file name, the command that reads it first)
READERS = [
    ("durations", "durations.json", ["plan", "--shards", "2", "--from-durations", "--durations", "durations.json"]),
    ("plan", "plan.json", ["run", "--shard", "1/2", "--plan", "plan.json"]),
    ("JUnit report", "report.xml", ["record", "--from-junit", "report.xml", "--durations", "d.json"]),
    ("progress log", "shard-1-of-2.progress.jsonl", ["replay", "--from", "shard-1-of-2.progress.jsonl"]),
]


@pytest.mark.parametrize("kind", ["symlink to /dev/zero", "FIFO", "sparse 2 GiB file"])
@pytest.mark.parametrize(("reader", "name", "command"), READERS, ids=[reader for reader, _, _ in READERS])
def test_an_endless_input_file_is_refused_in_one_line(
    reader: str, name: str, command: list[str], kind: str, tmp_path: Path, sharder_env: dict[str, str],
    ledger: Callable[[str, str], None],
) -> None:
    expected = _endless(kind, tmp_path / name)
    outcome = _run(command, tmp_path, sharder_env)
    ledger(f"{reader} file is a {kind}", outcome.observed)
    assert_clean_refusal(outcome)
    assert name in outcome.stderr and expected in outcome.stderr, outcome.stderr


def _ten_tests(path: Path) -> None:
    tests = {f"tests/test_m.py::test_{i}": {"seconds": float(i + 1), "runs": 1} for i in range(10)}
    path.write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": tests}))


def test_far_more_shards_than_tests_is_a_cheap_plan_with_a_one_line_table(
    tmp_path: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None]
) -> None:
    """999,999 shards, 10 tests: under the 1 GiB ceiling (it used to take 1.5 GB and a minute), the table is the
    10 shards that have a test and one line for the rest, and the plan reads back with every shard in it."""
    _ten_tests(tmp_path / "durations.json")
    # test by test, so that each of the 10 tests has a shard of its own: the most rows the table can have
    outcome = _run(["plan", "--shards", "999999", "--from-durations", "--group-by", "test"], tmp_path, sharder_env)
    ledger("plan --shards 999999 --from-durations on 10 tests", f"exit {outcome.code}: "
           f"{len(outcome.stdout.splitlines())} lines of table, plan.json {(tmp_path / 'plan.json').stat().st_size} B"
           if outcome.code == 0 else outcome.observed)
    assert outcome.code == 0, outcome.stderr[-2000:]
    lines = outcome.stdout.splitlines()
    assert "shards 11-999999: empty" in lines
    assert len(lines) < 20, lines[:30]
    assert [line.split()[0] for line in lines[1:11]] == [f"{k}/999999" for k in range(1, 11)]
    # read back by the real reader, in a child under the same ceiling (a shard job reads it so)
    reader = ("from sharder.planning.plan import read_plan; p = read_plan('plan.json'); "
              "print(p.shards, len(p.bins), p.total_tests, p.bins[-1].shard, len(p.bins[-1].tests))")
    read = subprocess.run([sys.executable, "-c", reader], cwd=tmp_path, env=sharder_env, capture_output=True,
                          text=True, timeout=600, check=False, preexec_fn=_limit_child)
    assert read.returncode == 0, read.stderr[-2000:]
    assert read.stdout.split() == ["999999", "999999", "10", "999999", "0"]
    # at most one line per empty shard in the file: 999,999 bins as json.dumps(indent=1) wrote them were 98 MB
    assert (tmp_path / "plan.json").read_bytes().count(b"\n") < 999999 + 200


SUITE = '''\
def test_a():
    pass


def test_b():
    pass


def test_c():
    pass
'''


def test_a_plan_with_more_shards_than_tests_runs_every_shard_and_merges_green(
    tmp_path: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None]
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_three.py").write_text(SUITE)
    env = {**sharder_env, "PYTHONDONTWRITEBYTECODE": "1"}
    planned = _run(["plan", "--shards", "40", "-o", "plan.json", "--", "-p", "no:cacheprovider"], tmp_path, env)
    assert planned.code == 0, planned.stderr
    assert "shards 4-40: empty" in planned.stdout.splitlines()
    for shard in ("1/40", "2/40", "3/40", "40/40"):
        ran = _run(["run", "--shard", shard, "--plan", "plan.json", "--", "-p", "no:cacheprovider"], tmp_path, env)
        assert ran.code == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "shard 40/40 has no tests (more shards than tests)" in ran.stdout
    merged = _run(["merge", "reports", "--plan", "plan.json", "--json"], tmp_path, env)
    ledger("plan --shards 40 on 3 tests, shards 1-3 and 40 run, merged", merged.observed)
    assert merged.code == 0, merged.stdout[-3000:] + merged.stderr[-2000:]
    verdict = json.loads(merged.stdout)
    statuses = {shard["shard"]: shard["status"] for shard in verdict["shards"]}
    assert [statuses[f"{k}/40"] for k in (1, 2, 3, 40)] == ["ok"] * 4  # shard 40 sent its (empty) report
    assert {statuses[f"{k}/40"] for k in range(4, 40)} == {"empty"}
