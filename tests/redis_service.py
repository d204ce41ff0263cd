"""A real redis-server for the queue tests: one per test session (each xdist worker its own), on a Unix socket in
a temporary directory, started by sharder's own launcher (`sharder.running.redis_server`); each test gets a fresh
queue namespace on it, so tests never see each other's keys.

No redis-server on this machine: the tests that need it are skipped, unless `SHARDER_REQUIRE_REDIS=1` (set by
`.ci/run`), where a missing server fails them: CI must never pass by skipping queue mode.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sharder.running.redis_server import RedisServer, find_redis_server

REQUIRE_ENV = "SHARDER_REQUIRE_REDIS"


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if find_redis_server() is None:
        _missing("no redis-server on this machine")
    try:
        import redis  # noqa: F401
    except ImportError:
        _missing("the redis client is not installed")
    # tmp_path_factory's paths can exceed a Unix socket's 107 bytes; RedisServer makes a short one of its own.
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def queue_namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"
