from __future__ import annotations

import pytest
import shop


@pytest.mark.parametrize("title, slug", [("Red Mug", "red-mug"), ("Blue  Bowl", "blue-bowl"), ("Tea", "tea")])
def test_catalog_slugs(title: str, slug: str) -> None:
    assert shop.slugify(title) == slug


def test_catalog_tax() -> None:
    assert shop.with_tax(1000) == 1200


def test_enable_prepaid() -> None:
    shop.FEATURES.add("prepaid")  # left on: the other half of what breaks test_standard_checkout
    assert "prepaid" in shop.FEATURES


def test_catalog_label_has_two_decimals() -> None:
    assert shop.price_label(5).split()[0] == "0.05"


class TestCatalogSearch:
    def test_lowercases(self) -> None:
        assert shop.slugify("MUG") == "mug"

    def test_keeps_digits(self) -> None:
        assert shop.slugify("Mug 2") == "mug-2"
