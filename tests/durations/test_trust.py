"""Which runs of a test may teach the store its duration: passes only, the rest counted by reason."""

import pytest

from sharder.durations import store
from sharder.durations.trust import NotUsed, unused_reason


@pytest.mark.parametrize(("outcome", "message", "reason"), [
    ("passed", "", None),
    ("error", 'failed on setup with "RuntimeError: db down"', "errored"),
    ("failed", "assert 1 == 2", "failed"),
    ("failed", "Failed: Timeout (>0.5s) from pytest-timeout.", "timed out"),
    ("failed", "Failed: Timeout >0.5s", "timed out"),
    ("xfailed", "", "xfailed"),
    ("skipped", "no db", "skipped"),
    ("rerun", "", "rerun without a final attempt"),
])
def test_only_a_pass_is_an_observation(outcome: str, message: str, reason: str | None) -> None:
    assert unused_reason(outcome, message=message) == reason


def test_a_pass_without_a_time_or_a_name_is_no_observation_either() -> None:
    assert unused_reason("passed", timed=False) == "without a usable time"
    assert unused_reason("passed", named=False) == "without a name"
    assert unused_reason("error", named=False) == "without a name"


def test_the_count_says_how_many_and_why_most_first() -> None:
    not_used = NotUsed(["errored"] * 400 + ["failed"] * 12)
    assert not_used.describe("case") == "412 cases not used: 400 errored, 12 failed"
    assert NotUsed(["skipped"]).describe() == "1 test not used: 1 skipped"
    assert NotUsed().describe() == ""


def test_a_run_of_fast_errors_left_out_cannot_win_the_hardware_vote() -> None:
    """The failure this rule exists for: every test errored in 1 ms, the median ratio said "100x faster
    hardware", and the observations replaced every duration. Filtered, the few passes are only blended."""
    old = store.Durations({f"t{i}": store.TestTiming(1.0, 3) for i in range(20)})
    runs = {f"t{i}": ("passed" if i < 2 else "error", 1.0 if i < 2 else 0.001) for i in range(20)}
    everything = {node_id: store.Observation(seconds) for node_id, (_, seconds) in runs.items()}
    assert store.updated(old, everything).tests["t5"].seconds == pytest.approx(0.001)  # unfiltered: wiped
    trusted = {node_id: store.Observation(seconds) for node_id, (outcome, seconds) in runs.items()
               if unused_reason(outcome) is None}
    new = store.updated(old, trusted)
    assert all(new.tests[f"t{i}"] == old.tests[f"t{i}"] for i in range(2, 20))
    assert new.tests["t0"].seconds == pytest.approx(1.0) and new.tests["t0"].runs == 4
