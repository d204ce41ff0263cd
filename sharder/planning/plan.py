"""The Plan model and `plan.json`: which tests each shard runs, and what it is predicted to cost.

A plan is self-describing (shard count, grouping, bound, the durations it came from) and carries an identity
(`plan_id`, a hash of its content) that shard reports record, so a merge can tell which plan they belong to.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sharder.core.atomic import atomic_write_text
from sharder.core.errors import SharderError
from sharder.core.inputfile import read_input
from sharder.core.shardspec import ShardSpec

FORMAT_NAME = "sharder-plan"
FORMAT_VERSION = 1
# The groupings a plan can be made with (see `sharder/planning/planner.py`); defined here so the reader can refuse others.
GROUPINGS = ("test", "class", "module", "auto")


@dataclass(frozen=True, slots=True)
class ShardBin:  # slots: a plan of 999,999 shards holds that many, nearly all empty
    shard: int  # 1-based
    predicted_seconds: float
    tests: tuple[str, ...]
    estimated_tests: int = 0  # how many of `tests` had no recorded duration
    # The shard's whole predicted wall (`sharder.planning.wall`), when the store had costs; `predicted_seconds`
    # stays the test-only figure (tests + repeated fixtures) that reports compare with.
    predicted_wall_seconds: float | None = None


@dataclass(frozen=True)
class Plan:
    shards: int
    group_by: str
    lower_bound_seconds: float
    useful_shards: float
    durations_sha256: str
    bins: tuple[ShardBin, ...]
    split_units: int = 0
    fixture_cost_seconds: float = 0.0  # fixture setup repeated because groups were split over shards
    # What narrowed the collection the plan was made from (`-k fast`, `paths tests/unit`, `--pyargs`...): () the
    # whole suite as configured, None not recorded (a plan of an older sharder). A run of a plan made from a
    # selection says nothing of the tests outside it, so a rebalance of its reports prunes only after ().
    selected_by: tuple[str, ...] | None = None
    # What every shard's process pays once besides its tests (start, collection outside test files, before the
    # first test and after the last), when the store had costs: None for a plan of test time only.
    fixed_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def predicts_wall(self) -> bool:
        return self.fixed_seconds is not None

    @property
    def wall_makespan(self) -> float | None:
        """The slowest shard's predicted wall, or None for a plan of test time only."""
        if not self.predicts_wall:
            return None
        return max((b.predicted_wall_seconds or 0.0 for b in self.bins), default=0.0)

    @property
    def makespan(self) -> float:
        return max((b.predicted_seconds for b in self.bins), default=0.0)

    @property
    def total_tests(self) -> int:
        return sum(len(b.tests) for b in self.bins)

    @property
    def imbalance(self) -> float:
        """Predicted makespan over the lower bound (1.0 is perfect)."""
        return self.makespan / self.lower_bound_seconds if self.lower_bound_seconds > 0 else 1.0

    @property
    def plan_id(self) -> str:
        """A short content hash: the same tests in the same shards give the same id on every machine."""
        digest = hashlib.sha256()
        digest.update(f"{self.shards}\n".encode())
        # The bytes are `#K\n` and then the bin's ids, one per line. Empty bins' markers are gathered and hashed
        # together (the same bytes, so the same id): one update per bin cost a second on 999,999 empty shards.
        markers: list[str] = []
        for shard_bin in self.bins:
            markers.append(f"#{shard_bin.shard}\n")
            if shard_bin.tests:  # one update per bin: the same bytes as one per id, 5x faster on 200,000 ids
                digest.update("".join(markers).encode())
                markers.clear()
                digest.update(("\n".join(shard_bin.tests) + "\n").encode("utf-8", "surrogatepass"))
        digest.update("".join(markers).encode())
        return digest.hexdigest()[:16]

    def bin_for(self, spec: ShardSpec) -> ShardBin:
        if spec.total != self.shards:
            raise SharderError(f"shard {spec} does not fit this plan, which has {self.shards} shards")
        return self.bins[spec.index - 1]

    def all_tests(self) -> list[str]:
        return [node_id for shard_bin in self.bins for node_id in shard_bin.tests]

    def shard_of(self) -> dict[str, int]:
        return {node_id: shard_bin.shard for shard_bin in self.bins for node_id in shard_bin.tests}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# plan.json's record of where its timings came from (`sharder plan --store`): source, path, run, branch, age,
# and how many of the planned tests had a recorded time.
TIMINGS_KEY = "timings"


def _header_json(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "plan_id": plan.plan_id,
        "shards": plan.shards,
        "group_by": plan.group_by,
        "lower_bound_seconds": round(plan.lower_bound_seconds, 6),
        "makespan_seconds": round(plan.makespan, 6),
        "useful_shards": _finite(round(plan.useful_shards, 3)),
        "split_units": plan.split_units,
        "fixture_cost_seconds": round(plan.fixture_cost_seconds, 6),
        "durations_sha256": plan.durations_sha256,
        **({} if plan.selected_by is None else {"selected_by": list(plan.selected_by)}),
        **({} if plan.fixed_seconds is None else {"fixed_seconds": round(plan.fixed_seconds, 6),
                                                   "wall_makespan_seconds": round(plan.wall_makespan or 0.0, 6)}),
        **plan.extra,
    }


def plan_to_json(plan: Plan) -> dict[str, Any]:
    document = _header_json(plan)
    document.pop("bins", None)  # always the last key
    document["bins"] = [
        {
            "shard": b.shard,
            "predicted_seconds": round(b.predicted_seconds, 6),
            "estimated_tests": b.estimated_tests,
            **_wall_json(b),
            "tests": list(b.tests),
        }
        for b in plan.bins
    ]
    return document


def render_plan(plan: Plan) -> str:
    """`json.dumps(plan_to_json(plan), indent=1, ensure_ascii=False)`, but fast on 200,000 ids and small on
    999,999 shards: an empty bin is written on one line, as `json.dumps` writes it without `indent`.

    json's C encoder is used only without `indent`; the pure-Python one takes ~0.2 s on a large plan, and ~6 s and
    a dict per bin on a million bins. So the header is rendered indented, and each bin is spliced in from the plan
    itself: a bin with tests as indent=1 renders it, byte for byte (its test list by the C encoder, see
    `_render_test_list`), an empty one on one line (75 bytes instead of 100). JSON readers read both alike, the
    plan reader of every sharder version too.
    """
    document = _header_json(plan)
    document.pop("bins", None)
    document["bins"] = []
    head = json.dumps(document, indent=1, ensure_ascii=False)
    if not plan.bins:
        return head
    # `head` ends with the empty list of its last key, "bins": `[]\n}`.
    return head[: -len("[]\n}")] + "[\n" + ",\n".join(map(_render_bin, plan.bins)) + "\n ]\n}"


_EMPTY_BIN = '  {{"shard": {}, "predicted_seconds": 0.0, "estimated_tests": 0, "tests": []}}'


def _render_bin(shard_bin: ShardBin) -> str:
    seconds = shard_bin.predicted_seconds
    if not shard_bin.tests:
        if seconds == 0.0 and not shard_bin.estimated_tests:  # nearly every empty bin: no json.dumps call
            return _EMPTY_BIN.format(shard_bin.shard)
        return "  " + json.dumps({"shard": shard_bin.shard, "predicted_seconds": round(seconds, 6),
                                  "estimated_tests": shard_bin.estimated_tests, "tests": []})
    wall = shard_bin.predicted_wall_seconds
    wall_line = "" if wall is None else f'   "predicted_wall_seconds": {json.dumps(round(wall, 6))},\n'
    return (f'  {{\n   "shard": {shard_bin.shard},\n   "predicted_seconds": {json.dumps(round(seconds, 6))},\n'
            f'   "estimated_tests": {shard_bin.estimated_tests},\n{wall_line}'
            f'   "tests": {_render_test_list(shard_bin.tests)}\n  }}')


def _wall_json(shard_bin: ShardBin) -> dict[str, float]:
    wall = shard_bin.predicted_wall_seconds
    return {} if wall is None else {"predicted_wall_seconds": round(wall, 6)}


# The ASCII characters JSON writes as themselves: all from the space up, but the quote and the backslash.
_PLAIN_ASCII = bytes(range(0x20, 0x80)).translate(None, b'"\\')


def _render_test_list(tests: Sequence[str]) -> str:
    """A bin's test list as json.dumps(indent=1, ensure_ascii=False) renders it inside the plan.

    An ASCII id needs no escape unless it holds a quote, a backslash or a character below the space; lists of
    such ids (nearly all) are joined as they are, after one C pass over their bytes: 3x faster than the encoder.
    """
    if not tests:
        return "[]"
    together = "".join(tests)
    if together.isascii() and not together.encode("ascii").translate(None, _PLAIN_ASCII):
        return '[\n    "' + '",\n    "'.join(tests) + '"\n   ]'
    return json.dumps(tests, ensure_ascii=False, separators=(",\n    ", ": ")).replace("[", "[\n    ", 1)[:-1] + "\n   ]"


def write_plan(path: str | os.PathLike[str], plan: Plan) -> None:
    atomic_write_text(path, render_plan(plan) + "\n")


def _number(source: str, data: dict[str, Any], key: str, default: float | None = None) -> float:
    value = data.get(key, default)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise SharderError(f"{source}: {key!r} is {value!r}, expected a finite number >= 0")
    return float(value)


def _refuse_non_text_ids(source: str, position: int, tests: list[str]) -> None:
    """Refuse an id holding a lone surrogate (JSON can spell `\\ud800`, UTF-8 cannot): a shard could not write
    it to its report or progress log. One C-level encode of the bin; only a failure looks for the culprit."""
    try:
        "".join(tests).encode("utf-8")
    except UnicodeEncodeError:
        bad = next(node_id for node_id in tests if not _encodes(node_id))
        raise SharderError(f"{source}: bin {position} test id {bad!r} is not valid Unicode text") from None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_empty(raw: dict[str, Any]) -> bool:
    """An empty bin predicted at zero with nothing estimated, as the planner writes one: the per-field checks below
    would only confirm it (exact types: a `false` is no zero)."""
    seconds = raw.get("predicted_seconds")
    estimated = raw.get("estimated_tests", 0)
    return type(seconds) in (int, float) and seconds == 0 and type(estimated) is int and estimated == 0


def plan_from_json(data: object, source: str = "plan") -> Plan:
    """Validate and load a plan document; every id must be in exactly one of exactly N bins."""
    if not isinstance(data, dict):
        raise SharderError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT_NAME:
        found = "no 'format' field" if "format" not in data else f"format {data.get('format')!r}"
        raise SharderError(f"{source}: not a sharder plan ({found}; expected {FORMAT_NAME!r})")
    if data.get("version") != FORMAT_VERSION:
        raise SharderError(f"{source}: plan version {data.get('version')!r} is not supported (expected {FORMAT_VERSION})")
    shards = data.get("shards")
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise SharderError(f"{source}: 'shards' is {shards!r}, expected a whole number >= 1")
    raw_bins = data.get("bins")
    if not isinstance(raw_bins, list) or len(raw_bins) != shards:
        count = len(raw_bins) if isinstance(raw_bins, list) else "no"
        raise SharderError(f"{source}: plan says {shards} shards but has {count} bins")
    seen: dict[str, int] = {}
    bins: list[ShardBin] = []
    for position, raw in enumerate(raw_bins, start=1):
        if not isinstance(raw, dict) or raw.get("shard") != position:
            raise SharderError(f"{source}: bin {position} is missing or out of order")
        tests = raw.get("tests")
        if tests == [] and _plain_empty(raw):  # most bins of a plan with far more shards than tests
            bins.append(ShardBin(position, 0.0, ()))
            continue
        if not isinstance(tests, list) or not all(isinstance(t, str) and t for t in tests):
            raise SharderError(f"{source}: bin {position} 'tests' must be a list of test ids")
        _refuse_non_text_ids(source, position, tests)
        for node_id in tests:
            if node_id in seen:
                raise SharderError(f"{source}: test {node_id!r} is in shard {seen[node_id]} and shard {position}")
            seen[node_id] = position
        bins.append(
            ShardBin(
                shard=position,
                predicted_seconds=_number(source, raw, "predicted_seconds"),
                tests=tuple(tests),
                estimated_tests=int(_number(source, raw, "estimated_tests", 0)),
                predicted_wall_seconds=(None if raw.get("predicted_wall_seconds") is None
                                        else _number(source, raw, "predicted_wall_seconds")),
            )
        )
    useful = data.get("useful_shards")
    group_by = data.get("group_by", "test")
    if not isinstance(group_by, str) or group_by not in GROUPINGS:
        raise SharderError(f"{source}: 'group_by' is {group_by!r}, expected one of {', '.join(GROUPINGS)}")
    selected = data.get("selected_by")
    if selected is not None and not (isinstance(selected, list) and all(isinstance(s, str) and s for s in selected)):
        raise SharderError(f"{source}: 'selected_by' is {selected!r:.80}, expected a list of what narrowed the collection")
    plan = Plan(
        shards=shards,
        group_by=group_by,
        lower_bound_seconds=_number(source, data, "lower_bound_seconds"),
        useful_shards=math.inf if useful is None else _number(source, data, "useful_shards"),
        durations_sha256=str(data.get("durations_sha256", "")),
        bins=tuple(bins),
        split_units=int(_number(source, data, "split_units", 0)),
        fixture_cost_seconds=_number(source, data, "fixture_cost_seconds", 0.0),
        selected_by=None if selected is None else tuple(selected),
        fixed_seconds=None if data.get("fixed_seconds") is None else _number(source, data, "fixed_seconds"),
    )
    timings = data.get(TIMINGS_KEY)
    if isinstance(timings, dict):  # where the plan's timings came from: shown by merge, never trusted as numbers
        plan.extra[TIMINGS_KEY] = {str(key): value for key, value in timings.items() if _plain(value)}
    recorded_id = data.get("plan_id")
    if recorded_id is not None and recorded_id != plan.plan_id:
        raise SharderError(f"{source}: the plan was edited after it was made (plan_id {recorded_id} does not match)")
    return plan


def _plain(value: object) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def read_plan(path: str | os.PathLike[str]) -> Plan:
    raw = read_input(path, "plan")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SharderError(f"{os.fspath(path)}: not valid plan JSON: {exc}") from None
    return plan_from_json(data, source=os.fspath(path))
