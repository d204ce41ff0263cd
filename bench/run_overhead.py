"""Benchmark: what a shard pays per test for sharder's instruments, beside plain pytest (issue 17).

Every shard's wall is set against the serial run of plain pytest (`wall.py`), so whatever `sharder run` adds per
test (its memory plugin's per-test peak, its progress log's two lines, the JUnit report) is counted against it,
and a suite of many fast tests pays it most. A generated suite of `--tests` trivial tests (`--files` modules of
parametrized cases that each do nothing) is run whole, as one shard of a plan of one, in each mode below,
interleaved round by round so the machine's speed hits every mode alike:

- `plain`: `pytest`, the baseline;
- `junit`: `pytest --junitxml` (what a pytest-split shard writes, and the floor of any CI shard that reports);
- `sharder.plugin`: `pytest -p sharder.plugin --shard 1/1 --sharder-plan` (the selection only);
- `+ progress log`, `+ memory`: that with one instrument each;
- `sharder run`: the whole `sharder run` process, as CI runs a shard.

Each mode's figure is its fastest round (on a shared machine the fastest is the least disturbed) and the median;
the overhead is the fastest round's difference from `plain`, per test. `--before CHECKOUT` runs an older tree's
modes beside this one's (a git worktree of the commit to compare with), in the same rounds.

On a machine whose speed moves from one second to the next (this one: the same 25 ms of work took 22 to 50 ms
within a second), walls cannot tell 20 µs a test apart. `--callgrind` counts instructions instead (valgrind's
callgrind, the same count for the same work whatever else the machine does): every mode once at `--tests` and at
three times as many, two at a time, and the difference between the two sizes per added test, which takes out
every fixed cost (imports, the plan, the report's header).

    python bench/run_overhead.py [--tests 5000] [--files 20] [--repeat 8] [--before ../old-checkout] [--callgrind]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sharder.core.table import format_table

ROOT = Path(__file__).resolve().parent.parent
MODULE = "import pytest\n\n\n@pytest.mark.parametrize('case', range({count}))\ndef test_case(case):\n    assert case >= 0\n"


def write_suite(directory: Path, tests: int, files: int) -> None:
    (directory / "tests").mkdir(parents=True)
    per_file, extra = divmod(tests, files)
    for number in range(files):
        count = per_file + (1 if number < extra else 0)
        (directory / "tests" / f"test_generated_{number:03d}.py").write_text(MODULE.format(count=count))
    (directory / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider -q\n")


def modes(plan: Path, out: Path) -> dict[str, list[str]]:
    """Each mode's arguments after `python`: pytest's for all but the last, `sharder run`'s for the last."""
    shard = ["-p", "sharder.plugin", "--shard=1/1", f"--sharder-plan={plan}"]
    return {
        "plain": ["-m", "pytest", "tests"],
        "junit": ["-m", "pytest", f"--junitxml={out / 'junit.xml'}", "tests"],
        "sharder.plugin": ["-m", "pytest", *shard, "tests"],
        "+ progress log": ["-m", "pytest", *shard, f"--sharder-progress-log={out / 'log.jsonl'}", "tests"],
        "+ memory": ["-m", "pytest", *shard, "-p", "conftest_lib.memory", "tests"],
        "sharder run": ["-m", "sharder", "run", "--shard", "1/1", "--plan", str(plan), "--junit-dir",
                        str(out / "reports"), "--", "tests"],
    }


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} ... exited {done.returncode}: {done.stderr[-1500:]}")
    return seconds


def _valgrind(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=yes", "--callgrind-out-file=/dev/null",
                             sys.executable, *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _instructions_of(process: subprocess.Popen[str], argv: Sequence[str]) -> int:
    """Instructions the whole process tree executed (callgrind's `I refs`, children included: `sharder run`)."""
    _, stderr = process.communicate()
    counts = [int(found.replace(",", "")) for found in re.findall(r"I\s+refs:\s+([\d,]+)", stderr)]
    if process.returncode != 0 or not counts:
        sys.exit(f"valgrind {' '.join(argv[:4])} ... exited {process.returncode}: {stderr[-1500:]}")
    return sum(counts)


def counted(jobs: Sequence[tuple[Sequence[str], Path, dict[str, str]]]) -> list[int]:
    """Each job's instruction count, two at a time: a count does not depend on what runs beside it."""
    counts: list[int] = []
    for pair in (jobs[index:index + 2] for index in range(0, len(jobs), 2)):
        running = [(_valgrind(*job), job[0]) for job in pair]
        counts += [_instructions_of(process, argv) for process, argv in running]
    return counts


def prepare(work: Path, tests: int, files: int, trees: dict[str, Path]) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The suite in `work`, a plan of one shard per tree, and every mode's command."""
    write_suite(work, tests, files)
    base_env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    runs: dict[str, tuple[list[str], dict[str, str]]] = {}
    for number, (label, tree) in enumerate(trees.items()):
        env = {**base_env, "PYTHONPATH": str(tree)}
        plan = work / f"plan{number}.json"
        subprocess.run([sys.executable, "-m", "sharder", "plan", "--shards", "1", "-o", str(plan), "--", "tests"],
                       cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        for name, mode_argv in modes(plan, work / f"out{number}").items():
            if label and name in ("plain", "junit"):
                continue  # pytest's own modes do not depend on the tree
            runs[label + name] = (mode_argv, env)
    return runs


def instructions(args: argparse.Namespace, trees: dict[str, Path]) -> int:
    sizes = (args.tests, 3 * args.tests)
    counts: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="sharder-overhead-") as scratch:
        jobs: list[tuple[str, list[str], Path, dict[str, str]]] = []
        for size in sizes:
            work = Path(scratch) / str(size)
            for name, (mode_argv, env) in prepare(work, size, args.files, trees).items():
                jobs.append((name, mode_argv, work, env))
        for (name, *_), count in zip(jobs, counted([job[1:] for job in jobs]), strict=True):
            counts.setdefault(name, []).append(count)
    per_test = {name: (big - small) / (sizes[1] - sizes[0]) for name, (small, big) in counts.items()}
    plain = per_test["plain"]
    rows = [(name, f"{small / 1e6:,.0f}", f"{big / 1e6:,.0f}", f"{per_test[name] / 1e3:,.0f}",
             f"{(per_test[name] - plain) / 1e3:,.0f}", f"{per_test[name] / plain:.3f}")
            for name, (small, big) in counts.items()]
    print(f"instructions (callgrind), {sizes[0]} and {sizes[1]} trivial tests in {args.files} files, {sys.executable}")
    print(format_table(("mode", f"M at {sizes[0]}", f"M at {sizes[1]}", "k per added test",
                        "k per test over plain", "per test / plain"), rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--before", type=Path, help="an older checkout to measure beside this one")
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions under valgrind at --tests and 3x as many, instead of timing walls")
    args = parser.parse_args(argv)
    trees = {"": ROOT} | ({"before: ": args.before.resolve()} if args.before else {})
    for tree in trees.values():  # both load from bytecode: a tree never imported would compile in every process
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "sharder"), str(tree / "conftest_lib")],
                       check=True)
    if args.callgrind:
        return instructions(args, trees)
    with tempfile.TemporaryDirectory(prefix="sharder-overhead-") as scratch:
        work = Path(scratch)
        runs = prepare(work, args.tests, args.files, trees)
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, (mode_argv, env) in runs.items():
                seconds[name].append(timed(mode_argv, work, env))
    plain = min(seconds["plain"])
    rows = [(name, f"{min(times):.2f}", f"{statistics.median(times):.2f}", f"{min(times) / plain:.3f}",
             f"{min(times) - plain:.2f}", f"{1e6 * (min(times) - plain) / args.tests:.0f}")
            for name, times in seconds.items()]
    print(f"{args.tests} trivial tests in {args.files} files, {args.repeat} rounds, {sys.executable}")
    print(format_table(("mode", "fastest s", "median s", "fastest / plain", "s over plain",
                       "µs per test over plain"), rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
