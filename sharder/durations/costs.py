"""What a pytest process pays besides its tests: the store's `costs` section, its reading, writing and blending.

A CI shard's wall is not the sum of its tests. It also pays, once per process, the start of Python and pytest
(plugins, conftests), the part of collection that is no test file (the directory walk, conftests, hooks), the
gap between collection and the first test, and what comes after the last one (reports, the store's write); once
per test, pytest's own work around the three phases (reports, terminal output, hooks); and once per test file it
collects, that file's import and collection. A file split over k shards is imported k times. Those are the
numbers the planner needs to predict a wall (`sharder.planning.wall`).

In `durations.json` they are one optional section beside `tests`, so readers of version 1 that do not know it
ignore it (pytest-split's flat `.test_durations` cannot hold it; writing that format drops it):

```json
"costs": {"runs": 3, "startup_seconds": 0.41, "collection_seconds": 0.05, "session_setup_seconds": 0.01,
          "teardown_seconds": 0.03, "per_test_seconds": 0.0004, "outside_seconds": 0.35,
          "files": {"tests/test_io.py": 0.31}}
```

`outside_seconds` is what a job pays outside pytest's session, which pytest cannot time itself: `sharder run`'s
own start before pytest, and pytest's interpreter exit after its last hook (0.2-0.5 s on scipy.optimize). The
sharder process that started pytest measures it (`sharder.running.outside_cost`).

Updates blend like the tests' times (an exponential moving average, `DEFAULT_SMOOTHING`): a file's import cost
only when the run collected that file, the per-process figures every run.

The first file a process imports also pays for the libraries the whole suite imports (numpy, the package under
test): whichever file comes first in a shard pays them there. So a first file far above the others' median has its
excess counted as `startup_seconds` (`shared_import_excess`), or every shard without that file would be predicted
that much too short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sharder.core.errors import SharderError
from sharder.core.session_timeline import SessionTimeline

COSTS_FIELD = "costs"
# The per-process figures, in the order they are written; each a number of seconds >= 0.
PROCESS_FIELDS = ("startup_seconds", "collection_seconds", "session_setup_seconds", "teardown_seconds")
PER_TEST_FIELD = "per_test_seconds"
OUTSIDE_FIELD = "outside_seconds"  # optional: absent until a sharder process measured it
FILES_FIELD = "files"
# A first file this many times the median of the others paid for imports the whole suite shares.
SHARED_IMPORT_FACTOR = 2.0
# The median needs a few files to mean anything.
SHARED_IMPORT_MIN_FILES = 3
# A larger figure is not a cost of one process but a broken or hostile file (as MAX_TEST_SECONDS for tests).
MAX_COST_SECONDS = 1e7


@dataclass(frozen=True, slots=True)
class SuiteCosts:
    """Per process, per test and per file seconds, from `runs` observed sessions (blended)."""

    startup_seconds: float = 0.0
    collection_seconds: float = 0.0  # collection that is no test file: directory walk, conftests, hooks
    session_setup_seconds: float = 0.0  # from the end of collection to the first test's start
    teardown_seconds: float = 0.0  # from the last test's end to the end of the session
    per_test_seconds: float = 0.0  # pytest's own time around each test's phases
    files: Mapping[str, float] = field(default_factory=dict)  # import + collection, by file as node ids spell it
    runs: int = 1
    # What a job pays outside pytest's session: `sharder run`'s own start before pytest and pytest's interpreter
    # exit after it (a large heap takes its time to tear down). Measured by the sharder process that started
    # pytest, so None until a run through `sharder run` or `sharder record` measured it.
    outside_seconds: float | None = None

    @property
    def fixed_seconds(self) -> float:
        """What every shard pays once, whatever it runs."""
        return (self.startup_seconds + self.collection_seconds + self.session_setup_seconds + self.teardown_seconds
                + (self.outside_seconds or 0.0))


def shared_import_excess(file_seconds: Iterable[float]) -> float:
    """How much of the first file's time paid for imports the whole suite shares (0.0 when it looks like the rest)."""
    values = list(file_seconds)
    if len(values) < SHARED_IMPORT_MIN_FILES:
        return 0.0
    others = sorted(values[1:])
    middle = len(others) // 2
    median = others[middle] if len(others) % 2 else (others[middle - 1] + others[middle]) / 2
    return values[0] - median if values[0] > SHARED_IMPORT_FACTOR * median else 0.0


def costs_of_session(timeline: SessionTimeline) -> SuiteCosts:
    """The costs one session shows: the non-file part of collection is per-process, the first file's shared
    imports move to the start, pytest's time between tests is spread over them."""
    files = dict(timeline.files)
    excess = shared_import_excess(files.values())
    if excess:
        first = next(iter(files))
        files[first] -= excess
    collection = max(0.0, timeline.collection_seconds - sum(files.values()) - excess)
    between = max(0.0, timeline.tests_span_seconds - timeline.tests_seconds)
    return SuiteCosts(
        startup_seconds=max(0.0, timeline.startup_seconds) + excess,
        collection_seconds=collection,
        session_setup_seconds=max(0.0, timeline.session_setup_seconds),
        teardown_seconds=max(0.0, timeline.teardown_seconds),
        per_test_seconds=between / timeline.tests if timeline.tests else 0.0,
        files={name: max(0.0, seconds) for name, seconds in files.items()},
        outside_seconds=timeline.outside_seconds,
    )


def _ema(old: float, new: float, smoothing: float) -> float:
    return old + smoothing * (new - old)


def _blended_outside(old: float | None, new: float | None, smoothing: float) -> float | None:
    """A session that did not measure it (a plain pytest run) leaves the recorded figure as it was."""
    if new is None or old is None:
        return old if new is None else new
    return _ema(old, new, smoothing)


def with_outside(costs: SuiteCosts, seconds: float, smoothing: float) -> SuiteCosts:
    """The costs with one more measurement of `outside_seconds` blended in (the session's other costs, recorded
    by pytest before it exited, are in already: `runs` stays)."""
    return replace(costs, outside_seconds=_blended_outside(costs.outside_seconds, seconds, smoothing))


def blended_costs(old: SuiteCosts | None, new: SuiteCosts, smoothing: float) -> SuiteCosts:
    """`new` blended into `old`; files the new session did not collect keep their recorded cost."""
    if old is None:
        return new
    files = dict(old.files)
    for name, seconds in new.files.items():
        files[name] = _ema(files[name], seconds, smoothing) if name in files else seconds
    return SuiteCosts(
        **{name: _ema(getattr(old, name), getattr(new, name), smoothing) for name in (*PROCESS_FIELDS, PER_TEST_FIELD)},
        files=files,
        runs=old.runs + 1,
        outside_seconds=_blended_outside(old.outside_seconds, new.outside_seconds, smoothing),
    )


def kept_files(costs: SuiteCosts, files: Iterable[str]) -> SuiteCosts:
    """The costs with only these files (those still holding a collected test)."""
    wanted = set(files)
    return replace(costs, files={name: seconds for name, seconds in costs.files.items() if name in wanted})


def _seconds(source: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_COST_SECONDS:
        raise SharderError(f"{source}: {COSTS_FIELD}.{name} is {value!r:.80}, expected seconds between 0 and "
                           f"{MAX_COST_SECONDS:,.0f}")
    return float(value)


def parse_costs(document: Mapping[str, Any], source: str) -> SuiteCosts | None:
    """The `costs` section of a sharder document, checked; None when absent."""
    raw = document.get(COSTS_FIELD)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SharderError(f"{source}: {COSTS_FIELD} must be an object, got {raw!r:.80}")
    runs = raw.get("runs", 1)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise SharderError(f"{source}: {COSTS_FIELD}.runs is {runs!r:.80}, expected a whole number >= 1")
    files = raw.get(FILES_FIELD, {})
    if not isinstance(files, dict) or not all(isinstance(name, str) and name for name in files):
        raise SharderError(f"{source}: {COSTS_FIELD}.{FILES_FIELD} must map file names to seconds")
    return SuiteCosts(
        **{name: _seconds(source, name, raw.get(name, 0.0)) for name in (*PROCESS_FIELDS, PER_TEST_FIELD)},
        files={name: _seconds(source, f"{FILES_FIELD}[{name!r}]", seconds) for name, seconds in files.items()},
        runs=runs,
        outside_seconds=None if raw.get(OUTSIDE_FIELD) is None else _seconds(source, OUTSIDE_FIELD, raw[OUTSIDE_FIELD]),
    )


def costs_json(costs: SuiteCosts | None) -> dict[str, Any]:
    """`{"costs": {...}}` to splice into a document, or nothing; files sorted, so the committed file diffs cleanly."""
    if costs is None:
        return {}
    section: dict[str, Any] = {"runs": costs.runs}
    section.update({name: round(getattr(costs, name), 6) for name in PROCESS_FIELDS})
    section[PER_TEST_FIELD] = round(costs.per_test_seconds, 7)
    if costs.outside_seconds is not None:
        section[OUTSIDE_FIELD] = round(costs.outside_seconds, 6)
    section[FILES_FIELD] = {name: round(seconds, 6) for name, seconds in sorted(costs.files.items())}
    return {COSTS_FIELD: section}
