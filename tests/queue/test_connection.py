"""The queue URL: checked, its password never printed, and an unreachable Redis one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.queue.connection import check_url, connect, redacted
from sharder.queue.lease_queue import QueueUnreachable
from sharder.running.redis_server import RedisServer


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:s3cret@cache:6379/0", "redis://***@cache:6379/0"),
    ("redis://ci:s3cret@cache:6379/0", "redis://ci:***@cache:6379/0"),
    ("rediss://cache:6380/1?password=s3cret&ssl_cert_reqs=none", "rediss://cache:6380/1?password=***&ssl_cert_reqs=none"),
    ("unix:///tmp/r.sock", "unix:///tmp/r.sock"),
])
def test_a_password_never_shows(url: str, shown: str) -> None:
    assert redacted(url) == shown and "s3cret" not in redacted(url)


def test_a_url_that_is_not_redis_is_refused_without_its_password() -> None:
    with pytest.raises(SharderError, match="expected redis://") as refused:
        check_url("http://user:s3cret@example.org/")
    assert "s3cret" not in str(refused.value)


def test_an_unreachable_redis_is_one_line_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(QueueUnreachable, match="did not answer") as refused:
        connect(f"unix://{tmp_path}/none.sock", timeout=1)
    assert "\n" not in str(refused.value)
    with pytest.raises(QueueUnreachable) as refused:
        connect("redis://:s3cret@127.0.0.1:1/0", timeout=1)
    assert "s3cret" not in str(refused.value)


def test_a_reachable_redis_answers(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    assert client.ping() is True
