"""Benchmark: what one shard of 8 pays to collect, with and without the collection footprint (issue 7, part 3).

A generated suite of `--files` test modules (default 500) in 20 directories, each with a conftest fixture, half of
them packages. Every module does real work at import (it builds a lookup table in a pure-Python loop, as a module
importing a heavy library or building test data does), calibrated on this machine to about `--import-ms` ms.
The plan keeps modules together (`--group-by module`, the footprint's use case) and comes from synthetic
log-normal durations. In one run, interleaved round by round so machine load hits every mode alike:

- `pytest --collect-only` of the whole suite,
- shard K/8 from the plan with `--sharder-full-collection` (every shard paid this before the footprint),
- shard K/8 from the plan with the footprint (the default),
- pytest on an empty suite: the interpreter and plugin start-up no footprint can remove.

Goal: the footprint shard close to 1/8 of full collection. Wall time of the whole subprocess, best and median of
`--repeat` rounds; "above floor" subtracts the empty-suite start-up from both sides of the ratio.

    python bench/collect.py [--files 500] [--import-ms 20] [--shards 8] [--shard 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sharder.core.shardspec import ShardSpec
from sharder.core.table import format_table
from sharder.planning.plan import Plan, read_plan, write_plan
from sharder.planning.planner import make_plan
from sharder.pytest_plugin.footprint import Footprint, plan_footprint

AREAS = 20

# The import-time work of every generated module, also exec'd here to calibrate its size on this machine.
WORK_SOURCE = '''
def _build_table(size, seed):
    table = {}
    value = seed
    for index in range(size):
        value = (value * 1103515245 + 12345) & 0x7FFFFFFF
        table[index] = value % 1000
    return table
'''

MODULE_TEMPLATE = '''"""Generated test module {number}: its import builds a table, the cost of a heavy import."""
import pytest
{work}
TABLE = _build_table({size}, {number})


@pytest.mark.parametrize("key", range(4))
def test_lookup(key, area_value):
    assert 0 <= TABLE[key] < 1000 and area_value == {area}


def test_size():
    assert len(TABLE) == {size}


class TestModule{number}:
    def test_first(self):
        assert TABLE[0] >= 0

    def test_last(self):
        assert TABLE[{size} - 1] >= 0
'''

CONFTEST_TEMPLATE = '''import pytest


@pytest.fixture
def area_value():
    return {area}
'''

PYTEST_ARGS = ("--collect-only", "-q", "-p", "no:randomly", "-p", "no:cacheprovider")


def calibrated_size(import_ms: float) -> int:
    """Table size whose build takes about `import_ms` here (best of 5, so load inflates nothing)."""
    namespace: dict[str, Callable[[int, int], dict[int, int]]] = {}
    exec(WORK_SOURCE, namespace)  # the very code the modules run
    build = namespace["_build_table"]
    probe = 100_000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        build(probe, 1)
        best = min(best, time.perf_counter() - start)
    return max(1, round(probe * import_ms / 1000 / best))


def write_suite(root: Path, files: int, size: int) -> None:
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    for area in range(AREAS):
        directory = root / "tests" / f"area_{area:02d}"
        directory.mkdir(parents=True)
        (directory / "conftest.py").write_text(CONFTEST_TEMPLATE.format(area=area), encoding="utf-8")
        if area % 2:
            (directory / "__init__.py").write_text("", encoding="utf-8")
    for number in range(files):
        area = number % AREAS
        module = MODULE_TEMPLATE.format(number=number, area=area, size=size, work=WORK_SOURCE)
        (root / "tests" / f"area_{area:02d}" / f"test_mod_{number:04d}.py").write_text(module, encoding="utf-8")


def synthetic_seconds(ids: Sequence[str], seed: int = 7) -> dict[str, float]:
    rng = random.Random(seed)
    return {node_id: round(rng.lognormvariate(-2.0, 1.2), 6) for node_id in ids}


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *PYTEST_ARGS, *args]


def timed(argv: Sequence[str], cwd: Path, expect: int = 0) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def selected_count(stdout: str, spec: ShardSpec) -> int:
    match = re.search(rf"^sharder: shard {spec}, (\d+) of \d+ tests", stdout, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no selection header for shard {spec} in:\n{stdout[-2000:]}")
    return int(match.group(1))


def footprint_files(plan: Plan, spec: ShardSpec, root: Path) -> str:
    decision = plan_footprint(plan, spec, root)
    total = len({node_id.split("::")[0] for node_id in plan.all_tests()})
    kept = total - len(decision.skippable) if isinstance(decision, Footprint) else total
    return f"{kept} of {total}"


def run_collect_benchmark(
    files: int, import_ms: float, shards: int, shard: int, repeat: int, group_by: str, keep: Path | None
) -> None:
    spec = ShardSpec(shard, shards)
    with tempfile.TemporaryDirectory(prefix="sharder-collect-") as temporary:
        root = keep or Path(temporary) / "suite"
        if keep is not None and keep.exists():
            raise SystemExit(f"{keep} exists; --keep wants a new directory")
        size = calibrated_size(import_ms)
        write_suite(root, files, size)
        empty = Path(temporary) / "empty"
        empty.mkdir()
        (empty / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")

        ids_path = Path(temporary) / "ids.json"
        timed(pytest_command(f"--sharder-collect-to={ids_path}"), root)  # also the warm-up: .pyc files written
        ids = json.loads(ids_path.read_text(encoding="utf-8"))["tests"]
        seconds = synthetic_seconds(ids)
        plan_path = root / "plan.json"
        write_plan(plan_path, make_plan(ids, seconds, shards, group_by=group_by))
        plan = read_plan(plan_path)
        planned = len(plan.bin_for(spec).tests)
        others = {other: make_plan(ids, seconds, shards, group_by=other) for other in ("test", "auto")}

        shard_args = (f"--shard={spec}", f"--sharder-plan={plan_path}")
        modes: dict[str, tuple[list[str], Path, int]] = {
            "full collection (pytest --collect-only)": (pytest_command(), root, 0),
            f"shard {spec}, --sharder-full-collection": (pytest_command(*shard_args, "--sharder-full-collection"),
                                                       root, 0),
            f"shard {spec}, footprint": (pytest_command(*shard_args), root, 0),
            "floor: empty suite (start-up only)": (pytest_command(), empty, 5),
        }
        times: dict[str, list[float]] = {label: [] for label in modes}
        for _ in range(repeat):
            for label, (argv, cwd, expect) in modes.items():
                elapsed, stdout = timed(argv, cwd, expect)
                times[label].append(elapsed)
                if label.startswith("shard") and selected_count(stdout, spec) != planned:
                    raise SystemExit(f"{label}: selected {selected_count(stdout, spec)} tests, the plan has {planned}")
        labels = list(modes)
        imported = {labels[0]: f"{files} of {files}", labels[1]: f"{files} of {files}",
                    labels[2]: footprint_files(plan, spec, root), labels[3]: "0"}
        sizes = ", ".join(f"--group-by {other}: {footprint_files(p, spec, root)}" for other, p in others.items())

    full_best, floor_best = min(times[labels[0]]), min(times[labels[3]])
    rows = []
    for label in labels:
        best = min(times[label])
        above = (best - floor_best) / (full_best - floor_best) if full_best > floor_best else float("nan")
        rows.append((label, imported[label], f"{best:.2f}", f"{statistics.median(times[label]):.2f}",
                     f"{best / full_best:.3f}", f"{above:.3f}"))
    print(f"{files} test files, {len(ids)} tests, about {import_ms:g} ms of import work each (table of {size}); "
          f"plan --group-by {group_by}, {shards} shards; shard {spec} holds {planned} tests")
    print(f"wall seconds of the whole pytest process, best and median of {repeat} interleaved rounds "
          f"(goal: footprint close to 1/{shards} = {1 / shards:.3f} of full collection)")
    print(format_table(("process", "test files imported", "best s", "median s", "/ full", "/ full above floor"), rows))
    print(f"files shard {spec} would import with other groupings (same durations): {sizes}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--import-ms", type=float, default=20.0, help="import work per test module (default 20)")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--shard", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--group-by", default="module", help="grouping of the measured plan (default: module)")
    parser.add_argument("--keep", type=Path, help="generate the suite here and keep it (a new directory)")
    args = parser.parse_args(argv)
    run_collect_benchmark(args.files, args.import_ms, args.shards, args.shard, args.repeat, args.group_by, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
