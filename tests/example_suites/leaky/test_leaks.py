"""Four leaks, each repeated; every leaked chunk is LEAKY_MB of memory that has really been written to."""

from __future__ import annotations

import asyncio
import gc
import os
from typing import Any, ClassVar

import pytest

CHUNK_MB = int(os.environ.get("LEAKY_MB", "40"))
REPEAT = int(os.environ.get("LEAKY_REPEAT", "6"))


def touched(mb: int) -> bytes:
    return b"\x01" * (mb << 20)  # written, so resident (a bytearray(n) would map zero pages and stay small)


_CACHE: list[bytes] = []  # a module-level cache every test adds to


@pytest.mark.parametrize("i", range(REPEAT))
def test_module_cache(i: int, cleanup: Any) -> None:
    _CACHE.append(touched(CHUNK_MB))
    cleanup.add(_CACHE.clear)


class Node:
    def __init__(self) -> None:
        self.partner: Node | None = None
        self.payload: bytes | None = None


@pytest.mark.parametrize("i", range(REPEAT))
def test_reference_cycle(i: int) -> None:
    first, second = Node(), Node()
    first.partner, second.partner = second, first
    first.payload = touched(CHUNK_MB)  # freed only when the cycle collector runs
    # A long test's own allocations move its live objects to the oldest generation; done here at once (a young
    # collection: the earlier tests' cycles, already garbage in the oldest one, stay), so that this cycle, garbage
    # from the return on, waits for a full collection, which a big heap rarely triggers. Left young, it was freed
    # or not by whichever young collection pytest's next allocations happened to start.
    gc.collect(1)


async def _hold(buffer: bytes) -> None:
    await asyncio.sleep(3600)


@pytest.mark.parametrize("i", range(REPEAT))
def test_pending_task(i: int) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.create_task(_hold(touched(CHUNK_MB)))  # noqa: RUF006  # the leak: never awaited, loop never closed
    loop.run_until_complete(asyncio.sleep(0))


class Connection:
    open_connections: ClassVar[list[Connection]] = []  # a pool that keeps every open connection

    def __init__(self) -> None:
        self.buffer: bytes | None = touched(CHUNK_MB)
        Connection.open_connections.append(self)

    def close(self) -> None:
        Connection.open_connections.remove(self)
        self.buffer = None


@pytest.mark.parametrize("i", range(REPEAT))
def test_unclosed_object(i: int, cleanup: Any) -> None:
    cleanup.register(Connection())


_FORGOTTEN: list[bytes] = []


def test_forgotten_cache() -> None:
    """A leak no fixture can undo: conftest_lib names this test in its memory-growth warning."""
    _FORGOTTEN.append(touched(CHUNK_MB))
