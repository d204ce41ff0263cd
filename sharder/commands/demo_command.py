"""`sharder demo`: copy the bundled example suite somewhere and run `sharder local` on it."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from sharder.commands.common import shard_count_arg


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="run sharder's main job on its bundled example suite",
        description="Copies the example suite (35 tests, about 12 s in one job) to DIR and runs every shard.",
    )
    parser.add_argument("directory", nargs="?", metavar="DIR", help="where to copy the example (default: a temp dir)")
    parser.add_argument("--shards", type=shard_count_arg, default=3, metavar="N", help="number of shards (default 3)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sharder.commands.local_command import run_in
    from sharder.example import copy_example

    directory = Path(args.directory) if args.directory else Path(tempfile.mkdtemp(prefix="sharder-demo-"))
    copy_example(directory)
    print(f"sharder demo: example suite copied to {directory}", flush=True)
    return run_in(directory, args.shards)
