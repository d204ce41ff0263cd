from __future__ import annotations

import shop


def test_tax_on_a_round_price() -> None:
    assert shop.with_tax(500) == 600


def test_price_label_in_euros() -> None:
    assert shop.price_label(1250) == "12.50 EUR"  # the victim of test_switch_account_to_dollars


def test_tax_rounds() -> None:
    assert shop.with_tax(3) == 4


def test_region_defaults_to_eu() -> None:
    assert shop.region() == "eu"


def test_label_of_large_prices() -> None:
    assert shop.price_label(123456).startswith("1234.56")


def test_standard_checkout() -> None:
    assert shop.checkout_mode() == "standard"  # the victim of fast-lane and prepaid together


def test_tax_of_zero() -> None:
    assert shop.with_tax(0) == 0


def test_label_is_a_string() -> None:
    assert isinstance(shop.price_label(1), str)
