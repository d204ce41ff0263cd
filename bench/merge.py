"""Benchmark: `sharder merge` beside junitparser's own `junitparser merge` on the same generated reports.

Two workloads: a plan and 16 shard reports shaped like the ones sharder's plugin writes (pytest xunit1 cases with
sharder's properties, about 1% failures with tracebacks and captured output, 3% skips), 100,000 cases in all; and
one plain `pytest --junitxml` report of a flat suite with 1,000,000 cases (about 70 bytes each, 1% failing).
Each tool runs as its own process, all of them in turn, `--repeat` rounds, and the table shows medians of wall
time, CPU time (user + system) and peak resident memory (the child's own `ru_maxrss` and `ru_utime`/`ru_stime` from
`os.wait4`). With `--before DIR` (a checkout of an earlier commit, e.g. `git worktree add DIR 0a1dd1a`) the same
sharder commands also run from that checkout, in the same rounds. Ratios are to junitparser on the same workload,
measured side by side in one run, never compared across machines; on a shared machine, CPU time moves less than
wall time.

    python bench/merge.py [--cases 100000] [--reports 16] [--big-cases 1000000] [--repeat 3] [--before DIR]
                          [--keep DIR]
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


def write_flat_report(path: Path, cases: int) -> None:
    """One plain `pytest --junitxml` report (no sharder properties, so every case is mapped by its attributes) of a
    flat suite: 200 tests per module, 1% failing with a one-line assertion."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" '
                     f'errors="0" failures="{cases // 100}" skipped="0" tests="{cases}" time="{cases * 0.005:.3f}">')
        for start in range(0, cases, 10_000):
            handle.write("".join(
                f'<testcase classname="tests.test_mod_{i // 200}" name="test_{i}" time="0.00{i % 10}">'
                '<failure message="assert 1 == 2">E  assert 1 == 2</failure></testcase>'
                if i % 100 == 7 else
                f'<testcase classname="tests.test_mod_{i // 200}" name="test_{i}" time="0.00{i % 10}" />'
                for i in range(start, min(start + 10_000, cases))
            ))
        handle.write("</testsuite></testsuites>")


@dataclass
class Measurement:
    seconds: float
    cpu_seconds: float
    peak_mb: float
    code: int


def measure(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Measurement:
    """Wall time, the child's own CPU time and peak RSS (Linux reports ru_maxrss in KiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        proc.stderr.close()
    return Measurement(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


@dataclass
class Tool:
    workload: str
    name: str
    argv: list[str]
    env: dict[str, str] | None = None


def _sharder(checkout: Path | None) -> tuple[list[str], dict[str, str] | None]:
    """`python -m sharder` from this checkout's import path, or from `checkout` (an earlier commit)."""
    if checkout is None:
        return [sys.executable, "-m", "sharder"], None
    return [sys.executable, "-m", "sharder"], {**os.environ, "PYTHONPATH": os.fspath(checkout.resolve())}


def _tools(shards: str, plan_path: Path, paths: list[Path], big: tuple[str, Path] | None, before: Path | None,
           junitparser_cli: str) -> list[Tool]:
    """Every command of one round: this checkout's sharder, the earlier one's, junitparser, per workload."""
    checkouts = [("", None), *([(" [before]", before)] if before is not None else [])]
    tools: list[Tool] = []
    for label, checkout in checkouts:
        sharder, env = _sharder(checkout)
        tag = "before" if checkout is not None else "after"
        tools += [
            Tool(shards, f"sharder merge (--plan, -o, --markdown){label}",
                 [*sharder, "merge", "reports", "--plan", os.fspath(plan_path), "-o", f"merged-{tag}.xml",
                  "--markdown", f"summary-{tag}.md"], env),
            Tool(shards, f"sharder merge (reports only, -o){label}",
                 [*sharder, "merge", "reports", "-o", f"merged-{tag}-2.xml"], env),
            Tool(shards, f"sharder merge (verdict only, no XML written){label}", [*sharder, "merge", "reports"], env),
        ]
    tools.append(Tool(shards, "junitparser merge", [junitparser_cli, "merge", *map(os.fspath, paths),
                                                    "merged-junitparser.xml"]))
    if big is not None:
        workload, path = big
        for label, checkout in checkouts:
            sharder, env = _sharder(checkout)
            tag = "before" if checkout is not None else "after"
            tools.append(Tool(workload, f"sharder merge (-o){label}",
                              [*sharder, "merge", os.fspath(path), "-o", f"merged-big-{tag}.xml"], env))
        tools.append(Tool(workload, "junitparser merge", [junitparser_cli, "merge", os.fspath(path), "merged-big-jp.xml"]))
    return tools


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=16)
    parser.add_argument("--big-cases", type=int, default=1_000_000, help="cases in the one big report (0: none)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", metavar="DIR", type=Path,
                        help="a checkout of an earlier commit, whose `python -m sharder` runs in the same rounds")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.before is not None and not (args.before / "sharder" / "__main__.py").is_file():
        parser.error(f"--before {args.before}: not a sharder checkout")
    junitparser_cli = shutil.which("junitparser") or str(Path(sys.executable).parent / "junitparser")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sharder-bench-merge-"))
    try:
        started = time.perf_counter()
        plan_path, paths, plan = write_reports(work, args.cases, args.reports)
        big = None
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        generated = f"generated {plan.total_tests:,} cases in {len(paths)} reports ({size_mb:.1f} MB)"
        if args.big_cases:
            path = work / "big" / "junit.xml"
            write_flat_report(path, args.big_cases)
            big = (f"1 report, {args.big_cases:,} cases", path)
            generated += f" and one report of {args.big_cases:,} cases ({path.stat().st_size / 1e6:.0f} MB)"
        print(f"{generated} in {time.perf_counter() - started:.1f} s; {args.repeat} rounds of every tool in turn, "
              "medians shown", flush=True)
        tools = _tools(f"{len(paths)} reports, {plan.total_tests:,} cases", plan_path, paths, big, args.before,
                       junitparser_cli)
        results: dict[int, list[Measurement]] = {i: [] for i in range(len(tools))}
        for _ in range(args.repeat):
            for index, tool in enumerate(tools):
                results[index].append(measure(tool.argv, work, tool.env))
        rows = []
        for workload in dict.fromkeys(tool.workload for tool in tools):
            indices = [i for i, tool in enumerate(tools) if tool.workload == workload]
            baseline = next(i for i in indices if tools[i].name == "junitparser merge")
            base_wall = statistics.median(m.seconds for m in results[baseline])
            base_cpu = statistics.median(m.cpu_seconds for m in results[baseline])
            base_mb = statistics.median(m.peak_mb for m in results[baseline])
            for index in indices:
                runs = results[index]
                wall = statistics.median(m.seconds for m in runs)
                cpu = statistics.median(m.cpu_seconds for m in runs)
                peak = statistics.median(m.peak_mb for m in runs)
                codes = ",".join(map(str, sorted({m.code for m in runs})))
                rows.append((workload, tools[index].name, f"{wall:.2f}", f"{cpu:.2f}", f"{peak:.0f}",
                             f"{wall / base_wall:.2f}x", f"{cpu / base_cpu:.2f}x", f"{peak / base_mb:.2f}x", codes))
        print(format_table(("workload", "tool", "wall s", "cpu s", "peak MB", "wall vs jp", "cpu vs jp",
                            "memory vs jp", "exit"), rows))
        print("(sharder exits 1 here: the generated reports hold failures, as a real run would)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
