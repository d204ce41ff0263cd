"""Estimating tests that have no recorded duration from their nearest recorded relatives.

Order of preference: other cases of the same parametrized function, the same class, the same file, the nearest
enclosing directory, and last the median of every recorded test. The median, not the mean: real suites have heavy
tails (one pgmpy test is 42% of its suite), and a global mean would make every new test look huge.

A class, file or directory mean is shrunk toward that median as if SIBLING_PRIOR_TESTS more tests of median length
sat beside the recorded ones: a file with two tests, one of them 34 s, says little about a third (pgmpy's new
`test_llm` took 0.0001 s). Cases of one parametrized function are alike enough to be taken as they are. On the new
tests of the shared histories (bench/stale.py) this cuts the summed error: onegov-cloud RMS 47.3 -> 39.3 s,
absolute 406 -> 303 s over 431 new tests; pgmpy RMS 17.4 -> 6.2 s.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from itertools import filterfalse

from sharder.core.nodeid import class_of, directories_of, family_of, module_of

# Used only when nothing at all is recorded: every test then weighs the same and any constant gives the same plan.
NO_DATA_SECONDS = 1.0
# Weight of the suite median in a class/file/directory estimate, in tests (flat between 3 and 12 on the histories).
SIBLING_PRIOR_TESTS = 5


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
    prior_tests: float = SIBLING_PRIOR_TESTS,
) -> dict[str, float]:
    """Return an estimate for each id in `node_ids` that is missing from `known`.

    Only `known` entries for ids that are still collected inform the sibling means, so a deleted slow test does
    not inflate its old neighbours; if none are, all of `known` is used.
    """
    ids = node_ids if isinstance(node_ids, list) else list(node_ids)
    unknown = list(filterfalse(known.__contains__, ids))
    if not unknown:
        return {}
    relevant = {node_id: known[node_id] for node_id in ids if node_id in known} or dict(known)
    if not relevant:
        return dict.fromkeys(unknown, NO_DATA_SECONDS)
    # Only the scopes some unknown test asks about are summed, and with fsum, so the estimates do not depend on
    # the order the tests came in (a last-bit difference could flip a tie in the packer on another CI job).
    samples: dict[str, list[float]] = {}
    for node_id in unknown:
        for key in scopes(node_id):
            samples.setdefault(key, [])
    for node_id, seconds in relevant.items():
        for key in scopes(node_id):
            bucket = samples.get(key)
            if bucket is not None:
                bucket.append(seconds)
    fallback = statistics.median(relevant.values())
    estimates: dict[str, float] = {}
    for node_id in unknown:
        estimates[node_id] = fallback
        for key in scopes(node_id):
            if key == "d:":
                break  # the root directory is the whole suite: the median speaks for it better than a mean
            bucket = samples[key]
            if bucket:
                prior = 0 if key.startswith("f:") else prior_tests
                estimates[node_id] = (math.fsum(bucket) + prior * fallback) / (len(bucket) + prior)
                break
    return estimates
