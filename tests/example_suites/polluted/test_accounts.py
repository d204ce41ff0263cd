from __future__ import annotations

import shop


def test_new_account_has_no_features() -> None:
    assert "express" not in shop.FEATURES


def test_enable_fast_lane() -> None:
    shop.FEATURES.add("fast-lane")  # left on: half of what breaks test_standard_checkout
    assert "fast-lane" in shop.FEATURES


def test_account_slug() -> None:
    assert shop.slugify("Ada Lovelace") == "ada-lovelace"


def test_switch_account_to_dollars() -> None:
    shop.SETTINGS["currency"] = "USD"  # the polluter: never restored
    assert shop.price_label(100) == "1.00 USD"


def test_account_tax_is_positive() -> None:
    assert shop.with_tax(100) > 100


def test_account_label_of_zero() -> None:
    assert shop.price_label(0).startswith("0.00")


def test_account_slug_collapses_spaces() -> None:
    assert shop.slugify("a   b") == "a-b"


def test_account_region_is_known() -> None:
    assert shop.region() in {"eu", "us"}
