"""Benchmark: the wall of CI shards on real third-party suites, sharder's wall model beside pytest-split (issue 17).

Suites come from PyPI wheels that ship their tests (networkx: `networkx/**/tests`; scipy: `scipy/optimize/tests`),
installed in a venv of their own (`--python`), with pytest, pytest-split and sharder's own dependencies (junitparser,
defusedxml, PyYAML); sharder is this tree (PYTHONPATH), and the run stops at once when it does not import there.
Every pytest process runs with plugin autoload off and only the plugins its tool loads (`sharder run` adds its
memory and filter plugins to `-p sharder.plugin`; pytest-split needs `-p pytest_split.plugin`).

Per suite, in one run:
1. `sharder record` (a serial run; with `--record-processes K`, K processes each collecting a part of the files,
   as shards do) measures each test, each file's import and the per-process costs; pytest-split reads the same
   timings (the store written flat as `.test_durations`).
2. The serial wall: the whole suite in one plain `pytest` process.
3. For each N: sharder's default plan, `--group-by test`, and pytest-split `least_duration`; shard K of every tool
   runs before shard K+1 of any (the order rotates with K), one process at a time, so load hits them alike.
   Each shard's wall is the whole process, measured from outside: sharder's shards run through `sharder run`
   (with the memory plugin the serial `sharder record` had, a JUnit report and a progress log), pytest-split's
   as pytest writing a JUnit report (`--bare`: both as bare pytest, only their plugin). The serial run is
   measured again after the shards: how far the machine's speed drifted while they ran.
4. With `--replan N`, what CI does from its second run on: the record rebalanced from the first round's sharder
   default shards (their JUnit reports and progress logs), planned again and run again, between two serial runs.

Printed: slowest shard / (serial / N) per tool and N, and each sharder shard's predicted wall beside the
measured one, with each process's CPU seconds (a shared machine's load stretches walls, not CPU). "sharder
default" is the grouping `--default-group-by` names: `auto` unless told, the candidate for `sharder plan`'s default.
With `--repeat R` (R >= 2), also the medians over the R rounds and each shard's spread (`repeats_report`).
Goals: sharder's default <= 1.15x at N = 4; every predicted wall within 10%.

    python bench/wall.py --python /tmp/wallvenv/bin/python [--suite networkx] [--shards 2 4 8] [--replan 4]
        [--matrix] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sharder.core.shardspec import ShardSpec
from sharder.core.table import format_table
from sharder.durations.planning_input import PlanningInput, load_planning_input
from sharder.durations.store import load_durations, render_durations
from sharder.planning.plan import Plan, write_plan
from sharder.planning.planner import make_plan

ROOT = Path(__file__).resolve().parent.parent
# Test paths inside site-packages. networkx: the algorithm, class and generator tests (most of its 6,800), not its
# drawing/readwrite/linalg tests, whose optional dependencies (matplotlib, pandas, lxml) are not installed: they
# would only be skipped. scipy: the optimize tests its wheel ships.
SUITES: dict[str, list[str]] = {
    "networkx": ["networkx/algorithms", "networkx/classes", "networkx/generators"],
    "scipy.optimize": ["scipy/optimize/tests"],
}
TOOLS = ("sharder default", "sharder --group-by test", "pytest-split least_duration")
INI = "[pytest]\naddopts = -p no:cacheprovider -q\n"


def site_packages(python: str) -> Path:
    out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


class Suite:
    """One suite: where it runs, the pytest arguments common to every process, the environment."""

    def __init__(self, name: str, python: str, work: Path, paths: Sequence[str] = (), bare: bool = False) -> None:
        self.name = name
        self.bare = bare
        self.python = python
        self.site = site_packages(python)
        self.work = work / name
        self.work.mkdir(parents=True, exist_ok=True)
        self.ini = self.work / "pytest.ini"
        self.ini.write_text(INI)
        self.durations = self.work / "durations.json"
        self.flat = self.work / ".test_durations"
        self.common = ["-c", str(self.ini), f"--rootdir={self.site}", "-p", "no:randomly",
                       *(paths or SUITES[name])]
        # One thread per math library: OpenBLAS spins its threads while it waits, so on a small machine a scipy
        # process's wall and CPU measured the spinning (what a CI job with one core per job sees as well).
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                    **dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")}
        self.cpu: list[float] = []  # each run's CPU seconds (user + sys), beside its wall: how loaded the machine was
        if not bare:
            self._check_sharder_imports()

    def _check_sharder_imports(self) -> None:
        """Stop before recording when `sharder run` could not start in the suites' venv: a shard that dies at its
        imports exits 1, which a shard with failing tests also does, and would be timed as a 0.1 s shard."""
        done = subprocess.run([self.python, "-c", "import sharder.cli, sharder.reports.junit, conftest_lib.memory"],
                              cwd=self.site, env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            sys.exit(f"{self.python}: sharder does not import there ({last}); install its dependencies in that "
                     "venv: pip install junitparser defusedxml PyYAML")

    def run_shard(self, args: Sequence[str], report: Path | None) -> float:
        """`run`, for one shard: its JUnit report (None with `--bare`) must be written by this very process, or
        the wall timed a shard that never ran its tests."""
        if report is not None:
            report.unlink(missing_ok=True)
        seconds = self.run(args)
        if report is not None and not report.is_file():
            sys.exit(f"{self.name}: {' '.join(args[:6])} ... wrote no JUnit report {report}: its wall does not "
                     "time a shard")
        return seconds

    def run(self, args: Sequence[str], *, allowed: Sequence[int] = (0, 1, 5)) -> float:
        """Seconds of the whole process (it runs in site-packages, where the node ids are rooted)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([self.python, *args], cwd=self.site, env=self.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, check=False)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        self._check(args, done, allowed)
        return seconds

    def output(self, args: Sequence[str]) -> str:
        """What a command prints on stdout (not timed)."""
        done = subprocess.run([self.python, *args], cwd=self.site, env=self.env, capture_output=True, text=True,
                              check=False)
        self._check(args, done, (0,))
        return done.stdout

    def _check(self, args: Sequence[str], done: subprocess.CompletedProcess[str], allowed: Sequence[int]) -> None:
        if done.returncode not in allowed:
            sys.exit(f"{self.name}: {' '.join(args[:6])} ... exited {done.returncode}: {done.stderr[-2000:]}")

    def serial(self) -> float:
        """The whole suite in one plain pytest process."""
        return self.run(["-m", "pytest", *self.common])

    def collect(self) -> list[str]:
        """The suite's node ids, from pytest's own items (its printed list cuts an id holding a newline)."""
        listing = self.work / "collected.json"
        script = ("import json, sys, pytest\n"
                  "class Ids:\n"
                  "    def pytest_collection_finish(self, session):\n"
                  f"        open({str(listing)!r}, 'w').write(json.dumps([i.nodeid for i in session.items]))\n"
                  "sys.exit(pytest.main(['--collect-only', '-q', *sys.argv[1:]], plugins=[Ids()]))\n")
        subprocess.run([self.python, "-c", script, *self.common], cwd=self.site, env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        ids: list[str] = json.loads(listing.read_text())
        return ids


def record(suite: Suite, processes: int = 1) -> None:
    """A collection first, so every later process (the record too) finds the test modules' rewritten bytecode
    cached, as each other one does: otherwise the record alone pays pytest's assertion rewriting of every file."""
    if suite.durations.exists():
        suite.durations.unlink()
    suite.collect()
    suite.run(["-m", "sharder", "record", "--processes", str(processes), "--durations", str(suite.durations), "--",
               *suite.common])
    suite.flat.write_text(render_durations(load_durations(suite.durations), flat=True))


def plan_from(ids: list[str], timings: PlanningInput, shards: int, group_by: str) -> Plan:
    """The plan `sharder plan --group-by GROUP_BY` makes from the store (`make_plan`'s own default grouping is
    `test`, not the command's)."""
    return make_plan(ids, timings.seconds, shards, group_by=group_by, durations_sha256=timings.sha256,
                     setup_seconds=timings.setup_seconds, costs=timings.costs)


def reports_dir(suite: Suite, tool: str, shards: int, label: str = "") -> Path:
    """Where a tool's shards for N write their JUnit reports (and sharder's its progress logs)."""
    return suite.work / "reports" / (tool.replace(" ", "_") + label) / str(shards)


def shard_report(suite: Suite, tool: str, shards: int, shard: int, label: str = "") -> Path | None:
    """The JUnit report a shard writes (`shard_args`), None when `--bare` runs it without one."""
    return None if suite.bare else reports_dir(suite, tool, shards, label) / f"{ShardSpec(shard, shards).report_stem}.xml"


def shard_args(tool: str, plans: dict[str, Path], suite: Suite, shards: int, shard: int, label: str = "") -> list[str]:
    """A shard as CI runs it: sharder's through `sharder run` (its memory plugin, JUnit report and progress log, as
    the serial `sharder record` had them), pytest-split's as plain pytest writing a JUnit report; with `--bare`,
    both as bare pytest with only their plugin. `label` keeps a second round's reports apart from the first's."""
    reports = reports_dir(suite, tool, shards, label)
    if tool.startswith("sharder"):
        if suite.bare:
            return ["-m", "pytest", "-p", "sharder.plugin", "--shard", f"{shard}/{shards}", "--sharder-plan",
                    str(plans[tool]), *suite.common]
        return ["-m", "sharder", "run", "--shard", f"{shard}/{shards}", "--plan", str(plans[tool]), "--junit-dir",
                str(reports), "--", *suite.common]
    report = shard_report(suite, tool, shards, shard, label)
    junit = [] if report is None else [f"--junitxml={report}"]
    return ["-m", "pytest", "-p", "pytest_split.plugin", "--splits", str(shards), "--group", str(shard),
            "--splitting-algorithm", "least_duration", "--durations-path", str(suite.flat), *junit, *suite.common]


def second_round(suite: Suite, ids: list[str], shards: int, group_by: str, first_plan: Path) -> dict[str, Any]:
    """What CI does from its second run on: `sharder rebalance` a copy of the record from the first round's
    sharder-default reports (JUnit and progress logs, so the per-process costs too), plan again from it and run
    those shards, serial wall measured before and after them. The record is left as it was, for the next N."""
    store = suite.work / f"durations-round2-{shards}.json"
    store.write_bytes(suite.durations.read_bytes())
    suite.output(["-m", "sharder", "rebalance", "--durations", str(store), "--plan", str(first_plan),
                  str(reports_dir(suite, "sharder default", shards))])
    plan = plan_from(ids, load_planning_input(store), shards, group_by)
    path = suite.work / f"plan-{group_by}-{shards}-round2.json"
    write_plan(path, plan)
    print(f"== {suite.name}: serial, then N = {shards} replanned from the shards' reports", file=sys.stderr,
          flush=True)
    serial = suite.serial()
    walls, cpu = [], []
    for shard in range(1, shards + 1):
        walls.append(suite.run_shard(shard_args("sharder default", {"sharder default": path}, suite, shards, shard,
                                                label="round2"),
                                     shard_report(suite, "sharder default", shards, shard, label="round2")))
        cpu.append(suite.cpu[-1])
    return {"serial": serial, "serial_after": suite.serial(), "walls": walls, "cpu": cpu,
            "predicted": [b.predicted_wall_seconds for b in plan.bins]}


def bench_suite(suite: Suite, shard_counts: Sequence[int], default_group_by: str, repeat: int,
                progress: Path | None = None, replan: Sequence[int] = (), record_processes: int = 1) -> dict[str, Any]:
    print(f"== {suite.name}: recording (sharder record --processes {record_processes})", file=sys.stderr, flush=True)
    record(suite, record_processes)
    ids = suite.collect()
    timings = load_planning_input(suite.durations)
    serial_walls = []
    result: dict[str, Any] = {"suite": suite.name, "tests": len(ids), "runs": {}, "record_processes": record_processes,
                              # the whole suite in one process as the record predicts it: the record's own speed
                              "predicted_serial": plan_from(ids, timings, 1, default_group_by).bins[0]
                              .predicted_wall_seconds}
    runs: dict[str, list[dict[str, Any]]] = {}
    for n in shard_counts:
        plans: dict[str, Path] = {}
        predicted: dict[str, Plan] = {}
        for tool, group_by in (("sharder default", default_group_by), ("sharder --group-by test", "test")):
            plan = plan_from(ids, timings, n, group_by)
            plans[tool] = suite.work / f"plan-{group_by}-{n}.json"
            write_plan(plans[tool], plan)
            predicted[tool] = plan
        for _ in range(repeat):
            print(f"== {suite.name}: serial, then N = {n}", file=sys.stderr, flush=True)
            serial_walls.append(suite.serial())
            serial_cpu = suite.cpu[-1]
            walls: dict[str, list[float]] = {tool: [] for tool in TOOLS}
            cpu: dict[str, list[float]] = {tool: [] for tool in TOOLS}
            for shard in range(1, n + 1):
                order = TOOLS[shard % len(TOOLS):] + TOOLS[:shard % len(TOOLS)]
                for tool in order:
                    walls[tool].append(suite.run_shard(shard_args(tool, plans, suite, n, shard),
                                                       shard_report(suite, tool, n, shard)))
                    cpu[tool].append(suite.cpu[-1])
            # The serial run again after the shards: on a shared or throttled machine the speed drifts within
            # minutes, and a shard measured slower than predicted may only have run in a slower minute.
            serial_after = suite.serial()
            second = second_round(suite, ids, n, default_group_by, plans["sharder default"]) if n in replan else None
            runs.setdefault(str(n), []).append({
                "serial": serial_walls[-1],
                "serial_cpu": serial_cpu,
                "serial_after": serial_after,
                "serial_after_cpu": suite.cpu[-1],
                "walls": walls,
                "cpu": cpu,
                "predicted": {tool: [b.predicted_wall_seconds for b in predicted[tool].bins]
                              for tool in predicted},
                **({"second_round": second} if second else {}),
            })
            result["runs"] = runs
            if progress is not None:  # each N as soon as it is measured: a long run shows what it has so far
                progress.write_text(json.dumps(result, indent=1))
                print(report([result]), file=sys.stderr, flush=True)
    result["runs"] = runs
    result["serial_median"] = statistics.median(serial_walls)
    return result


def matrix_picks(suite: Suite, result: dict[str, Any], max_shards: int, group_by: str) -> list[dict[str, Any]]:
    """`sharder matrix --target T` against the measured walls: for each measured N but the largest, T is that N's
    measured slowest shard plus 2%, a target N is known to meet. The pick is then run too when it was not measured
    (sharder's default plan, `group_by`, every shard), so the table shows the pick's measured wall beside its prediction and
    whether a smaller N measured within the target."""
    measured = {int(n): max(attempts[-1]["walls"]["sharder default"]) for n, attempts in result["runs"].items()}
    minutes = {int(n): sum(attempts[-1]["walls"]["sharder default"]) / 60 for n, attempts in result["runs"].items()}
    picks = []
    for n in sorted(measured)[:-1]:
        target = measured[n] * 1.02
        choice = json.loads(suite.output(["-m", "sharder", "matrix", "--target", f"{target:.1f}s", "--max-shards",
                                          str(max_shards), "--json", "--durations", str(suite.durations), "--",
                                          *suite.common]))
        pick = choice["shards"]
        if pick not in measured:
            plan = suite.work / f"plan-pick-{pick}.json"
            write_plan(plan, plan_from(suite.collect(), load_planning_input(suite.durations), pick, group_by))
            walls = [suite.run(shard_args("sharder default", {"sharder default": plan}, suite, pick, shard))
                     for shard in range(1, pick + 1)]
            measured[pick], minutes[pick] = max(walls), sum(walls) / 60
        forecast = next(f for f in choice["forecasts"] if f["shards"] == pick)
        within = [m for m in sorted(measured) if measured[m] <= target]
        picks.append({"target": target, "pick": pick, "predicted_wall": forecast["wall_seconds"],
                      "predicted_minutes": forecast["runner_minutes"], "measured_wall": measured[pick],
                      "measured_minutes": minutes[pick], "fewest_measured_within": within[0] if within else None,
                      "measured": dict(measured)})
    return picks


def picks_report(results: list[dict[str, Any]]) -> str:
    rows = []
    for result in results:
        for pick in result.get("picks", []):
            rows.append((result["suite"], f"{pick['target']:.1f}", pick["pick"], f"{pick['predicted_wall']:.1f}",
                         f"{pick['measured_wall']:.1f}", f"{pick['predicted_minutes']:.1f}",
                         f"{pick['measured_minutes']:.1f}", pick["fewest_measured_within"],
                         "  ".join(f"N={n}: {wall:.1f}" for n, wall in sorted(pick["measured"].items()))))
    return format_table(("suite", "target s", "matrix picks N", "predicted wall s", "measured wall s",
                         "predicted runner min", "measured runner min", "fewest N measured within", "measured walls"),
                        rows)


def report(results: list[dict[str, Any]]) -> str:
    lines = []
    rows = []
    for result in results:
        for n, attempts in result["runs"].items():
            for attempt in attempts:
                ideal = attempt["serial"] / int(n)
                after = attempt.get("serial_after")  # not in the JSON of an older run
                drift = f"{after:.1f} ({after / attempt['serial']:.2f}x)" if after else "-"
                mean = (attempt["serial"] + after) / 2 / int(n) if after else ideal
                rows.append((result["suite"], n, f"{attempt['serial']:.1f}", f"{attempt['serial_cpu']:.1f}", drift,
                             *(f"{max(attempt['walls'][tool]) / ideal:.3f}" for tool in TOOLS),
                             f"{max(attempt['walls'][TOOLS[0]]) / mean:.3f}"))
                second = attempt.get("second_round")
                if second:
                    drift = f"{second['serial_after']:.1f} ({second['serial_after'] / second['serial']:.2f}x)"
                    mean = (second["serial"] + second["serial_after"]) / 2 / int(n)
                    rows.append((result["suite"], f"{n}, replanned", f"{second['serial']:.1f}", "", drift,
                                 f"{max(second['walls']) / (second['serial'] / int(n)):.3f}", "-", "-",
                                 f"{max(second['walls']) / mean:.3f}"))
    header = ("suite", "N", "serial s", "serial CPU s", "serial after the shards s",
              *(f"{t} (slowest/(serial/N))" for t in TOOLS), "sharder default / (mean serial / N)")
    lines.append(format_table(header, rows))
    lines.append("")
    rows = []
    for result in results:
        for n, attempts in result["runs"].items():
            for attempt in attempts:
                for tool in TOOLS[:2]:
                    for shard, (wall, cpu, guess) in enumerate(zip(attempt["walls"][tool], attempt["cpu"][tool],
                                                                  attempt["predicted"][tool], strict=True), start=1):
                        error = f"{100 * (guess / wall - 1):+.1f}%" if guess else "-"
                        rows.append((result["suite"], f"{shard}/{n}", tool, f"{wall:.1f}", f"{cpu:.1f}",
                                     f"{guess:.1f}" if guess else "-", error))
                second = attempt.get("second_round") or {"walls": [], "cpu": [], "predicted": []}
                for shard, (wall, cpu, guess) in enumerate(zip(second["walls"], second["cpu"], second["predicted"],
                                                              strict=True), start=1):
                    rows.append((result["suite"], f"{shard}/{n}", "sharder default, replanned", f"{wall:.1f}",
                                 f"{cpu:.1f}", f"{guess:.1f}", f"{100 * (guess / wall - 1):+.1f}%"))
    lines.append(format_table(("suite", "shard", "plan", "measured wall s", "its CPU s", "predicted wall s",
                               "error"), rows))
    return "\n".join(lines)


def _errors_text(errors: Sequence[float]) -> str:
    return f"{min(errors):+.0f}% to {max(errors):+.0f}%, {sum(abs(e) <= 10 for e in errors)} of {len(errors)} within 10%"


def repeats_report(results: list[dict[str, Any]]) -> str:
    """With `--repeat R`: the same plans measured R times, medians beside the spread.

    One measurement of a shard is not a verdict on a machine whose speed moves within minutes (bench/README.md
    measures how far the same tests in the same order move from one serial run to the next). Here each
    tool's ratio is the median over the R rounds of its slowest shard / (median serial / N), every serial run of
    that N counted (before and after each round); and each sharder shard's prediction is set against its median
    wall, beside that shard's own spread over the rounds ((max - min) / median): the noise floor a prediction
    can be judged against. With `--replan`, each round's second round too (its own plan each time).
    """
    ratio_rows: list[tuple[object, ...]] = []
    shard_rows: list[tuple[object, ...]] = []
    for result in results:
        for n, attempts in result["runs"].items():
            if len(attempts) < 2:
                continue
            shards = int(n)
            serial = statistics.median([run for a in attempts for run in (a["serial"], a["serial_after"])])
            first = [100 * (guess / statistics.median(a["walls"][TOOLS[0]][shard] for a in attempts) - 1)
                     for shard, guess in enumerate(attempts[0]["predicted"][TOOLS[0]])]
            # The machine's speed then against now: the serial runs around the rounds against the record's own
            # serial prediction. Scaled by it, what is left is the model's error, not the machine's drift.
            drift = serial / result["predicted_serial"] if result.get("predicted_serial") else None
            scaled = "-" if drift is None else f"{drift:.2f}x: " + _errors_text(
                [100 * ((1 + e / 100) * drift - 1) for e in first])
            ratio_rows.append((result["suite"], n, len(attempts), f"{serial:.1f}", *(
                f"{statistics.median(max(a['walls'][tool]) for a in attempts) / (serial / shards):.3f}"
                + f" ({min(max(a['walls'][tool]) for a in attempts) / (serial / shards):.3f}"
                + f"-{max(max(a['walls'][tool]) for a in attempts) / (serial / shards):.3f})" for tool in TOOLS),
                _errors_text(first), scaled))
            seconds = [a["second_round"] for a in attempts if "second_round" in a]
            if seconds:  # each round replanned from its own first round's reports: its own plan, so per round
                serial = statistics.median([run for r in seconds for run in (r["serial"], r["serial_after"])])
                slowest = [max(r["walls"]) / (serial / shards) for r in seconds]
                errors = [100 * (guess / wall - 1) for r in seconds
                          for wall, guess in zip(r["walls"], r["predicted"], strict=True)]
                ratio_rows.append((result["suite"], f"{n}, replanned", len(seconds), f"{serial:.1f}",
                                   f"{statistics.median(slowest):.3f} ({min(slowest):.3f}-{max(slowest):.3f})",
                                   "-", "-", _errors_text(errors) + " (each round's own)", "-"))
            for tool in TOOLS[:2]:
                for shard in range(shards):
                    walls = [a["walls"][tool][shard] for a in attempts]
                    middle = statistics.median(walls)
                    guess = attempts[0]["predicted"][tool][shard]
                    shard_rows.append((result["suite"], f"{shard + 1}/{n}", tool, f"{middle:.1f}",
                                       f"{min(walls):.1f}-{max(walls):.1f}",
                                       f"{100 * (max(walls) - min(walls)) / middle:.0f}%", f"{guess:.1f}",
                                       f"{100 * (guess / middle - 1):+.1f}%"))
    if not ratio_rows:
        return ""
    return "\n".join((
        format_table(("suite", "N", "rounds", "median serial s",
                      *(f"{t}: median slowest/(serial/N) (range)" for t in TOOLS),
                      "sharder default: predicted against the median walls",
                      "the same, scaled by median serial / the record's predicted serial"), ratio_rows),
        "",
        format_table(("suite", "shard", "plan", "median wall s", "range s", "spread", "predicted wall s",
                      "error against the median"), shard_rows),
    ))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", required=True, help="the suites' venv's python (not this one)")
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="default: all")
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each N's plans this many times (same plans); R >= 2 adds medians and spreads")
    parser.add_argument("--replan", type=int, nargs="+", default=(), metavar="N",
                        help="for these shard counts, a second round: rebalance from sharder's default shards, "
                             "replan and run them again (`second_round`)")
    parser.add_argument("--record-processes", type=int, default=1, metavar="K",
                        help="`sharder record --processes K` for the first round's timings (default 1: serial)")
    parser.add_argument("--default-group-by", default="auto", help="the grouping `sharder plan` uses by default")
    parser.add_argument("--work", type=Path, default=Path("/tmp/wallbench"))
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--paths", nargs="+", default=(), help="test paths instead of the suite's (a quick try)")
    parser.add_argument("--bare", action="store_true",
                        help="run every shard as bare pytest with only its tool's plugin (no `sharder run`, no JUnit)")
    parser.add_argument("--matrix", action="store_true",
                        help="also check `sharder matrix --target` against the measured walls (`matrix_picks`)")
    args = parser.parse_args(argv)
    results = []
    for name in args.suite or sorted(SUITES):
        suite = Suite(name, args.python, args.work, args.paths, args.bare)
        result = bench_suite(suite, args.shards, args.default_group_by, args.repeat, args.work / f"{name}.partial.json",
                             args.replan, args.record_processes)
        if args.matrix:
            result["picks"] = matrix_picks(suite, result, max(args.shards), args.default_group_by)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results))
    summary = repeats_report(results)
    if summary:
        print()
        print(summary)
    if args.matrix:
        print()
        print(picks_report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
