"""What reading a JUnit report gives (`Report`, a `CaseResult` per test case), the numbers as producers write
them, and the index that maps pytest's (classname, name) back to node ids. See `sharder.reports.junit`."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from sharder.core.junit_names import SHARD_PROPERTY
from sharder.core.nodeid import forward_key
from sharder.reports.case_xml import CaseXml

# The properties of the many cases that have none: one shared, read-only mapping instead of a dict per case.
NO_PROPERTIES: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class CaseResult:
    node_id: str
    outcome: str  # passed | failed | error | skipped | xfailed
    seconds: float
    message: str = ""
    properties: Mapping[str, str] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None
    # Failed attempts before this result (Maven surefire's <flakyFailure>/<rerunFailure> children, and earlier
    # occurrences of the same id in the same suite): a case that passed with earlier failures is flaky.
    earlier_failures: int = 0
    # False when the report gave no usable time (missing, empty, unparseable): `seconds` is then 0.0, which a
    # merge may add up but a durations update must not take as an observation.
    timed: bool = True
    # False when the case has no name, classname or file: `node_id` is then made up to keep it apart from every
    # other case, and must not become a durations key.
    named: bool = True
    # The messages of the earlier occurrences folded into this one ("" for a bare one), for the merged report.
    folded_messages: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def shard(self) -> str | None:
        return self.properties.get(SHARD_PROPERTY)


@dataclass
class Report:
    """A report's cases, held as columns: each case's node id and seconds, and a `CaseResult` only for the cases
    that are not a plain pass (`special`, by position): a report of a million passing cases costs two lists, not a
    million records. `cases` gives every case as a `CaseResult`, for the readers that want them all."""

    path: str
    node_ids: list[str]
    seconds: list[float]
    # The cases that are not a plain pass (any result, property, file, line, earlier attempt, or no time or name),
    # by position; every other case is `CaseResult(node_ids[i], "passed", seconds[i], properties=NO_PROPERTIES)`.
    special: dict[int, CaseResult]
    suite_properties: dict[str, str]
    suite_timestamps: list[str] = field(default_factory=list)
    # Why the report's counters cannot be believed (see the module docstring), or None.
    contradiction: str | None = None
    # Each suite's own properties, root first, in document order: `suite_properties` folds them into one view
    # (the first suite's value wins), but a merged report holds one suite per shard, each with its own seed.
    suite_property_sets: list[dict[str, str]] = field(default_factory=list)
    # Each case's XML, in `cases` order, when `read_report` was asked to keep it.
    xml: CaseXml | None = field(default=None, repr=False, compare=False)

    @cached_property
    def cases(self) -> list[CaseResult]:
        special = self.special
        return [special.get(position) or plain_case(node_id, seconds)
                for position, (node_id, seconds) in enumerate(zip(self.node_ids, self.seconds, strict=True))]


def plain_case(node_id: str, seconds: float) -> CaseResult:
    """A case that passed and holds nothing: no result, no properties, no file or line, timed and named."""
    return CaseResult(node_id, "passed", seconds, "", NO_PROPERTIES)


# pytest writes an expected failure as `<skipped type="pytest.xfail">`: not a skip (the test ran and failed as
# expected), so it gets its own outcome and a merge can count it as pytest's summary does. A non-strict xpass is
# written as a plain passed case, with nothing to tell it apart; a strict xpass is a `<failure>`.
XFAIL_TYPE = "pytest.xfail"
EARLIER_FAILURE_TAGS = frozenset({"flakyFailure", "flakyError", "rerunFailure", "rerunError"})

# pytest writes a module skipped while it was collected (`pytest.importorskip` or `pytest.skip(...,
# allow_module_level=True)` at import) as a case named after the module, with this skip message. It is a file that
# held no test here, not a test: no plan lists it (a plan is made from collected tests), every shard that collects
# the file reports it, and it has no duration worth keeping. A collection error stays a failing case.
COLLECTION_SKIP_MESSAGE = "collection skipped"


def is_collection_skip(outcome: str, message: str) -> bool:
    """Whether a case, by its outcome and message as the reader gives them, is pytest's record of a module that
    skipped itself at collection."""
    return outcome == "skipped" and message == COLLECTION_SKIP_MESSAGE


_GROUPED_NUMBER = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", re.ASCII)


def parse_number(text: str | None) -> float | None:
    """A number as producers write it, or None. Maven Surefire formats times with the locale's grouping
    (`1,230.1`); a comma is taken as a thousands separator only where it cannot be a decimal comma: with a
    decimal point after the groups, or with several groups (`1,234,567`). `1,230` alone stays unreadable."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    if _GROUPED_NUMBER.fullmatch(text) and ("." in text or text.count(",") > 1):
        return float(text.replace(",", ""))
    return None


def optional_number(text: str | None) -> float | None:
    """An optional non-negative measurement (`sharder_peak_rss_mb`, `sharder_setup_seconds`): absent unless it is
    a finite number >= 0, so NaN or Infinity never reach a durations file (JSON has no spelling for them)."""
    value = parse_number(text)
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def mangling_index(known_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for node_id in known_ids:
        index.setdefault(forward_key(node_id), node_id)
    return index


class LazyManglingIndex(Mapping[tuple[str, str], str]):
    """`mangling_index` built on first use: sharder's own reports name every node id, so a merge of them never
    pays for turning 100,000 known ids into (classname, name) keys."""

    def __init__(self, known_ids: Iterable[str]) -> None:
        self._known_ids = known_ids
        self._index: dict[tuple[str, str], str] | None = None

    def built(self) -> dict[tuple[str, str], str]:
        """The index itself, for a reader that looks a million cases up (a plain dict's `get` runs at C speed)."""
        if self._index is None:
            self._index = mangling_index(self._known_ids)
        return self._index

    def __getitem__(self, key: tuple[str, str]) -> str:
        return self.built()[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.built())

    def __len__(self) -> int:
        return len(self.built())
