"""The order a shard runs its tests in (`sharder run --order`): never which tests, only when.

- `plan`: as planned (collection order), today's order and the default;
- `failed-first`: what is likely to fail first, for quick feedback on a red run: tests the store remembers as
  failed last time, then tests it does not know at all (new, or renamed), then the rest, each in plan order;
- `fast-first`: shortest predicted first, so most of the shard reports early.

Grouping: a test file, a class, and a nested class are built once per contiguous run of their tests (module- and
class-scoped fixtures, `setup_module`, `setup_class`), so moving one test of a file to the front would build the
file's fixtures twice. The order therefore never splits a group that is contiguous in the plan: it sorts the files
of the shard, then the classes inside each file, then the tests inside each class, at every level by the same key,
the key of a group being that of its members taken together: for `failed-first` its most urgent member (a file
holding a failed test goes before every file holding none), for `fast-first` its total predicted time (shortest
processing time first, which minimises the mean time to each group's result). Ties keep plan order (a stable sort),
so the result is deterministic: the same ids, store and mode give the same order on every machine, which is what
lets `sharder replay --plan plan.json --shard K/N --order MODE` reproduce a shard's run.

A test never recorded is predicted at the median of the shard's recorded tests, not as instant: `fast-first`
would otherwise run every new test first, whatever it costs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence

from sharder.core.errors import SharderError
from sharder.core.nodeid import split_params

PLAN = "plan"
FAILED_FIRST = "failed-first"
FAST_FIRST = "fast-first"
ORDERS = (PLAN, FAILED_FIRST, FAST_FIRST)

# failed-first ranks: lower runs first
_FAILED, _NEW, _KNOWN = 0, 1, 2


def check_order(value: object, where: str = "--order") -> str:
    if value not in ORDERS:
        raise SharderError(f"{where} {value!r}: expected one of {', '.join(ORDERS)}")
    return str(value)


def scopes_of(node_id: str) -> tuple[str, ...]:
    """The groups a test belongs to, outermost first: its file, then each enclosing class (`a.py`, `a.py::C`,
    `a.py::C::D`). Parameters are cut off first: they may hold `::`."""
    base, _ = split_params(node_id)
    pieces = base.split("::")
    return tuple("::".join(pieces[:depth]) for depth in range(1, len(pieces)))


def ordered(
    ids: Sequence[str],
    order: str,
    *,
    seconds: Mapping[str, float],
    failed: Collection[str] = (),
) -> list[str]:
    """`ids` (one shard, in plan order) in the order `order` runs them; the same ids, each once.

    `seconds` is what the store knows of each test's duration (a test absent from it is new), `failed` the tests
    whose last remembered outcome is a failure (`sharder.durations.outcomes`).
    """
    check_order(order)
    if order == PLAN or len(ids) < 2:
        return list(ids)
    if order == FAILED_FIRST:
        failed_set = set(failed)
        keys = {node_id: float(_FAILED if node_id in failed_set else _NEW if node_id not in seconds else _KNOWN)
                for node_id in ids}
        return _sorted_tree(ids, keys, min)
    known = [seconds[node_id] for node_id in ids if node_id in seconds]
    default = statistics.median(known) if known else 0.0
    return _sorted_tree(ids, {node_id: seconds.get(node_id, default) for node_id in ids}, _total)


def _total(values: list[float]) -> float:
    return math.fsum(values)


class _Group:
    """A file or class of the shard: its tests and subgroups, in plan order of first appearance."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.children: dict[str, _Group] = {}
        self.members: list[str | _Group] = []


def _sorted_tree(ids: Sequence[str], keys: Mapping[str, float], combine: Callable[[list[float]], float]) -> list[str]:
    """Sort files, then the classes and tests of each file, then the tests of each class, by their key (a group's:
    `combine` of its members'), stably. A group the plan holds in pieces (not contiguous) is kept as one, at its
    first piece: running it in one go is what its fixtures want."""
    root = _Group()
    for node_id in dict.fromkeys(ids):
        group = root
        for scope in scopes_of(node_id):
            child = group.children.get(scope)
            if child is None:
                child = group.children[scope] = _Group()
                group.members.append(child)
            group = child
        group.members.append(node_id)
    out: list[str] = []

    def emit(group: _Group) -> float:
        """Append the group's tests in order to `out`; return the group's key."""
        placed: list[tuple[float, int, list[str]]] = []
        for position, member in enumerate(group.members):
            if isinstance(member, str):
                placed.append((keys[member], position, [member]))
            else:
                start = len(out)
                key = emit(member)
                placed.append((key, position, out[start:]))
                del out[start:]
        placed.sort(key=lambda entry: (entry[0], entry[1]))
        for _, _, tests in placed:
            out.extend(tests)
        return combine([key for key, _, _ in placed])

    emit(root)
    return out
