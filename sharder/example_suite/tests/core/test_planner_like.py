import pytest


class TestSorting:
    def test_sorted(self, work):
        work(0.4)
        assert sorted([3, 1, 2]) == [1, 2, 3]

    def test_reverse(self, work):
        work(0.3)
        assert sorted([1, 2], reverse=True) == [2, 1]

    class TestNested:
        def test_inner(self, work):
            work(0.5)
            assert True

        @pytest.mark.parametrize("size", [10, 100, 1000])
        def test_sizes(self, work, size):
            work(size / 2000)
            assert len(list(range(size))) == size


class TestHeavy:
    def test_big_computation(self, work):
        work(2.0)
        assert sum(range(1000)) == 499500

    def test_medium(self, work):
        work(1.0)
        assert True
