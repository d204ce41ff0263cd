"""Module-scoped fixture with a real one-off cost, as a database or app fixture would have."""

import time

import pytest


@pytest.fixture(scope="module")
def warm_cache():
    time.sleep(0.05)
    return {"ready": True}
