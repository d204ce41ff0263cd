"""What a session's outputs say about the run itself, apart from the plan: the run identity that ties a report to its
progress log, and the user's own pytest arguments, which `sharder replay` passes again.

`sharder run` gives both (`--sharder-run-id`, `--sharder-pytest-args`), and the CI job's attempt
(`--sharder-ci-attempt`, read by the CI layer, which this layer may not import); a plain `pytest --shard` session
makes its own identity, takes its arguments from its command line, without sharder's options, and records no
attempt (a merge then orders its attempts by the progress log's start time). No pytest import: pure.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

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
    QUEUE_LEASE_OPTION,
    QUEUE_RUN_OPTION,
    RUN_ID_OPTION,
    SHARD_OPTION,
    STORE_OPTION,
)


@dataclass
class RunFacts:
    """What the session's outputs say about the run itself rather than the plan: whose they are, and what it was
    asked to run."""

    run_id: str | None = None
    pytest_args: tuple[str, ...] | None = None
    all_deselected: int | None = None  # how many tests the user's arguments took from a shard left with none
    queue_run: str | None = None  # queue mode: the queue run this job leases its tests from
    ci_attempt: int | None = None  # the CI job's attempt that runs this session, when `sharder run` said


# Options sharder's own launchers add (with a value in the same token or the next one), and flags: not the user's
# arguments, so not recorded for a replay, which adds its own.
_OWN_OPTIONS_WITH_VALUE = (SHARD_OPTION, PLAN_OPTION, DURATIONS_OPTION, PROGRESS_LOG_OPTION, RUN_ID_OPTION,
                           CI_ATTEMPT_OPTION, PYTEST_ARGS_OPTION, IDS_OPTION, COLLECT_TO_OPTION, GROUP_BY_OPTION,
                           "--junitxml", "--junit-xml", "--splits", "--group", "--durations-path",
                           QUEUE_RUN_OPTION, QUEUE_LEASE_OPTION)
_OWN_FLAGS = (STORE_OPTION, FULL_COLLECTION_OPTION, "--store-durations")


def user_pytest_args(args: Sequence[str]) -> tuple[str, ...]:
    """A plain `pytest --shard K/N ...` command's arguments without sharder's and the JUnit report's options: what
    a replay of the shard must pass again (paths, `--pyargs`, `-k`, `-m`, `-p`)."""
    kept: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in _OWN_FLAGS:
            continue
        if arg in _OWN_OPTIONS_WITH_VALUE:
            skip_next = True
            continue
        if arg.startswith(tuple(f"{name}=" for name in _OWN_OPTIONS_WITH_VALUE)):
            continue
        kept.append(arg)
    return tuple(kept)


def parse_pytest_args_option(text: str) -> tuple[str, ...]:
    """`--sharder-pytest-args`' value: a JSON list of strings (how `sharder run` passes the arguments it got)."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(arg, str) for arg in value):
        raise argparse.ArgumentTypeError(f"expected a JSON list of strings, got {text[:80]!r}")
    return tuple(value)


def new_run_id() -> str:
    return uuid.uuid4().hex


def parse_ci_attempt_option(text: str) -> int:
    """`--sharder-ci-attempt`'s value: the CI job's attempt, a whole number from 1."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 1_000_000:
        raise argparse.ArgumentTypeError(f"expected the CI attempt as a whole number from 1, got {text[:80]!r}")
    return int(text)
