"""The batches a queue run is seeded with: longest first, cost-bounded, shrinking toward the end of the run.

In queue mode every job leases the next batch when it is free, so the plan's per-shard bins no longer matter;
what matters is the size of each lease. Large leases save round trips but leave the run's end ragged (a job that
took a big batch late finishes long after the others); small leases balance the end but cost a round trip each.
Factoring (Hummel, Schonberg & Flynn 1992, a refinement of guided self-scheduling) resolves it: batches come in
rounds of `jobs`, and every batch of a round holds about `remaining / (FACTOR * jobs)` seconds of the work not yet
batched when the round starts, so each round hands out 1/FACTOR of what is left, early batches are big and the
last ones small, and the jobs that lease one round's batches get equal shares. No batch is smaller than
`MIN_BATCH_SECONDS`, so the tail does not turn into one round trip per test.

Units (a test, or a class or module kept together) are never split, and the longest go first: a long unit leased
last would set the makespan alone. The predicted seconds are stale (last run's timings), which is why the tail is
fine-grained: it absorbs the error wherever it shows up.

Pure: numbers and ids in, batches out; deterministic, so every job that tries to seed computes the same batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Each batch aims at this fraction of the remaining work per job: 2 halves it in every round of `jobs` leases
# (factoring's classic choice, robust when the predictions are off by up to a factor of two).
FACTOR = 2.0
# The smallest batch, in predicted seconds: a lease costs a round trip or two to Redis (milliseconds in CI, more
# across regions) plus pytest's per-batch bookkeeping, so one second keeps that overhead near 1% while still
# letting the last leases even out the jobs' finishing times to about a second.
MIN_BATCH_SECONDS = 1.0
# What a unit predicted at 0 s counts for when sizing batches, so ten thousand unrecorded or instant tests do not
# all land in one batch (the same floor `partition` deals zero-weight units with).
ZERO_UNIT_SECONDS = 0.001

Unit = tuple[tuple[str, ...], float]


def _cost(seconds: float) -> float:
    """A unit's sizing cost: its prediction, at least `ZERO_UNIT_SECONDS` (negative or NaN predictions too)."""
    return seconds if seconds > ZERO_UNIT_SECONDS else ZERO_UNIT_SECONDS


def seed_batches(
    units: Sequence[Unit],
    jobs: int,
    *,
    factor: float = FACTOR,
    min_batch_seconds: float = MIN_BATCH_SECONDS,
) -> list[tuple[str, ...]]:
    """The run's batches in lease order: each is the test ids of whole units, longest units first.

    A batch takes units in descending predicted seconds while it stays within
    `max(min_batch_seconds, remaining / (factor * jobs))`, where `remaining` is the work not yet batched when its
    round of `jobs` batches began; a unit longer than that is a batch alone. A batch whose last unit is longer than
    `min_batch_seconds` then ends on the shortest unit left, if that one is no longer: a job leases its next
    batch just before its batch's last test (so fixtures shared with the next batch survive, as in xdist), and a
    batch that ended on a 70 s test would hold the next one back for 70 s, doubling up the longest tests on one
    job at the start of the run. Units with no test ids are dropped (nothing to run).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if not factor > 0 or not min_batch_seconds >= 0:
        raise ValueError(f"factor must be > 0 and min_batch_seconds >= 0, got {factor}, {min_batch_seconds}")
    kept = [(ids, _cost(seconds)) for ids, seconds in units if ids]
    # Ties broken on the first test id, so the order does not depend on how the caller listed the units.
    kept.sort(key=lambda unit: (-unit[1], unit[0]))
    remaining = math.fsum(cost for _, cost in kept)
    share = factor * jobs
    batches: list[tuple[str, ...]] = []
    front, back = 0, len(kept)  # kept[front:back] is not batched yet; companions come off the back
    while front < back:
        if len(batches) % jobs == 0:
            target = max(min_batch_seconds, remaining / share)
        batch, load = list(kept[front][0]), kept[front][1]
        last = load
        front += 1
        while front < back and load + kept[front][1] <= target * (1 + 1e-9):
            batch.extend(kept[front][0])
            load += kept[front][1]
            last = kept[front][1]
            front += 1
        if last > min_batch_seconds and front < back and kept[back - 1][1] <= min_batch_seconds:
            back -= 1
            batch.extend(kept[back][0])
            load += kept[back][1]
        batches.append(tuple(batch))
        remaining -= load
    return batches
