"""Estimating tests that have no recorded duration from their nearest recorded relatives.

Order of preference: other cases of the same parametrized function, the same class, the same file, the nearest
enclosing directory, and last the median of every recorded test. The median, not the mean: real suites have heavy
tails (one pgmpy test is 42% of its suite), and a global mean would make every new test look huge.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping

from sharder.nodeid import class_of, directories_of, family_of, module_of

# Used only when nothing at all is recorded: every test then weighs the same and any constant gives the same plan.
NO_DATA_SECONDS = 1.0


class _Means:
    """Running sums by scope key, so one pass over the known tests serves every unknown one."""

    def __init__(self) -> None:
        self._sum: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def add(self, key: str, seconds: float) -> None:
        self._sum[key] = self._sum.get(key, 0.0) + seconds
        self._count[key] = self._count.get(key, 0) + 1

    def get(self, key: str) -> float | None:
        count = self._count.get(key)
        return None if count is None else self._sum[key] / count


def _scopes(node_id: str) -> list[str]:
    """Scope keys from the narrowest to the broadest, each tagged so a file and a directory never collide."""
    module = module_of(node_id)
    keys = ["f:" + family_of(node_id), "c:" + class_of(node_id), "m:" + module]
    keys.extend("d:" + directory for directory in directories_of(module))
    return keys


def estimate_unknown(
    node_ids: Iterable[str],
    known: Mapping[str, float],
    *,
    scopes: Callable[[str], list[str]] = _scopes,
) -> dict[str, float]:
    """Return an estimate for each id in `node_ids` that is missing from `known`.

    Only `known` entries for ids that are still collected inform the sibling means, so a deleted slow test does
    not inflate its old neighbours; if none are, all of `known` is used.
    """
    ids = node_ids if isinstance(node_ids, list) else list(node_ids)
    unknown = [node_id for node_id in ids if node_id not in known]
    if not unknown:
        return {}
    relevant = {node_id: known[node_id] for node_id in ids if node_id in known} or dict(known)
    if not relevant:
        return dict.fromkeys(unknown, NO_DATA_SECONDS)
    means = _Means()
    for node_id, seconds in relevant.items():
        for key in scopes(node_id):
            means.add(key, seconds)
    fallback = statistics.median(relevant.values())
    estimates: dict[str, float] = {}
    for node_id in unknown:
        for key in scopes(node_id):
            if key == "d:":
                break  # the root directory is the whole suite: the median speaks for it better than a mean
            mean = means.get(key)
            if mean is not None:
                estimates[node_id] = mean
                break
        else:
            estimates[node_id] = fallback
        estimates.setdefault(node_id, fallback)
    return estimates
