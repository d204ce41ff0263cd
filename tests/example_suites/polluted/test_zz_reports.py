from __future__ import annotations

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
