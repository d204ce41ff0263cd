"""`sharder run`'s execution modes: sequential by default, `--parallel N|auto`, timeouts, `--maxfail`, `--fast`,
`--module`, `--coverage`, `--slowest-first`, `--order`; defaults from `[tool.sharder]`, command-line flags winning.

Sequential is the default because parallel workers multiply memory: each xdist worker is a whole pytest process
that imports the suite and reaches its own peak, and a suite that fits in one process can be killed by the OOM
killer at N. With more than one worker a shard runs in two pytest passes over the same selected shard: the
parallel part (every test not marked `memory_intensive`), then the `memory_intensive` tests alone, one at a time;
their two JUnit reports are folded into the shard's one `reports/shard-K-of-N.xml`.

Every pass of one run gets the same run identity (`--sharder-run-id`, stamped on its log and report) and the user's
pytest arguments (for replay); the shard's files themselves, cleared before a run and marked when it stops with an
error, are `sharder.running.outputs`' job.

Imported by the CLI at start-up: only light imports at module level.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sharder.core.command_text import command_text
from sharder.core.errors import Cancelled, SharderError
from sharder.core.log_text import log_safe
from sharder.running.outputs import OwnOutputs, new_run_id

DEFAULT_DIST = "loadscope"
MEMORY_PLUGIN = "conftest_lib.memory"
FILTER_PLUGIN = "sharder.pytest_plugin.run_filter"
# Plugins the modes need, by module, for runs with PYTEST_DISABLE_PLUGIN_AUTOLOAD set.
XDIST_PLUGIN = "xdist.plugin"
TIMEOUT_PLUGIN = "pytest_timeout"
COV_PLUGIN = "pytest_cov.plugin"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("execution modes (defaults from [tool.sharder] in pyproject.toml)")
    group.add_argument("--parallel", metavar="N|auto",
                       help="pytest-xdist workers: a number, or auto (CPUs, capped by memory / largest recorded peak); "
                       "default sequential")
    group.add_argument("--dist", metavar="MODE", help=f"xdist distribution mode (default {DEFAULT_DIST})")
    group.add_argument("--memory-budget", metavar="SIZE",
                       help="memory the workers may use, e.g. 6G (default: MemAvailable x memory_safety)")
    group.add_argument("--timeout", metavar="SECONDS", help="fail a test that runs longer than this (pytest-timeout)")
    group.add_argument("--maxfail", metavar="N", help="stop the shard after N failures and errors")
    group.add_argument("--fast", action="store_true", default=None, help="skip tests marked slow or memory_intensive")
    group.add_argument("--module", metavar="NAME", help="only the shard's tests under this directory, file or module")
    group.add_argument("--coverage", action="store_true", default=None,
                       help="write this shard's coverage data to JUNIT_DIR/shard-K-of-N.coverage (pytest-cov)")
    group.add_argument("--slowest-first", action="store_true", default=None,
                       help="run the shard's longest recorded tests first")
    group.add_argument("--order", choices=("plan", "failed-first", "fast-first"),
                       help="the order within the shard (its tests never change): plan (default), failed-first "
                       "(tests that failed last time and new tests first, then the rest in plan order), fast-first "
                       "(shortest predicted first); files and classes stay contiguous")


@dataclass(frozen=True)
class Modes:
    parallel: int | str
    dist: str
    timeout: float | None
    maxfail: int | None
    fast: bool
    module: str | None
    coverage: bool
    slowest_first: bool
    memory_budget_mb: float | None
    memory_safety: float
    config_source: str | None = None
    order: str = "plan"


def resolve_modes(args: argparse.Namespace, cwd: str | os.PathLike[str] = ".") -> Modes:
    """Flags over `[tool.sharder]` over built-in defaults; every bad value is a SharderError (exit 2)."""
    from sharder.planning.memory import parse_memory_size
    from sharder.running.config import check_maxfail, check_timeout, load_run_config
    from sharder.running.workers import parse_parallel

    config = load_run_config(cwd)

    def pick(flag: Any, configured: Any) -> Any:
        return configured if flag is None else flag

    parallel_flag = getattr(args, "parallel", None)
    budget_flag = getattr(args, "memory_budget", None)
    timeout_flag = getattr(args, "timeout", None)
    maxfail_flag = getattr(args, "maxfail", None)
    order = pick(getattr(args, "order", None), config.order) or "plan"
    slowest_first = bool(pick(getattr(args, "slowest_first", None), config.slowest_first))
    if slowest_first and order != "plan":
        raise SharderError(f"--slowest-first and --order {order} are two orders for the shard; pick one")
    return Modes(
        parallel=parse_parallel(parallel_flag) if parallel_flag is not None else (config.parallel or 1),
        dist=pick(getattr(args, "dist", None), config.dist) or DEFAULT_DIST,
        timeout=check_timeout(timeout_flag) if timeout_flag is not None else config.timeout,
        maxfail=check_maxfail(maxfail_flag) if maxfail_flag is not None else config.maxfail,
        fast=bool(pick(getattr(args, "fast", None), config.fast)),
        module=pick(getattr(args, "module", None), config.module),
        coverage=bool(pick(getattr(args, "coverage", None), config.coverage)),
        slowest_first=slowest_first,
        memory_budget_mb=parse_memory_size(budget_flag) if budget_flag is not None else config.memory_budget_mb,
        memory_safety=config.memory_safety,
        config_source=config.source,
        order=order,
    )


def cpu_count() -> int:
    """CPUs this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _autoload_off() -> bool:
    return bool(os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"))


def mode_args(modes: Modes) -> list[str]:
    """pytest arguments every pass shares (each option one `--name=value` token: see runner.shard_argv)."""
    args = ["-p", MEMORY_PLUGIN, "-p", FILTER_PLUGIN]
    if modes.timeout is not None:
        if _autoload_off():
            args += ["-p", TIMEOUT_PLUGIN]
        args.append(f"--timeout={modes.timeout:g}")
    if modes.fast:
        args.append("--sharder-fast")
    if modes.module:
        args.append(f"--sharder-module={modes.module}")
    if modes.slowest_first:
        args.append("--sharder-slowest-first")
    if modes.order != "plan":
        args.append(f"--sharder-order={modes.order}")
    if modes.coverage:
        import importlib.util

        if importlib.util.find_spec("pytest_cov") is None:
            raise SharderError("--coverage needs pytest-cov: pip install 'pytest-sharder[coverage]'")
        if _autoload_off():
            args += ["-p", COV_PLUGIN]
        args += ["--cov", "--cov-report="]
    return args


@dataclass(frozen=True)
class PytestPass:
    """One pytest run of the shard: its extra arguments, where its report goes, and its maxfail budget."""

    name: str
    args: tuple[str, ...]
    junit: Path
    progress_log: Path


@dataclass
class ShardRun:
    spec: Any  # ShardSpec (kept loose so the CLI's import stays light)
    junit_dir: Path
    plan_path: str | None
    durations_path: str | None
    pytest_args: list[str]
    modes: Modes
    workers: int = 1
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    run_id: str = field(default_factory=new_run_id)
    queue: Any = None  # queue_mode.QueueJoin: this job leases its tests from the run's queue
    ci_attempt: int | None = None  # the CI job's attempt, stamped on the reports and logs (the CI layer reads it)

    @property
    def stem(self) -> str:
        return str(self.spec.report_stem) if self.spec is not None else "all"

    @property
    def outputs(self) -> OwnOutputs:
        return OwnOutputs(self.junit_dir, self.stem)

    @property
    def report(self) -> Path:
        return self.outputs.report

    @property
    def coverage_file(self) -> Path:
        return self.outputs.coverage_file

    def run_args(self) -> list[str]:
        """What every pass is told about the run: its identity and the user's own pytest arguments (JSON, one token)."""
        from sharder.pytest_plugin.options import CI_ATTEMPT_OPTION, PYTEST_ARGS_OPTION, RUN_ID_OPTION

        queue = self.queue.pytest_args() if self.queue is not None else []
        attempt = [f"{CI_ATTEMPT_OPTION}={self.ci_attempt}"] if self.ci_attempt is not None else []
        return [f"{RUN_ID_OPTION}={self.run_id}", *attempt,
                f"{PYTEST_ARGS_OPTION}={json.dumps(list(self.pytest_args))}", *queue]

    def passes(self) -> list[PytestPass]:
        shared = [*mode_args(self.modes), *self.run_args()]
        main_log = self.outputs.main_log
        if self.workers <= 1:
            return [PytestPass("sequential", tuple(shared), self.report, main_log)]
        xdist = ["-p", XDIST_PLUGIN] if _autoload_off() else []
        heavy_log = self.outputs.heavy_log
        heavy_extra = ["--cov-append"] if self.modes.coverage else []
        return [
            PytestPass("parallel", (*shared, *xdist, f"--numprocesses={self.workers}", f"--dist={self.modes.dist}",
                                    "--sharder-pass=rest"), self.scratch / f"{self.stem}.parallel.xml", main_log),
            PytestPass("memory_intensive", (*shared, *xdist, "--numprocesses=0", "--sharder-pass=memory_intensive",
                                            *heavy_extra), self.scratch / f"{self.stem}.memory-intensive.xml", heavy_log),
        ]


def choose_workers(run: ShardRun) -> tuple[int, str | None]:
    """Workers for the parallel part, and the line explaining `auto` (None when a number was given)."""
    from sharder.running.workers import AUTO, auto_workers

    if run.modes.parallel != AUTO:
        return int(run.modes.parallel), None
    heavy, note = largest_peak(run)
    memory: float | None
    if run.modes.memory_budget_mb is not None:
        memory, source, safety = run.modes.memory_budget_mb, "memory budget", 1.0
    else:
        from sharder.running.workers import available_memory_mb

        memory, source, safety = available_memory_mb(), "MemAvailable", run.modes.memory_safety
        if memory is None:
            source = "/proc/meminfo has no MemAvailable on this system"
    choice = auto_workers(cpu_count(), memory_mb=memory, memory_source=source, safety=safety,
                          largest_peak_mb=heavy.peak_rss_mb if heavy else None,
                          heaviest_test=heavy.node_id if heavy else None)
    return choice.workers, f"--parallel auto: {choice.explanation}{note}"


def largest_peak(run: ShardRun) -> tuple[Any, str]:
    """The heaviest recorded test of the shard's parallel part (memory_intensive tests run alone, so not counted)."""
    from sharder.durations import store
    from sharder.planning.memory import heaviest, peaks_of
    from sharder.planning.plan import read_plan
    from sharder.pytest_plugin.selection import select_computed
    from sharder.running.runner import collect_ids
    from sharder.stores.location import durations_path

    recorded = store.load_durations_if_present(durations_path(run.durations_path))
    if run.plan_path and run.spec is not None:
        ids: Sequence[str] = read_plan(run.plan_path).bin_for(run.spec).tests
    else:
        collected = collect_ids(run.pytest_args)
        ids = collected if run.spec is None else select_computed(run.spec, collected, recorded.seconds()).ids
    peaks = peaks_of(recorded)
    if not any(node_id in peaks for node_id in ids):
        return None, ""
    alone = set(collect_ids([*run.pytest_args, "-m", "memory_intensive"]))
    heavy = heaviest(peaks, [node_id for node_id in ids if node_id not in alone])
    note = f" ({len(alone & set(ids))} memory_intensive tests run alone afterwards)" if alone & set(ids) else ""
    return heavy, note


def _pass_env(run: ShardRun) -> dict[str, str] | None:
    if not run.modes.coverage and run.queue is None:
        return None
    env = {**os.environ, **(run.queue.env() if run.queue is not None else {})}
    if run.modes.coverage:
        env["COVERAGE_FILE"] = os.fspath(run.coverage_file.resolve())
    return env


def run_shard(run: ShardRun) -> int:
    """Run the passes, fold their reports into the shard's one report, return the shard's exit code.

    A CI cancel (SIGTERM, SIGHUP, SIGINT) stops the pass that runs (see `supervision`); then the pass's progress log
    gets a `cancelled` record, so `sharder merge` shows the shard as cancelled, and a report pytest wrote during
    the grace period is removed: the shard did not finish, and its report must not say it did.
    """
    from sharder.core.progress_log import progress_log_path_for
    from sharder.running import supervision

    report_before = _file_state(run.report)
    current = [progress_log_path_for(run.report)]  # the progress log of the pass that runs now
    try:
        with supervision.supervising():
            return _run_passes(run, current)
    except Cancelled as cancel:
        raise _recorded_cancel(run, current[-1], cancel, report_before) from None


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _recorded_cancel(
    run: ShardRun, log: Path, cancel: Cancelled, report_before: tuple[int, int, int] | None,
) -> Cancelled:
    from sharder.core.progress_log import append_cancelled
    from sharder.running.supervision import signal_name

    label = f"shard {run.spec}" if run.spec is not None else "the run"
    try:
        append_cancelled(log, signal_name=signal_name(cancel.signum), shard=run.spec, by="sharder run")
        recorded = f"{label} is recorded as cancelled in {log}"
    except OSError as exc:
        recorded = f"could not record the cancel in {log}: {exc.strerror}"
    if _file_state(run.report) != report_before:  # written by the cancelled pass (pytest's SIGINT handling)
        run.report.unlink(missing_ok=True)
        recorded += f"; its unfinished report {run.report} was removed"
    return Cancelled(cancel.signum, f"{cancel}; {recorded}")


def _run_passes(run: ShardRun, current: list[Path]) -> int:
    from sharder.reports.shard_report import combine_reports, failures_in
    from sharder.running import outside_cost, runner

    workers, explanation = choose_workers(run)
    run.workers = workers
    if explanation:
        print(f"sharder run: {explanation}", flush=True)
    label = f"shard {run.spec}" if run.spec is not None else "all tests"
    codes: list[int] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="sharder-run-") as scratch:
        run.scratch = Path(scratch)
        passes = run.passes()
        for step in passes:
            extra = list(step.args)
            if run.modes.maxfail is not None:
                left = run.modes.maxfail - failures
                if left <= 0:
                    print(f"sharder run: {label}: --maxfail {run.modes.maxfail} reached; the {step.name} part "
                          "does not run", flush=True)
                    break
                extra.append(f"--maxfail={left}")
            extra.append(f"--sharder-progress-log={step.progress_log}")
            current.append(step.progress_log)
            argv = runner.shard_argv(run.spec, junit_dir=run.junit_dir, plan_path=run.plan_path,
                                     durations_path=run.durations_path, pytest_args=[*extra, *run.pytest_args],
                                     junit_file=step.junit)
            where = f" ({step.name} part)" if len(passes) > 1 else ""
            print(f"sharder run: {label}{where}: {command_text(argv)}", flush=True)
            clock = outside_cost.PytestClock(
                before_seconds=outside_cost.own_start_seconds() if step is passes[0] else 0.0)
            code = runner.run(argv, env=_pass_env(run))
            clock.stop()
            outside_cost.note_in_log(clock, step.progress_log, by="sharder run")
            if not step.progress_log.is_file():
                _record_no_session(run, step, code)
            code = _checked_for_a_report(code, step, f"{label}{where}")
            if code == runner.PYTEST_NO_TESTS and len(passes) > 1 and not _all_deselected(step.progress_log):
                print(f"sharder run: {label}: no tests in the {step.name} part", flush=True)
                code = runner.PYTEST_OK
            codes.append(code)
            failures += failures_in(step.junit) if step.junit.is_file() else 0
            if code == runner.PYTEST_INTERRUPTED:
                break
        if len(passes) > 1:
            combine_reports([step.junit for step in passes], run.report)
    return _shard_code(codes)


def _record_no_session(run: ShardRun, step: PytestPass, code: int) -> None:
    """pytest ended before its session wrote a progress log (bad arguments, a conftest that does not import, a
    kill during start-up): the shard's log says so, for the merge to name, as a refusal of sharder's own would."""
    from sharder.running.runner import SIGNAL_EXIT_BASE

    how = f"was killed by signal {code - SIGNAL_EXIT_BASE}" if code > SIGNAL_EXIT_BASE else f"exited {code}"
    run.outputs.record_refusal(
        f"sharder run: pytest {how} before its session began, so no test ran (pytest's own message is in this "
        "job's log: bad arguments, a plugin or conftest.py that failed to load?)",
        shard=run.spec, run_id=run.run_id, pytest_args=run.pytest_args, plan_path=run.plan_path, log=step.progress_log,
        ci_attempt=run.ci_attempt)


def _all_deselected(progress_log: Path) -> bool:
    """The pass's log says the user's -k/-m deselected every test of the shard: its exit 5 stands (nothing ran)."""
    from sharder.core.progress_log import read_progress_log

    try:
        return read_progress_log(progress_log).all_deselected is not None
    except SharderError:
        return False


def _checked_for_a_report(code: int, step: PytestPass, label: str) -> int:
    """A pass that says 0 or 1 but left no JUnit report did not end as pytest ends: a test or plugin called
    `os._exit()`, or the process was stopped from outside without a signal. Its exit code speaks for a session
    that never finished, so the shard is failed (1), never green, and the line names the test it stopped in."""
    from sharder.running import runner

    if code not in (runner.PYTEST_OK, runner.PYTEST_TESTS_FAILED) or step.junit.is_file():
        return code
    where = ""
    if step.progress_log.is_file():
        from sharder.core.progress_log import read_progress_log

        try:
            stopped_in = read_progress_log(step.progress_log).running_when_stopped
        except SharderError:
            stopped_in = None
        if stopped_in:
            where = f", while {log_safe(stopped_in)} was running"
    print(f"sharder run: {label}: pytest exited {code} without writing its JUnit report{where}: the session did not "
          "finish (os._exit() in a test or plugin?); the shard counts as failed", file=sys.stderr, flush=True)
    return runner.PYTEST_TESTS_FAILED


def _shard_code(codes: Sequence[int]) -> int:
    """The worst pass decides: a pass killed by a signal (128 + S) over interrupted/usage (2) over failures (1) over
    nothing-collected (5) over OK."""
    if not codes:
        return 0
    from sharder.running.runner import SIGNAL_EXIT_BASE

    killed = [code for code in codes if code > SIGNAL_EXIT_BASE]
    if killed:
        return killed[0]
    for wanted in (2, 1, 5):
        if wanted in codes:
            return wanted
    return max(codes, key=abs)
