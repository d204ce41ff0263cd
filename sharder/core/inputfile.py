"""Reading a user-supplied input file, with the one-line errors every reader wants."""

from __future__ import annotations

import os
from pathlib import Path

from sharder.core.errors import SharderError


def read_input(path: str | os.PathLike[str], kind: str) -> bytes:
    """The bytes of `path`; a missing or unreadable file is a `SharderError` naming it as a `kind` file."""
    name = os.fspath(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SharderError(f"{kind} file {name!r} does not exist") from None
    except IsADirectoryError:
        raise SharderError(f"{kind} file {name!r} is a directory") from None
    except OSError as exc:
        raise SharderError(f"cannot read {kind} file {name!r}: {exc.strerror}") from None
