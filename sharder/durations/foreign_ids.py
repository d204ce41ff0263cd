"""Durations recorded under another runner's names, matched to the collected pytest node ids.

`sharder record --from-junit` on a report that carries no node ids (plain pytest, unittest-xml-reporting, nose2)
and with no recorded ids to map the cases back to can only store the key the report gives: `classname::name`
(`tests.io.test_x.TestA::test_b[1]`), which names no file. When a plan later collects the suite, each collected
id with no time of its own is turned forward into that key (`tests/io/test_x.py::TestA::test_b[1]`) and takes the
time recorded under it; without this every such test would be planned as unknown, at its siblings' estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from sharder.core.nodeid import forward_key

T = TypeVar("T")


def adopt_foreign_keys(node_ids: Sequence[str], known: Mapping[str, T]) -> Mapping[str, T]:
    """`known` with an entry added for each id of `node_ids` that has none but whose JUnit key has one.

    Returns `known` itself when nothing is adopted, so a store written by sharder's plugin (every id exact)
    costs one membership pass and no copy.
    """
    missing = [node_id for node_id in node_ids if node_id not in known]
    if not missing or not known:
        return known
    adopted: dict[str, T] = {}
    for node_id in missing:
        key = "::".join(forward_key(node_id))
        if key in known:
            adopted[node_id] = known[key]
    if not adopted:
        return known
    return {**known, **adopted}
