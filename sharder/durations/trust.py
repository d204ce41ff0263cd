"""Which runs of a test may teach the store what it costs, and a count of the others by reason.

Only a test that passed ran all of its setup, call and teardown. One that errored in setup (an autouse fixture
finding the database down) stopped after a millisecond, a failure stopped at its first broken assertion, an
xfail at its expected failure, a timeout when the clock ran out. Taken as timings, a run where everything errored
fast made the median test 100x faster than recorded, the "other hardware" vote (`store._regime_changed`) then
replaced every duration instead of blending it, and the next plan was built on 1 ms guesses. So every writer of
the store (`sharder rebalance`, `sharder record`, `record --from-junit`) asks `unused_reason` of each test's runs,
learns only from the last run that passed, and says how many tests it left out and why.

A non-strict xpass counts as passed: it ran to the end, and JUnit writes it as a plain pass, so `record` from a
pytest run and from its report agree. A rerun (pytest-rerunfailures) that finally passed gives the time of that
final attempt, not the sum of the attempts.
"""

from __future__ import annotations

from collections import Counter

PASSED = "passed"
ERRORED = "errored"
FAILED = "failed"
TIMED_OUT = "timed out"
XFAILED = "xfailed"
SKIPPED = "skipped"
RERUN_ONLY = "rerun without a final attempt"  # a progress log cut off between a failed attempt and the next
UNTIMED = "without a usable time"
UNNAMED = "without a name"

_BY_OUTCOME = {"error": ERRORED, "failed": FAILED, "xfailed": XFAILED, "skipped": SKIPPED, "rerun": RERUN_ONLY}
# pytest-timeout's failure message: "Failed: Timeout (>0.5s) from pytest-timeout." (2.x), "Failed: Timeout >0.5s"
# (1.x). A timeout is a failure either way; the reason only tells the user why so many tests were left out.
_TIMEOUT_PREFIX = "Failed: Timeout"


def unused_reason(outcome: str, *, message: str = "", timed: bool = True, named: bool = True) -> str | None:
    """None when this run of a test is a trustworthy observation of its duration, else why it is not."""
    if not named:
        return UNNAMED
    if outcome != PASSED:
        if outcome == "failed" and message.startswith(_TIMEOUT_PREFIX):
            return TIMED_OUT
        return _BY_OUTCOME.get(outcome, outcome)
    if not timed:
        return UNTIMED
    return None


class NotUsed(Counter[str]):
    """Tests left out of an update, by reason."""

    def describe(self, noun: str = "test") -> str:
        """`412 tests not used: 400 errored, 12 failed`, or "" when every test was used."""
        total = sum(self.values())
        if not total:
            return ""
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"{total} {noun}{'s' if total != 1 else ''} not used: {reasons}"
