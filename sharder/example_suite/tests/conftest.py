import os
import time

import pytest

SCALE = float(os.environ.get("SHARDER_EXAMPLE_TIME_SCALE", "1"))


@pytest.fixture
def work():
    """Stand-in for real work: sleeps the given seconds, scaled by SHARDER_EXAMPLE_TIME_SCALE."""

    def run(seconds: float) -> None:
        time.sleep(seconds * SCALE)

    return run
