"""Durations from JUnit reports of any runner (`sharder record --from-junit`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sharder import durations as store
from sharder.junit import Report, mangling_index, read_report, report_files
from sharder.junit_names import PEAK_RSS_PROPERTY, SETUP_PROPERTY


def _optional_float(text: str | None) -> float | None:
    try:
        return None if text is None else max(float(text), 0.0)
    except ValueError:
        return None


def observations_from_reports(reports: Sequence[Report]) -> dict[str, store.Observation]:
    """One observation per test; a test seen in several reports (reruns) keeps its last time."""
    observed: dict[str, store.Observation] = {}
    for report in reports:
        for case in report.cases:
            if case.outcome == "skipped":
                continue  # a skip costs nothing now but says nothing of what the test costs when it runs
            observed[case.node_id] = store.Observation(
                seconds=case.seconds,
                setup_seconds=_optional_float(case.properties.get(SETUP_PROPERTY)),
                peak_rss_mb=_optional_float(case.properties.get(PEAK_RSS_PROPERTY)),
            )
    return observed


def record_from_junit(paths: Sequence[str | os.PathLike[str]], durations_path: str | os.PathLike[str]) -> int:
    recorded = store.load_durations_if_present(durations_path)
    index = mangling_index(recorded.tests)
    reports = [read_report(path, index) for path in report_files(paths)]
    observations = observations_from_reports(reports)
    store.save_durations(durations_path, store.updated(recorded, observations))
    return len(observations)
