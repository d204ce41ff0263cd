from __future__ import annotations

import os
import random

import shop


def test_yearly_report() -> None:
    """Recorded as the slowest test by far (durations.json), so a 2-shard plan gives it a shard of its own."""
    assert shop.slugify("Report 2024") == "report-2024"


def test_report_title() -> None:
    assert shop.slugify("Q1") == "q1"


def test_report_of_prices() -> None:
    assert shop.price_label(99).endswith(("EUR", "USD"))


def test_report_tax_column() -> None:
    assert shop.with_tax(10) == 12


def test_report_slug_of_empty_title() -> None:
    assert shop.slugify("") == ""


def test_report_sample_is_random() -> None:
    """Draws from `random`, which pytest-randomly reseeds before each test: with SHARDER_TEST_RANDOM_LOG set, the
    draw is logged, so a test can see that a replay on the recorded seed draws what the shard drew."""
    sample = random.randrange(10**9)
    log = os.environ.get("SHARDER_TEST_RANDOM_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{sample}\n")
    assert 0 <= sample < 10**9
