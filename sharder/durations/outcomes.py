"""What a durations store remembers of each test's last outcome: passed or failed, and when (`--order failed-first`).

Stored apart from the timings, as one optional top-level field of version 1 (older readers ignore it):

    "outcomes": {"tests/test_io.py::test_big": ["failed", "2026-12-02T00:13:54Z"]}

Apart, because a test that has only ever failed has no trustworthy duration (`sharder.durations.trust`) and so no
record in `tests`, yet its failure is exactly what `failed-first` must know. One short pair per test, the time in
whole UTC seconds: the file stays diffable and grows by about 40 bytes a test. pytest-split's flat format cannot
hold it, so a `.test_durations` store remembers no outcome.

Only passed and failed are remembered (an error counts as failed); a skip, an xfail or a rerun cut short says
nothing about whether the test works, so the outcome before it stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from sharder.core.errors import SharderError

OUTCOMES_FIELD = "outcomes"
PASSED = "passed"
FAILED = "failed"
REMEMBERED = (PASSED, FAILED)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

# One test's last outcome and its UTC time (`2026-12-02T00:13:54Z`).
LastOutcome = tuple[str, str]


def now_text(moment: datetime | None = None) -> str:
    """A UTC time as the store writes it: whole seconds, `Z`."""
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def remembered(outcome: str) -> str | None:
    """What an attempt's outcome (the JUnit reader's and the plugin's words) leaves in the store, if anything."""
    if outcome == "passed":
        return PASSED
    if outcome in ("failed", "error", "errored", "timed out"):
        return FAILED
    return None


def parse_outcomes(document: Mapping[str, Any], source: str) -> dict[str, LastOutcome]:
    """The `outcomes` field of a sharder document, checked; absent is empty."""
    raw = document.get(OUTCOMES_FIELD)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SharderError(f"{source}: {OUTCOMES_FIELD} must be an object mapping test ids to "
                           f"[outcome, time], got {raw!r:.80}")
    outcomes: dict[str, LastOutcome] = {}
    for node_id, pair in raw.items():
        if (not isinstance(pair, list) or len(pair) != 2 or pair[0] not in REMEMBERED
                or not isinstance(pair[1], str) or not _TIME.fullmatch(pair[1])):
            raise SharderError(f"{source}: {OUTCOMES_FIELD} of {node_id!r} is {pair!r:.80}; expected "
                               '["passed" or "failed", "YYYY-MM-DDTHH:MM:SSZ"]')
        outcomes[node_id] = (pair[0], pair[1])
    return outcomes


def outcomes_json(outcomes: Mapping[str, LastOutcome]) -> dict[str, Any]:
    """The field to write (sorted ids, so the committed file diffs cleanly), or nothing when there is none."""
    if not outcomes:
        return {}
    return {OUTCOMES_FIELD: {node_id: list(outcomes[node_id]) for node_id in sorted(outcomes)}}


def with_outcomes(
    outcomes: Mapping[str, LastOutcome], seen: Mapping[str, str], at: str,
) -> dict[str, LastOutcome]:
    """`outcomes` with this run's last outcome of each test it saw (`seen`: id -> attempt outcome) stamped `at`."""
    updated = dict(outcomes)
    for node_id, outcome in seen.items():
        kept = remembered(outcome)
        if kept is not None:
            updated[node_id] = (kept, at)
    return updated


def last_outcomes(attempts: Iterable[tuple[str, str]]) -> dict[str, str]:
    """id -> the outcome of its last attempt that says something (passed or failed), in attempt order: a rerun
    that finally passed is passed, one whose last attempt failed is failed."""
    last: dict[str, str] = {}
    for node_id, outcome in attempts:
        if remembered(outcome) is not None:
            last[node_id] = outcome
    return last


def failed_tests(outcomes: Mapping[str, LastOutcome]) -> set[str]:
    return {node_id for node_id, (outcome, _) in outcomes.items() if outcome == FAILED}
