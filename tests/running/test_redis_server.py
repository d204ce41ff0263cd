"""The private redis-server: a Unix socket only, nothing on disk, gone when it is stopped or its parent dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sharder.running.redis_server import RedisServer, find_redis_server

pytestmark = pytest.mark.skipif(find_redis_server() is None and os.environ.get("SHARDER_REQUIRE_REDIS") != "1",
                                reason="no redis-server on this machine")

PARENT = """
import sys, time
from sharder.running.redis_server import RedisServer
server = RedisServer().start()
print(server.process.pid, server.socket, flush=True)
time.sleep(600)
"""


def test_it_serves_on_a_socket_and_is_gone_after_stop() -> None:
    import redis

    with RedisServer() as server:
        assert redis.Redis.from_url(server.url).ping()
        process, directory = server.process, server.directory
        assert process is not None
    assert process.poll() is not None and not directory.exists()


def test_it_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                                     os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, env=env)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline().split()[0])
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(500):  # a bound on waiting for the kernel's PDEATHSIG, not a timing assertion
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("redis-server outlived its parent")
