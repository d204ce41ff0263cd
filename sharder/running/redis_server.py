"""A private `redis-server` for a run that has no Redis of its own: `sharder local --queue` and the tests.

It listens on a Unix socket in a fresh directory only (`--port 0` turns TCP off), so nothing else on the machine
can reach it and no port can collide; it keeps nothing on disk (`--save ''`, no AOF); and it dies with the
process that started it, even a SIGKILLed one (PR_SET_PDEATHSIG, as `supervision` gives pytest).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from sharder.core.errors import SharderError
from sharder.running.supervision import _die_with_parent

REDIS_SERVER_ENV = "SHARDER_REDIS_SERVER"
START_TIMEOUT_SECONDS = 20.0


def find_redis_server() -> str | None:
    """`$SHARDER_REDIS_SERVER`, else `redis-server` (or Valkey's) on PATH, else Debian's path."""
    given = os.environ.get(REDIS_SERVER_ENV)
    if given:
        return given
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None


class RedisServer:
    """`with RedisServer() as server: server.url` is `unix:///…/redis.sock`, answering PING; stopped on exit."""

    def __init__(self, executable: str | None = None, directory: str | os.PathLike[str] | None = None) -> None:
        found = executable or find_redis_server()
        if found is None:
            raise SharderError("no redis-server found (install Debian's redis-server, or set $SHARDER_REDIS_SERVER)")
        self.executable = found
        self._own_dir = directory is None
        # A short path: a Unix socket's path is limited to about 107 bytes.
        self.directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="sharder-redis-"))
        self.socket = self.directory / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> RedisServer:
        argv = [self.executable, "--port", "0", "--unixsocket", os.fspath(self.socket), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", os.fspath(self.directory),
                "--loglevel", "warning"]
        log = open(self.directory / "redis.log", "wb")  # noqa: SIM115  # the child holds it; closed below
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, preexec_fn=_die_with_parent())
        except OSError as exc:
            raise SharderError(f"cannot start {self.executable}: {exc.strerror}") from None
        finally:
            log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import socket

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            if self.socket.exists():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    try:
                        probe.connect(os.fspath(self.socket))
                        probe.sendall(b"PING\r\n")
                        if probe.recv(16).startswith(b"+PONG"):
                            return
                    except OSError:
                        pass
            time.sleep(0.02)
        tail = (self.directory / "redis.log").read_text(errors="replace").strip().splitlines()[-1:]
        self.stop()
        raise SharderError(f"redis-server did not start: {tail[0] if tail else 'no output'}")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
