"""The code under test: a shop whose settings live in module globals, the kind of state tests pollute."""

from __future__ import annotations

import os

SETTINGS: dict[str, object] = {"currency": "EUR", "tax_rate": 0.2}
FEATURES: set[str] = set()


def price_label(cents: int) -> str:
    return f"{cents / 100:.2f} {SETTINGS['currency']}"


def with_tax(cents: int) -> int:
    rate = SETTINGS["tax_rate"]
    assert isinstance(rate, float)
    return round(cents * (1 + rate))


def region() -> str:
    """Read from the environment: a test of it passes or fails with the machine, not with the tests before it."""
    return os.environ.get("SHOP_REGION", "eu")


def checkout_mode() -> str:
    """Express checkout needs two features at once, so only two tests together can switch it on."""
    return "express" if {"fast-lane", "prepaid"} <= FEATURES else "standard"


def slugify(title: str) -> str:
    return "-".join(title.lower().split())
