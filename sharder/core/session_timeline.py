"""One pytest session's timeline: what it spent before, between and after its tests, and on each test file.

Measured by the pytest side (`sharder.pytest_plugin.collection_timing`), written as the progress log's `costs`
event (`sharder.core.progress_log`), turned into the store's costs by `sharder.durations.costs`. Defined here,
in the shared vocabulary, because all three stages speak it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The numeric fields, each seconds >= 0 (`tests` is a count).
SECONDS_FIELDS = ("startup_seconds", "collection_seconds", "session_setup_seconds", "tests_span_seconds",
                  "tests_seconds", "teardown_seconds", "wall_seconds")
OUTSIDE_FIELD = "outside_seconds"  # optional: pytest does not write it, the merge's JSON does


@dataclass(frozen=True, slots=True)
class SessionTimeline:
    """Seconds of one session; `files` in collection order, keyed as node ids spell the file."""

    startup_seconds: float  # process start to the start of collection
    collection_seconds: float  # the whole collection, test files included
    files: Mapping[str, float] = field(default_factory=dict)  # each test file's import and collection
    session_setup_seconds: float = 0.0  # end of collection to the first test's start
    tests_span_seconds: float = 0.0  # the first test's start to the last one's end
    tests_seconds: float = 0.0  # the sum of the tests' setup + call + teardown within that span
    tests: int = 0
    teardown_seconds: float = 0.0  # the last test's end to the moment of measuring
    wall_seconds: float = 0.0  # process start to the moment of measuring
    # What the job paid outside this session, measured by the sharder process that started pytest (its `outside`
    # progress-log event): its own start before pytest and pytest's interpreter exit after the measuring.
    # None: not measured (a plain pytest run, an older log, a pytest killed before it finished).
    outside_seconds: float | None = None

    @property
    def job_seconds(self) -> float:
        """The wall a CI job sees for this session: the session's own and what it paid outside it."""
        return self.wall_seconds + (self.outside_seconds or 0.0)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {name: round(getattr(self, name), 6) for name in SECONDS_FIELDS}
        document["tests"] = self.tests
        document["files"] = {name: round(seconds, 6) for name, seconds in self.files.items()}
        if self.outside_seconds is not None:
            document[OUTSIDE_FIELD] = round(self.outside_seconds, 6)
        return document


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def timeline_from_json(document: object) -> SessionTimeline | None:
    """A timeline from its JSON form, or None when any part of it is not what the writer writes (untrusted input:
    a log is written by the suite's process)."""
    if not isinstance(document, dict):
        return None
    numbers = {name: _seconds(document.get(name, 0.0)) for name in SECONDS_FIELDS}
    tests = document.get("tests", 0)
    files = document.get("files", {})
    if (None in numbers.values() or isinstance(tests, bool) or not isinstance(tests, int) or tests < 0
            or not isinstance(files, dict)):
        return None
    checked = {name: _seconds(seconds) for name, seconds in files.items() if isinstance(name, str) and name}
    if len(checked) != len(files) or None in checked.values():
        return None
    outside = document.get(OUTSIDE_FIELD)
    return SessionTimeline(files={name: float(seconds or 0.0) for name, seconds in checked.items()}, tests=tests,
                           outside_seconds=None if outside is None else _seconds(outside),
                           **{name: float(value or 0.0) for name, value in numbers.items()})
