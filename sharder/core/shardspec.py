"""Parsing the `K/N` shard notation users type (1-based, as Playwright and Jest spell it)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from sharder.core.errors import SharderError

# ASCII digits only: str.isdigit() and int() accept other scripts' digits ("３/４"), which no CI would send
# and which would make two spellings of one shard.
_SHARD_PATTERN = re.compile(r"([0-9]{1,6})/([0-9]{1,6})", re.ASCII)


@dataclass(frozen=True, order=True)
class ShardSpec:
    """Shard `index` of `total`, with 1 <= index <= total."""

    index: int
    total: int

    def __post_init__(self) -> None:
        if self.total < 1:
            raise SharderError(f"shard count must be at least 1, got {self.total}")
        if not 1 <= self.index <= self.total:
            raise SharderError(f"shard {self.index}/{self.total} is out of range: shards are numbered 1..{self.total}")

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    @property
    def report_stem(self) -> str:
        """File stem for this shard's outputs, e.g. `shard-3-of-8`, safe in any directory."""
        return f"shard-{self.index}-of-{self.total}"


def parse_shard(text: str) -> ShardSpec:
    """Parse `K/N`; anything else (`0/4`, `5/4`, `a/b`, `1/4/2`, `-1/4`) is a `SharderError`."""
    match = _SHARD_PATTERN.fullmatch(text.strip())
    if match is None:
        raise SharderError(f"invalid shard {text!r}: expected K/N with 1 <= K <= N, for example 3/8")
    return ShardSpec(int(match.group(1)), int(match.group(2)))


def shard_argument(text: str) -> ShardSpec:
    """`parse_shard` as an argparse `type=` (pytest's and ours): errors become argparse's own."""
    try:
        return parse_shard(text)
    except SharderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_shard_count(text: str) -> int:
    """Parse a shard count N >= 1."""
    if not re.fullmatch(r"[0-9]{1,6}", text.strip(), re.ASCII) or int(text) < 1:
        raise SharderError(f"invalid shard count {text!r}: expected a whole number of at least 1")
    return int(text)
