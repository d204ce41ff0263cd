"""What a durations store remembers of the runs that updated it: the reports it absorbed, and its last update.

`absorbed`: the identities of the reports (and progress logs) already blended in, newest last, at most
`MAX_ABSORBED`. Blending is not idempotent (every application moves the average and adds a run), so a step that
rebalances the same reports twice, a CI retry or a second `record --from-junit`, counted them twice; with this
list the second application finds nothing new and changes nothing. A few hundred identities cover the last dozens
of runs of a many-shard matrix, which is as far back as anyone re-feeds reports.

`last_update`: which command wrote the store, from how many observations, and whether its run covered the whole
suite (`selected_by` empty) or a selection (`-k`, paths, `--pyargs`... listed), so a reader of the committed file
can tell why nothing was pruned. None when unknown.

Both are optional fields of version 1 (older readers ignore them); pytest-split's flat format cannot hold them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sharder.core.errors import SharderError

ABSORBED_FIELD = "absorbed"
LAST_UPDATE_FIELD = "last_update"
FIELDS = (ABSORBED_FIELD, LAST_UPDATE_FIELD)
MAX_ABSORBED = 500


@dataclass(frozen=True, slots=True)
class LastUpdate:
    command: str  # "rebalance", "record", "record --from-junit"
    observed: int
    pruned: int
    # What narrowed the run that made the update: () the whole suite as configured; None not known (a report
    # without its plan, a foreign runner's JUnit). Only an update from the whole suite prunes.
    selected_by: tuple[str, ...] | None = None


def absorbed_after(absorbed: Iterable[str], new: Iterable[str]) -> tuple[str, ...]:
    """`absorbed` with `new` appended (each once, order kept), cut to the newest MAX_ABSORBED."""
    merged = list(dict.fromkeys([*absorbed, *new]))
    return tuple(merged[-MAX_ABSORBED:])


def _count(source: str, field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SharderError(f"{source}: {LAST_UPDATE_FIELD}.{field} is {value!r}, expected a whole number >= 0")
    return value


def _strings(source: str, field: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SharderError(f"{source}: {field} must be a list of non-empty strings, got {value!r:.80}")
    return tuple(value)


def parse_history(document: Mapping[str, Any], source: str) -> tuple[tuple[str, ...], LastUpdate | None]:
    """The `absorbed` and `last_update` fields of a sharder document, checked; absent ones are empty."""
    absorbed = document.get(ABSORBED_FIELD)
    identities = () if absorbed is None else _strings(source, ABSORBED_FIELD, absorbed)
    raw = document.get(LAST_UPDATE_FIELD)
    if raw is None:
        return identities, None
    if not isinstance(raw, dict):
        raise SharderError(f"{source}: {LAST_UPDATE_FIELD} must be an object, got {raw!r:.80}")
    command = raw.get("command")
    if not isinstance(command, str) or not command:
        raise SharderError(f"{source}: {LAST_UPDATE_FIELD}.command is {command!r}, expected a command name")
    selected = raw.get("selected_by")
    return identities, LastUpdate(
        command=command,
        observed=_count(source, "observed", raw.get("observed", 0)),
        pruned=_count(source, "pruned", raw.get("pruned", 0)),
        selected_by=None if selected is None else _strings(source, f"{LAST_UPDATE_FIELD}.selected_by", selected),
    )


def history_json(absorbed: tuple[str, ...], last_update: LastUpdate | None) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if last_update is not None:
        document[LAST_UPDATE_FIELD] = {
            "command": last_update.command,
            "observed": last_update.observed,
            "pruned": last_update.pruned,
            "selected_by": None if last_update.selected_by is None else list(last_update.selected_by),
        }
    if absorbed:
        document[ABSORBED_FIELD] = list(absorbed)
    return document
