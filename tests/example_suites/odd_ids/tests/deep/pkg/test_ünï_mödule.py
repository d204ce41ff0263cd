"""A test module whose file name is not ASCII, deep in a package."""

import time


def test_heavy_tail():
    # The heavy tail: one test much longer than the rest, so it must get a shard of its own.
    time.sleep(0.3)


def test_light():
    pass
