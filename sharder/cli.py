"""Command-line wiring only: argparse, one module per command under `sharder/commands/`.

`main(argv) -> int`. A `SharderError` anywhere becomes one line on stderr and exit 2; a `Cancelled` (SIGTERM,
SIGHUP or SIGINT while pytest ran) one line and exit 128 + the signal; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from sharder import __version__
from sharder.commands import COMMANDS
from sharder.core.errors import Cancelled, SharderError
from sharder.core.log_text import log_safe

USAGE_ERROR = 2
# The commands that run or collect the suite: each takes `[tool.sharder] pytest_args` when nothing follows `--`.
PYTEST_COMMANDS = frozenset({"record", "plan", "matrix", "run", "replay", "local"})


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (the full usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def split_pytest_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Everything after the first `--` goes to pytest untouched."""
    argv = list(argv)
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="sharder",
        description="Split a pytest suite into balanced CI shards, run them, merge their reports.",
        epilog="Arguments after `--` are passed to pytest.",
    )
    parser.add_argument("--version", action="version", version=f"sharder {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    own_args, pytest_args = split_pytest_args(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(own_args)
    args.pytest_args = pytest_args
    args.pytest_args_source = "the command line" if pytest_args else None
    try:
        if args.command in PYTEST_COMMANDS and not pytest_args:
            _apply_configured_pytest_args(args)
        code: int = args.func(args)
    except SharderError as exc:
        # The message may quote a node id, a report's name or its text: one line, no workflow command in it.
        print(f"sharder {args.command}: error: {log_safe(str(exc))}", file=sys.stderr)
        return USAGE_ERROR
    except Cancelled as exc:  # a CI cancel, passed on to pytest's whole process group, which is gone now
        print(f"sharder {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"sharder {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


def _apply_configured_pytest_args(args: argparse.Namespace) -> None:
    """`[tool.sharder] pytest_args` for a command given none after `--`, said once on stderr (stdout may be a
    matrix a shell captures)."""
    from sharder.core.command_text import command_text
    from sharder.stores.pyproject import resolve_pytest_args

    resolved = resolve_pytest_args([])
    if resolved.args:
        args.pytest_args, args.pytest_args_source = resolved.args, resolved.source
        print(f"sharder {args.command}: pytest arguments from {resolved.source} [tool.sharder]: "
              f"{command_text(resolved.args)}", file=sys.stderr)


# What a shell reports for a process that SIGPIPE ended (128 + 13), as `head` closing a pipe ends `cat`.
BROKEN_PIPE_EXIT = 141


def entry_point() -> NoReturn:
    """`sharder` as a program: a reader that closes the pipe early (`sharder plan ... | head -1`) ends it quietly.

    Every file sharder writes is written before its table is printed, so nothing is lost; without this, Python
    prints a BrokenPipeError traceback, and another at exit when it flushes stdout again (hence the dup2 of
    /dev/null over stdout, as Python's documentation on SIGPIPE advises).
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = BROKEN_PIPE_EXIT
    raise SystemExit(code)
