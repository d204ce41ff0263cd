"""Where a plan's timings come from: a CI cache directory, else the committed durations file, else nothing, and
the provenance record that travels with a cached store.

Users lost their balance for months because a durations file never reached main and every run silently split by
test count; so the choice is always said, with how old the timings are and who wrote them. The cache directory
(`--store DIR`, e.g. `.sharder/`, restored by the CI's cache) holds `durations.json` and `provenance.json`;
`sharder rebalance --store DIR` writes both, so the CI saves them for the next run.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sharder.core.atomic import atomic_write_text
from sharder.core.errors import SharderError
from sharder.core.inputfile import read_input
from sharder.durations import store
from sharder.planning.estimate import NO_DATA_SECONDS

# One wording for "nothing recorded", said by `sharder plan`, `sharder matrix` and `pytest --shard` alike (the
# README's quick start uses the same words).
NO_TIMINGS = "no recorded timings"
SAME_ESTIMATE = f"every test counts as the same estimate ({NO_DATA_SECONDS:g} s), so the shards split by test count"
HOW_TO_RECORD = "record timings with `sharder record` or `pytest --sharder-store-durations`"

PROVENANCE_FILE = "provenance.json"
PROVENANCE_FORMAT = "sharder-provenance"
PROVENANCE_VERSION = 1


@dataclass(frozen=True)
class Provenance:
    """Who wrote a cached store: the CI run, its branch and commit, and when."""

    provider: str
    run_id: str | None
    attempt: str | None
    branch: str | None
    commit: str | None
    written_at: str  # ISO 8601, UTC

    def age_seconds(self, now: datetime | None = None) -> float | None:
        try:
            written = datetime.fromisoformat(self.written_at)
        except ValueError:
            return None
        if written.tzinfo is None:
            written = written.replace(tzinfo=timezone.utc)
        age = ((now or datetime.now(timezone.utc)) - written).total_seconds()
        return age if math.isfinite(age) else None


@dataclass(frozen=True)
class TimingsSource:
    """The durations file a plan reads (None: no timings anywhere), what kind of place it is, and a sentence."""

    path: Path | None
    kind: str  # "cache", "committed", "given", "none"
    provenance: Provenance | None

    def describe(self, now: datetime | None = None) -> str:
        if self.path is None:
            return f"{NO_TIMINGS} (no CI cache, no committed durations file): {SAME_ESTIMATE}"
        if self.kind == "given":
            return f"timings from {_shown(self.path)}"
        if self.kind == "committed":
            return f"timings from the committed {_shown(self.path)} (no CI cache)"
        words = [f"timings from the CI cache {_shown(self.path)}"]
        origin = self.provenance
        if origin is not None:
            run = f"{origin.provider} run {origin.run_id}" if origin.run_id else f"a {origin.provider} run"
            if origin.attempt and origin.attempt != "1":
                run += f" (attempt {origin.attempt})"
            if origin.branch:
                run += f" on {origin.branch}"
            age = origin.age_seconds(now)
            words.append(f"written by {run}" + (f", {_age_text(age)} ago" if age is not None else ""))
        return ", ".join(words)


def untimed_note(source: TimingsSource, planned: int) -> str:
    """What plan and matrix say when none of the `planned` tests has a recorded time: where they looked, what that
    means for the split, and how to record."""
    if source.path is None:
        return f"{source.describe()}; {HOW_TO_RECORD}"
    return f"{source.describe()}, but none of the {planned} tests is in it: {SAME_ESTIMATE}; {HOW_TO_RECORD}"


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to here when it is below here."""
    try:
        return os.fspath(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return os.fspath(path)


def _age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def read_provenance(directory: Path) -> Provenance | None:
    """The cached store's provenance; a missing or unreadable record is no provenance, not an error (the timings
    themselves are still good, and the plan says it does not know who wrote them)."""
    path = directory / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(read_input(path, "provenance"))
    except (SharderError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != PROVENANCE_FORMAT:
        return None
    fields: dict[str, Any] = {}
    for name in ("provider", "run_id", "attempt", "branch", "commit", "written_at"):
        value = document.get(name)
        fields[name] = value if isinstance(value, str) else None
    if fields["provider"] is None or fields["written_at"] is None:
        return None
    return Provenance(**fields)


def write_provenance(directory: Path, provenance: Provenance) -> None:
    document = {"format": PROVENANCE_FORMAT, "version": PROVENANCE_VERSION, **asdict(provenance)}
    atomic_write_text(directory / PROVENANCE_FILE, json.dumps(document, indent=1) + "\n")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def choose_timings(store_dir: Path | None, committed: Path, *, given: bool) -> TimingsSource:
    """`--durations PATH` given: that file. Else the cache directory's store when it has one, else the committed
    file when it exists, else none."""
    if given:
        return TimingsSource(committed, "given", None)
    if store_dir is not None:
        cached = store_dir / store.DEFAULT_FILENAME
        if cached.is_file():
            return TimingsSource(cached, "cache", read_provenance(store_dir))
    if committed.is_file():
        return TimingsSource(committed, "committed", None)
    return TimingsSource(None, "none", None)


def timings_record(source: TimingsSource, *, covered: int, planned: int) -> dict[str, Any]:
    """What plan.json keeps of the source, for the merge summary's provenance line."""
    origin = source.provenance
    return {
        "source": source.kind,
        "path": None if source.path is None else _shown(source.path),
        "provider": origin.provider if origin else None,
        "run_id": origin.run_id if origin else None,
        "attempt": origin.attempt if origin else None,
        "branch": origin.branch if origin else None,
        "written_at": origin.written_at if origin else None,
        "covered": covered,
        "planned": planned,
    }


def describe_record(record: dict[str, Any], now: datetime | None = None) -> str:
    """The merge summary's provenance line, from plan.json's record (values are the plan's, so checked here)."""
    def text(key: str) -> str | None:
        value = record.get(key)
        return value if isinstance(value, str) and value else None

    kind = text("source") or "none"
    origin = None
    if text("provider") and text("written_at"):
        origin = Provenance(text("provider") or "", text("run_id"), text("attempt"), text("branch"), None,
                            text("written_at") or "")
    path = text("path")
    source = TimingsSource(Path(path) if path else None, kind, origin)
    covered, planned = record.get("covered"), record.get("planned")
    share = (f"; {covered} of {planned} planned tests had a recorded time"
             if isinstance(covered, int) and isinstance(planned, int) else "")
    return source.describe(now) + share
