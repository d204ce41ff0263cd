"""The `cleanup` registry and the `fresh` helpers: what a test opened is closed when it ends, in reverse order.

Teardown never stops at the first error: every step runs, and the errors are raised together afterwards as one
`CleanupError`, which pytest reports as a teardown error beside the test's own outcome (a failing test stays a
failure, a passing one gets "1 passed, 1 error"), so a broken close() is seen without hiding what the test did.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


class CleanupError(Exception):
    """One or more cleanup steps of a test failed; the message lists each, the first is the `__cause__`."""


@dataclass
class _Step:
    what: str
    action: Callable[[], object]
    loop: asyncio.AbstractEventLoop | None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _describe(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__qualname__


def _await(result: Awaitable[object], loop: asyncio.AbstractEventLoop | None) -> None:
    """Finish an `aclose()` on the loop the object was registered from, if it is still usable.

    An async resource belongs to its loop (a connection's transport does): closing it on a new loop fails or
    leaks. So: the registering loop if open and idle, else a private loop (the object's loop is gone anyway).
    """
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.run_until_complete(result)
        return
    if _running_loop() is not None:
        raise RuntimeError("cannot await aclose() from inside a running event loop; use cleanup.add() with a sync "
                           "callback, or close the object in an async fixture")
    asyncio.run(_as_coroutine(result))


async def _as_coroutine(result: Awaitable[object]) -> object:
    return await result


class Cleanup:
    """Collects what a test must release. `register(obj)` closes obj, `add(fn, *args)` calls fn, last in first out."""

    def __init__(self) -> None:
        self._steps: list[_Step] = []

    def register(self, obj: T) -> T:
        """Close `obj` at teardown with `aclose()` (awaited) or `close()`; returns obj, so it reads inline."""
        if callable(getattr(obj, "aclose", None)):
            closer = obj.aclose  # type: ignore[attr-defined]
        elif callable(getattr(obj, "close", None)):
            closer = obj.close  # type: ignore[attr-defined]
        else:
            raise TypeError(f"cleanup.register: {type(obj).__qualname__} has neither close() nor aclose(); "
                            "use cleanup.add(callback) for it")
        self._steps.append(_Step(f"{_describe(closer)}()", closer, _running_loop()))
        return obj

    def add(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Call `callback(*args, **kwargs)` at teardown (a coroutine function is awaited)."""
        if not callable(callback):
            raise TypeError(f"cleanup.add: {callback!r} is not callable")
        self._steps.append(_Step(f"{_describe(callback)}()", lambda: callback(*args, **kwargs), _running_loop()))

    def __len__(self) -> int:
        return len(self._steps)

    def run(self) -> None:
        """Run every step in reverse order; raise one CleanupError naming all that failed."""
        failures: list[tuple[str, BaseException]] = []
        while self._steps:
            step = self._steps.pop()
            try:
                result = step.action()
                if inspect.isawaitable(result):
                    _await(result, step.loop)
            except Exception as exc:  # every step runs; errors are reported together below
                failures.append((step.what, exc))
        if failures:
            lines = [f"{len(failures)} cleanup step(s) failed:"]
            for what, error in failures:
                lines.append(f"- {what}: {type(error).__name__}: {error}")
                lines.extend("    " + line for line in traceback.format_exception(error)[-3:-1])
            raise CleanupError("\n".join(lines)) from failures[0][1]


class Fresh:
    """`fresh(Factory, *args)`: a new object for this test only, closed at teardown when it can be closed."""

    def __init__(self, cleanup: Cleanup) -> None:
        self._cleanup = cleanup

    def __call__(self, factory: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        made = factory(*args, **kwargs)
        if callable(getattr(made, "aclose", None)) or callable(getattr(made, "close", None)):
            self._cleanup.register(made)
        return made


def fresh_fixture(factory: Callable[..., T], *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """A function-scoped fixture giving each test its own `factory(*args, **kwargs)`, closed after it.

    Replaces the module-level "one store for the whole suite" that grows with every test::

        store = fresh_fixture(Store, capacity=10)   # in a conftest.py or test module
    """

    def _fixture() -> Iterator[T]:
        cleanup = Cleanup()
        yield Fresh(cleanup)(factory, *args, **kwargs)
        cleanup.run()

    _fixture.__name__ = name or getattr(factory, "__name__", "fresh_object").lower()
    _fixture.__doc__ = f"A new {_describe(factory)} for each test, closed at its teardown (conftest_lib.fresh_fixture)."
    return pytest.fixture(name=name)(_fixture) if name else pytest.fixture(_fixture)
