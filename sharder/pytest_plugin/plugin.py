"""The pytest plugin: select one shard's tests, record durations. A thin layer over `selection` and `durations`.

pytest-split defines `--splits`, `--group`, `--store-durations` and `--durations-path`. When it is installed
(and not blocked with `-p no:pytest-split`) those names are its own, and sharder answers to its `--sharder-*`
spellings only; otherwise sharder also accepts them, so a pytest-split user can switch without editing CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from sharder.core.atomic import atomic_write_text
from sharder.core.errors import SharderError
from sharder.core.inputfile import read_input
from sharder.core.junit_names import (
    NODEID_PROPERTY,
    ORDER_PROPERTY,
    PEAK_RSS_PROPERTY,
    RANDOMLY_SEED_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.shardspec import ShardSpec, shard_argument
from sharder.durations import store
from sharder.durations.history import LastUpdate
from sharder.durations.outcomes import now, with_outcomes
from sharder.durations.skips import last_skips
from sharder.durations.trust import NotUsed, unused_reason
from sharder.planning.plan import read_plan
from sharder.planning.planner import DEFAULT_GROUP_BY, GROUP_BY_CHOICES
from sharder.pytest_plugin import quick_exit
from sharder.pytest_plugin.collection_scope import narrowed_by
from sharder.pytest_plugin.collection_timing import CollectionTiming
from sharder.pytest_plugin.footprint_filter import install_footprint, installed_footprint
from sharder.pytest_plugin.options import (
    CI_ATTEMPT_OPTION,
    COLLECT_TO_OPTION,
    DURATIONS_OPTION,
    FULL_COLLECTION_OPTION,
    GROUP_BY_OPTION,
    IDS_OPTION,
    PLAN_OPTION,
    PROGRESS_LOG_OPTION,
    PYTEST_ARGS_OPTION,
    PYTEST_SPLIT_PLUGIN,
    QUEUE_LEASE_OPTION,
    QUEUE_RUN_OPTION,
    RUN_ID_OPTION,
    SHARD_OPTION,
    STORE_OPTION,
)
from sharder.pytest_plugin.run_facts import (
    RunFacts,
    new_run_id,
    parse_ci_attempt_option,
    parse_pytest_args_option,
    user_pytest_args,
)
from sharder.pytest_plugin.selection import Selection, order_by_id_list, select_computed, select_from_plan
from sharder.pytest_plugin.shard_outputs import ShardIdentity, ShardOutputs, _log_xml, progress_log_path
from sharder.stores.timings_source import HOW_TO_RECORD, NO_TIMINGS, SAME_ESTIMATE
from sharder.stores.update import update_durations


@dataclass
class _State:
    selection: Selection | None = None
    shard_is_empty: bool = False
    # set when the user's -k/-m/--deselect left the shard none of the tests it would have run: nothing ran, and
    # that is pytest's exit 5, not a pass (an empty shard of a small suite, or of a plan, is a pass)
    all_deselected: int | None = None
    deselected_any: bool = False
    collected_ids: list[str] = field(default_factory=list)
    # ids that -k, -m, --deselect or another plugin took out before our selection: collected, so a plan that names
    # them still matches the checkout; the shard runs what is left of its bin.
    deselected_by_others: set[str] = field(default_factory=set)
    # What narrowed the collection before our own selection (`collection_scope`): [] for the whole suite.
    narrowed_by: list[str] = field(default_factory=list)
    # Set when the shard was computed with no recorded time for any collected test: said once, at the end.
    untimed: str | None = None
    chosen: bool = False  # this session chose its tests (a shard, an id list): its JUnit cases get tagged


_STATE_KEY = pytest.StashKey[_State]()


def _positive_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _pytest_split_active(pluginmanager: pytest.PytestPluginManager) -> bool:
    return not pluginmanager.is_blocked(PYTEST_SPLIT_PLUGIN) and importlib.util.find_spec("pytest_split") is not None


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("sharder", "sharder: run one balanced shard of the suite")
    group.addoption(SHARD_OPTION, type=shard_argument, metavar="K/N",
                    help="run shard K of N (1-based), balanced by recorded durations")
    group.addoption(PLAN_OPTION, metavar="PATH",
                    help="take the shard's tests from this plan.json instead of planning here")
    group.addoption(DURATIONS_OPTION, metavar="PATH",
                    help="durations file (default: durations.json at rootdir, else .test_durations)")
    group.addoption(STORE_OPTION, action="store_true", help="record this run's durations into the durations file")
    group.addoption(GROUP_BY_OPTION, choices=GROUP_BY_CHOICES, default=DEFAULT_GROUP_BY,
                    help=f"keep each class or module in one shard where N allows (default: {DEFAULT_GROUP_BY}, "
                    "as `sharder plan`)")
    group.addoption(COLLECT_TO_OPTION, metavar="PATH", help=argparse.SUPPRESS)
    group.addoption(IDS_OPTION, metavar="PATH",
                    help="run exactly these ids (one per line) in this order, as a replay does")
    group.addoption(PROGRESS_LOG_OPTION, metavar="PATH",
                    help="append one JSON line per finished test here (default: beside --junitxml, "
                    "as NAME.progress.jsonl); a shard killed mid-run leaves this, not its JUnit report")
    group.addoption(FULL_COLLECTION_OPTION, action="store_true",
                    help="with a plan, collect the whole suite instead of only the files holding the shard's tests")
    group.addoption(RUN_ID_OPTION, metavar="ID",
                    help="the run identity stamped on the progress log and the JUnit report (default: a new one "
                    "per session); a merge takes a report for its shard only when it matches the log's")
    group.addoption(PYTEST_ARGS_OPTION, type=parse_pytest_args_option, metavar="JSON", help=argparse.SUPPRESS)
    _add_queue_options(group)
    quick_exit.add_ini(parser)
    group.addoption(CI_ATTEMPT_OPTION, type=parse_ci_attempt_option, metavar="N",
                    help="the CI job's attempt stamped beside the run identity (`sharder run` passes it); a merge "
                    "of several attempts of a shard takes the latest as the shard's verdict")
    if not _pytest_split_active(pluginmanager):
        group.addoption("--splits", dest="sharder_splits", type=_positive_int, metavar="N",
                        help="pytest-split spelling of N in --shard K/N")
        group.addoption("--group", dest="sharder_group", type=_positive_int, metavar="K",
                        help="pytest-split spelling of K in --shard K/N")
        group.addoption("--store-durations", dest="sharder_store_durations", action="store_true",
                        help="alias of " + STORE_OPTION)
        group.addoption("--durations-path", dest="sharder_durations", metavar="PATH",
                        help="alias of " + DURATIONS_OPTION)


def _requested_shard(config: pytest.Config) -> ShardSpec | None:
    shard: ShardSpec | None = config.getoption("shard")
    splits = config.getoption("sharder_splits", None)
    group = config.getoption("sharder_group", None)
    if shard is not None and (splits is not None or group is not None):
        raise pytest.UsageError("use either --shard K/N or --splits N --group K, not both")
    if shard is not None and config.getoption("splits", None) is not None:
        raise pytest.UsageError("--shard and pytest-split's --splits would both split the suite; use one of them")
    if (splits is None) != (group is None):
        raise pytest.UsageError("--splits and --group go together")
    if splits is not None and group is not None:
        try:
            return ShardSpec(group, splits)
        except SharderError as exc:
            raise pytest.UsageError(str(exc)) from None
    return shard


def _durations_path(config: pytest.Config) -> Path:
    given = config.getoption("sharder_durations")
    return Path(given) if given else store.find_durations_file(config.rootpath)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE_KEY] = _State()
    if config.getoption("sharder_store_durations") and not _is_xdist_worker(config):
        config.pluginmanager.register(DurationRecorder(), _RECORDER_NAME)
    shard = _requested_shard(config)
    if shard is None and config.getoption("sharder_plan"):
        raise pytest.UsageError(f"{PLAN_OPTION} needs --shard K/N to say which of its shards to run")
    queue_run = _queue_run(config, shard)
    if _sharder_drives(config, shard):
        quick_exit.arm(config)
    if shard is not None and config.getoption("sharder_plan") and not queue_run and not (
        config.getoption("sharder_ids_file") or config.getoption("sharder_collect_to")
    ):
        install_footprint(config, shard, config.getoption("sharder_plan"))
    if not config.getoption("collectonly"):
        log_path, report_name = progress_log_path(
            config, sharding=shard is not None or bool(config.getoption("sharder_ids_file")))
        if _is_xdist_worker(config):
            log_path = None
        outputs = ShardOutputs(config, log_path, report_name, spec=shard, plan_path=config.getoption("sharder_plan"),
                               run=_run_facts(config, log_path is not None))
        config.pluginmanager.register(outputs, _OUTPUTS_NAME)
        if queue_run and shard is not None and not _is_xdist_worker(config):
            _register_queue_loop(config, shard, queue_run, outputs)
        # Under xdist each worker is a process of its own and the controller collects nothing: no one timeline.
        if not _is_xdist_worker(config) and getattr(config.option, "dist", "no") == "no":
            config.pluginmanager.register(CollectionTiming(outputs.writer), _TIMING_NAME)


def _sharder_drives(config: pytest.Config, shard: ShardSpec | None) -> bool:
    """A session sharder started or shapes (a shard, a replay, a recording, a logged run, sharder's collection):
    one whose process exists for this session alone, so its exit may skip the heap's last walk."""
    return shard is not None or any(config.getoption(name) for name in (
        "sharder_ids_file", "sharder_store_durations", "sharder_progress_log", "sharder_collect_to"))


def _run_facts(config: pytest.Config, writes_log: bool) -> RunFacts:
    """The run identity (given by `sharder run`, else made here for a session that writes a log) and the user's
    pytest arguments (given by `sharder run`, else this command line without sharder's own options)."""
    run_id = config.getoption("sharder_run_id", None) or (new_run_id() if writes_log else None)
    given_args = config.getoption("sharder_pytest_args", None)
    if given_args is None and writes_log:
        given_args = user_pytest_args(config.invocation_params.args)
    return RunFacts(run_id=run_id, pytest_args=given_args if writes_log else None,
                    queue_run=config.getoption("sharder_queue_run", None),
                    ci_attempt=config.getoption("sharder_ci_attempt", None) if writes_log else None)


def _add_queue_options(group: pytest.OptionGroup) -> None:
    from sharder.pytest_plugin.queue_loop import DEFAULT_LEASE_SECONDS, lease_seconds_argument

    group.addoption(QUEUE_RUN_OPTION, metavar="NAME",
                    help="queue mode: lease this job's tests from the queue run NAME on the Redis at "
                    "$SHARDER_QUEUE_URL (with --shard K/N and --sharder-plan; `sharder run --queue` sets it)")
    group.addoption(QUEUE_LEASE_OPTION, type=lease_seconds_argument, default=DEFAULT_LEASE_SECONDS, metavar="SECONDS",
                    help=f"queue mode: how long a lease lasts without a heartbeat (default {DEFAULT_LEASE_SECONDS:g})")


def _queue_run(config: pytest.Config, shard: ShardSpec | None) -> str | None:
    queue_run: str | None = config.getoption("sharder_queue_run", None)
    if queue_run and (shard is None or not config.getoption("sharder_plan")):
        raise pytest.UsageError(f"{QUEUE_RUN_OPTION} needs --shard K/N and {PLAN_OPTION} (the plan seeds the queue)")
    if queue_run and config.getoption("numprocesses", None):
        raise pytest.UsageError(f"{QUEUE_RUN_OPTION} runs the job's tests in this one session; drop -n (more jobs "
                                "on the queue are its parallelism)")
    if queue_run and config.getoption("sharder_ids_file"):
        raise pytest.UsageError(f"{QUEUE_RUN_OPTION} and {IDS_OPTION} choose the tests differently; give one")
    return queue_run


def _register_queue_loop(config: pytest.Config, shard: ShardSpec, queue_run: str, outputs: ShardOutputs) -> None:
    from sharder.pytest_plugin.queue_loop import QUEUE_LOOP_NAME, QueueLoop

    config.pluginmanager.register(QueueLoop(config, shard, config.getoption("sharder_plan"), queue_run,
                                            config.getoption("sharder_queue_lease"), outputs), QUEUE_LOOP_NAME)


def _select(config: pytest.Config, spec: ShardSpec, ids: list[str]) -> Selection:
    plan_path = config.getoption("sharder_plan")
    if plan_path:
        footprint = installed_footprint(config)
        plan = footprint.plan if footprint is not None and footprint.plan is not None else read_plan(plan_path)
        skipped = footprint.skipped if footprint is not None else set()
        return select_from_plan(plan, spec, ids, source=f"plan {plan_path}", skipped_files=skipped,
                                deselected=config.stash[_STATE_KEY].deselected_by_others)
    path = _durations_path(config)
    recorded = store.load_durations_if_present(path)
    seconds = recorded.seconds()
    if ids and not any(node_id in seconds for node_id in ids):
        config.stash[_STATE_KEY].untimed = _untimed_line(config, path)
    return select_computed(
        spec, ids, seconds, group_by=config.getoption("sharder_group_by"),
        durations_sha256=recorded.sha256, setup_seconds=recorded.setup_seconds(), costs=recorded.costs,
    )


def _untimed_line(config: pytest.Config, path: Path) -> str:
    """The words `sharder plan` uses (`sharder.stores.timings_source`), with the file the plugin looked for."""
    if path.exists():
        where = f"{os.fspath(path)} has none of the collected tests"
    elif config.getoption("sharder_durations"):
        where = f"no durations file at {os.fspath(path)}"
    else:
        where = f"no {store.DEFAULT_FILENAME} or {store.PYTEST_SPLIT_FILENAME} in {os.fspath(config.rootpath)}"
    return f"sharder: {NO_TIMINGS} ({where}): {SAME_ESTIMATE}; {HOW_TO_RECORD}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Once per session and at every verbosity, since months of silent test-count splits are how suites lose their
    balance. Under xdist the workers select, so the controller checks the file itself (it collected nothing)."""
    state = config.stash.get(_STATE_KEY, None)
    if state is None or _is_xdist_worker(config):
        return
    if state.untimed is None and config.pluginmanager.has_plugin("dsession") and _requested_shard(config) and not (
            config.getoption("sharder_plan") or config.getoption("sharder_ids_file")):
        path = _durations_path(config)
        if not store.load_durations_if_present(path).tests:
            state.untimed = _untimed_line(config, path)
    if state.untimed is not None:
        terminalreporter.write_line(state.untimed)


def _write_line(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Runs after -k/-m deselection (trylast), so a shard is a slice of what the user asked for."""
    state = config.stash[_STATE_KEY]
    ids = [item.nodeid for item in items]
    state.collected_ids = ids
    state.narrowed_by = narrowed_by(config, deselected=len(state.deselected_by_others),
                                    collection_errors=session.testsfailed)
    collect_to = config.getoption("sharder_collect_to")
    if collect_to:
        atomic_write_text(collect_to, json.dumps({"tests": ids, "selected_by": state.narrowed_by}, ensure_ascii=False))
        if not config.getoption("sharder_ids_file"):  # with an id list, a replay's first run also collects
            return
    if config.getoption("sharder_queue_run", None):  # queue mode: `queue_loop` checks and leases the tests
        return
    try:
        ids_file = config.getoption("sharder_ids_file")
        if ids_file:
            wanted = read_input(ids_file, "id list").decode("utf-8", "surrogatepass").splitlines()
            chosen = order_by_id_list([line for line in wanted if line], ids)
        else:
            spec = _requested_shard(config)
            if spec is None:
                return
            selection = _select(config, spec, ids)
            state.selection = selection
            chosen = list(selection.ids)
            _write_line(config, selection.header())
    except (SharderError, OSError) as exc:
        refused = config.pluginmanager.get_plugin(_OUTPUTS_NAME)
        if isinstance(refused, ShardOutputs):
            refused.refused(f"sharder: {exc}")
        raise pytest.UsageError(f"sharder: {exc}") from None
    by_id = {item.nodeid: item for item in items}
    keep = set(chosen)
    deselected = [item for item in items if item.nodeid not in keep]
    if deselected:
        state.deselected_any = True
        config.hook.pytest_deselected(items=deselected)
    items[:] = [by_id[node_id] for node_id in chosen]
    state.shard_is_empty = not items
    if state.shard_is_empty and state.selection is not None:
        state.all_deselected = _all_deselected(state.selection, state.deselected_by_others)
    state.chosen = True
    outputs = config.pluginmanager.get_plugin(_OUTPUTS_NAME)
    if isinstance(outputs, ShardOutputs):
        outputs.shard_selected(ShardIdentity.of(state.selection), len(ids), state.all_deselected)
    if state.shard_is_empty and state.selection is not None:
        if state.all_deselected is not None:
            _write_line(config, f"sharder: shard {state.selection.spec} has no tests: -k/-m/--deselect deselected "
                        f"all {state.all_deselected} of the tests it would have run; nothing ran (exit 5)")
        else:
            _write_line(config, f"sharder: shard {state.selection.spec} has no tests (more shards than tests); "
                        "nothing to run")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tag the JUnit cases once every plugin has had its say on the order (`sharder run`'s `--order` and
    `--slowest-first` reorder after the shard is chosen), so each case's position is the one it ran at."""
    state = session.config.stash.get(_STATE_KEY, None)
    if state is not None and state.chosen:
        _tag_for_junit(session.config, session.items, state.selection)


def _all_deselected(selection: Selection, deselected_by_others: set[str]) -> int | None:
    """How many tests the user's arguments took from a shard left with none, or None when it was empty anyway.

    With a plan file, the shard would have run its bin. Computed here, the shard is a slice of what -k/-m kept, so
    it was deselected only when they kept nothing at all (as plain pytest with the same -k exits 5); a slice left
    empty because there are more shards than kept tests is a pass."""
    if not deselected_by_others:
        return None
    own = len(selection.plan.bin_for(selection.spec).tests)
    if own:  # with a plan file: the bin's tests are known, and all of them were deselected
        return own
    return len(deselected_by_others) if selection.plan.total_tests == 0 else None


def _tag_for_junit(config: pytest.Config, items: list[pytest.Item], selection: Selection | None) -> None:
    """Put the exact node id and the shard on each JUnit test case.

    pytest's classname cannot be turned back into a node id (`a/b.py::C` and `a.b::C` look alike), so the
    merge and the replay read these properties instead. Only when a JUnit report is being written.
    """
    if not config.getoption("xmlpath", None):
        return
    shard = str(selection.spec) if selection is not None else None
    for position, item in enumerate(items, start=1):
        item.user_properties.append((NODEID_PROPERTY, item.nodeid))
        item.user_properties.append((ORDER_PROPERTY, position))
        if shard is not None:
            item.user_properties.append((SHARD_PROPERTY, shard))


def randomly_seed(config: pytest.Config) -> int | None:
    """The seed pytest-randomly uses in this session, or None when it is not active (absent or `-p no:randomly`).

    Valid from `pytest_sessionstart` on: randomly turns its "default"/"last" option into the int it uses in its own
    `pytest_configure`, which may run after ours.
    """
    seed = config.getoption("randomly_seed", None)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Put randomly's seed on the JUnit suite: it seeds random/numpy/faker before every test, so `sharder replay`
    needs it (as well as the order) to reproduce what CI saw."""
    seed = randomly_seed(session.config)
    xml = _log_xml(session.config)
    if seed is not None and xml is not None:
        xml.add_global_property(RANDOMLY_SEED_PROPERTY, str(seed))


def pytest_deselected(items: list[pytest.Item]) -> None:
    state = items[0].config.stash.get(_STATE_KEY, None) if items else None
    if state is None:
        return
    state.deselected_any = True
    if state.selection is None:  # before our own selection: -k, -m, --deselect, another plugin
        state.deselected_by_others.update(item.nodeid for item in items)


@dataclass
class _Attempt:
    """One attempt at one test so far: its phases' time, and the first outcome that was not a pass."""

    seconds: float = 0.0
    setup: float = 0.0
    peak: float | None = None
    outcome: str = "passed"
    message: str = ""


def _phase_outcome(report: pytest.TestReport) -> str | None:
    """What this phase makes of the test, in the JUnit reader's words (so `record` and `--from-junit` agree)."""
    if str(report.outcome) == "rerun":  # pytest-rerunfailures: this attempt failed and another follows
        return "rerun"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "xfailed" if hasattr(report, "wasxfail") else "skipped"
    return None  # a pass, a non-strict xpass included: it ran to the end


class DurationRecorder:
    """Sums setup + call + teardown per test; setup is kept apart for the fixture-cost estimate.

    Only a test whose last attempt passed is an observation (`sharder.durations.trust`); each attempt starts
    afresh at its setup, so a rerun that finally passed costs its last attempt, not the sum of all of them.
    Registered only with --sharder-store-durations, and only where reports arrive whole (not in xdist workers:
    their reports reach the controller, which records them once).
    """

    def __init__(self) -> None:
        self.attempts: dict[str, _Attempt] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "setup" or report.nodeid not in self.attempts:
            self.attempts[report.nodeid] = _Attempt()
        seen = self.attempts[report.nodeid]
        seen.seconds += report.duration
        if report.when == "setup":
            seen.setup += report.duration
        outcome = _phase_outcome(report)
        if outcome is not None and seen.outcome == "passed":
            seen.outcome = outcome
            crash = getattr(report.longrepr, "reprcrash", None)
            seen.message = str(getattr(crash, "message", "") or "")
        for name, value in report.user_properties:  # set by conftest_lib's memory probe at teardown
            if name == PEAK_RSS_PROPERTY and isinstance(value, int | float):
                seen.peak = max(float(value), seen.peak or 0.0)

    def observations(self) -> tuple[dict[str, store.Observation], NotUsed]:
        observed: dict[str, store.Observation] = {}
        not_used = NotUsed()
        for node_id, seen in self.attempts.items():
            reason = unused_reason(seen.outcome, message=seen.message)
            if reason is None:
                observed[node_id] = store.Observation(seen.seconds, seen.setup, seen.peak)
            else:
                not_used[reason] += 1
        return observed, not_used

    def skips(self) -> dict[str, float]:
        """The tests that were skipped, with what the skip took (`sharder.durations.skips`)."""
        return last_skips((node_id, seen.outcome, seen.seconds, True) for node_id, seen in self.attempts.items())

    def outcomes(self) -> dict[str, str]:
        """Each test's last attempt's outcome, failures included: the store remembers it for `failed-first`."""
        return {node_id: seen.outcome for node_id, seen in self.attempts.items()}


_RECORDER_NAME = "sharder-duration-recorder"
_OUTPUTS_NAME = "sharder-shard-outputs"
_TIMING_NAME = "sharder-collection-timing"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _store_durations(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[_STATE_KEY]
    recorder = config.pluginmanager.get_plugin(_RECORDER_NAME)
    if not isinstance(recorder, DurationRecorder):
        return
    path = _durations_path(config)
    observations, not_used = recorder.observations()
    skipped = recorder.skips()
    seen = recorder.outcomes()
    # Prune only after a collection of the whole suite: a shard, a -k run or a path says nothing about the others.
    scope = list(state.narrowed_by)
    if state.selection is not None:
        scope.insert(0, f"--shard {state.selection.spec}")
    elif config.getoption("sharder_ids_file"):
        scope.insert(0, IDS_OPTION)
    elif state.deselected_any and not scope:
        scope.append("tests deselected")
    stopped = bool(session.shouldstop or session.shouldfail)
    keep_only = state.collected_ids if not scope and not stopped and state.collected_ids else None

    def change(recorded: store.Durations) -> tuple[store.Durations | None, int]:
        durations = store.updated(recorded, observations, keep_only=keep_only, skipped=skipped)
        pruned = sum(1 for node_id in recorded.tests if node_id not in durations.tests)
        outcomes = with_outcomes(durations.outcomes, seen, now())
        if not observations and not pruned and outcomes == recorded.outcomes and durations.skipped == recorded.skipped:
            return None, 0  # nothing learned: the file stays as it is
        update = LastUpdate("record", len(observations), pruned, tuple(scope))
        return replace(durations, outcomes=outcomes, last_update=update), pruned

    try:
        pruned = update_durations(path, change)
    except SharderError as exc:
        raise pytest.UsageError(f"sharder: {exc}") from None
    timing = config.pluginmanager.get_plugin(_TIMING_NAME)
    # What the process paid besides its tests, stored at its very end (the terminal summary and reports are part
    # of it); a run that stopped early shows no whole session, and a store whose tests' write failed is left as it
    # was (the costs alone would be half a recording).
    if isinstance(timing, CollectionTiming) and not stopped and observations:
        timing.record_costs_to = path
    _write_line(config, f"sharder: recorded {len(observations)} test durations in {os.fspath(path)}")
    if not_used:
        _write_line(config, f"sharder: {not_used.describe()} (only a passed test's time is recorded)")
    if pruned:
        _write_line(config, f"sharder: pruned {pruned} test{'s' if pruned != 1 else ''} no longer collected")
    elif keep_only is None:
        why = f"the run was narrowed by {', '.join(scope)}" if scope else "the run stopped early"
        _write_line(config, f"sharder: nothing pruned ({why})")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(_STATE_KEY, None)
    if state is None:
        return
    if not config.getoption("collectonly"):
        _store_durations(session)
    # An empty shard of a plan or of a small suite is a pass; nothing else that ran nothing is (an id list that
    # matched none of the collection, a shard whose tests -k/-m deselected: pytest's exit 5 stands).
    if (state.shard_is_empty and state.selection is not None and state.all_deselected is None
            and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.OK
