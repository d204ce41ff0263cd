"""Benchmark: peak resident memory of a whole pytest run of a leaking suite, with and without conftest_lib.

Copies `tests/example_suites/leaky/` (four leaks on purpose: a module-level cache, a reference cycle holding a
big buffer, a pending asyncio task on a loop left open, an unclosed object) to a scratch directory and runs it as
its own pytest process, alternating `-p conftest_lib` and plain, `--repeat` times each. Reported per variant:
the child's own peak RSS (`ru_maxrss` from `os.wait4`), the per-test peaks conftest_lib's measurement put in the
JUnit report (first and last test of the cache leak, to show growth), LeakWarnings printed, and wall time.
Side by side in one run; the ratio is the result, not the absolute MB.

    python bench/memory.py [--mb 40] [--repeat-tests 6] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sharder.core.junit_names import PEAK_RSS_PROPERTY
from sharder.reports.junit import read_report

SUITE = Path(__file__).resolve().parent.parent / "tests" / "example_suites" / "leaky"


@dataclass
class Sample:
    peak_mb: float
    seconds: float
    leak_warnings: int
    test_peaks: dict[str, float] = field(default_factory=dict)


def run_once(suite: Path, with_plugin: bool, env: dict[str, str], junit: Path) -> Sample:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "conftest_lib.memory", f"--junitxml={junit}"]
    argv += ["-p", "conftest_lib"] if with_plugin else []
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, cwd=suite, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if child.returncode != 0:
        raise SystemExit(f"pytest failed ({child.returncode}):\n{text[-2000:]}")
    report = read_report(junit, None)
    peaks = {case.node_id: float(case.properties[PEAK_RSS_PROPERTY]) for case in report.cases
             if PEAK_RSS_PROPERTY in case.properties}
    return Sample(usage.ru_maxrss / 1024.0, seconds, text.count("LeakWarning:"), peaks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=40, help="MB per leaked chunk (LEAKY_MB)")
    parser.add_argument("--repeat-tests", type=int, default=6, help="repetitions of each leaking test (LEAKY_REPEAT)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each variant, alternating")
    args = parser.parse_args()
    env = {**os.environ, "LEAKY_MB": str(args.mb), "LEAKY_REPEAT": str(args.repeat_tests)}
    env.pop("PYTEST_ADDOPTS", None)
    samples: dict[bool, list[Sample]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="sharder-bench-memory-") as scratch:
        suite = Path(scratch) / "leaky"
        shutil.copytree(SUITE, suite)
        for round_number in range(args.repeat):
            for with_plugin in (False, True):
                junit = Path(scratch) / f"r{round_number}-{with_plugin}.xml"
                samples[with_plugin].append(run_once(suite, with_plugin, env, junit))
    print(f"leaky suite: 4 leaks x {args.repeat_tests} tests x {args.mb} MB, + 1 forgotten cache; "
          f"{args.repeat} runs each, median shown")
    print(f"{'variant':<22}{'peak RSS MB':>12}{'cache[0] MB':>12}{'cache[-1] MB':>13}{'LeakWarnings':>14}{'wall s':>8}")
    medians: dict[bool, float] = {}
    for with_plugin in (False, True):
        runs = samples[with_plugin]
        medians[with_plugin] = statistics.median(s.peak_mb for s in runs)
        peaks = runs[-1].test_peaks
        # A report of a run without --shard names cases by pytest's classname (`test_leaks::...`).
        first = peaks.get("test_leaks::test_module_cache[0]", float("nan"))
        last = peaks.get(f"test_leaks::test_module_cache[{args.repeat_tests - 1}]", float("nan"))
        name = "with conftest_lib" if with_plugin else "without (plain pytest)"
        print(f"{name:<22}{medians[with_plugin]:>12.1f}{first:>12.1f}{last:>13.1f}"
              f"{statistics.median(s.leak_warnings for s in runs):>14.0f}"
              f"{statistics.median(s.seconds for s in runs):>8.2f}")
    print(f"peak RSS without / with conftest_lib: {medians[False] / medians[True]:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
