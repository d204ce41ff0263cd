"""Argument types and helpers shared by several commands."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path

from sharder import durations as store
from sharder.errors import SharderError
from sharder.planning_input import PlanningInput, load_planning_input
from sharder.shardspec import parse_shard_count, shard_argument

shard_arg = shard_argument


def shard_count_arg(text: str) -> int:
    try:
        return parse_shard_count(text)
    except SharderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# Files that make a directory pytest's rootdir when found above the invocation directory (pytest's own order).
ROOT_MARKERS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def project_root(start: Path) -> Path:
    """The directory pytest would most likely take as its rootdir: the nearest one, from `start` up, that holds a
    durations file, a pytest configuration file or `.git`; `start` itself when there is none.

    The plugin reads `durations.json` at pytest's rootdir; the CLI must read the same file, or `sharder plan` run
    from `tests/` plans with no durations while the shard jobs select with them (two different partitions).
    """
    for directory in (start, *start.parents):
        found = store.find_durations_file(directory)
        if found.exists() or any((directory / marker).exists() for marker in (*ROOT_MARKERS, ".git")):
            return directory
    return start


def durations_path(given: str | None) -> Path:
    """The durations file the user named, else `durations.json` at the project root (see `project_root`), else
    pytest-split's `.test_durations` there."""
    return Path(given) if given else store.find_durations_file(project_root(Path.cwd().resolve()))


def tests_and_timings(
    path: Path, *, from_durations: bool, pytest_args: Sequence[str]
) -> tuple[list[str], PlanningInput]:
    """The ids to plan and their recorded timings: the durations file's own ids (a what-if, no collection), or
    the ids pytest collects with `pytest_args` (a missing durations file is then a first run, not an error)."""
    if from_durations:
        recorded = load_planning_input(path)
        if not recorded.seconds:
            raise SharderError(f"{path} holds no tests; nothing to plan (record durations first, or plan the "
                               "collected tests without --from-durations)")
        return list(recorded.seconds), recorded
    return collected_ids(pytest_args), PlanningInput.of(store.load_durations_if_present(path))


def collected_ids(pytest_args: Sequence[str]) -> list[str]:
    """The ids pytest collects with `pytest_args`, refusing none: pytest itself exits 5 there, and a plan of no
    tests would make every shard and the merge report green, with nothing tested (a `-k` that matches nothing)."""
    from sharder.runner import collect_ids

    ids = collect_ids(pytest_args)
    if not ids:
        given = f"pytest arguments: {shlex.join(pytest_args)}" if pytest_args else "no pytest arguments"
        raise SharderError(f"pytest collected no tests ({given}); nothing to plan")
    return ids


def add_durations_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--durations", metavar="PATH",
        help="durations file (default: durations.json, else pytest-split's .test_durations, in the nearest directory "
             "up from here that holds one, a pytest configuration file or .git: where the plugin reads it)",
    )
