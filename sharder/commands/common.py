"""Argument types and helpers shared by several commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sharder.core.command_text import command_text
from sharder.core.errors import SharderError
from sharder.core.shardspec import parse_shard_count, shard_argument
from sharder.durations import store
from sharder.durations.planning_input import PlanningInput, load_planning_input

if TYPE_CHECKING:
    from sharder.stores.timings_source import TimingsSource

shard_arg = shard_argument


def shard_count_arg(text: str) -> int:
    try:
        return parse_shard_count(text)
    except SharderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# What a plan of the durations file's own ids was "narrowed by": no collection was made at all.
FROM_DURATIONS = "--from-durations"


def tests_and_timings(
    path: Path, *, from_durations: bool, pytest_args: Sequence[str]
) -> tuple[list[str], PlanningInput]:
    """The ids to plan and their recorded timings: the durations file's own ids (a what-if, no collection), or
    the ids pytest collects with `pytest_args` (a missing durations file is then a first run, not an error)."""
    ids, recorded, _ = tests_timings_and_scope(path, from_durations=from_durations, pytest_args=pytest_args)
    return ids, recorded


def tests_timings_and_scope(
    path: Path, *, from_durations: bool, pytest_args: Sequence[str]
) -> tuple[list[str], PlanningInput, list[str]]:
    """`tests_and_timings`, and what narrowed the collection ([] for the whole suite)."""
    if from_durations:
        recorded = load_planning_input(path)
        if not recorded.seconds:
            raise SharderError(f"{path} holds no tests; nothing to plan (record durations first, or plan the "
                               "collected tests without --from-durations)")
        return list(recorded.seconds), recorded, [FROM_DURATIONS]
    ids, narrowed = collected_ids_and_scope(pytest_args)
    return ids, PlanningInput.of(store.load_durations_if_present(path)), narrowed


def collected_ids(pytest_args: Sequence[str]) -> list[str]:
    """The ids pytest collects with `pytest_args`, refusing none: pytest itself exits 5 there, and a plan of no
    tests would make every shard and the merge report green, with nothing tested (a `-k` that matches nothing)."""
    return collected_ids_and_scope(pytest_args)[0]


def collected_ids_and_scope(pytest_args: Sequence[str]) -> tuple[list[str], list[str]]:
    from sharder.running.runner import collect

    ids, narrowed = collect(pytest_args)
    if not ids:
        given = f"pytest arguments: {command_text(pytest_args)}" if pytest_args else "no pytest arguments"
        raise SharderError(f"pytest collected no tests ({given}); nothing to plan")
    return ids, narrowed


def add_durations_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--durations", metavar="PATH",
        help="durations file (default: durations.json, else pytest-split's .test_durations, in the nearest directory "
             "up from here that holds one, a pytest configuration file or .git: where the plugin reads it)",
    )


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", metavar="DIR",
        help="a durations store kept outside the repository (a CI cache folder such as .sharder): its "
             "durations.json when the cache restored one, else the committed durations file, else none; "
             "the choice is printed",
    )


def timings_source(args: argparse.Namespace) -> TimingsSource:
    """Where this command's timings come from (`--durations` wins, then `--store`, then the committed file)."""
    from sharder.stores.location import durations_path
    from sharder.stores.timings_source import choose_timings

    store_dir = Path(args.store) if getattr(args, "store", None) else None
    return choose_timings(store_dir, durations_path(args.durations), given=args.durations is not None)
