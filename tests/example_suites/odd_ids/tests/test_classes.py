"""Nested classes three deep, a class-level parametrization, and a method name repeated at every level."""

import pytest


class TestOuter:
    def test_same(self):
        pass

    class TestMiddle:
        def test_same(self):
            pass

        class TestInner:
            def test_same(self, warm_cache):
                assert warm_cache["ready"]

            @pytest.mark.parametrize("n", [1, 2, 3])
            def test_numbers(self, n):
                assert n > 0


@pytest.mark.parametrize("flavour", ["vanilla", "choc::olate"])
class TestParametrizedClass:
    def test_one(self, flavour):
        assert flavour

    def test_two(self, flavour):
        assert flavour
