"""The shared work queue of one CI run on Redis: seed it once, lease batches, heartbeat, complete, requeue the dead.

Learnt from Shopify's ci-queue (Redis plus Lua: reserve, acknowledge, requeue, heartbeats), written anew: every
step that reads and then writes runs as one Lua script, so two jobs can never lease the same batch, and a result
that arrives twice (a job thought dead that finishes after all) counts once (`HSETNX`).

Time is the caller's: every method that depends on it takes `now` (seconds, `time.time()` in production, a
virtual clock in `bench/queue.py`), and a lease's deadline is its score in a sorted set, so "expired" is a range
query, not a Redis key expiry the bench could not control.

A lease that expires goes back to the queue without the tests it already completed. In the dead job's oldest
unfinished lease (a job may hold the next one, leased ahead and not started), the first unfinished test was
running when the job died, so it is the suspect: it is retried alone (at the back), the rest of the batch at
the front. A test that was the suspect of two expired leases is not leased again: it is the *cause* (a segfault, an
`os._exit`, a hang), so it costs two jobs at most, and the merge names it.

Keys, all under one hash tag (a Redis Cluster keeps them on one node) and all with a TTL refreshed on every write,
so an abandoned run's queue disappears by itself:

    sharder:{NS}:meta      hash  digest, tests, manifest (JSON), seeded_at, next (batch ids), tokens
    sharder:{NS}:pending   list  batch ids, next to lease first
    sharder:{NS}:batches   hash  batch id -> JSON list of test ids
    sharder:{NS}:leases    zset  batch id -> deadline
    sharder:{NS}:owners    hash  batch id -> lease token (worker#n)
    sharder:{NS}:suspects  hash  test id -> expired leases it was running in
    sharder:{NS}:done      hash  test id -> outcome (first result wins)
    sharder:{NS}:causes    hash  test id -> expired leases (>= 2): never leased again
    sharder:{NS}:released  set   test ids that went back to the queue from an expired lease
    sharder:{NS}:dead      hash  worker -> the lease whose expiry charged its suspect (a job dies once)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sharder.core.errors import SharderError

DEFAULT_KEY_TTL_SECONDS = 24 * 3600
# Expired leases of one test after which it is the cause, not retried: the first death may be the runner's.
KILLS_FOR_CAUSE = 2
_KEY_NAMES = ("meta", "pending", "batches", "leases", "owners", "suspects", "done", "causes", "released", "dead")


class QueueError(SharderError):
    """The queue cannot be used as asked (unreachable, lost, or another run's)."""


class QueueMismatch(QueueError):
    """This job's tests are not the tests the queue was seeded with (exit 2 before the job takes any work)."""


class QueueUnreachable(QueueError):
    """Redis did not answer (at start: the fallback decides; mid-run: the job finishes what it holds and fails)."""


class QueueGone(QueueError):
    """The run's keys vanished (expired, flushed, another Redis): what was done there is unknown."""


def manifest_digest(test_ids: Sequence[str]) -> str:
    """The manifest's identity: independent of collection order, sensitive to every id (each on its own line,
    encoded as the ids are, so odd ids with surrogates hash too)."""
    digest = hashlib.sha256()
    for node_id in sorted(set(test_ids)):
        digest.update(node_id.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def run_namespace(identity: Sequence[str | None]) -> str:
    """The queue's namespace from the run's identity (commit, CI run id, attempt, an explicit queue run name): the
    jobs of one run meet under it, and a retried attempt or the next commit starts a fresh queue."""
    text = json.dumps([part or "" for part in identity], ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:24]


def _encode(test_ids: Sequence[str]) -> bytes:
    return json.dumps(list(test_ids), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _decode(raw: bytes | str) -> list[str]:
    text = raw.decode("utf-8", "surrogatepass") if isinstance(raw, bytes) else raw
    value = json.loads(text)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise QueueGone("the queue holds a batch that is not a list of test ids (another program's keys?)")
    return value


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "surrogatepass") if isinstance(raw, bytes) else raw


# Shared by the scripts that take work: put expired leases' unfinished tests back (see the module docstring).
_REQUEUE_EXPIRED = """
local function touch(ttl)
  for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ttl) end
end
local function new_batch(tests)
  local id = tostring(redis.call('HINCRBY', KEYS[1], 'next', 1))
  redis.call('HSET', KEYS[3], id, cjson.encode(tests))
  return id
end
local function undone_of(id)
  local raw = redis.call('HGET', KEYS[3], id)
  local undone = {}
  if not raw then return undone end
  for _, test in ipairs(cjson.decode(raw)) do
    if redis.call('HEXISTS', KEYS[7], test) == 0 then table.insert(undone, test) end
  end
  return undone
end
local function requeue_expired(now, kills_for_cause)
  -- Oldest lease first: a job runs one test at a time, in the oldest lease it holds (a newer one is leased ahead,
  -- before the last test of the older runs), so only a dead job's oldest unfinished lease names a suspect.
  local order = {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do
    local token = redis.call('HGET', KEYS[5], id) or ''
    local worker, n = string.match(token, '^(.*)#(%d+)$')
    table.insert(order, {id = id, worker = worker or token, n = tonumber(n) or 0})
  end
  table.sort(order, function(a, b) return a.n < b.n end)
  for _, lease in ipairs(order) do
    local id = lease.id
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
    local undone = undone_of(id)
    redis.call('HDEL', KEYS[3], id)
    if #undone > 0 then
      for _, test in ipairs(undone) do redis.call('SADD', KEYS[9], test) end
      if redis.call('HSETNX', KEYS[10], lease.worker, id) == 0 then
        redis.call('LPUSH', KEYS[2], new_batch(undone))  -- leased ahead, never started: no suspect in it
      else
        local suspect = undone[1]
        local kills = redis.call('HINCRBY', KEYS[6], suspect, 1)
        if #undone > 1 then
          local rest = {}
          for i = 2, #undone do table.insert(rest, undone[i]) end
          redis.call('LPUSH', KEYS[2], new_batch(rest))
        end
        if kills >= kills_for_cause then
          redis.call('HSET', KEYS[8], suspect, kills)
        else
          redis.call('RPUSH', KEYS[2], new_batch({suspect}))
        end
      end
    end
  end
end
"""

_SEED = """
local ttl = tonumber(ARGV[2])
local existing = redis.call('HGET', KEYS[1], 'digest')
if existing then
  return {0, existing}
end
redis.call('HSET', KEYS[1], 'digest', ARGV[1], 'tests', ARGV[4], 'manifest', ARGV[5], 'seeded_at', ARGV[3],
           'next', #ARGV - 5, 'tokens', 0)
for i = 6, #ARGV do
  local id = tostring(i - 5)
  redis.call('HSET', KEYS[3], id, ARGV[i])
  redis.call('RPUSH', KEYS[2], id)
end
touch(ttl)
return {1, ARGV[1]}
"""

_LEASE = """
local now, deadline, worker, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
requeue_expired(now, tonumber(ARGV[5]))
while true do
  local id = redis.call('LPOP', KEYS[2])
  if not id then
    touch(ttl)
    return 0
  end
  local undone = undone_of(id)
  if #undone > 0 then
    redis.call('HSET', KEYS[3], id, cjson.encode(undone))
    local token = worker .. '#' .. redis.call('HINCRBY', KEYS[1], 'tokens', 1)
    redis.call('ZADD', KEYS[4], deadline, id)
    redis.call('HSET', KEYS[5], id, token)
    local released = 0
    for _, test in ipairs(undone) do
      if redis.call('SISMEMBER', KEYS[9], test) == 1 then released = 1 end
    end
    touch(ttl)
    return {id, token, cjson.encode(undone), released}
  end
  redis.call('HDEL', KEYS[3], id)  -- a late result of an expired lease finished it meanwhile
end
"""

_HEARTBEAT = """
if redis.call('HGET', KEYS[5], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[4], 'XX', tonumber(ARGV[3]), ARGV[1])
touch(tonumber(ARGV[4]))
return 1
"""

_COMPLETE = """
local id, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local added = 0
for i = 4, #ARGV, 2 do
  added = added + redis.call('HSETNX', KEYS[7], ARGV[i], ARGV[i + 1])
end
local held = 0
if redis.call('HGET', KEYS[5], id) == token then
  held = 1
  if #undone_of(id) == 0 then
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
touch(ttl)
return {added, held}
"""

_RELEASE = """
local id, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HGET', KEYS[5], id) ~= token then return 0 end
redis.call('ZREM', KEYS[4], id)
redis.call('HDEL', KEYS[5], id)
local undone = undone_of(id)
redis.call('HDEL', KEYS[3], id)
if #undone > 0 then redis.call('LPUSH', KEYS[2], new_batch(undone)) end
touch(ttl)
return 1
"""

_FINISHED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('LLEN', KEYS[2]) == 0 and redis.call('ZCARD', KEYS[4]) == 0 then return 1 end
return 0
"""


@dataclass(frozen=True)
class Lease:
    """A batch this worker holds until `deadline` (renewed by heartbeats); `released`: some of its tests were in a
    lease that expired before (another job died or hung with them)."""

    batch_id: str
    token: str
    tests: tuple[str, ...]
    released: bool = False


@dataclass(frozen=True)
class QueueState:
    """What the queue knows, for the merge: every test it was seeded with, each result, what is still out."""

    manifest: tuple[str, ...]
    done: Mapping[str, str]
    in_flight: Mapping[str, str]  # test id -> token of the lease holding it, not yet done
    pending: tuple[str, ...]  # tests waiting in the queue
    re_leased: tuple[str, ...]  # tests that went back to the queue from an expired lease
    causes: Mapping[str, int]  # tests never leased again: expired leases they were running in

    @property
    def never_reported(self) -> list[str]:
        return [node_id for node_id in self.manifest if node_id not in self.done]


class LeaseQueue:
    """One run's queue on a Redis client (`redis.Redis`); `ops` counts the round trips it made (for the bench).

    The client is given, not made here, so tests and the bench choose the connection (Unix socket, TCP) and this
    module never imports redis itself: a script is `client.register_script(text)`, the client's own cached EVALSHA.
    """

    def __init__(self, client: Any, namespace: str, *, key_ttl_seconds: int = DEFAULT_KEY_TTL_SECONDS) -> None:
        if key_ttl_seconds < 1:
            raise QueueError(f"the queue's key TTL must be at least 1 s, got {key_ttl_seconds}")
        self.client = client
        self.namespace = namespace
        self.key_ttl_seconds = int(key_ttl_seconds)
        self.ops = 0
        self.keys = [f"sharder:{{{namespace}}}:{name}" for name in _KEY_NAMES]
        self._scripts: dict[str, Callable[..., Any]] = {}
        for name, body in (("seed", _SEED), ("lease", _LEASE), ("heartbeat", _HEARTBEAT), ("complete", _COMPLETE),
                           ("release", _RELEASE)):
            self._scripts[name] = client.register_script(_REQUEUE_EXPIRED + body)
        self._scripts["finished"] = client.register_script(_FINISHED)

    def _call(self, name: str, args: Sequence[Any]) -> Any:
        self.ops += 1
        return _guarded(lambda: self._scripts[name](keys=self.keys, args=list(args)))

    def seed(self, manifest: Sequence[str], batches: Sequence[Sequence[str]], *, now: float) -> bool:
        """Seed the queue once per run: True when this call did; else the manifest must be the seeded one."""
        digest = manifest_digest(manifest)
        planned = [node_id for batch in batches for node_id in batch]
        if sorted(planned) != sorted(set(manifest)):
            raise QueueError("the batches do not hold every test of the manifest exactly once")
        args: list[Any] = [digest, self.key_ttl_seconds, repr(float(now)), len(set(manifest)),
                           _encode(sorted(set(manifest)))]
        args += [_encode(list(batch)) for batch in batches if batch]
        seeded, seeded_digest = self._call("seed", args)
        if not seeded and _text(seeded_digest) != digest:
            raise QueueMismatch(
                "this job's tests differ from the tests the queue was seeded with (manifest "
                f"{_text(seeded_digest)[:12]}, this job's {digest[:12]}): every job of a queue run must collect the "
                "same tests; check the checkout, the pytest arguments and the plan"
            )
        return bool(seeded)

    def lease(self, worker: str, *, now: float, lease_seconds: float) -> Lease | None:
        """The next batch for `worker`, held until now + lease_seconds; None when nothing is waiting (the run
        may still be unfinished: others hold leases that could expire, see `finished`)."""
        answer = self._call("lease", [repr(float(now)), repr(float(now + lease_seconds)), worker,
                                      self.key_ttl_seconds, KILLS_FOR_CAUSE])
        if answer == -1:
            raise self._gone()
        if not answer:
            return None
        batch_id, token, tests, released = answer
        return Lease(_text(batch_id), _text(token), tuple(_decode(tests)), bool(released))

    def heartbeat(self, lease: Lease, *, now: float, lease_seconds: float) -> bool:
        """Push the lease's deadline to now + lease_seconds; False when the lease is no longer this worker's (it
        expired and went back to the queue: another job may be running its tests)."""
        held = self._call("heartbeat", [lease.batch_id, lease.token, repr(float(now + lease_seconds)),
                                        self.key_ttl_seconds])
        return bool(held)

    def complete(self, lease: Lease, results: Mapping[str, str], *, now: float) -> None:
        """Record results (test id -> outcome); a test's first result stands, so one sent twice counts once. The
        lease ends when its every test is done. `now` is taken for symmetry with the other steps (and the bench)."""
        if not results:
            return
        args: list[Any] = [lease.batch_id, lease.token, self.key_ttl_seconds]
        for node_id, outcome in results.items():
            args += [node_id.encode("utf-8", "surrogatepass"), outcome]
        self._call("complete", args)

    def release(self, lease: Lease, *, now: float) -> bool:
        """Give the lease's unfinished tests back at once, at the front (a job stopping early: `-x`, `--maxfail`,
        a cancel), so no one waits for its expiry and no test of it is suspected of killing the job."""
        return bool(self._call("release", [lease.batch_id, lease.token, self.key_ttl_seconds]))

    def finished(self, *, now: float) -> bool:
        """Nothing waits and no lease is out: every test has a result or is a cause. Expired leases count as out
        until the next `lease` call puts them back, so a job never ends while another's tests may be lost."""
        answer = self._call("finished", [])
        if answer == -1:
            raise self._gone()
        return bool(answer)

    def snapshot(self) -> QueueState:
        """Everything the merge needs from the queue, read in one round trip (a pipeline, not atomic: call it when
        the run is over, or accept a view a moment old)."""
        meta, pending, batches, leases, owners, _suspects, done, causes, released, _dead = self.keys

        def read() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            pipe.hget(meta, "manifest")
            pipe.lrange(pending, 0, -1)
            pipe.hgetall(batches)
            pipe.zrange(leases, 0, -1)
            pipe.hgetall(owners)
            pipe.hgetall(done)
            pipe.hgetall(causes)
            pipe.smembers(released)
            return list(pipe.execute())

        self.ops += 1
        manifest_raw, pending_ids, batch_map, leased, owner_map, done_map, cause_map, released_set = _guarded(read)
        if manifest_raw is None:
            raise self._gone()
        batch_tests = {_text(key): _decode(value) for key, value in batch_map.items()}
        done_text = {_text(key): _text(value) for key, value in done_map.items()}
        in_flight: dict[str, str] = {}
        for batch_id in (_text(raw) for raw in leased):
            token = _text(owner_map.get(batch_id.encode(), owner_map.get(batch_id, b"?")))
            for node_id in batch_tests.get(batch_id, []):
                if node_id not in done_text:
                    in_flight[node_id] = token
        waiting = [node_id for raw in pending_ids for node_id in batch_tests.get(_text(raw), [])
                   if node_id not in done_text]
        return QueueState(
            manifest=tuple(_decode(manifest_raw)), done=done_text, in_flight=in_flight, pending=tuple(waiting),
            re_leased=tuple(sorted(_text(raw) for raw in released_set)),
            causes={_text(key): int(value) for key, value in cause_map.items()},
        )

    def _gone(self) -> QueueGone:
        return QueueGone(f"the queue run {self.namespace} has no keys on this Redis (expired after "
                         f"{self.key_ttl_seconds} s, flushed, or another server): its results are unknown")


def _guarded(step: Callable[[], Any]) -> Any:
    """Run one Redis round trip; a lost connection becomes `QueueUnreachable` (one line, never a traceback)."""
    from redis import exceptions

    try:
        return step()
    except (exceptions.ConnectionError, exceptions.TimeoutError) as exc:
        raise QueueUnreachable(f"Redis did not answer: {exc}") from None
    except exceptions.ResponseError as exc:
        raise QueueError(f"Redis refused a queue step: {exc}") from None
