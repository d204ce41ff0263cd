"""Durations from JUnit reports of any runner (`sharder record --from-junit`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sharder.core.errors import SharderError
from sharder.core.junit_names import PEAK_RSS_PROPERTY, SETUP_PROPERTY
from sharder.core.nodeid import forward_key
from sharder.durations import store
from sharder.durations.history import LastUpdate, absorbed_after
from sharder.durations.outcomes import last_outcomes, now, with_outcomes
from sharder.durations.skips import last_skips
from sharder.durations.trust import UNNAMED, UNTIMED, NotUsed, unused_reason
from sharder.reports.inputs import report_identity
from sharder.reports.junit import Report, mangling_index, optional_number, read_report, report_files
from sharder.reports.junit_cases import is_collection_skip
from sharder.stores.update import update_durations


@dataclass
class Recorded:
    """What `record --from-junit` took from the reports, and what it left out and why."""

    observations: int
    reports: int
    not_used: NotUsed = field(default_factory=NotUsed)  # by reason: failed, errored, skipped, without a time...
    absorbed_before: int = 0  # reports the durations file had absorbed already: not counted again
    mapped: int = 0  # cases keyed `classname::name` by their report, stored under the collected node id
    renamed: int = 0  # records an earlier record left under such a key, moved to the node id
    unmapped: int = 0  # cases still keyed `classname::name`: no collected id turns forward into their key
    collect_error: str | None = None  # why the suite could not be collected here, when it could not

    @property
    def untimed(self) -> int:  # cases with no usable time: no observation, so no 0 s dragging the average down
        return self.not_used[UNTIMED]

    @property
    def unnamed(self) -> int:  # cases with no name, classname or file: nothing to key a duration by
        return self.not_used[UNNAMED]


def observations_from_reports(reports: Sequence[Report]) -> tuple[dict[str, store.Observation], NotUsed]:
    """One observation per test, its last run that passed with a usable time (`sharder.durations.trust`; a test
    seen in several reports, reruns, keeps its last passing time), and the tests left out, by reason."""
    observed: dict[str, store.Observation] = {}
    last_reason: dict[str, str] = {}
    for report in reports:
        for case in report.cases:
            reason = unused_reason(case.outcome, message=case.message, timed=case.timed, named=case.named)
            if reason is not None:
                last_reason[case.node_id] = reason
                continue
            observed[case.node_id] = store.Observation(
                seconds=case.seconds,
                setup_seconds=optional_number(case.properties.get(SETUP_PROPERTY)),
                peak_rss_mb=optional_number(case.properties.get(PEAK_RSS_PROPERTY)),
            )
    return observed, NotUsed(reason for node_id, reason in last_reason.items() if node_id not in observed)


def _is_node_id(key: str) -> bool:
    """A pytest node id names its file (`tests/test_x.py::test_y`); a JUnit key from attributes alone names a
    dotted classname (`tests.test_x::test_y`)."""
    file = key.partition("::")[0]
    return file.endswith(".py") or "/" in file


class _IdMap:
    """Keys `classname::name` to the collected node ids whose JUnit key they are (`forward_key`), collected once
    and only when a report has such keys: sharder's own reports name every node id."""

    def __init__(self, collect: Callable[[], Sequence[str]] | None) -> None:
        self._collect = collect
        self._map: dict[str, str] | None = None
        self.error: str | None = None

    def get(self) -> dict[str, str]:
        if self._map is None:
            self._map = {}
            if self._collect is not None:
                try:
                    collected = self._collect()
                except SharderError as exc:
                    self.error = str(exc)
                    collected = []
                for node_id in collected:
                    self._map.setdefault("::".join(forward_key(node_id)), node_id)
        return self._map


def record_from_junit(paths: Sequence[str | os.PathLike[str]], durations_path: str | os.PathLike[str],
                      collect: Callable[[], Sequence[str]] | None = None) -> Recorded:
    """Blend the reports' times into the durations file, under its lock. A report with no test case at all, or
    reports that give no time to record, are an error (exit 2): writing nothing and saying "0 durations" would
    look like success to a CI step that then plans from stale data. Reports the file absorbed before change
    nothing; it never prunes (reports of another runner say nothing of what a collection would yield).

    A case the report keys `classname::name` (plain pytest, unittest, nose2), with no recorded id to map it to,
    is stored under the node id `collect()` yields for it (a `pytest --collect-only` here), which `plan` and
    `matrix` then name in a form pytest takes; records an earlier record left under such keys move to their ids.
    Without a collection (none given, or it failed) the keys stay as written, and plans still match them."""
    files = report_files(paths)
    id_map = _IdMap(collect)

    def change(recorded: store.Durations) -> tuple[store.Durations | None, Recorded]:
        index = mangling_index(recorded.tests)
        reports = [read_report(path, index) for path in files]
        for report in reports:
            if not report.cases:
                raise SharderError(f"report {report.path!r} holds no test cases; nothing to record")
        identities = [report_identity(report) for report in reports]
        known = set(recorded.absorbed)
        fresh = [report for report, identity in zip(reports, identities, strict=True) if identity not in known]
        if not fresh:
            return None, Recorded(0, len(reports), absorbed_before=len(reports))
        keys = {case.node_id for report in fresh for case in report.cases if case.named}
        foreign = {key for key in keys if not _is_node_id(key)}
        if foreign:  # the store's own such keys move too, now that the suite is collected
            foreign.update(key for key in [*recorded.tests, *recorded.skipped] if not _is_node_id(key))
        to_id = {key: id_map.get()[key] for key in foreign if key in id_map.get()} if foreign else {}
        recorded, renamed = _renamed(recorded, to_id)
        for report in fresh:  # read here, for this update alone: their cases may take their ids
            for case in report.cases:
                case.node_id = to_id.get(case.node_id, case.node_id)
        observations, not_used = observations_from_reports(fresh)
        if not observations:
            left_out = not_used.describe("case")
            detail = f" ({left_out})" if left_out else ""
            raise SharderError(
                f"the reports hold no test that passed with a usable time{detail}; durations left as they are")
        skipped = last_skips((case.node_id, case.outcome, case.seconds,
                              case.timed and case.named and not is_collection_skip(case.outcome, case.message))
                             for report in fresh for case in report.cases)
        updated = store.updated(recorded, observations, skipped=skipped)
        seen = last_outcomes((case.node_id, case.outcome) for report in fresh for case in report.cases if case.named)
        durations = replace(
            updated,
            outcomes=with_outcomes(updated.outcomes, seen, now()),
            absorbed=absorbed_after(recorded.absorbed, identities),
            last_update=LastUpdate("record --from-junit", len(observations), 0, None),
        )
        mapped = len(keys & to_id.keys())
        return durations, Recorded(len(observations), len(reports), not_used, len(reports) - len(fresh), mapped,
                                   renamed, len((keys & foreign) - to_id.keys()), id_map.error)

    return update_durations(durations_path, change)


def _renamed(recorded: store.Durations, to_id: dict[str, str]) -> tuple[store.Durations, int]:
    """The store with each record kept under a `classname::name` key moved to its node id, unless that id has a
    record of its own (which is then the one that stays); and how many moved. A skip kept under such a key
    (`sharder.durations.skips`) moves the same way, unless its id has a record or a skip of its own."""
    skipped = {to_id.get(key, key): seconds for key, seconds in recorded.skipped.items()
               if key not in to_id or to_id[key] not in recorded.skipped}
    skipped = {node_id: seconds for node_id, seconds in skipped.items() if node_id not in recorded.tests}
    recorded = replace(recorded, skipped=skipped)
    moving = {key: node_id for key, node_id in to_id.items() if key in recorded.tests}
    if not moving:
        return recorded, 0
    tests: dict[str, store.TestTiming] = {}
    for key, timing in recorded.tests.items():
        node_id = moving.get(key)
        if node_id is None:
            tests.setdefault(key, timing)
        elif node_id not in recorded.tests:
            tests[node_id] = timing
    outcomes = {moving.get(key, key): last for key, last in recorded.outcomes.items()
                if moving.get(key) not in recorded.outcomes}
    moved = sum(node_id not in recorded.tests for node_id in moving.values())
    return replace(recorded, tests=tests, outcomes=outcomes), moved
