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

# Each round of `jobs` leases hands out 1/FACTOR of the work left. Factoring's classic 2 assumes the predictions
# are roughly right; here they are last run's timings, and the jobs start up to a minute apart. Measured with
# bench/queue.py (onegov-cloud, N = 16-64, 10 ms per Redis call): 2 -> 4 takes the makespan over the bound from
# 1.046 to 1.036 on the pairs it was chosen on, and the gains of 6-8 there came with 1.5-2x the leases and none on
# the held-out pairs.
FACTOR = 4.0
# The smallest batch, in cost seconds: a lease is a round trip to Redis (milliseconds, tens across regions), and
# half a second keeps that near 1-2% while letting the last leases even out the jobs' finishing times.
MIN_BATCH_SECONDS = 0.5
# What each test costs on top of its recorded seconds, which leave out pytest's own per-test work (reporting, the
# progress log, a few ms) and queue mode's round trip per result (a millisecond near Redis, tens across regions).
# Without it a batch of 100 tests predicted at 0.01 s each is "1 s" yet runs for several, and the end of the run
# turns ragged; with it, ten thousand unrecorded tests never land in one batch.
PER_TEST_SECONDS = 0.01

Unit = tuple[tuple[str, ...], float]


def unit_cost(unit: Unit) -> float:
    """A unit's sizing cost: its predicted seconds (negative or NaN counted as 0) plus `PER_TEST_SECONDS` a test."""
    ids, seconds = unit
    return (seconds if seconds > 0 else 0.0) + PER_TEST_SECONDS * len(ids)


def seed_batches(
    units: Sequence[Unit],
    jobs: int,
    *,
    factor: float = FACTOR,
    min_batch_seconds: float = MIN_BATCH_SECONDS,
) -> list[tuple[str, ...]]:
    """The run's batches in lease order: each is the test ids of whole units, longest units first.

    A batch takes units in descending cost (`unit_cost`: predicted seconds and a per-test overhead) while it stays
    within
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
    kept = [(ids, unit_cost((ids, seconds))) for ids, seconds in units if ids]
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
