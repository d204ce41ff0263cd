import pytest


@pytest.mark.parametrize("step", range(6))
def test_pipeline_step(work, step):
    work(0.15 + 0.05 * step)
    assert step >= 0


def test_longest(work):
    work(2.5)
    assert True
