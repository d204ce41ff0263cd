"""What a durations store remembers of each test's last outcome: passed or failed, and when (`--order failed-first`).

Two optional fields of version 1 (older readers ignore both), in Unix seconds (UTC):

- in a test's record, `"passed_at": 1764634434` or `"failed_at": 1764634434`, whichever came last;
- for a test with no record, top-level `"outcomes": {"tests/test_io.py::test_new": ["failed", 1764634434]}`: a
  test that has only ever failed has no trustworthy duration (`sharder.durations.trust`), so no record in
  `tests`, yet its failure is exactly what `failed-first` must know.

In the record, not in a map of its own for every test: that repeated each id, doubled a 200,000-test file (16 to
34 MB) and made its planning read (`planning_input`) 2.3x as long. A number in the record costs about 28 bytes a
test (16 to 21.6 MB, the read 1.27x) and keeps the fast reader's proof (record values are numbers).
pytest-split's flat format holds neither field, so a `.test_durations` store remembers no outcome.

Only passed and failed are remembered (an error counts as failed); a skip, an xfail or a rerun cut short says
nothing about whether the test works, so the outcome before it stands.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from sharder.core.errors import SharderError

OUTCOMES_FIELD = "outcomes"
PASSED = "passed"
FAILED = "failed"
REMEMBERED = (PASSED, FAILED)
# The record fields, by outcome.
RECORD_FIELDS = {PASSED: "passed_at", FAILED: "failed_at"}

# One test's last outcome and when, in whole Unix seconds.
LastOutcome = tuple[str, int]


def now() -> int:
    """The time the store stamps on what it saw now: whole Unix seconds."""
    return int(time.time())


def is_time(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def remembered(outcome: str) -> str | None:
    """What an attempt's outcome (the JUnit reader's and the plugin's words) leaves in the store, if anything."""
    if outcome == "passed":
        return PASSED
    if outcome in ("failed", "error", "errored", "timed out"):
        return FAILED
    return None


def record_outcome(node_id: str, record: Mapping[str, Any]) -> LastOutcome | None:
    """The outcome a test's record holds, checked (a ValueError names what is wrong)."""
    found = [(outcome, record[name]) for outcome, name in RECORD_FIELDS.items() if name in record]
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"record of {node_id!r} holds both passed_at and failed_at; expected the last one only")
    outcome, at = found[0]
    if not is_time(at):
        raise ValueError(f"{RECORD_FIELDS[outcome]} of {node_id!r} is {at!r}; expected whole Unix seconds >= 0")
    return outcome, at


def parse_untimed(document: Mapping[str, Any], source: str, timed: Iterable[str]) -> dict[str, LastOutcome]:
    """The top-level `outcomes` field (tests with no record), checked; absent is empty."""
    raw = document.get(OUTCOMES_FIELD)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SharderError(f"{source}: {OUTCOMES_FIELD} must be an object mapping test ids to "
                           f"[outcome, time], got {raw!r:.80}")
    recorded = set(timed)
    outcomes: dict[str, LastOutcome] = {}
    for node_id, pair in raw.items():
        if not isinstance(pair, list) or len(pair) != 2 or pair[0] not in REMEMBERED or not is_time(pair[1]):
            raise SharderError(f"{source}: {OUTCOMES_FIELD} of {node_id!r} is {pair!r:.80}; expected "
                               '["passed" or "failed", whole Unix seconds]')
        if node_id in recorded:
            raise SharderError(f"{source}: {OUTCOMES_FIELD} holds {node_id!r}, which has a record in tests: its "
                               "outcome goes in the record (passed_at or failed_at)")
        outcomes[node_id] = (pair[0], pair[1])
    return outcomes


def untimed_json(outcomes: Mapping[str, LastOutcome], timed: Mapping[str, object]) -> dict[str, Any]:
    """The top-level field for the tests with no record (sorted ids, so the file diffs cleanly), or nothing."""
    untimed = sorted(node_id for node_id in outcomes if node_id not in timed)
    if not untimed:
        return {}
    return {OUTCOMES_FIELD: {node_id: list(outcomes[node_id]) for node_id in untimed}}


def with_outcomes(
    outcomes: Mapping[str, LastOutcome], seen: Mapping[str, str], at: int,
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
