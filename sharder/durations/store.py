"""The durations store: what each test cost last time, read from sharder's or pytest-split's format.

Formats read:
- sharder's own: `{"format": "sharder-durations", "version": 1, "tests": {id: {"seconds": s, ...}}}`;
- pytest-split's `.test_durations`: a flat `{id: seconds}` map, or its legacy `[[id, seconds], ...]` list.

Seconds are setup + call + teardown. Updates blend new observations in with an exponential moving average so
that one slow run on a noisy CI machine does not swing the next plan.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sharder.core.atomic import atomic_write_text
from sharder.core.errors import SharderError
from sharder.core.inputfile import read_input
from sharder.durations.costs import SuiteCosts, blended_costs, costs_json, kept_files, parse_costs
from sharder.durations.history import LastUpdate, history_json, parse_history
from sharder.durations.outcomes import RECORD_FIELDS, LastOutcome, parse_untimed, record_outcome, untimed_json
from sharder.durations.skips import parse_skipped, planned_seconds, skipped_json, with_skips

FORMAT_NAME = "sharder-durations"
FORMAT_VERSION = 1
DEFAULT_FILENAME = "durations.json"
PYTEST_SPLIT_FILENAME = ".test_durations"
# Weight of the newest observation. 0.5 halves the influence of a run every run: responsive to a test that really
# got slower, yet one 10x outlier only doubles the estimate instead of replacing it.
DEFAULT_SMOOTHING = 0.5
# A run whose tests took, at the median, this many times longer or shorter than recorded ran on other hardware (a new
# runner type): the old timings describe another machine, where tests scale differently (CPU-bound and I/O-bound ones
# do not speed up alike), so that run's observations replace them instead of being blended in. Needs this many tests
# seen before, so a lone outlier is still only blended. (bench/stale.py: pgmpy's history has such a run.)
REGIME_CHANGE_FACTOR = 1.5
REGIME_CHANGE_MIN_TESTS = 5
# pytest writes JUnit times in whole milliseconds: a 0.3 ms test comes back as 0.000 and a 0.6 ms one as 0.001, a
# ratio to its recorded time of 0 or 3 that says nothing about the machine. Only a test that took at least this
# long, before or now, votes on a regime change: at 50 ms the rounding moves its ratio by 1% at most.
REGIME_VOTE_MIN_SECONDS = 0.05
# A time of 0.000 in a report at that resolution means "under half a millisecond", not "free": for a test recorded
# below that it is no news (the record is kept), for one recorded above it says "about this much" (blended in).
REPORT_RESOLUTION_SECONDS = 0.001
# A time above this is not a test duration (115 days) but a producer's bug or a hostile file: summed over a plan or
# a merge, values near 1e308 overflow `math.fsum`. JUnit reports (`sharder/reports/junit.py`) and durations files alike
# are refused when they hold one.
MAX_TEST_SECONDS = 1e7
NO_LIMIT = sys.float_info.max  # for peaks, never summed: any finite number of MB reads


@dataclass(frozen=True, slots=True)
class TestTiming:
    """What the store knows of one test."""

    seconds: float
    runs: int = 1
    setup_seconds: float | None = None
    peak_rss_mb: float | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """One run's measurement of one test."""

    seconds: float
    setup_seconds: float | None = None
    peak_rss_mb: float | None = None


@dataclass
class Durations:
    """Recorded timings by node id, a fingerprint of the file they came from, what the store remembers of
    the runs that updated it (`sharder.durations.history`) and each test's last outcome (`.outcomes`)."""

    tests: dict[str, TestTiming]
    sha256: str = ""
    absorbed: tuple[str, ...] = ()
    last_update: LastUpdate | None = None
    costs: SuiteCosts | None = None  # what a process pays besides its tests (`sharder.durations.costs`)
    outcomes: dict[str, LastOutcome] = field(default_factory=dict)
    # Tests with no record whose last run was a skip, and what it took (`sharder.durations.skips`).
    skipped: dict[str, float] = field(default_factory=dict)

    def seconds(self) -> dict[str, float]:
        """The seconds to plan with: each record's, and each skip-only test's skip."""
        return planned_seconds({node_id: timing.seconds for node_id, timing in self.tests.items()}, self.skipped)

    def setup_seconds(self) -> dict[str, float]:
        """Recorded setup time of the tests that have one (the planner estimates module fixture costs from it)."""
        return {node_id: timing.setup_seconds for node_id, timing in self.tests.items()
                if timing.setup_seconds is not None}

    def __len__(self) -> int:
        return len(self.tests)


class _BadEntry(ValueError):
    """A bad entry; `parse_durations` adds the file name and turns it into a SharderError."""


_JSON_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
                    bool: "a boolean", type(None): "null"}


def reject_json_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number of seconds")


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _check_seconds(node_id: str, value: object, field: str = "seconds", limit: float = MAX_TEST_SECONDS) -> float:
    """A time of the record, checked; `limit` keeps a planner's sums finite (peaks, not summed, pass math.inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadEntry(f"{field} of {node_id!r} is {value!r}, not a number")
    try:
        seconds = float(value)
    except OverflowError:  # a JSON integer too big for a float
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise _BadEntry(f"{field} of {node_id!r} is {value!r}; expected a finite number >= 0")
    if seconds > limit:
        raise _BadEntry(f"{field} of {node_id!r} is {value!r}, more than {limit:,.0f} s (115 days); "
                        "not a test duration, refused")
    return seconds


def _check_node_id(node_id: object) -> str:
    if not isinstance(node_id, str) or not node_id:
        raise _BadEntry(f"test id {node_id!r} is not a non-empty string")
    return node_id


def refuse_non_text_ids(ids: Iterable[str], source: str) -> None:
    """Refuse an id holding a lone surrogate (JSON can spell one, `\\ud800`, UTF-8 cannot): it reads fine but
    cannot be written to a plan or a durations file, so it would end a later command with a traceback instead.

    One C-level encode of all ids together; only a failure looks for the culprit."""
    ids = list(ids)
    try:
        "".join(ids).encode("utf-8")
    except UnicodeEncodeError:
        for node_id in ids:
            try:
                node_id.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise SharderError(f"{source}: test id {node_id!r} is not valid Unicode text "
                                   f"({exc.reason}); refused") from None
        raise  # unreachable: the joined text fails only where one id does


def may_hold_surrogates(raw: bytes) -> bool:
    """Whether JSON text can decode to a lone surrogate: only a \\u escape spells one. A lone backslash is looked
    for first: a one-byte search is memchr, 1 ms of a 15 MB file, where the two-byte one takes 14 ms."""
    return b"\\" in raw and b"\\u" in raw


def _timing_from_record(node_id: str, record: object) -> TestTiming:
    if not isinstance(record, dict):
        raise _BadEntry(f"entry for {node_id!r} is {type(record).__name__}, expected an object")
    seconds = _check_seconds(node_id, record.get("seconds"))
    runs = record.get("runs", 1)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise _BadEntry(f"runs of {node_id!r} is {runs!r}; expected a whole number >= 1")
    setup = record.get("setup_seconds")
    peak = record.get("peak_rss_mb")
    return TestTiming(
        seconds=seconds,
        runs=runs,
        setup_seconds=None if setup is None else _check_seconds(node_id, setup, "setup_seconds"),
        peak_rss_mb=None if peak is None else _check_seconds(node_id, peak, "peak_rss_mb", NO_LIMIT),
    )


def parse_durations(raw: bytes, source: str = "durations") -> Durations:
    """Parse any supported durations format; every problem is a `SharderError` naming the first bad entry."""
    data, digest = decode_document(raw, source)
    durations = build_durations(data, source, digest)
    if may_hold_surrogates(raw):
        refuse_non_text_ids([*durations.tests, *durations.outcomes, *durations.skipped], source)
    return durations


def build_durations(data: object, source: str, digest: str) -> Durations:
    try:
        tests = _tests_from_document(data, source)
    except _BadEntry as exc:
        raise SharderError(f"{source}: {exc}") from None
    if isinstance(data, dict) and "format" in data:  # checked after the tests, as the planning reader does
        absorbed, last_update = parse_history(data, source)
        return Durations(tests, digest, absorbed, last_update, parse_costs(data, source), _outcomes_of(data, source),
                         parse_skipped(data, source, tests))
    return Durations(tests=tests, sha256=digest)


def _outcomes_of(data: dict[str, Any], source: str) -> dict[str, LastOutcome]:
    """Each test's last outcome: from its record (`passed_at`/`failed_at`), else from the top-level map."""
    outcomes: dict[str, LastOutcome] = {}
    records: dict[str, Any] = data["tests"]
    try:
        for node_id, record in records.items():
            last = record_outcome(node_id, record)
            if last is not None:
                outcomes[node_id] = last
    except ValueError as exc:
        raise SharderError(f"{source}: {exc}") from None
    return {**outcomes, **parse_untimed(data, source, records)}


def decode_document(raw: bytes, source: str) -> tuple[object, str]:
    """The JSON document and the sha256 of the raw bytes."""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SharderError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise SharderError(f"{source}: the file is empty; expected a JSON durations map")
    # Parsed JSON holds no reference cycles, so the cyclic collector, which would otherwise walk the growing
    # document again and again while 200,000 records are built, is paused: 0.1 s of a large `sharder plan`.
    collecting = gc.isenabled()
    gc.disable()
    try:
        data = json.loads(text, parse_constant=reject_json_constant, object_pairs_hook=_pairs_without_duplicates)
    except ValueError as exc:
        raise SharderError(f"{source}: not valid durations JSON: {exc}") from None
    finally:
        if collecting:
            gc.enable()
    return data, digest


def _tests_from_document(data: object, source: str) -> dict[str, TestTiming]:
    tests: dict[str, TestTiming] = {}
    if isinstance(data, dict) and "format" in data:
        if data.get("format") != FORMAT_NAME:
            raise SharderError(f"{source}: unknown format {data.get('format')!r}; expected {FORMAT_NAME!r}")
        if data.get("version") != FORMAT_VERSION:
            raise SharderError(
                f"{source}: {FORMAT_NAME} version {data.get('version')!r} is not supported "
                f"(this sharder reads version {FORMAT_VERSION})"
            )
        records = data.get("tests")
        if not isinstance(records, dict):
            raise SharderError(f"{source}: 'tests' must be an object mapping test ids to records")
        for node_id, record in records.items():
            tests[_check_node_id(node_id)] = _timing_from_record(node_id, record)
    elif isinstance(data, dict):
        for node_id, seconds in data.items():
            tests[_check_node_id(node_id)] = TestTiming(_check_seconds(node_id, seconds))
    elif isinstance(data, list):
        for position, pair in enumerate(data):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise SharderError(f"{source}: entry {position} is {pair!r}; expected [test id, seconds]")
            node_id = _check_node_id(pair[0])
            if node_id in tests:
                raise SharderError(f"{source}: duplicate test id {node_id!r}")
            tests[node_id] = TestTiming(_check_seconds(node_id, pair[1]))
    else:
        kind = _JSON_TYPE_NAMES.get(type(data), type(data).__name__)
        raise SharderError(f"{source}: expected a JSON object or list of durations, got {kind}")
    return tests


def load_durations(path: str | os.PathLike[str]) -> Durations:
    return parse_durations(read_input(path, "durations"), source=os.fspath(path))


def load_durations_if_present(path: str | os.PathLike[str] | None) -> Durations:
    """An absent file is an empty store (first run); a present but broken one is an error."""
    if path is None or not Path(path).exists():
        return Durations(tests={})
    return load_durations(path)


def find_durations_file(rootdir: str | os.PathLike[str]) -> Path:
    """`durations.json` at the root, else pytest-split's `.test_durations` if only that exists."""
    root = Path(rootdir)
    ours, theirs = root / DEFAULT_FILENAME, root / PYTEST_SPLIT_FILENAME
    if not ours.exists() and theirs.exists():
        return theirs
    return ours


def _blend(old: float | None, new: float | None, smoothing: float) -> float | None:
    if new is None:
        return old
    if old is None:
        return new
    return old + smoothing * (new - old)


def updated(
    durations: Durations,
    observations: Mapping[str, Observation],
    *,
    smoothing: float = DEFAULT_SMOOTHING,
    keep_only: Iterable[str] | None = None,
    costs: SuiteCosts | None = None,
    skipped: Mapping[str, float] | None = None,
) -> Durations:
    """Blend `observations` into `durations`; with `keep_only`, drop ids not in it (tests no longer collected).
    `skipped`: the tests whose last run this time was a skip, with its seconds (`sharder.durations.skips`).

    `observations` must hold trustworthy runs only (`sharder.durations.trust`): every one of them also votes on
    whether the run was on other hardware, and a run of fast errors would win that vote.
    Peak memory is blended too, but upwards it moves at once: under-estimating memory is what kills a job.
    `costs`, a session's own (`sharder.durations.costs`), are blended into the recorded ones the same way.
    """
    if not 0 < smoothing <= 1:
        raise SharderError(f"smoothing must be in (0, 1], got {smoothing}")
    tests = dict(durations.tests)
    weight = 1.0 if _regime_changed(tests, observations) else smoothing  # for times; memory does not change machine
    for node_id, seen in observations.items():
        old = tests.get(node_id)
        if old is None:
            tests[node_id] = TestTiming(seen.seconds, 1, seen.setup_seconds, seen.peak_rss_mb)
            continue
        peak = _blend(old.peak_rss_mb, seen.peak_rss_mb, smoothing)
        if peak is not None and seen.peak_rss_mb is not None:
            peak = max(peak, seen.peak_rss_mb)
        tests[node_id] = replace(
            old,
            seconds=_blend(old.seconds, _read_at_resolution(old.seconds, seen.seconds), weight) or 0.0,
            runs=old.runs + 1,
            setup_seconds=_blend(old.setup_seconds, seen.setup_seconds, weight),
            peak_rss_mb=peak,
        )
    suite_costs = durations.costs if costs is None else blended_costs(durations.costs, costs, smoothing)
    outcomes = durations.outcomes
    wanted: set[str] | None = None
    if keep_only is not None:
        wanted = set(keep_only)
        tests = {node_id: timing for node_id, timing in tests.items() if node_id in wanted}
        outcomes = {node_id: last for node_id, last in outcomes.items() if node_id in wanted}
        if suite_costs is not None:
            suite_costs = kept_files(suite_costs, {node_id.partition("::")[0] for node_id in tests})
    skips = with_skips(durations.skipped, skipped or {}, tests, wanted)
    return replace(durations, tests=tests, costs=suite_costs, outcomes=outcomes, skipped=skips)


def _read_at_resolution(recorded: float, observed: float) -> float:
    """What an observed 0.0 says of a test recorded at `recorded`: JUnit rounds to REPORT_RESOLUTION_SECONDS, so
    0.000 is "under half of it". For a test recorded below that, the observation agrees with the record (blending
    0.0 in would halve a true 0.3 ms every run, down to a store of zeros); above, it is read as that half."""
    if observed > 0:
        return observed
    return min(recorded, REPORT_RESOLUTION_SECONDS / 2)


def _regime_changed(tests: Mapping[str, TestTiming], observations: Mapping[str, Observation]) -> bool:
    """Whether the median test of this run took REGIME_CHANGE_FACTOR times longer or shorter than recorded.

    Only tests that took REGIME_VOTE_MIN_SECONDS or more, before or now, vote: a millisecond-rounded time of a
    sub-millisecond test gives a ratio of 0 or several, noise that must not replace a whole accurate store. The
    choice is symmetric in old and new, so with no change the votes are as likely to be above 1 as below; and a
    run with fewer than REGIME_CHANGE_MIN_TESTS voters declares nothing.
    """
    ratios = sorted(
        seen.seconds / old.seconds
        for node_id, seen in observations.items()
        if (old := tests.get(node_id)) is not None and old.seconds > 0
        and max(old.seconds, seen.seconds) >= REGIME_VOTE_MIN_SECONDS
    )
    if len(ratios) < REGIME_CHANGE_MIN_TESTS:
        return False
    median = ratios[len(ratios) // 2]
    return not 1 / REGIME_CHANGE_FACTOR <= median <= REGIME_CHANGE_FACTOR


def _record_json(timing: TestTiming, last: LastOutcome | None) -> dict[str, float | int]:
    record: dict[str, float | int] = {"seconds": round(timing.seconds, 6), "runs": timing.runs}
    if timing.setup_seconds is not None:
        record["setup_seconds"] = round(timing.setup_seconds, 6)
    if timing.peak_rss_mb is not None:
        record["peak_rss_mb"] = round(timing.peak_rss_mb, 1)
    if last is not None:
        record[RECORD_FIELDS[last[0]]] = last[1]
    return record


def render_durations(durations: Durations, *, flat: bool = False) -> str:
    """Serialise with sorted ids, so the committed file diffs cleanly."""
    ordered = sorted(durations.tests.items())
    if flat:
        return json.dumps({k: round(v.seconds, 6) for k, v in ordered}, indent=4, ensure_ascii=False) + "\n"
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        **history_json(durations.absorbed, durations.last_update),
        **costs_json(durations.costs),
        "tests": {node_id: _record_json(timing, durations.outcomes.get(node_id)) for node_id, timing in ordered},
        **untimed_json(durations.outcomes, durations.tests),
        **skipped_json(durations.skipped, durations.tests),
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def save_durations(path: str | os.PathLike[str], durations: Durations) -> None:
    """Write atomically; a file named `.test_durations` keeps pytest-split's flat format so it still reads it
    (and so cannot remember absorbed reports nor outcomes: see `remembers_history`)."""
    flat = not remembers_history(path)
    atomic_write_text(path, render_durations(durations, flat=flat))


def remembers_history(path: str | os.PathLike[str]) -> bool:
    """Whether the file at `path` is written in sharder's format, which holds `absorbed`, `last_update` and
    `outcomes`."""
    return Path(path).name != PYTEST_SPLIT_FILENAME
