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
from dataclasses import dataclass, field
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
from sharder.planning.plan import read_plan
from sharder.planning.planner import GROUP_BY_CHOICES
from sharder.pytest_plugin.footprint_filter import install_footprint, installed_footprint
from sharder.pytest_plugin.options import (
    COLLECT_TO_OPTION,
    DURATIONS_OPTION,
    FULL_COLLECTION_OPTION,
    GROUP_BY_OPTION,
    IDS_OPTION,
    PLAN_OPTION,
    PROGRESS_LOG_OPTION,
    PYTEST_SPLIT_PLUGIN,
    SHARD_OPTION,
    STORE_OPTION,
)
from sharder.pytest_plugin.selection import Selection, order_by_id_list, select_computed, select_from_plan
from sharder.pytest_plugin.shard_outputs import ShardIdentity, ShardOutputs, _log_xml, progress_log_path


@dataclass
class _State:
    selection: Selection | None = None
    shard_is_empty: bool = False
    deselected_any: bool = False
    collected_ids: list[str] = field(default_factory=list)
    # ids that -k, -m, --deselect or another plugin took out before our selection: collected, so a plan that names
    # them still matches the checkout; the shard runs what is left of its bin.
    deselected_by_others: set[str] = field(default_factory=set)


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
    group.addoption(GROUP_BY_OPTION, choices=GROUP_BY_CHOICES, default="test",
                    help="keep each class or module in one shard where N allows (default: test)")
    group.addoption(COLLECT_TO_OPTION, metavar="PATH", help=argparse.SUPPRESS)
    group.addoption(IDS_OPTION, metavar="PATH",
                    help="run exactly these ids (one per line) in this order, as a replay does")
    group.addoption(PROGRESS_LOG_OPTION, metavar="PATH",
                    help="append one JSON line per finished test here (default: beside --junitxml, "
                    "as NAME.progress.jsonl); a shard killed mid-run leaves this, not its JUnit report")
    group.addoption(FULL_COLLECTION_OPTION, action="store_true",
                    help="with a plan, collect the whole suite instead of only the files holding the shard's tests")
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
    if shard is not None and config.getoption("sharder_plan") and not (
        config.getoption("sharder_ids_file") or config.getoption("sharder_collect_to")
    ):
        install_footprint(config, shard, config.getoption("sharder_plan"))
    if not config.getoption("collectonly"):
        log_path, report_name = progress_log_path(
            config, sharding=shard is not None or bool(config.getoption("sharder_ids_file")))
        outputs = ShardOutputs(config, None if _is_xdist_worker(config) else log_path, report_name,
                               spec=shard, plan_path=config.getoption("sharder_plan"))
        config.pluginmanager.register(outputs, _OUTPUTS_NAME)


def _select(config: pytest.Config, spec: ShardSpec, ids: list[str]) -> Selection:
    plan_path = config.getoption("sharder_plan")
    if plan_path:
        footprint = installed_footprint(config)
        plan = footprint.plan if footprint is not None and footprint.plan is not None else read_plan(plan_path)
        skipped = footprint.skipped if footprint is not None else set()
        return select_from_plan(plan, spec, ids, source=f"plan {plan_path}", skipped_files=skipped,
                                deselected=config.stash[_STATE_KEY].deselected_by_others)
    recorded = store.load_durations_if_present(_durations_path(config))
    return select_computed(
        spec, ids, recorded.seconds(), group_by=config.getoption("sharder_group_by"),
        durations_sha256=recorded.sha256, setup_seconds=recorded.setup_seconds(),
    )


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
    collect_to = config.getoption("sharder_collect_to")
    if collect_to:
        atomic_write_text(collect_to, json.dumps({"tests": ids}, ensure_ascii=False))
        if not config.getoption("sharder_ids_file"):  # with an id list, a replay's first run also collects
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
        raise pytest.UsageError(f"sharder: {exc}") from None
    by_id = {item.nodeid: item for item in items}
    keep = set(chosen)
    deselected = [item for item in items if item.nodeid not in keep]
    if deselected:
        state.deselected_any = True
        config.hook.pytest_deselected(items=deselected)
    items[:] = [by_id[node_id] for node_id in chosen]
    state.shard_is_empty = not items
    _tag_for_junit(config, items, state.selection)
    outputs = config.pluginmanager.get_plugin(_OUTPUTS_NAME)
    if isinstance(outputs, ShardOutputs):
        outputs.shard_selected(ShardIdentity.of(state.selection), len(ids))
    if state.shard_is_empty and state.selection is not None:
        why = ("-k/-m/--deselect left none of its planned tests" if state.deselected_by_others
               else "more shards than tests")
        _write_line(config, f"sharder: shard {state.selection.spec} has no tests ({why}); nothing to run")


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


class DurationRecorder:
    """Sums setup + call + teardown per test; setup is kept apart for the fixture-cost estimate.

    Registered only with --sharder-store-durations, and only where reports arrive whole (not in xdist workers:
    their reports reach the controller, which records them once).
    """

    def __init__(self) -> None:
        self.observations: dict[str, dict[str, float]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        seen = self.observations.setdefault(report.nodeid, {"seconds": 0.0, "setup": 0.0})
        seen["seconds"] += report.duration
        if report.when == "setup":
            seen["setup"] += report.duration
        for name, value in report.user_properties:  # set by conftest_lib's memory probe at teardown
            if name == PEAK_RSS_PROPERTY and isinstance(value, int | float):
                seen["peak"] = max(float(value), seen.get("peak", 0.0))


_RECORDER_NAME = "sharder-duration-recorder"
_OUTPUTS_NAME = "sharder-shard-outputs"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _store_durations(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[_STATE_KEY]
    recorder = config.pluginmanager.get_plugin(_RECORDER_NAME)
    if not isinstance(recorder, DurationRecorder):
        return
    path = _durations_path(config)
    observations = {
        node_id: store.Observation(seconds=seen["seconds"], setup_seconds=seen["setup"], peak_rss_mb=seen.get("peak"))
        for node_id, seen in recorder.observations.items()
    }
    # Prune only after a run of the whole suite: a shard or a -k run says nothing about the other tests.
    complete = state.selection is None and not state.deselected_any and not session.shouldstop and not session.shouldfail
    keep_only = state.collected_ids if complete and state.collected_ids else None
    try:
        recorded = store.load_durations_if_present(path)
        store.save_durations(path, store.updated(recorded, observations, keep_only=keep_only))
    except SharderError as exc:
        raise pytest.UsageError(f"sharder: {exc}") from None
    _write_line(config, f"sharder: recorded {len(observations)} test durations in {os.fspath(path)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(_STATE_KEY, None)
    if state is None:
        return
    if not config.getoption("collectonly"):
        _store_durations(session)
    if state.shard_is_empty and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK
