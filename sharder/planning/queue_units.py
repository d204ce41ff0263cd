"""The units a queue run is seeded with: the plan's tests kept together as the plan's grouping keeps them, each
unit with its predicted seconds (recorded, else estimated as the planner estimates), for `queue_batches`.

A plan file holds bins, not per-test predictions, so the prediction is recomputed from the durations the job sees;
only the seeding job's batches are used, so jobs that see other timings do not disagree about anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from sharder.core.nodeid import class_of, module_of
from sharder.planning.estimate import estimate_unknown

_GROUP_KEYS: dict[str, Callable[[str], str]] = {"class": class_of, "module": module_of, "auto": module_of}


def queue_units(
    test_ids: Sequence[str], known_seconds: Mapping[str, float], group_by: str,
) -> list[tuple[tuple[str, ...], float]]:
    """(tests kept together, in the given order; their predicted seconds), one per test, class or module."""
    estimates = estimate_unknown(list(test_ids), known_seconds)
    key_of = _GROUP_KEYS.get(group_by)
    members: dict[str, list[str]] = {}
    for node_id in test_ids:
        members.setdefault(key_of(node_id) if key_of is not None else node_id, []).append(node_id)
    return [
        (tuple(ids), math.fsum(known_seconds.get(node_id, estimates.get(node_id, 0.0)) for node_id in ids))
        for ids in members.values()
    ]
