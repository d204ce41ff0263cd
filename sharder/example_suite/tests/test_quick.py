import pytest


def test_addition(work):
    work(0.02)
    assert 1 + 1 == 2


def test_strings(work):
    work(0.03)
    assert "shard".upper() == "SHARD"


@pytest.mark.parametrize("n", range(8))
def test_squares(work, n):
    work(0.01 * (n + 1))
    assert n * n >= 0


@pytest.mark.parametrize("text", ["http://host/path", "a::b", "ünïcødé", "[brackets]"])
def test_odd_ids(work, text):
    work(0.05)
    assert text
