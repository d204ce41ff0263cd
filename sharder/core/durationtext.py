"""Durations as people type them on a command line or in a workflow: `10m`, `1h30m`, `90s`, `2.5m`, `45`.

A bare number means seconds (as `timeout` and pytest's own `--timeout` read it). Units go largest first, each at
most once (`1h30m`, not `30m1h` nor `5m5m`), so one text has one reading. ASCII digits only: a duration that
reaches us from a CI variable should not parse differently because another script's digits slipped in.
"""

from __future__ import annotations

import argparse
import math
import re

from sharder.core.errors import SharderError

_NUMBER = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_DURATION_PATTERN = re.compile(
    rf"(?:(?P<h>{_NUMBER})h)?\s*(?:(?P<m>{_NUMBER})m)?\s*(?:(?P<s>{_NUMBER})s)?", re.ASCII | re.IGNORECASE
)
_BARE_SECONDS = re.compile(_NUMBER, re.ASCII)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
# A week: no CI job runs longer; a larger figure is a typo (10000m for 10m) that would silently mean "one shard".
MAX_SECONDS = 7 * 24 * 3600.0


def parse_duration(text: str) -> float:
    """Seconds in `text`; anything else (`""`, `10x`, `-5m`, `m`, `30m1h`, `1e3`, `inf`) is a `SharderError`."""
    stripped = text.strip()
    if _BARE_SECONDS.fullmatch(stripped):
        seconds = float(stripped)
    else:
        match = _DURATION_PATTERN.fullmatch(stripped)
        if not stripped or match is None or not any(match.groupdict().values()):
            raise SharderError(
                f"invalid duration {text!r}: expected for example 10m, 1h30m, 90s or 45 (seconds)")
        seconds = math.fsum(float(value) * _UNIT_SECONDS[unit] for unit, value in match.groupdict().items() if value)
    if seconds > MAX_SECONDS:
        raise SharderError(f"duration {text!r} is longer than a week; no CI job runs that long")
    return seconds


def duration_argument(text: str) -> float:
    """`parse_duration` as an argparse `type=`."""
    try:
        return parse_duration(text)
    except SharderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def format_duration(seconds: float) -> str:
    """The shortest text `parse_duration` reads back as `seconds` (whole seconds): `1h30m`, `10m`, `45s`, `0s`."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value]
    return "".join(parts) or "0s"
