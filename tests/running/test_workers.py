"""`--parallel auto` arithmetic and its inputs (pure functions; the end-to-end run is in test_modes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.planning.memory import parse_memory_size
from sharder.running.workers import AUTO, auto_workers, available_memory_mb, parse_parallel

pytestmark = pytest.mark.unit


def test_memory_caps_the_workers_below_the_cpus() -> None:
    choice = auto_workers(8, memory_mb=4000, memory_source="MemAvailable", safety=0.8, largest_peak_mb=1000,
                          heaviest_test="tests/t.py::big")
    assert choice.workers == 3  # floor(4000 x 0.8 / 1000) = 3 < 8 CPUs
    assert "MemAvailable 4000 MB x safety 0.8 = 3200 MB / largest recorded peak 1000.0 MB" in choice.explanation
    assert "tests/t.py::big" in choice.explanation and choice.explanation.endswith("-> 3 workers")


def test_cpus_cap_the_workers_when_memory_is_plenty() -> None:
    assert auto_workers(2, memory_mb=64000, memory_source="MemAvailable", largest_peak_mb=100).workers == 2


def test_at_least_one_worker_even_when_nothing_fits() -> None:
    choice = auto_workers(4, memory_mb=100, memory_source="memory budget", safety=1.0, largest_peak_mb=300)
    assert choice.workers == 1 and "not even one worker fits" in choice.explanation


@pytest.mark.parametrize(("memory", "peak", "why"), [(None, 100.0, "no memory information"),
                                                     (8000.0, None, "no recorded peak")])
def test_without_memory_figures_it_falls_back_to_cpus_and_says_so(memory: float | None, peak: float | None,
                                                                   why: str) -> None:
    choice = auto_workers(6, memory_mb=memory, memory_source="MemAvailable", largest_peak_mb=peak)
    assert choice.workers == 6 and why in choice.explanation and "CPU count" in choice.explanation


@pytest.mark.parametrize(("text", "expected"), [("auto", AUTO), ("AUTO", AUTO), ("1", 1), ("12", 12), (3, 3)])
def test_parse_parallel(text: str | int, expected: int | str) -> None:
    assert parse_parallel(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5", "", "٣", True])
def test_parse_parallel_rejects(text: str | int) -> None:
    with pytest.raises(SharderError, match="expected a whole number >= 1 or 'auto'"):
        parse_parallel(text)


@pytest.mark.parametrize(("text", "mb"), [("512", 512), ("512M", 512), ("2G", 2048), ("1.5GiB", 1536), ("1024k", 1)])
def test_memory_sizes(text: str, mb: float) -> None:
    assert parse_memory_size(text) == mb


@pytest.mark.parametrize("text", ["0", "lots", "-5G", "5X"])
def test_bad_memory_sizes(text: str) -> None:
    with pytest.raises(SharderError):
        parse_memory_size(text)


def test_available_memory_reads_memavailable(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    2048000 kB\n")
    assert available_memory_mb(meminfo) == 2000.0
    meminfo.write_text("MemTotal:       16000000 kB\n")  # an old kernel without MemAvailable
    assert available_memory_mb(meminfo) is None
    assert available_memory_mb(tmp_path / "absent") is None
