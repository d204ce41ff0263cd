"""Each shard's machine speed taken out of its observations (`sharder.durations.process_speed`), on made-up
timings: what is rescaled, what is left alone, and that a change common to every shard is still learned."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from sharder.durations import store
from sharder.durations.costs import SuiteCosts
from sharder.durations.process_speed import SPEED_VOTERS_MIN, at_common_speed, costs_at_speed, speed_factors
from sharder.durations.store import Durations, Observation, updated

Run = tuple[dict[str, store.TestTiming], dict[str, Observation], dict[str, Hashable]]


def _run(slow_factor: float, fast_factor: float = 1.0, per_shard: int = SPEED_VOTERS_MIN, seconds: float = 0.2) -> Run:
    """Two shards of `per_shard` tests each, all recorded at `seconds`; shard 1 ran `slow_factor` times slower."""
    tests = {f"t{i}": store.TestTiming(seconds * (1 + i / 100), 1) for i in range(2 * per_shard)}
    observed = {node_id: Observation(timing.seconds * (slow_factor if i < per_shard else fast_factor))
                for i, (node_id, timing) in enumerate(tests.items())}
    shard_of = {node_id: 1 if i < per_shard else 2 for i, node_id in enumerate(tests)}
    return tests, observed, shard_of


def test_a_slow_shard_is_brought_to_the_runs_common_speed_and_keeps_its_tests_relative_times() -> None:
    tests, observed, shard_of = _run(1.5)
    factors = speed_factors(tests, observed, shard_of)
    scaled = at_common_speed(observed, shard_of, factors)
    ratios = {node_id: scaled[node_id].seconds / tests[node_id].seconds for node_id in tests}
    slow = [ratios[n] for n in tests if shard_of[n] == 1]
    fast = [ratios[n] for n in tests if shard_of[n] == 2]
    assert max(slow) - min(slow) < 1e-9 and max(fast) - min(fast) < 1e-9  # relative times within a shard kept
    assert slow[0] == pytest.approx(fast[0])  # both shards now at one speed
    assert 1.0 < slow[0] < 1.5  # the run's common speed: between the two


def test_a_change_common_to_every_shard_is_not_taken_out() -> None:
    tests, observed, shard_of = _run(2.0, 2.0)
    assert speed_factors(tests, observed, shard_of) == {1: pytest.approx(1.0), 2: pytest.approx(1.0)}
    learned = updated(Durations(tests=dict(tests)), at_common_speed(observed, shard_of, {}))
    assert all(learned.tests[n].seconds == pytest.approx(2 * tests[n].seconds) for n in tests)  # other hardware


def test_a_shard_with_too_few_timed_tests_is_left_as_it_is() -> None:
    tests, observed, shard_of = _run(1.5, per_shard=SPEED_VOTERS_MIN - 1)
    assert speed_factors(tests, observed, shard_of) == {}


def test_sub_threshold_tests_do_not_vote() -> None:
    """Millisecond tests (below the store's vote floor) say nothing of a machine's speed."""
    tests, observed, shard_of = _run(1.5, seconds=0.001)
    assert speed_factors(tests, observed, shard_of) == {}


def test_a_single_shard_has_nothing_to_be_compared_with() -> None:
    tests, observed, _ = _run(1.5)
    assert speed_factors(tests, observed, dict.fromkeys(tests, 1)) == {}


def test_new_tests_and_setup_times_follow_their_shards_factor_memory_does_not() -> None:
    tests, observed, shard_of = _run(1.5)
    observed["new"] = Observation(0.3, setup_seconds=0.1, peak_rss_mb=80.0)
    shard_of["new"] = 1
    factors = speed_factors(tests, observed, shard_of)
    scaled = at_common_speed(observed, shard_of, factors)["new"]
    assert scaled.seconds == pytest.approx(0.3 * factors[1])
    assert scaled.setup_seconds == pytest.approx(0.1 * factors[1])
    assert scaled.peak_rss_mb == 80.0


def test_session_costs_scale_by_the_same_factor() -> None:
    costs = SuiteCosts(startup_seconds=2.0, collection_seconds=1.0, session_setup_seconds=0.5,
                       teardown_seconds=0.25, per_test_seconds=0.001, files={"test_a.py": 0.4})
    half = costs_at_speed(costs, 0.5)
    assert (half.startup_seconds, half.collection_seconds, half.session_setup_seconds, half.teardown_seconds,
            half.per_test_seconds, dict(half.files)) == (1.0, 0.5, 0.25, 0.125, 0.0005, {"test_a.py": 0.2})
    assert costs_at_speed(costs, 1.0) is costs
