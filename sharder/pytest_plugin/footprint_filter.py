"""The pytest side of the collection footprint (rules and reasons: `sharder.pytest_plugin.footprint`).

`sharder.pytest_plugin.plugin` installs one `FootprintFilter` per session when a shard runs from a plan file. It answers
`pytest_ignore_collect` for planned files of other shards only, remembers which it skipped (the plan check must
not expect their tests), and says in one header line what it did or why the shard collects everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.core.shardspec import ShardSpec
from sharder.planning.plan import Plan, read_plan
from sharder.pytest_plugin.footprint import Footprint, FullCollection, plan_footprint
from sharder.pytest_plugin.options import FULL_COLLECTION_OPTION

FOOTPRINT_PLUGIN_NAME = "sharder-footprint"


class FootprintFilter:
    """Skips the files the footprint allows; `skipped` holds them as the plan's ids spell them."""

    def __init__(self, decision: Footprint | FullCollection, plan: Plan | None) -> None:
        self.decision = decision
        self.plan = plan  # read once here, reused for the selection
        self.skipped: set[str] = set()

    def pytest_ignore_collect(self, collection_path: Path) -> bool | None:
        # pytest never asks about the paths given on its command line, so an explicit file is always collected.
        if not isinstance(self.decision, Footprint):
            return None
        planned_file = self.decision.skipped_file(collection_path)
        if planned_file is None:
            return None
        self.skipped.add(planned_file)
        return True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not hasattr(session.config, "workerinput"):
            reporter.write_line(self.decision.header())


def install_footprint(config: pytest.Config, spec: ShardSpec, plan_path: str) -> None:
    """Read the plan now (a broken plan fails before any collection) and decide what this shard collects."""
    if config.getoption("sharder_full_collection"):
        config.pluginmanager.register(
            FootprintFilter(FullCollection(f"{FULL_COLLECTION_OPTION} was given"), None), FOOTPRINT_PLUGIN_NAME
        )
        return
    try:
        plan = read_plan(plan_path)
        decision = plan_footprint(plan, spec, config.rootpath)
    except (SharderError, OSError) as exc:
        raise pytest.UsageError(f"sharder: {exc}") from None
    config.pluginmanager.register(FootprintFilter(decision, plan), FOOTPRINT_PLUGIN_NAME)


def installed_footprint(config: pytest.Config) -> FootprintFilter | None:
    found = config.pluginmanager.get_plugin(FOOTPRINT_PLUGIN_NAME)
    return found if isinstance(found, FootprintFilter) else None
