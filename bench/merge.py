"""Benchmark: `sharder merge` beside junitparser's own `junitparser merge` on the same generated reports.

Generates a plan and 16 shard reports shaped like the ones sharder's plugin writes (pytest xunit1 cases with
sharder's properties, about 1% failures with tracebacks and captured output, 3% skips), 100,000 cases in all,
then runs each tool as its own process, alternating, and reports wall time and peak resident memory (the child's
own `ru_maxrss` from `os.wait4`). Ratios are measured side by side in one run, never compared across machines.

    python bench/merge.py [--cases 100000] [--reports 16] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from sharder.core.junit_names import (
    NODEID_PROPERTY,
    ORDER_PROPERTY,
    PLAN_ID_PROPERTY,
    PLAN_SIZES_PROPERTY,
    PREDICTED_SECONDS_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.nodeid import forward_key
from sharder.core.shardspec import ShardSpec
from sharder.core.table import format_table
from sharder.planning.plan import Plan, write_plan
from sharder.planning.planner import make_plan

TRACEBACK = "\n".join(f"    frame {i}: value = compute(x, y)  # in helper_{i}" for i in range(20))


def generated_ids(count: int, rng: random.Random) -> dict[str, float]:
    """Node ids spread over modules, classes and parameters, with a heavy-tailed duration each."""
    tests: dict[str, float] = {}
    number = 0
    while len(tests) < count:
        module = number // 200
        klass = f"::TestGroup{number % 7}" if number % 3 else ""
        params = f"[case-{number % 11}::x]" if number % 4 == 0 else ""
        node_id = f"tests/pkg_{module % 40}/test_mod_{module}.py{klass}::test_case_{number}{params}"
        tests[node_id] = round(rng.lognormvariate(-3.0, 1.5), 6)
        number += 1
    return tests


def _case_xml(node_id: str, seconds: float, order: int, spec: ShardSpec, rng: random.Random) -> str:
    classname, name = forward_key(node_id)
    path = node_id.split("::", 1)[0]
    properties = (
        f'<properties><property name="{NODEID_PROPERTY}" value={quoteattr(node_id)} />'
        f'<property name="{ORDER_PROPERTY}" value="{order}" />'
        f'<property name="{SHARD_PROPERTY}" value="{spec}" /></properties>'
    )
    roll = rng.random()
    body = ""
    if roll < 0.01:
        body = (
            f'<failure message="AssertionError: assert {order} == {order + 1}">{TRACEBACK}\n'
            f"E   AssertionError: assert {order} == {order + 1}</failure>"
            f"<system-out>captured output of {name}\n{'log line ' * 30}</system-out>"
        )
    elif roll < 0.04:
        body = f'<skipped type="pytest.skip" message="needs network">{path}:12: needs network</skipped>'
    return (
        f"<testcase classname={quoteattr(classname)} name={quoteattr(name)} file={quoteattr(path)} "
        f'line="{order % 500}" time="{seconds:.3f}">{properties}{body}</testcase>'
    )


def write_reports(directory: Path, cases: int, reports: int, seed: int = 7) -> tuple[Path, list[Path], Plan]:
    """A plan over `cases` generated tests and one report per shard, as `sharder run` would leave them."""
    rng = random.Random(seed)
    tests = generated_ids(cases, rng)
    plan = make_plan(list(tests), tests, reports)
    directory.mkdir(parents=True, exist_ok=True)
    plan_path = directory / "plan.json"
    write_plan(plan_path, plan)
    sizes = ",".join(str(len(b.tests)) for b in plan.bins)
    paths = []
    for shard_bin in plan.bins:
        spec = ShardSpec(shard_bin.shard, reports)
        body = "".join(
            _case_xml(node_id, tests[node_id], order, spec, rng) for order, node_id in enumerate(shard_bin.tests, 1)
        )
        suite_properties = (
            f'<properties><property name="{SHARD_PROPERTY}" value="{spec}" />'
            f'<property name="{PLAN_ID_PROPERTY}" value="{plan.plan_id}" />'
            f'<property name="{PLAN_SIZES_PROPERTY}" value="{sizes}" />'
            f'<property name="{PREDICTED_SECONDS_PROPERTY}" value="{shard_bin.predicted_seconds:.6f}" /></properties>'
        )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
            f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{len(shard_bin.tests)}" '
            f'time="{shard_bin.predicted_seconds:.3f}" timestamp="2026-01-01T00:00:{shard_bin.shard:02d}" hostname="ci">'
            f"{suite_properties}{body}</testsuite></testsuites>"
        )
        path = directory / "reports" / f"{spec.report_stem}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
        paths.append(path)
    return plan_path, paths, plan


@dataclass
class Measurement:
    seconds: float
    peak_mb: float
    code: int


def measure(argv: Sequence[str], cwd: Path) -> Measurement:
    """Wall time and the child's own peak RSS (Linux reports ru_maxrss in KiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        proc.stderr.close()
    return Measurement(elapsed, usage.ru_maxrss / 1024, proc.returncode)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    junitparser_cli = shutil.which("junitparser") or str(Path(sys.executable).parent / "junitparser")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sharder-bench-merge-"))
    try:
        started = time.perf_counter()
        plan_path, paths, plan = write_reports(work, args.cases, args.reports)
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"generated {plan.total_tests:,} cases in {len(paths)} reports ({size_mb:.1f} MB) "
              f"in {time.perf_counter() - started:.1f} s; {args.repeat} alternating runs each, median shown",
              flush=True)
        tools = {
            "sharder merge (--plan, -o, --markdown)": [
                sys.executable, "-m", "sharder", "merge", "reports", "--plan", str(plan_path),
                "-o", "merged-sharder.xml", "--markdown", "summary.md",
            ],
            "sharder merge (reports only, -o)": [
                sys.executable, "-m", "sharder", "merge", "reports", "-o", "merged-sharder-2.xml",
            ],
            "sharder merge (verdict only, no XML written)": [
                sys.executable, "-m", "sharder", "merge", "reports",
            ],
            "junitparser merge": [junitparser_cli, "merge", *[str(p) for p in paths], "merged-junitparser.xml"],
        }
        results: dict[str, list[Measurement]] = {name: [] for name in tools}
        for _ in range(args.repeat):
            for name, command in tools.items():
                results[name].append(measure(command, work))
        baseline = statistics.median(m.seconds for m in results["junitparser merge"])
        baseline_mb = statistics.median(m.peak_mb for m in results["junitparser merge"])
        rows = []
        for name, runs in results.items():
            seconds = statistics.median(m.seconds for m in runs)
            peak = statistics.median(m.peak_mb for m in runs)
            codes = sorted({m.code for m in runs})
            rows.append((name, f"{seconds:.2f}", f"{peak:.0f}", f"{seconds / baseline:.2f}x", f"{peak / baseline_mb:.2f}x",
                         ",".join(map(str, codes))))
        print(format_table(("tool", "wall s", "peak MB", "time vs junitparser", "memory vs junitparser", "exit"), rows))
        print("(sharder exits 1 here: the generated reports hold failures, as a real run would)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
