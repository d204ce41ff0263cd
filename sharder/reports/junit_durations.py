"""Durations from JUnit reports of any runner (`sharder record --from-junit`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from sharder.core.errors import SharderError
from sharder.core.junit_names import PEAK_RSS_PROPERTY, SETUP_PROPERTY
from sharder.durations import store
from sharder.reports.junit import Report, mangling_index, optional_number, read_report, report_files


@dataclass
class Recorded:
    """What `record --from-junit` took from the reports, and what it left out and why."""

    observations: int
    reports: int
    untimed: int = 0  # cases with no usable time: no observation, so no 0 s dragging the average down
    unnamed: int = 0  # cases with no name, classname or file: nothing to key a duration by


def observations_from_reports(reports: Sequence[Report]) -> tuple[dict[str, store.Observation], int, int]:
    """One observation per test (a test seen in several reports, reruns, keeps its last time), and how many
    cases had no usable time and no name."""
    observed: dict[str, store.Observation] = {}
    untimed = unnamed = 0
    for report in reports:
        for case in report.cases:
            if case.outcome == "skipped":
                continue  # a skip costs nothing now but says nothing of what the test costs when it runs
            if not case.named:
                unnamed += 1
                continue
            if not case.timed:
                untimed += 1
                continue
            observed[case.node_id] = store.Observation(
                seconds=case.seconds,
                setup_seconds=optional_number(case.properties.get(SETUP_PROPERTY)),
                peak_rss_mb=optional_number(case.properties.get(PEAK_RSS_PROPERTY)),
            )
    return observed, untimed, unnamed


def record_from_junit(paths: Sequence[str | os.PathLike[str]], durations_path: str | os.PathLike[str]) -> Recorded:
    """Blend the reports' times into the durations file. A report with no test case at all, or reports that
    give no time to record, are an error (exit 2): writing nothing and saying "0 durations" would look like
    success to a CI step that then plans from stale data."""
    recorded = store.load_durations_if_present(durations_path)
    index = mangling_index(recorded.tests)
    reports = [read_report(path, index) for path in report_files(paths)]
    for report in reports:
        if not report.cases:
            raise SharderError(f"report {report.path!r} holds no test cases; nothing to record")
    observations, untimed, unnamed = observations_from_reports(reports)
    if not observations:
        left_out = [f"{count} {why}" for count, why in ((untimed, "without a usable time"),
                                                        (unnamed, "without a name")) if count]
        detail = f" ({', '.join(left_out)})" if left_out else ""
        raise SharderError(f"the reports hold no test that ran with a usable time{detail}; durations left as they are")
    store.save_durations(durations_path, store.updated(recorded, observations))
    return Recorded(len(observations), len(reports), untimed, unnamed)
