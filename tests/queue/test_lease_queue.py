"""LeaseQueue against a real redis-server: seeding once, atomic leases, expiry and requeue, causes, idempotent
results, TTLs. Virtual time throughout (`now` is the caller's), so no test waits for a lease to expire."""

from __future__ import annotations

from typing import Any

import pytest

from sharder.queue.lease_queue import (
    LeaseQueue,
    QueueGone,
    QueueMismatch,
    QueueUnreachable,
    manifest_digest,
    run_namespace,
)

IDS = [f"tests/test_m.py::test_{n}" for n in range(6)]
BATCHES = [tuple(IDS[0:3]), tuple(IDS[3:5]), (IDS[5],)]


def _queue(client: Any, namespace: str, **kw: Any) -> LeaseQueue:
    return LeaseQueue(client, namespace, **kw)


def _drain(queue: LeaseQueue, worker: str, now: float) -> list[str]:
    ran: list[str] = []
    while (lease := queue.lease(worker, now=now, lease_seconds=30)) is not None:
        for node_id in lease.tests:
            queue.complete(lease, {node_id: "passed"}, now=now)
            ran.append(node_id)
    return ran


def test_the_first_job_seeds_and_later_ones_check_the_manifest(redis_client: Any, queue_namespace: str) -> None:
    first, later = _queue(redis_client, queue_namespace), _queue(redis_client, queue_namespace)
    assert first.seed(IDS, BATCHES, now=0.0) is True
    assert later.seed(list(reversed(IDS)), [tuple(IDS)], now=1.0) is False  # order and batching do not matter
    with pytest.raises(QueueMismatch, match="differ from the tests the queue was seeded with"):
        later.seed([*IDS, "tests/test_m.py::test_new"], [(*IDS, "tests/test_m.py::test_new")], now=2.0)
    assert _drain(later, "w2", 3.0) == IDS  # the seeding job's batches, in their order


def test_batches_that_lose_or_invent_a_test_are_refused(redis_client: Any, queue_namespace: str) -> None:
    with pytest.raises(Exception, match="every test of the manifest exactly once"):
        _queue(redis_client, queue_namespace).seed(IDS, BATCHES[:2], now=0.0)


def test_two_workers_never_get_the_same_test_and_the_run_finishes(redis_client: Any, queue_namespace: str) -> None:
    a, b = _queue(redis_client, queue_namespace), _queue(redis_client, queue_namespace)
    a.seed(IDS, BATCHES, now=0.0)
    lease_a = a.lease("a", now=1.0, lease_seconds=30)
    lease_b = b.lease("b", now=1.0, lease_seconds=30)
    assert lease_a is not None and lease_b is not None
    assert not set(lease_a.tests) & set(lease_b.tests)
    assert not a.finished(now=1.0)
    for lease, queue in ((lease_a, a), (lease_b, b)):
        queue.complete(lease, dict.fromkeys(lease.tests, "passed"), now=2.0)
    assert not a.finished(now=2.0)  # one batch still waits
    assert _drain(b, "b", 3.0) == [IDS[5]]
    assert a.finished(now=3.0) and b.finished(now=3.0)
    state = a.snapshot()
    assert sorted(state.done) == sorted(IDS) and not state.in_flight and not state.re_leased and not state.causes


def test_an_expired_lease_goes_back_without_its_finished_tests(redis_client: Any, queue_namespace: str) -> None:
    dead, alive = _queue(redis_client, queue_namespace), _queue(redis_client, queue_namespace)
    dead.seed(IDS, BATCHES, now=0.0)
    lease = dead.lease("dead", now=0.0, lease_seconds=10)
    assert lease is not None and lease.tests == tuple(IDS[0:3])
    dead.complete(lease, {IDS[0]: "passed"}, now=1.0)  # then it dies while IDS[1] runs
    # Not yet expired: the living worker gets the next batch, not the dead one's.
    early = alive.lease("alive", now=9.0, lease_seconds=10)
    assert early is not None and early.tests == tuple(IDS[3:5]) and not early.released
    alive.complete(early, dict.fromkeys(early.tests, "passed"), now=9.5)
    state = alive.snapshot()
    assert state.in_flight == {IDS[1]: lease.token, IDS[2]: lease.token}
    # Expired: the rest of the batch first, then the last batch, then the suspect alone, at the back.
    order = []
    while (next_lease := alive.lease("alive", now=11.0, lease_seconds=10)) is not None:
        order.append((next_lease.tests, next_lease.released))
        alive.complete(next_lease, dict.fromkeys(next_lease.tests, "passed"), now=11.0)
    assert order == [((IDS[2],), True), ((IDS[5],), False), ((IDS[1],), True)]
    state = alive.snapshot()
    assert alive.finished(now=12.0) and sorted(state.done) == sorted(IDS)
    assert state.re_leased == tuple(sorted([IDS[1], IDS[2]])) and not state.causes
    assert not dead.heartbeat(lease, now=12.0, lease_seconds=10)  # the dead job's lease is gone


def test_a_test_that_killed_two_leases_is_the_cause_and_not_leased_again(redis_client: Any, queue_namespace: str) -> None:
    queue = _queue(redis_client, queue_namespace)
    crash = "tests/test_m.py::test_crash"
    queue.seed([crash, *IDS[:2]], [(crash, *IDS[:2])], now=0.0)
    first = queue.lease("job1", now=0.0, lease_seconds=5)
    assert first is not None and first.tests[0] == crash
    second = queue.lease("job2", now=6.0, lease_seconds=5)  # job1 died in the crash; the rest comes first
    assert second is not None and second.tests == tuple(IDS[:2]) and second.released
    queue.complete(second, dict.fromkeys(second.tests, "passed"), now=6.5)
    retry = queue.lease("job2", now=7.0, lease_seconds=5)
    assert retry is not None and retry.tests == (crash,)
    assert queue.lease("job3", now=13.0, lease_seconds=5) is None  # job2 died in it too: it is the cause
    assert queue.finished(now=13.0)
    state = queue.snapshot()
    assert state.causes == {crash: 2} and state.never_reported == [crash]


def test_a_heartbeat_keeps_a_lease_and_a_result_twice_counts_once(redis_client: Any, queue_namespace: str) -> None:
    queue = _queue(redis_client, queue_namespace)
    queue.seed(IDS[:2], [tuple(IDS[:2])], now=0.0)
    lease = queue.lease("slow", now=0.0, lease_seconds=10)
    assert lease is not None
    assert queue.heartbeat(lease, now=8.0, lease_seconds=10)
    assert queue.lease("other", now=15.0, lease_seconds=10) is None  # deadline 18: still held
    queue.complete(lease, {IDS[0]: "failed"}, now=16.0)
    queue.complete(lease, {IDS[0]: "passed"}, now=16.5)  # the same test again: the first result stands
    queue.complete(lease, {IDS[1]: "passed"}, now=17.0)
    assert queue.finished(now=17.0)
    assert queue.snapshot().done == {IDS[0]: "failed", IDS[1]: "passed"}


def test_a_late_result_of_an_expired_lease_is_kept_and_not_run_again(redis_client: Any, queue_namespace: str) -> None:
    queue = _queue(redis_client, queue_namespace)
    queue.seed(IDS[:3], [tuple(IDS[:3])], now=0.0)
    hung = queue.lease("hung", now=0.0, lease_seconds=5)
    assert hung is not None
    taken = queue.lease("other", now=6.0, lease_seconds=5)  # requeues IDS[1:3] and IDS[0] (suspect, at the back)
    assert taken is not None and taken.tests == tuple(IDS[1:3])
    queue.complete(hung, {IDS[0]: "passed"}, now=6.5)  # the hung job woke up and finished its test
    queue.complete(taken, dict.fromkeys(taken.tests, "passed"), now=7.0)
    assert queue.lease("other", now=7.0, lease_seconds=5) is None  # IDS[0]'s retry is dropped: it has a result
    assert queue.finished(now=7.0) and queue.snapshot().never_reported == []


def test_every_key_has_a_ttl(redis_client: Any, queue_namespace: str) -> None:
    queue = _queue(redis_client, queue_namespace, key_ttl_seconds=600)
    queue.seed(IDS, BATCHES, now=0.0)
    lease = queue.lease("w", now=100.0, lease_seconds=5)
    assert lease is not None
    queue.complete(lease, {lease.tests[0]: "passed"}, now=100.0)
    queue.lease("w", now=200.0, lease_seconds=5)  # expires the first: suspects, released, more batches
    keys = redis_client.keys(f"sharder:{{{queue_namespace}}}:*")
    assert len(keys) >= 7
    assert all(0 < redis_client.ttl(key) <= 600 for key in keys)


def test_round_trips_are_counted_per_step(redis_client: Any, queue_namespace: str) -> None:
    queue = _queue(redis_client, queue_namespace)
    queue.seed(IDS, BATCHES, now=0.0)
    ran = _drain(queue, "w", 1.0)
    queue.finished(now=1.0)
    # one seed, a lease per batch and the empty one, a result per test, the final check
    assert queue.ops == 1 + (len(BATCHES) + 1) + len(ran) + 1


def test_odd_ids_survive_the_round_trip(redis_client: Any, queue_namespace: str) -> None:
    odd = ["t.py::test[\udcff]", "t.py::test[a\nb]", "t.py::test[\"/\\\\]", "t.py::test[ünï]", "t.py::test[\x01]"]
    queue = _queue(redis_client, queue_namespace)
    queue.seed(odd, [tuple(odd)], now=0.0)
    lease = queue.lease("w", now=0.0, lease_seconds=5)
    assert lease is not None and list(lease.tests) == odd
    queue.complete(lease, dict.fromkeys(odd, "passed"), now=0.0)
    assert sorted(queue.snapshot().done) == sorted(odd) and queue.finished(now=0.0)


def test_a_vanished_queue_and_an_unreachable_redis_are_one_line_errors(redis_client: Any, queue_namespace: str,
                                                                      tmp_path: Any) -> None:
    import redis

    queue = _queue(redis_client, queue_namespace)
    with pytest.raises(QueueGone, match="has no keys on this Redis"):
        queue.lease("w", now=0.0, lease_seconds=5)
    nowhere = LeaseQueue(redis.Redis(unix_socket_path=str(tmp_path / "none.sock")), queue_namespace)
    with pytest.raises(QueueUnreachable, match="Redis did not answer"):
        nowhere.finished(now=0.0)


def test_digest_and_namespace_are_stable() -> None:
    assert manifest_digest(IDS) == manifest_digest(list(reversed(IDS)))
    assert manifest_digest(IDS) != manifest_digest(IDS[:-1])
    assert run_namespace(["abc", "1", "2"]) == run_namespace(["abc", "1", "2"]) != run_namespace(["abc", "1", "3"])


def test_a_released_lease_goes_back_at_once_and_suspects_nobody(redis_client: Any, queue_namespace: str) -> None:
    queue = _queue(redis_client, queue_namespace)
    queue.seed(IDS, BATCHES, now=0.0)
    lease = queue.lease("stopping", now=0.0, lease_seconds=60)
    assert lease is not None
    queue.complete(lease, {IDS[0]: "failed"}, now=1.0)
    assert queue.release(lease, now=1.0) and not queue.release(lease, now=1.0)
    again = queue.lease("other", now=2.0, lease_seconds=60)  # long before the lease would have expired
    assert again is not None and again.tests == tuple(IDS[1:3]) and not again.released
    assert not redis_client.hgetall(f"sharder:{{{queue_namespace}}}:suspects")


def test_a_lease_taken_ahead_by_a_job_that_died_suspects_nobody(redis_client: Any, queue_namespace: str) -> None:
    queue = _queue(redis_client, queue_namespace)
    queue.seed(IDS, BATCHES, now=0.0)
    running = queue.lease("job1", now=0.0, lease_seconds=5)
    ahead = queue.lease("job1", now=1.0, lease_seconds=5)  # taken before the last test of `running` ran
    assert running is not None and ahead is not None
    queue.lease("job2", now=10.0, lease_seconds=5)  # both expired: job1 died once, in `running`'s first test
    suspects = redis_client.hgetall(f"sharder:{{{queue_namespace}}}:suspects")
    assert suspects == {running.tests[0].encode(): b"1"}
