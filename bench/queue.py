"""Benchmark: queue mode beside static plans, each job starting late by its own skew, in virtual time on Redis.

For every consecutive pair (k, k+1) of each `<shared>/bench/history/<project>/` and every N, the run is planned
from what CI knows before version k+1 runs (as `stale.py` does: sharder's store fed with versions 0..k, new tests
estimated; pytest-split's `least_duration` on version k's file) and then run with version k+1's durations and
tests. Job j of N starts `skew_j` seconds late (uniform on 0..`--max-skew`, one seeded draw per pair and N shared
by the three modes, since a static shard starts late too):
- `static`: sharder's plan (what `sharder plan` makes from the store), shard j on job j; it ends at
  `skew_j + its tests' k+1 seconds`.
- `least_dur`: pytest-split's `least_duration` groups, the same way.
- `queue`: the plan's tests (units of one test, predicted at the seconds the planner used) seeded as
  `seed_batches(units, N)`; each job steps through the plugin's loop (`sharder.pytest_plugin.queue_loop`): it
  tries to seed at its skew, leases, sends each test's result as the test ends, takes its next lease just
  before a batch's last test (`--no-prefetch`: after it), polls every `MAX_POLL_SECONDS` (lease, then `finished`)
  while others still hold leases, and reads the queue's snapshot at the end; a heartbeat thread renews its held
  leases every third of a lease. Every call but a heartbeat costs the job `--round-trip` seconds. The makespan
  is when the last job's loop ends.

Time is virtual: a discrete-event simulation over the jobs' clocks, each Redis call made at its job's clock (the
calls of all jobs interleaved in time order) and given `now`, so a suite of hours runs in seconds and every figure
is reproducible. Every `--real-every`-th pair runs on sharder's `LeaseQueue` on a real `redis-server` (sharder's
own launcher: a Unix socket, no persistence), which must give the same makespan as the in-memory replica of its
order (FIFO, a lease done when its every test is) that runs all pairs and the `--variants`; the Redis round trips
(LeaseQueue's count) and server commands (INFO commandstats, scripts' inner commands included) per test come from
the real runs.

The bound with skew (any schedule, knowing the k+1 durations and the skews, with no round trips), skews sorted
`s_1 <= ... <= s_N`, durations `p_1 >= p_2 >= ...`:
- capacity: the smallest M with `sum_j max(0, M - s_j) >= total` (that is `(total + sum of skews) / N` when every
  job starts before M);
- the i longest tests (i <= N): on i distinct jobs one of them starts at `s_i` or later and runs a test of at least
  `p_i`; otherwise two share a job that starts at `s_1` or later: `M >= min(s_i + p_i, s_1 + p_(i-1) + p_i)`, and
  for i = N + 1 two must share: `M >= s_1 + p_N + p_(N+1)`.
With every skew 0 it is `stale.py`'s bound, `max(total / N, p_1, p_N + p_(N+1))`.

Reported per project and N: the geometric mean and the worst of makespan / bound over the pairs for each mode,
queue over static, and the Redis round trips per test (and server-side commands per test, from INFO).

    python bench/queue.py [--shared DIR] [--shards 4,8,16,32,64] [--projects pgmpy] [--pairs 0-19] [--max-skew 60]
                          [--round-trip 0.01] [--lease-seconds 60] [--seed 0] [--real-every 4] [--no-prefetch]
                          [--variants]
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
import sys
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# This script is named after the feature it measures, which shadows the standard library's `queue` (redis-py
# imports it) while the script's folder is first on the path: its siblings are looked for after the library.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.append(sys.path.pop(0))

import redis
from reference import bench_parser, geometric_mean, history_projects, load_flat, pytest_split_bins, shard_counts
from stale import _store_seconds, pairs, sharder_bins

from sharder.core.table import format_table
from sharder.planning.queue_batches import FACTOR, MIN_BATCH_SECONDS, seed_batches
from sharder.pytest_plugin.queue_loop import MAX_POLL_SECONDS
from sharder.queue.lease_queue import Lease, LeaseQueue
from sharder.running.redis_server import RedisServer

DEFAULT_SHARDS = "4,8,16,32,64"


# --- the bound ------------------------------------------------------------------------------------------------------


def skewed_bound(durations: Sequence[float], skews: Sequence[float]) -> float:
    """No schedule of these tests on jobs that start at `skews` can end sooner (see the module docstring)."""
    starts = sorted(skews)
    longest = sorted(durations, reverse=True)
    jobs, total = len(starts), math.fsum(durations)
    capacity = math.inf
    for used in range(1, jobs + 1):  # the first `used` jobs do all the work, the rest start after it is done
        end = (total + math.fsum(starts[:used])) / used
        if used == jobs or end <= starts[used]:
            capacity = end
            break
    bound = capacity
    for i in range(1, min(jobs, len(longest)) + 1):
        alone = starts[i - 1] + longest[i - 1]
        shared = starts[0] + longest[i - 2] + longest[i - 1] if i >= 2 else math.inf
        bound = max(bound, min(alone, shared))
    if len(longest) > jobs:
        bound = max(bound, starts[0] + longest[jobs - 1] + longest[jobs])
    return bound


def static_makespan(bins: Sequence[Sequence[str]], actual: Mapping[str, float], skews: Sequence[float]) -> float:
    """The last shard to end when shard j starts at `skews[j]` and runs its tests at their `actual` seconds."""
    loads = [math.fsum(actual[t] for t in shard) for shard in bins]
    loads += [0.0] * (len(skews) - len(loads))
    return max(skew + load for skew, load in zip(skews, loads, strict=True))


# --- the queue run --------------------------------------------------------------------------------------------------

Batcher = Callable[[Sequence[tuple[tuple[str, ...], float]], int], list[tuple[str, ...]]]


@dataclass
class QueueRun:
    makespan: float
    batches: int
    round_trips: int  # LeaseQueue's own count: one per script call or pipeline
    server_commands: int  # what Redis ran for them, the scripts' inner commands included (INFO commandstats)


def server_commands(client: Any) -> int:
    stats = client.info("commandstats")
    return sum(int(entry["calls"]) for name, entry in stats.items() if name != "cmdstat_info")


# A job's steps: each yields the virtual time of its next Redis call, made when the simulation resumes it.
Step = Generator[float, None, None]


@dataclass
class _Job:
    """One CI job of a queue run, stepping through `sharder.pytest_plugin.queue_loop` in virtual time."""

    queue: Any
    worker: str
    clock: float
    actual: Mapping[str, float]
    round_trip: float
    lease_seconds: float
    prefetch: bool  # the next batch is leased before the last test of a batch runs, as the plugin does
    held: dict[str, tuple[Lease, list[str]]] = field(default_factory=dict)  # batch id -> lease, tests not yet run
    ended: float | None = None

    def loop(self, node_ids: Sequence[str], batches: Sequence[tuple[str, ...]]) -> Step:
        """QueueLoop: seed at collection, then lease; each test's result is sent as it ends; the last test of a
        batch runs after the next lease is taken (fixtures shared; without `prefetch`, before); with nothing to
        lease, run what is pending, else ask whether the run is finished and look again after the poll. Every
        call costs a round trip."""
        yield self.clock
        self.queue.seed(node_ids, batches, now=self.clock)
        self.clock += self.round_trip
        pending: tuple[str, Lease] | None = None
        poll = min(MAX_POLL_SECONDS, self.lease_seconds / 4)
        while True:
            yield self.clock
            lease = self.queue.lease(self.worker, now=self.clock, lease_seconds=self.lease_seconds)
            self.clock += self.round_trip
            if lease is not None:
                self.held[lease.batch_id] = (lease, list(lease.tests))
                for node_id in lease.tests:
                    if pending is not None:
                        yield from self.run(*pending)
                    pending = (node_id, lease)
                if not self.prefetch:
                    yield from self.run(*pending)
                    pending = None
            elif pending is not None:
                yield from self.run(*pending)
                pending = None
            else:
                yield self.clock
                done = self.queue.finished(now=self.clock)
                self.clock += self.round_trip
                if done:  # at the session's end the report gets the queue's re-leased tests and causes
                    yield self.clock
                    self.queue.snapshot()
                    self.clock += self.round_trip
                    self.ended = self.clock
                    return
                self.clock += poll

    def run(self, node_id: str, lease: Lease) -> Step:
        self.clock += self.actual[node_id]
        yield self.clock  # the test ran until now; its lease is heartbeaten until it is done
        left = self.held[lease.batch_id][1]
        left.remove(node_id)
        if not left:
            del self.held[lease.batch_id]
        self.queue.complete(lease, {node_id: "passed"}, now=self.clock)
        self.clock += self.round_trip

    def heartbeats(self) -> Step:
        """The heartbeat thread: every third of a lease, each held lease renewed, until the job ends; it runs
        beside the tests, so it costs the job no time."""
        beat = self.clock
        while True:
            beat += self.lease_seconds / 3
            yield beat
            if self.ended is not None:
                return
            for lease, _ in list(self.held.values()):
                if not self.queue.heartbeat(lease, now=beat, lease_seconds=self.lease_seconds):
                    raise SystemExit(f"queue: {self.worker} lost a lease it heartbeats (a bug)")


def run_queue(queue: Any, node_ids: Sequence[str], batches: Sequence[tuple[str, ...]], actual: Mapping[str, float],
              skews: Sequence[float], *, round_trip: float, lease_seconds: float, prefetch: bool) -> float:
    """One run in virtual time: the jobs' steps interleaved in time order (each Redis call at its job's clock), so
    the queue sees the calls as a real run would send them. The makespan: when the last job ends its loop."""
    jobs = [_Job(queue, f"job-{j + 1}", skew, actual, round_trip, lease_seconds, prefetch)
            for j, skew in enumerate(skews)]
    order = itertools.count()
    steps: list[tuple[float, int, Step]] = []
    for job in jobs:
        for step in (job.loop(node_ids, batches), job.heartbeats()):
            steps.append((next(step), next(order), step))
    heapq.heapify(steps)
    while steps:
        _, _, step = heapq.heappop(steps)
        at = next(step, None)
        if at is not None:
            heapq.heappush(steps, (at, next(order), step))
    ends = [job.ended for job in jobs if job.ended is not None]
    if len(ends) != len(jobs):
        raise SystemExit("queue: a job never ended (a bug in the simulation)")
    return max(ends)


def run_on_redis(client: Any, node_ids: Sequence[str], batches: Sequence[tuple[str, ...]],
                 actual: Mapping[str, float], skews: Sequence[float], **options: Any) -> QueueRun:
    """`run_queue` on sharder's LeaseQueue, on a fresh namespace, and what it cost Redis."""
    queue = LeaseQueue(client, f"bench-{next(_NAMESPACES)}")
    commands_before = server_commands(client)
    makespan = run_queue(queue, node_ids, batches, actual, skews, **options)
    round_trips = queue.ops
    if queue.snapshot().never_reported:
        raise SystemExit("queue: the queue says tests never reported (a bug in the queue or the simulation)")
    commands = server_commands(client) - commands_before - 1  # the INFO before is counted, this one not yet
    client.delete(*queue.keys)
    return QueueRun(makespan, len(batches), round_trips, commands)


class ReplicaQueue:
    """LeaseQueue's order when no lease expires, in memory: batches leased first in, first out, a lease done when
    its every test is. The batch policies beyond the default are compared on it (a hundred runs of a suite in
    seconds, not minutes); every default run checks that it gives the real queue's makespan."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, ...]] = []
        self.out: dict[str, set[str]] = {}
        self.seeded = False

    def seed(self, manifest: Sequence[str], batches: Sequence[tuple[str, ...]], *, now: float) -> bool:
        if self.seeded:
            return False
        self.pending, self.seeded = list(reversed(batches)), True
        return True

    def lease(self, worker: str, *, now: float, lease_seconds: float) -> Lease | None:
        if not self.pending:
            return None
        batch_id = str(len(self.pending))
        tests = self.pending.pop()
        self.out[batch_id] = set(tests)
        return Lease(batch_id, worker, tests, False)

    def heartbeat(self, lease: Lease, *, now: float, lease_seconds: float) -> bool:
        return lease.batch_id in self.out

    def snapshot(self) -> None:
        pass

    def complete(self, lease: Lease, results: Mapping[str, str], *, now: float) -> None:
        left = self.out[lease.batch_id]
        left.difference_update(results)
        if not left:
            del self.out[lease.batch_id]

    def finished(self, *, now: float) -> bool:
        return not self.pending and not self.out


_NAMESPACES = itertools.count(1)


# --- the comparison -------------------------------------------------------------------------------------------------


@dataclass
class Scores:
    """Per mode and N, makespan / bound of each pair; per N, the queue's batches and operations per test."""

    ratios: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    trips_per_test: dict[int, list[float]] = field(default_factory=dict)
    commands_per_test: dict[int, list[float]] = field(default_factory=dict)
    batches: dict[int, list[int]] = field(default_factory=dict)
    pair_indices: list[int] = field(default_factory=list)  # which pairs the ratios are of, in order
    real_runs: int = 0  # runs on the real LeaseQueue (the others on the replica, checked equal on these)

    def add(self, mode: str, shards: int, ratio: float) -> None:
        self.ratios.setdefault(mode, {}).setdefault(shards, []).append(ratio)


MODES = ("static", "least_dur", "queue")


def policy(factor: float, floor: float) -> Batcher:
    return lambda units, jobs: seed_batches(units, jobs, factor=factor, min_batch_seconds=floor)


def variants() -> dict[str, tuple[Batcher, bool]]:
    """Batch policies measured beside the default: name -> (batcher, planned from the k+1 durations)."""
    found: dict[str, tuple[Batcher, bool]] = {
        "one test per lease": (lambda units, jobs: [ids for ids, _ in sorted(units, key=lambda u: -u[1])], False),
        "the plan's shards as N batches (static, leased)": (lambda units, jobs: [], False),  # replaced in replay
        f"default (factor {FACTOR:g}, floor {MIN_BATCH_SECONDS:g} s), k+1 durations known": (seed_batches, True),
    }
    for factor, floor in itertools.product((2.0, 4.0, 6.0, 8.0), (0.25, 0.5, 1.0)):
        if (factor, floor) != (FACTOR, MIN_BATCH_SECONDS):
            found[f"factor {factor:g}, floor {floor:g} s"] = (policy(factor, floor), False)
    return found


def replay(versions: list[dict[str, float]], project: str, client: Any, args: Any,
           measured: Mapping[str, tuple[Batcher, bool]]) -> Scores:
    scores = Scores()
    for index, pair in enumerate(pairs(versions)):
        if args.pairs is not None and index not in args.pairs:
            continue
        planned, _ = _store_seconds(pair)
        actual = pair.actual
        scores.pair_indices.append(index)
        for shards in args.shards:
            rng = random.Random(f"{args.seed}/{project}/{index}/{shards}")
            skews = [rng.uniform(0, args.max_skew) for _ in range(shards)]
            bound = skewed_bound(list(actual.values()), skews)
            ours = sharder_bins(pair, shards)
            scores.add("static", shards, static_makespan(ours, actual, skews) / bound)
            theirs = pytest_split_bins("least_duration", pair.node_ids, pair.previous, shards)
            scores.add("least_dur", shards, static_makespan(theirs, actual, skews) / bound)
            options = {"round_trip": args.round_trip, "lease_seconds": args.lease_seconds,
                       "prefetch": not args.no_prefetch}
            units = [((t,), planned[t]) for t in pair.node_ids]
            batches = seed_batches(units, shards)
            replica = run_queue(ReplicaQueue(), pair.node_ids, batches, actual, skews, **options)
            if index % args.real_every == 0 and (args.real_shards is None or shards in args.real_shards):
                run = run_on_redis(client, pair.node_ids, batches, actual, skews, **options)
                if not math.isclose(replica, run.makespan, rel_tol=1e-12):
                    raise SystemExit(f"queue: the replica's makespan {replica} is not the real queue's "
                                     f"{run.makespan}")
                scores.trips_per_test.setdefault(shards, []).append(run.round_trips / len(pair.node_ids))
                scores.commands_per_test.setdefault(shards, []).append(run.server_commands / len(pair.node_ids))
                scores.real_runs += 1
            scores.add("queue", shards, replica / bound)
            scores.batches.setdefault(shards, []).append(len(batches))
            for name, (batcher, oracle) in measured.items():
                if name.startswith("the plan's shards"):
                    tried = [tuple(b) for b in ours if b]
                else:
                    tried = batcher([((t,), actual[t]) for t in pair.node_ids] if oracle else units, shards)
                makespan = run_queue(ReplicaQueue(), pair.node_ids, tried, actual, skews, **options)
                scores.add(name, shards, makespan / bound)
    return scores


def _goal_flags(project: str, shards: int, queue: Sequence[float], static: Sequence[float],
                indices: Sequence[int]) -> list[str]:
    flags = []
    for position, q, s in zip(indices, queue, static, strict=True):
        if s > 1.10 and q > 1.05:
            flags.append(f"{project} N={shards} pair {position}: queue {q:.4f} of the bound where static is {s:.4f}")
        if q > s * 1.01:
            flags.append(f"{project} N={shards} pair {position}: queue {q:.4f}, more than 1% above static {s:.4f}")
    return flags


def main_table(project: str, pair_count: int, scores: Scores) -> tuple[str, list[str]]:
    rows, flags = [], []
    for shards in sorted(scores.ratios["queue"]):
        static, theirs, queue = (scores.ratios[m][shards] for m in MODES)
        rows.append((shards, f"{geometric_mean(static):.4f}", f"{max(static):.4f}",
                     f"{geometric_mean(theirs):.4f}", f"{max(theirs):.4f}",
                     f"{geometric_mean(queue):.4f}", f"{max(queue):.4f}",
                     f"{geometric_mean(queue) / geometric_mean(static):.4f}",
                     f"{max(q / s for q, s in zip(queue, static, strict=True)):.4f}",
                     f"{statistics.fmean(scores.batches[shards]):.0f}",
                     *(f"{statistics.fmean(per_test[shards]):.3f}" if shards in per_test else "-"
                       for per_test in (scores.trips_per_test, scores.commands_per_test))))
        flags += _goal_flags(project, shards, queue, static, scores.pair_indices)
    header = ("N", "static geo", "worst", "least_dur geo", "worst", "queue geo", "worst", "queue/static geo",
              "worst pair", "batches", "trips/test", "cmds/test")
    title = (f"{project}: {pair_count} pairs (plan from k, run k+1), makespan / bound with start skew; "
             f"{scores.real_runs} runs also on the real LeaseQueue (same makespans), trips and commands from those")
    return f"{title}\n{format_table(header, rows)}", flags


def variants_table(project: str, scores: Scores, names: Sequence[str]) -> str:
    """Each policy: geometric mean over pairs and N, worst, and the goal's two counts."""
    rows = []
    static = scores.ratios["static"]
    for name in ["queue", *names]:
        ratios = scores.ratios[name]
        every = [r for shards in ratios for r in ratios[shards]]
        missed = sum(q > 1.05 for shards in ratios for q, s in zip(ratios[shards], static[shards], strict=True)
                     if s > 1.10)
        worse = sum(q > s * 1.01 for shards in ratios for q, s in zip(ratios[shards], static[shards], strict=True))
        rows.append(("default" if name == "queue" else name, f"{geometric_mean(every):.4f}", f"{max(every):.4f}",
                     *(f"{geometric_mean(ratios[n]):.4f}" for n in sorted(ratios)), missed, worse))
    shard_list = sorted(static)
    header = ("policy", "geo", "worst", *(f"N={n}" for n in shard_list), ">1.05 where static >1.10",
              ">1% above static")
    return f"{project}: batch policies (makespan / bound, geo means)\n{format_table(header, rows)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.set_defaults(shards=shard_counts(DEFAULT_SHARDS))
    parser.add_argument("--projects", help="comma-separated history names (default: all)")
    parser.add_argument("--max-skew", type=float, default=60.0, help="job start skew is uniform on 0..this (s)")
    parser.add_argument("--round-trip", type=float, default=0.01,
                        help="seconds a job waits for each Redis call (default 0.01)")
    parser.add_argument("--lease-seconds", type=float, default=60.0)
    parser.add_argument("--seed", default="0", help="the skews' random seed")
    parser.add_argument("--no-prefetch", action="store_true",
                        help="jobs lease the next batch after a batch's last test, not before it (as the plugin does)")
    parser.add_argument("--real-every", type=int, default=4, metavar="K",
                        help="every K-th pair also runs on the real LeaseQueue, which must give the replica's "
                        "makespan; the operations per test are counted there (1: every pair)")
    parser.add_argument("--real-shards", type=shard_counts, help="only these N on the real LeaseQueue (default all)")
    parser.add_argument("--pairs", type=shard_counts, help="only these pairs (0 is versions 0 and 1), e.g. 0-19")
    parser.add_argument("--variants", action="store_true", help="also measure other batch policies")
    args = parser.parse_args(argv)

    projects = history_projects(args.shared, args.projects, "queue")
    if not projects:
        return 2
    measured = variants() if args.variants else {}
    all_flags: list[str] = []
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        for project in projects:
            versions = [load_flat(path) for path in sorted(project.glob("*.json"))]
            scores = replay(versions, project.name, client, args, measured)
            if not scores.ratios:
                continue
            text, flags = main_table(project.name, len(scores.batches[args.shards[0]]), scores)
            print(text, end="\n\n", flush=True)
            if measured:
                print(variants_table(project.name, scores, list(measured)), end="\n\n", flush=True)
            all_flags.extend(flags)
        client.close()
    print("Flags (queue above 1.05x the bound where static is above 1.10x, or more than 1% above static):",
          "none" if not all_flags else "")
    for flag in all_flags:
        print(f"  {flag}")
    return 1 if all_flags else 0


if __name__ == "__main__":
    raise SystemExit(main())
