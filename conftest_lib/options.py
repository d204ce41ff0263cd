"""conftest_lib's ini options, declared by whichever of its modules pytest loads first (declaring twice is fine)."""

from __future__ import annotations

import pytest

ENABLE_INI = "conftest_lib"
GC_INI = "conftest_lib_gc"
GROWTH_INI = "conftest_lib_rss_growth_mb"
ASYNCIO_INI = "conftest_lib_asyncio"

GC_MODES = ("test", "module", "off")
DEFAULT_GROWTH_MB = 50.0


def add_ini(parser: pytest.Parser) -> None:
    parser.addini(ENABLE_INI, type="bool", default=False,
                  help="conftest_lib: turn the cleanup plugin on for this suite (it is off when only installed)")
    parser.addini(GC_INI, default="test",
                  help="conftest_lib: gc.collect() after every 'test' (default), once per 'module', or 'off'")
    parser.addini(GROWTH_INI, default=str(DEFAULT_GROWTH_MB),
                  help="conftest_lib: warn when resident memory grew by more than this many MB across a test and "
                  "stayed after its teardown and gc (0: never)")
    parser.addini(ASYNCIO_INI, type="bool", default=True,
                  help="conftest_lib: cancel tasks and close event loops a test left behind, and warn (default true)")


def gc_mode(config: pytest.Config) -> str:
    mode = str(config.getini(GC_INI)).strip().lower()
    if mode not in GC_MODES:
        raise pytest.UsageError(f"{GC_INI} = {mode!r}: expected one of {', '.join(GC_MODES)}")
    return mode


def growth_threshold_mb(config: pytest.Config) -> float:
    text = str(config.getini(GROWTH_INI)).strip()
    try:
        value = float(text)
    except ValueError:
        raise pytest.UsageError(f"{GROWTH_INI} = {text!r}: expected a number of MB (0 turns the warning off)") from None
    if not value >= 0 or value == float("inf"):
        raise pytest.UsageError(f"{GROWTH_INI} = {text!r}: expected a finite number of MB >= 0")
    return value
