from __future__ import annotations

import pytest
import shop


@pytest.mark.parametrize("weight", [1, 2, 5, 10])
def test_shipping_slug_is_stable(weight: int) -> None:
    assert shop.slugify(f"parcel {weight} kg") == f"parcel-{weight}-kg"


def test_shipping_tax() -> None:
    assert shop.with_tax(250) == 300


def test_shipping_region() -> None:
    assert shop.region()


def test_shipping_has_no_express_by_default() -> None:
    assert shop.checkout_mode() in {"standard", "express"}
