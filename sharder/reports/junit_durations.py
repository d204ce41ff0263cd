"""Durations from JUnit reports of any runner (`sharder record --from-junit`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sharder.core.errors import SharderError
from sharder.core.junit_names import PEAK_RSS_PROPERTY, SETUP_PROPERTY
from sharder.durations import store
from sharder.durations.history import LastUpdate, absorbed_after
from sharder.durations.outcomes import last_outcomes, now, with_outcomes
from sharder.durations.trust import UNNAMED, UNTIMED, NotUsed, unused_reason
from sharder.reports.inputs import report_identity
from sharder.reports.junit import Report, mangling_index, optional_number, read_report, report_files
from sharder.stores.update import update_durations


@dataclass
class Recorded:
    """What `record --from-junit` took from the reports, and what it left out and why."""

    observations: int
    reports: int
    not_used: NotUsed = field(default_factory=NotUsed)  # by reason: failed, errored, skipped, without a time...
    absorbed_before: int = 0  # reports the durations file had absorbed already: not counted again

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


def record_from_junit(paths: Sequence[str | os.PathLike[str]], durations_path: str | os.PathLike[str]) -> Recorded:
    """Blend the reports' times into the durations file, under its lock. A report with no test case at all, or
    reports that give no time to record, are an error (exit 2): writing nothing and saying "0 durations" would
    look like success to a CI step that then plans from stale data. Reports the file absorbed before change
    nothing; it never prunes (reports of another runner say nothing of what a collection would yield)."""
    files = report_files(paths)

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
        observations, not_used = observations_from_reports(fresh)
        if not observations:
            left_out = not_used.describe("case")
            detail = f" ({left_out})" if left_out else ""
            raise SharderError(
                f"the reports hold no test that passed with a usable time{detail}; durations left as they are")
        updated = store.updated(recorded, observations)
        seen = last_outcomes((case.node_id, case.outcome) for report in fresh for case in report.cases if case.named)
        durations = replace(
            updated,
            outcomes=with_outcomes(updated.outcomes, seen, now()),
            absorbed=absorbed_after(recorded.absorbed, identities),
            last_update=LastUpdate("record --from-junit", len(observations), 0, None),
        )
        return durations, Recorded(len(observations), len(reports), not_used, len(reports) - len(fresh))

    return update_durations(durations_path, change)
