"""Finding the test that makes another one (the victim) fail when both run in one process: test pollution.

detect-test-pollution bisects the whole suite. A replayed shard knows exactly which tests ran before the victim,
and in which order, so the search is over those only, and every trial keeps their order (a polluter may depend on
a test before it, and the victim may be rescued by one after it in the suite, which no trial runs).

Pure decision logic: a trial is a callback `fails(preceding, label) -> bool` that runs `preceding` and then the
victim in a fresh pytest process and says whether the victim failed. Nothing here knows pytest or counts runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FAILS_ALONE = "fails alone"
NOT_REPRODUCED = "not reproduced"
POLLUTER = "polluter"
POLLUTER_SET = "polluter set"
INTERMITTENT = "intermittent"

# (the tests to run before the victim, a short name for the run) -> did the victim fail?
Trial = Callable[[Sequence[str], str], bool]
Say = Callable[[str], None]


@dataclass(frozen=True)
class Verdict:
    kind: str
    culprits: tuple[str, ...] = ()


def bisect_steps(candidates: int) -> int:
    """Halvings from `candidates` tests down to one: each keeps at most ceil(n/2)."""
    return math.ceil(math.log2(candidates)) if candidates > 1 else 0


def single_polluter_bound(predecessors: int) -> int:
    """pytest runs needed to name one polluter: alone, after all predecessors, the halvings, the verification."""
    return bisect_steps(predecessors) + 3


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def bisect(candidates: Sequence[str], fails: Trial, say: Say) -> tuple[list[str], list[str]]:
    """Halve the candidates until one is left, keeping the half that still makes the victim fail.

    Only the first half is run: when the victim passes after it, the polluter is taken to be in the second half,
    unchecked, which saves a run per step; the caller verifies the survivor. Returns the survivor (one test, or none
    for no candidates) and the smallest set actually seen to make the victim fail (the start for `minimize` when
    the survivor does not verify: a failure that needs two tests together).
    """
    remaining = list(candidates)
    smallest_failing = list(candidates)
    total = bisect_steps(len(remaining))
    step = 0
    while len(remaining) > 1:
        step += 1
        say(f"step {step}/{total}: {_plural(len(remaining), 'candidate')} left")
        first, second = remaining[: len(remaining) // 2], remaining[len(remaining) // 2 :]
        if fails(first, f"step-{step}"):
            say(f"  the victim fails after the first {len(first)}: keeping them")
            remaining = smallest_failing = first
        else:
            say(f"  the victim passes after the first {len(first)}: keeping the other {len(second)}")
            remaining = second
    return remaining, smallest_failing


def isolate_together(failing: Sequence[str], fails: Trial, say: Say) -> list[str]:
    """The tests of `failing` needed together to make the victim fail, by divide and conquer (as QuickXplain).

    A half that fails on its own (with what must stay) is searched alone; when neither half does, each half is
    searched with the other (or what was kept of it) standing by. That costs about two runs per halving per culprit,
    O(k log n) for k culprits among n, where dropping chunk after chunk (plain delta debugging) costs O(n).
    Every trial keeps the shard's order.
    """
    position = {node_id: index for index, node_id in enumerate(failing)}
    trials = 0

    def fails_with(context: Sequence[str], part: Sequence[str]) -> bool:
        nonlocal trials
        trials += 1
        return fails(sorted([*context, *part], key=position.__getitem__), f"isolate-{trials}")

    def needed(part: list[str], context: list[str]) -> list[str]:
        if len(part) == 1:
            return part
        first, second = part[: len(part) // 2], part[len(part) // 2 :]
        if fails_with(context, first):
            return needed(first, context)
        if fails_with(context, second):
            return needed(second, context)
        in_first = needed(first, context + second)
        in_second = needed(second, context + in_first)
        say(f"  {_plural(len(in_first) + len(in_second), 'test')} needed together so far")
        return in_first + in_second

    return needed(list(failing), [])


class _Remembered:
    """A trial's answer per exact list of tests: the search may ask twice (the first half of the first bisect
    step is where isolating starts too), and each answer costs a pytest process."""

    def __init__(self, fails: Trial) -> None:
        self._fails = fails
        self._known: dict[tuple[str, ...], bool] = {}

    def __call__(self, preceding: Sequence[str], label: str) -> bool:
        key = tuple(preceding)
        if key not in self._known:
            self._known[key] = self._fails(preceding, label)
        return self._known[key]


def find_polluter(
    predecessors: Sequence[str], fails: Trial, say: Say, *, fails_alone: bool,
    confirm: Callable[[Sequence[str]], bool],
) -> Verdict:
    """The decision: not a pollution problem, not reproducible here, one polluter, or a set needed together.

    `fails_alone` is the result of the victim's run on its own (made by the caller, which also collects in it);
    `confirm(culprits)` runs the culprits and the victim as the command the user will be shown.
    """
    if fails_alone:
        return Verdict(FAILS_ALONE)
    fails = _Remembered(fails)
    say(f"running the victim after the {_plural(len(predecessors), 'test')} that ran before it in the shard...")
    if not fails(predecessors, "after-all"):
        say("  it passes: the failure does not reproduce here")
        return Verdict(NOT_REPRODUCED)
    say("  it fails: the failure reproduces")
    survivor, smallest_failing = bisect(predecessors, fails, say)
    say(f"verifying: the victim right after {survivor[0]}..." if survivor else "verifying...")
    if survivor and confirm(survivor):
        say("  it fails: confirmed")
        return Verdict(POLLUTER, tuple(survivor))
    say(f"  it passes: no single test makes it fail; narrowing down the {len(smallest_failing)} "
        "that did, to the tests needed together")
    culprits = isolate_together(smallest_failing, fails, say)
    say(f"verifying: the victim right after those {_plural(len(culprits), 'test')}...")
    if not confirm(culprits):
        say("  it passes: the failure is intermittent")
        return Verdict(INTERMITTENT, tuple(culprits))
    say("  it fails: confirmed")
    return Verdict(POLLUTER if len(culprits) == 1 else POLLUTER_SET, tuple(culprits))
