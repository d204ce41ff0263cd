"""The planning input: seconds, setup seconds and peaks by id, read for `sharder plan` at C speed.

`durations.load_durations` builds a `TestTiming` per test and checks each as it goes, which is 0.15 s of a
200,000-test plan; the planner needs only columns of numbers. This reader checks a well-formed file a column at a
time, and takes anything doubtful through the full reader, so every error is the one `load_durations` gives.
A module of its own: it is a second reader of the same format, with its own proof obligations (no duplicate key
dropped, no id the full reader would refuse), not part of the store's update and write.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Mapping
from itertools import compress, repeat
from operator import is_not, itemgetter
from typing import Any, NamedTuple

from sharder.core.errors import SharderError
from sharder.core.inputfile import read_input
from sharder.durations.costs import COSTS_FIELD, SuiteCosts, parse_costs
from sharder.durations.history import FIELDS as HISTORY_FIELDS
from sharder.durations.history import parse_history
from sharder.durations.outcomes import OUTCOMES_FIELD, RECORD_FIELDS, parse_untimed
from sharder.durations.skips import SKIPPED_FIELD, parse_skipped, planned_seconds
from sharder.durations.store import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_TEST_SECONDS,
    NO_LIMIT,
    Durations,
    build_durations,
    decode_document,
    may_hold_surrogates,
    refuse_non_text_ids,
    reject_json_constant,
)


class PlanningInput(NamedTuple):
    """What the planner needs from a store: seconds and recorded setup seconds by id, the file's sha256, and the
    recorded peaks (for the plan table's heaviest test, so the file is not read a second time for them)."""

    seconds: dict[str, float]
    setup_seconds: dict[str, float]
    sha256: str = ""
    peak_rss_mb: Mapping[str, float] = {}  # read-only: the shared default is never written
    costs: SuiteCosts | None = None  # per process, per test and per file costs (`sharder.durations.costs`)

    @classmethod
    def of(cls, durations: Durations) -> PlanningInput:
        peaks = {node_id: timing.peak_rss_mb for node_id, timing in durations.tests.items()
                 if timing.peak_rss_mb is not None}
        return cls(durations.seconds(), durations.setup_seconds(), durations.sha256, peaks, durations.costs)


class _Columns(NamedTuple):
    seconds: dict[str, float]
    setup_seconds: dict[str, float]
    peak_rss_mb: dict[str, float]
    record_fields: set[str]  # every field some record of sharder's format holds; empty for a flat map
    costs: SuiteCosts | None = None


def load_planning_input(path: str | os.PathLike[str]) -> PlanningInput:
    """What `load_durations` reads and checks, without building a TestTiming per test (0.15 s of a 200,000-test
    `sharder plan`): a well-formed file is checked a column at a time; anything doubtful takes the full parse,
    which names the first bad entry exactly as `load_durations` does."""
    source = os.fspath(path)
    raw = read_input(path, "durations")
    if _worth_parsing_without_the_duplicate_hook(raw):  # no backslash, so no surrogate escape either
        columns = _columns_parsed_without_the_duplicate_hook(raw)
        if columns is not None:
            return PlanningInput(columns.seconds, columns.setup_seconds, hashlib.sha256(raw).hexdigest(),
                                 columns.peak_rss_mb, columns.costs)
    data, digest = decode_document(raw, source)
    checked = _checked_columns(data)
    if checked is None:
        planning = PlanningInput.of(build_durations(data, source, digest))
    else:
        planning = PlanningInput(checked.seconds, checked.setup_seconds, digest, checked.peak_rss_mb, checked.costs)
    if may_hold_surrogates(raw):
        refuse_non_text_ids(planning.seconds, source)
    return planning


def _worth_parsing_without_the_duplicate_hook(raw: bytes) -> bool:
    """Sharder's format (its first key is "format") without a backslash anywhere.

    The duplicate-key hook is a Python call per JSON object, one per test in sharder's format (0.08 s of 200,000
    tests), and once for a whole flat map. Without escapes, `_every_key_kept` can count the keys afterwards
    instead, at C speed. Only speed depends on this guess, never the result.
    """
    head = raw[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] == b"{" and head[1:].lstrip(b" \t\r\n").startswith(b'"format"') and b"\\" not in raw


def _columns_parsed_without_the_duplicate_hook(raw: bytes) -> _Columns | None:
    """The checked columns of sharder's format when the document provably has no duplicate key, else None
    (broken or doubtful: the caller's checked parse then finds the same first problem the full reader does)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    collecting = gc.isenabled()
    gc.disable()  # as in `decode_document`: parsed JSON holds no cycles
    try:
        data = json.loads(text, parse_constant=reject_json_constant)
    except ValueError:
        return None
    finally:
        if collecting:
            gc.enable()
    columns = _checked_columns(data)
    if columns is None or not isinstance(data, dict) or not _every_key_kept(raw, data, columns.record_fields):
        return None
    return columns


def _every_key_kept(raw: bytes, document: dict[str, Any], record_fields: set[str]) -> bool:
    """Whether parsing kept every key of `raw`, a sharder document without escapes whose columns checked out.

    Without escapes every quote of JSON text opens or closes a string, and the parse holds each string of the text
    once, as a key or a value, unless a duplicate key dropped it (and its value). Here the only string value is the
    format name: the record fields are known ones, their values checked to be numbers or null. So the text's
    quotes are twice the parsed keys plus one, or a key was lost. The history fields (a few hundred strings at
    most) and the outcomes of tests with no record have their keys and strings counted one by one.
    """
    extra = document.keys() - {"format", "version", "tests"}
    if not extra.issubset(_OPTIONAL_FIELDS) or not _RECORD_FIELDS.issuperset(record_fields):
        return False
    records: dict[str, dict[str, object]] = document["tests"]
    keys = len(document) + len(records) + sum(map(len, records.values()))
    strings = sum(_strings_in(document[name]) for name in extra)
    return raw.count(b'"') == 2 * (keys + 1 + strings)


def _strings_in(value: object) -> int:
    """How many JSON strings, keys included, `value` holds."""
    if isinstance(value, str):
        return 1
    if isinstance(value, dict):
        return len(value) + sum(map(_strings_in, value.values()))
    if isinstance(value, list):
        return sum(map(_strings_in, value))
    return 0


def _history_checks_out(document: dict[str, Any]) -> bool:
    """Whether the history fields are valid; a doubtful one sends the caller to the full reader, whose error
    (a duplicate key, then a bad field) is the one to give."""
    try:
        parse_history(document, "")
    except SharderError:
        return False
    return True


def _outcomes_check_out(document: dict[str, Any]) -> bool:
    """As `_history_checks_out`, for the outcomes of tests with no record (planning does not use them, but must
    not let a broken one pass)."""
    try:
        parse_untimed(document, "", document["tests"])
    except SharderError:
        return False
    return True


_ABSENT = object()
_PASSED_AT, _FAILED_AT = RECORD_FIELDS["passed"], RECORD_FIELDS["failed"]


def _record_outcomes_check_out(values: list[Any], fields: set[str]) -> bool:
    """Every `passed_at`/`failed_at` a whole number >= 0 (not a bool, not null), and no record holding both."""
    for name in (_PASSED_AT, _FAILED_AT):
        if name in fields:
            times = [at for at in map(dict.get, values, repeat(name), repeat(_ABSENT)) if at is not _ABSENT]
            if set(map(type, times)) != {int} or min(times) < 0:
                return False
    return not ({_PASSED_AT, _FAILED_AT} <= fields
                and any(_PASSED_AT in record and _FAILED_AT in record for record in values))


_RECORD_FIELDS = frozenset({"seconds", "runs", "setup_seconds", "peak_rss_mb", _PASSED_AT, _FAILED_AT})
_OPTIONAL_FIELDS = frozenset({*HISTORY_FIELDS, OUTCOMES_FIELD, COSTS_FIELD, SKIPPED_FIELD})


def _all_seconds(values: list[Any], limit: float = MAX_TEST_SECONDS) -> bool:
    """Floats, >= 0 and at most `limit`, so finite (JSON NaN never gets here: `reject_json_constant`); ints take the
    full parse."""
    return not values or (set(map(type, values)) == {float} and min(values) >= 0 and max(values) <= limit)


def _present(records: dict[str, Any], column: list[Any]) -> dict[str, Any]:
    """The entries of a record column that are not None (absent or null), by id."""
    if None not in column:
        return dict(zip(records, column, strict=True))
    return dict(compress(zip(records, column, strict=True), map(is_not, column, repeat(None))))


def _checked_columns(data: object) -> _Columns | None:
    """(seconds, setup seconds, peaks) when every entry is plainly valid, else None."""
    if not isinstance(data, dict):
        return None
    if "format" not in data:
        return _Columns(data, {}, {}, set()) if "" not in data and _all_seconds(list(data.values())) else None
    records = data.get("tests")
    if data.get("format") != FORMAT_NAME or data.get("version") != FORMAT_VERSION or not isinstance(records, dict):
        return None
    if not data.keys().isdisjoint(HISTORY_FIELDS) and not _history_checks_out(data):
        return None
    if OUTCOMES_FIELD in data and not _outcomes_check_out(data):
        return None
    try:
        costs = parse_costs(data, "")
        skipped = parse_skipped(data, "", records)
    except SharderError:  # the full reader gives the error
        return None
    values = list(records.values())
    try:  # column by column with C-level map: a record that is not an object raises TypeError here
        seconds = list(map(itemgetter("seconds"), values))
    except (TypeError, KeyError):
        return None
    fields: set[str] = set().union(*values)  # a field no record holds needs no column (most files: no peaks)
    runs = list(map(dict.get, values, repeat("runs"), repeat(1))) if "runs" in fields else []
    setup = _present(records, list(map(dict.get, values, repeat("setup_seconds")))) if "setup_seconds" in fields else {}
    peaks = _present(records, list(map(dict.get, values, repeat("peak_rss_mb")))) if "peak_rss_mb" in fields else {}
    plain_runs = not runs or (set(map(type, runs)) == {int} and min(runs) >= 1)
    if not _record_outcomes_check_out(values, fields):
        return None
    if ("" in records or not plain_runs or not _all_seconds(seconds) or not _all_seconds(list(setup.values()))
            or not _all_seconds(list(peaks.values()), NO_LIMIT)):
        return None
    return _Columns(planned_seconds(dict(zip(records, seconds, strict=True)), skipped), setup, peaks, fields, costs)
