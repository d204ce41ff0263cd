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
  `seed_batches(units, N)` into a real queue on a real `redis-server`; each job joins at its skew, tries to seed,
  then leases batch after batch until none is left, heartbeating every third of a lease while a batch runs and
  completing it with every test's result. Each call a job waits for (seed, lease, complete) costs it
  `--round-trip` seconds; heartbeats are counted but cost nothing (a background thread in the plugin).

Time is virtual: a discrete-event simulation over the jobs' clocks, each call given `now`, so a suite of hours
runs in seconds and every figure is reproducible.

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

    python bench/queue.py [--shared DIR] [--shards 4,8,16,32,64] [--projects pgmpy] [--max-skew 60]
                          [--round-trip 0.05] [--seed 0]
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# This script is named after the feature it measures, which shadows the standard library's `queue` (redis-py
# imports it) while the script's folder is first on the path: its siblings are looked for after the library.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.append(sys.path.pop(0))

from reference import bench_parser, geometric_mean, load_flat, pytest_split_bins, shard_counts
from stale import _store_seconds, pairs, sharder_bins

from sharder.core.table import format_table
from sharder.planning.queue_batches import seed_batches

DEFAULT_SHARDS = "4,8,16,32,64"
REDIS_SERVER = "redis-server"


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


# --- redis ----------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A private `redis-server` on a Unix socket in a temporary directory, no persistence; yields its URL."""
    binary = shutil.which(REDIS_SERVER) or "/usr/bin/redis-server"
    with tempfile.TemporaryDirectory(prefix="sharder-queue-bench-") as directory:
        socket = Path(directory) / "redis.sock"
        argv = [binary, "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700", "--save", "",
                "--appendonly", "no", "--dir", directory, "--loglevel", "warning"]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   preexec_fn=_die_with_parent())
        try:
            deadline = time.monotonic() + 10
            while not socket.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"queue: redis-server did not start: "
                                     f"{(process.stderr.read() if process.stderr else b'').decode()[:200]}")
                time.sleep(0.01)
            yield f"unix://{socket}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _die_with_parent() -> Any:
    from sharder.running.supervision import _die_with_parent as arm  # the one sharder arms its pytest with

    return arm()


class CountingRedis:
    """A redis-py client that counts its round trips (a pipeline or a script call is one)."""

    def __new__(cls, url: str) -> Any:
        import redis

        class Counting(redis.Redis):  # type: ignore[misc]
            round_trips = 0

            def execute_command(self, *args: Any, **options: Any) -> Any:
                type(self).round_trips += 1
                return super().execute_command(*args, **options)

            def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
                pipe = super().pipeline(transaction, shard_hint)
                client = self
                execute = pipe.execute

                def counted(raise_on_error: bool = True) -> Any:
                    type(client).round_trips += 1
                    return execute(raise_on_error)

                pipe.execute = counted
                return pipe

        return Counting.from_url(url)


def server_commands(client: Any) -> int:
    """Commands the server has run so far (scripts' inner commands included), from INFO commandstats."""
    stats = client.info("commandstats")
    return sum(int(entry["calls"]) for name, entry in stats.items() if name != "cmdstat_info")


# --- the queue run --------------------------------------------------------------------------------------------------


@dataclass(order=True)
class _Event:
    at: float
    order: int
    job: int = field(compare=False)
    kind: str = field(compare=False)  # "arrive", "heartbeat", "done"
    lease: Any = field(compare=False, default=None)


@dataclass
class QueueRun:
    makespan: float
    batches: int
    round_trips: int
    server_commands: int


def run_queue(queue_of: Any, client: Any, node_ids: Sequence[str], planned: Mapping[str, float],
              actual: Mapping[str, float], skews: Sequence[float], *, round_trip: float,
              lease_seconds: float) -> QueueRun:
    """One queue run in virtual time: every job arrives at its skew, seeds (the first one wins), leases until the
    queue is empty. `queue_of(client)` gives the queue, on a fresh namespace."""
    queue = queue_of(client)
    batches = seed_batches([((t,), planned[t]) for t in node_ids], len(skews))
    before_trips, before_commands = client.round_trips, server_commands(client)
    events = [_Event(skew, job, job, "arrive") for job, skew in enumerate(skews)]
    heapq.heapify(events)
    order = len(events)
    finished_at = 0.0
    heartbeat_every = lease_seconds / 3
    while events:
        event = heapq.heappop(events)
        now, job = event.at, event.job
        if event.kind == "heartbeat":
            queue.heartbeat(event.lease, now=now, lease_seconds=lease_seconds)
            continue
        if event.kind == "arrive":
            queue.seed(list(node_ids), batches, now=now)
            now += round_trip
        else:
            queue.complete(event.lease, {t: "passed" for t in event.lease.tests}, now=now)
            now += round_trip
            finished_at = max(finished_at, now)
        lease = queue.lease(f"job-{job + 1}", now=now, lease_seconds=lease_seconds)
        now += round_trip
        if lease is None:
            continue
        end = now + math.fsum(actual[t] for t in lease.tests)
        beat = now + heartbeat_every
        while beat < end:
            heapq.heappush(events, _Event(beat, order, job, "heartbeat", lease))
            order += 1
            beat += heartbeat_every
        heapq.heappush(events, _Event(end, order, job, "done", lease))
        order += 1
    if not queue.finished(now=finished_at):
        raise SystemExit("queue: the run ended with tests unreported (a bug in the queue or the simulation)")
    return QueueRun(finished_at, len(batches), client.round_trips - before_trips,
                    server_commands(client) - before_commands - 1)


# --- the stand-in until the real LeaseQueue lands -------------------------------------------------------------------


@dataclass
class _StandInLease:
    worker: str
    batch: int
    tests: tuple[str, ...]


class StandInQueue:
    """The LeaseQueue protocol on one Redis list and hash, without leases' expiry or a manifest check."""

    counter = 0

    def __init__(self, client: Any) -> None:
        StandInQueue.counter += 1
        self.client = client
        self.key = f"bench:{os.getpid()}:{StandInQueue.counter}"

    def seed(self, manifest: Sequence[str], batches: Sequence[tuple[str, ...]], *, now: float) -> bool:
        if not self.client.set(f"{self.key}:seeded", "1", nx=True):
            return False
        pipe = self.client.pipeline()
        pipe.rpush(f"{self.key}:pending", *["\n".join(b) for b in batches])
        pipe.set(f"{self.key}:left", sum(map(len, batches)))
        pipe.execute()
        return True

    def lease(self, worker: str, *, now: float, lease_seconds: float) -> _StandInLease | None:
        text = self.client.lpop(f"{self.key}:pending")
        return None if text is None else _StandInLease(worker, 0, tuple(text.decode().split("\n")))

    def heartbeat(self, lease: _StandInLease, *, now: float, lease_seconds: float) -> None:
        self.client.set(f"{self.key}:beat:{lease.worker}", now)

    def complete(self, lease: _StandInLease, results: Mapping[str, str], *, now: float) -> None:
        pipe = self.client.pipeline()
        pipe.hset(f"{self.key}:results", mapping=dict(results))
        pipe.decrby(f"{self.key}:left", len(results))
        pipe.execute()

    def finished(self, *, now: float) -> bool:
        return int(self.client.get(f"{self.key}:left") or 0) == 0


# --- the comparison -------------------------------------------------------------------------------------------------


@dataclass
class Scores:
    ratios: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    trips_per_test: dict[int, list[float]] = field(default_factory=dict)
    commands_per_test: dict[int, list[float]] = field(default_factory=dict)
    batches: dict[int, list[int]] = field(default_factory=dict)

    def add(self, mode: str, shards: int, ratio: float) -> None:
        self.ratios.setdefault(mode, {}).setdefault(shards, []).append(ratio)


MODES = ("static", "least_dur", "queue")


def replay(versions: list[dict[str, float]], shard_list: Sequence[int], queue_of: Any, client: Any,
           args: Any, label: str) -> Scores:
    scores = Scores()
    for index, pair in enumerate(pairs(versions)):
        planned, _ = _store_seconds(pair)
        actual = pair.actual
        for shards in shard_list:
            rng = random.Random(f"{args.seed}/{label}/{index}/{shards}")
            skews = [rng.uniform(0, args.max_skew) for _ in range(shards)]
            bound = skewed_bound(list(actual.values()), skews)
            static = static_makespan(sharder_bins(pair, shards), actual, skews)
            theirs = static_makespan(pytest_split_bins("least_duration", pair.node_ids, pair.previous, shards),
                                     actual, skews)
            run = run_queue(queue_of, client, pair.node_ids, planned, actual, skews, round_trip=args.round_trip,
                            lease_seconds=args.lease_seconds)
            for mode, value in (("static", static), ("least_dur", theirs), ("queue", run.makespan)):
                scores.add(mode, shards, value / bound)
            scores.trips_per_test.setdefault(shards, []).append(run.round_trips / len(pair.node_ids))
            scores.commands_per_test.setdefault(shards, []).append(run.server_commands / len(pair.node_ids))
            scores.batches.setdefault(shards, []).append(run.batches)
    return scores


def table(project: str, pair_count: int, scores: Scores) -> tuple[str, list[str]]:
    rows, flags = [], []
    for shards in sorted(scores.ratios["queue"]):
        static, theirs, queue = (scores.ratios[m][shards] for m in MODES)
        worse = max(q / s for q, s in zip(queue, static, strict=True))
        rows.append((shards, f"{geometric_mean(static):.4f}", f"{max(static):.4f}",
                     f"{geometric_mean(theirs):.4f}", f"{max(theirs):.4f}",
                     f"{geometric_mean(queue):.4f}", f"{max(queue):.4f}",
                     f"{geometric_mean(queue) / geometric_mean(static):.4f}", f"{worse:.4f}",
                     f"{sum(scores.batches[shards]) / len(scores.batches[shards]):.0f}",
                     f"{max(scores.trips_per_test[shards]):.3f}", f"{max(scores.commands_per_test[shards]):.3f}"))
        for position, (q, s) in enumerate(zip(queue, static, strict=True)):
            if s > 1.10 and q > 1.05:
                flags.append(f"{project} N={shards} pair {position}: queue {q:.4f} of the bound where static is "
                             f"{s:.4f}")
            if q > s * 1.01:
                flags.append(f"{project} N={shards} pair {position}: queue {q:.4f} is more than 1% above static "
                             f"{s:.4f}")
    header = ("N", "static geo", "worst", "least_dur geo", "worst", "queue geo", "worst", "queue/static geo",
              "worst pair", "batches", "trips/test", "cmds/test")
    title = (f"{project}: {pair_count} pairs (plan from k, run k+1), makespan / bound with skew "
             "(trips and commands per test: worst pair)")
    return f"{title}\n{format_table(header, rows)}", flags


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.set_defaults(shards=shard_counts(DEFAULT_SHARDS))
    parser.add_argument("--projects", help="comma-separated history names (default: all)")
    parser.add_argument("--max-skew", type=float, default=60.0, help="job start skew is uniform on 0..this (s)")
    parser.add_argument("--round-trip", type=float, default=0.05, help="seconds each seed, lease, complete costs")
    parser.add_argument("--lease-seconds", type=float, default=60.0)
    parser.add_argument("--seed", default="0", help="the skews' random seed")
    parser.add_argument("--stand-in", action="store_true", help="the in-bench queue instead of sharder's")
    args = parser.parse_args(argv)

    root = args.shared / "bench" / "history"
    projects = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if args.projects:
        projects = [p for p in projects if p.name in args.projects.split(",")]
    if not projects:
        print(f"queue: no histories in {root}", file=sys.stderr)
        return 2
    queue_of = StandInQueue
    all_flags: list[str] = []
    with redis_server() as url:
        client = CountingRedis(url)
        for project in projects:
            versions = [load_flat(path) for path in sorted(project.glob("*.json"))]
            scores = replay(versions, args.shards, queue_of, client, args, project.name)
            text, flags = table(project.name, len(versions) - 1, scores)
            print(text, end="\n\n", flush=True)
            all_flags.extend(flags)
    print("Flags (queue above 1.05x where static is above 1.10x, or more than 1% above static):",
          "none" if not all_flags else "")
    for flag in all_flags:
        print(f"  {flag}")
    return 1 if all_flags else 0


if __name__ == "__main__":
    raise SystemExit(main())
