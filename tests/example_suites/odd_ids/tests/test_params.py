"""Parametrized ids that look like node-id syntax: '::', '/', brackets, spaces, unicode, an empty string."""

import pytest

ODD = ["a::b", "x/y/z.py", "[nested]", "sp ace", "ünïcødé", "日本語", "", "tab\there", "-1", "a::b::c[d]"]


@pytest.mark.parametrize("value", ODD)
def test_value(value):
    assert isinstance(value, str)


@pytest.mark.parametrize("left", [1, 2])
@pytest.mark.parametrize("right", ["::", "/"])
def test_matrix(left, right):
    assert left and right


@pytest.mark.parametrize("value", [0, 1], ids=["id with::colons", "id/with/slashes"])
def test_explicit_ids(value):
    assert value in (0, 1)
