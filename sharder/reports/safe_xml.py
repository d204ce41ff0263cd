"""Reading XML files with every trick refused: the one place a report's bytes meet a parser.

DTDs are forbidden outright (a JUnit report needs none), and with them go entity expansion (billion laughs,
quadratic blowup), external entities and network fetches: entities can only be declared inside a DOCTYPE. Two
ways in, with the same refusals and the same one-line errors:

- `parse_root` builds the whole ElementTree through defusedxml, for the callers that edit a report as a tree
  (combining one shard's passes into its report);
- `stream` hands a file of any size to expat handlers as it reads it, keeping nothing, for the readers that go
  through a million cases. It sets on its own expat parser the three handlers defusedxml's parser sets (DOCTYPE,
  entity declaration, external reference) and raises defusedxml's own exceptions from them. defusedxml's
  `iterparse` would do the same through ElementTree's pure-Python XMLParser, which builds an element for every tag
  in Python: 3.5 s for a 1,000,000-case report where expat's events go straight to the caller in 1.3 s.
"""

from __future__ import annotations

import errno
import os
import pyexpat
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import defusedxml
import defusedxml.ElementTree as SafeElementTree

from sharder.core.errors import SharderError
from sharder.core.inputfile import BoundedInput

CHUNK_BYTES = 1 << 20
# expat hands buffered text over in pieces of at most this size; the default (8 KiB) would cut a 50 MB
# failure message into 6,000 calls.
TEXT_BUFFER_BYTES = 1 << 16


class CorruptReport(SharderError):
    """A report that is not well-formed (truncated, empty, bad bytes): a shard that died while writing it, or a
    broken upload. Unlike a hostile or foreign file, a merge can go on and count that shard as unreported."""


@contextmanager
def refusals(name: str) -> Iterator[None]:
    """Every way reading a report can fail, as one line naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise SharderError(f"report {name!r} does not exist") from None
    except IsADirectoryError:
        raise SharderError(f"report {name!r} is a directory") from None
    except defusedxml.DTDForbidden:
        raise SharderError(f"report {name!r} has a DOCTYPE; refused (JUnit needs none, and DTDs enable XML bombs)") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise SharderError(f"report {name!r} declares XML entities; refused") from None
    except (ElementTree.ParseError, pyexpat.ExpatError) as exc:
        raise CorruptReport(f"report {name!r} is not well-formed XML ({exc}); truncated or corrupt?") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise CorruptReport(f"report {name!r} has an unreadable encoding ({exc})") from None
    except OSError as exc:
        if exc.errno in _WRITE_ERRORS:  # the merge's private copy of the report (a temporary file) was refused
            raise SharderError(f"cannot copy report {name!r} to a temporary file for the merged report: "
                               f"{exc.strerror}{_WRITE_ERRORS[exc.errno]}; nothing was written") from None
        raise SharderError(f"cannot read report {name!r}: {exc.strerror}") from None


_WRITE_ERRORS = {errno.ENOSPC: " (the disk is full)", errno.EDQUOT: " (disk quota exceeded)",
                 errno.EFBIG: " (over the file size limit, ulimit -f)"}


def not_junit(name: str, tag: str) -> SharderError:
    return SharderError(f"report {name!r} is not JUnit XML (root element <{tag}>)")


def is_junit_root(tag: str) -> bool:
    return tag in ("testsuites", "testsuite")


def parse_root(path: str | os.PathLike[str]) -> ElementTree.Element:
    """The whole tree, parsed with every XML trick refused."""
    name = os.fspath(path)
    # A regular file within the input size limit, streamed to the parser (see core.inputfile).
    with refusals(name), BoundedInput(name, "report") as source:
        tree = SafeElementTree.parse(source, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    root = tree.getroot()
    if root is None or not is_junit_root(root.tag):
        raise not_junit(name, "none" if root is None else root.tag)
    return root


class ChunkObserver(Protocol):
    """Sees every chunk of the file before expat does, and after expat has handled it."""

    def before(self, chunk: bytes) -> None: ...

    def after(self) -> None: ...

    def skipped(self, count: int) -> None:
        """`count` bytes of the chunk were taken by a `RunTaker` and never shown to expat."""


class RunTaker(Protocol):
    """Takes runs of bytes out of the stream before expat sees them (`plain_runs`): it names candidate runs in
    each chunk, and is asked, once expat has consumed everything before a run, whether it takes it."""

    def find(self, chunk: bytes) -> list[tuple[int, int]]: ...

    def take(self, run: bytes, offset: int) -> bool: ...


def _refuse_doctype(name: str, sysid: str | None, pubid: str | None, has_internal_subset: int) -> None:
    raise defusedxml.DTDForbidden(name, sysid, pubid)


def _refuse_entity(name: str, *_: object) -> None:
    """An entity declaration, parsed or not (expat calls both with the name first)."""
    raise defusedxml.EntitiesForbidden(name, None, None, None, None, None)


def _refuse_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
    raise defusedxml.ExternalReferenceForbidden(context, base, sysid, pubid)


def defused_parser() -> pyexpat.XMLParserType:
    """An expat parser that refuses what defusedxml refuses with forbid_dtd: any DOCTYPE, any entity declaration
    (only possible inside one), any external reference. Names in a namespace come as `uri}local`."""
    parser = pyexpat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.buffer_text = True
    parser.buffer_size = TEXT_BUFFER_BYTES
    return parser


_HANDLERS = ("StartElementHandler", "EndElementHandler", "CharacterDataHandler", "XmlDeclHandler",
             "ProcessingInstructionHandler", "StartNamespaceDeclHandler", "EndNamespaceDeclHandler")


def release(parser: pyexpat.XMLParserType) -> None:
    """Drop the caller's handlers: a parser holding the bound methods of an object that holds the parser is a
    reference cycle, and everything that object built would wait for the cyclic collector."""
    for handler in _HANDLERS:
        setattr(parser, handler, None)


def stream(path: str | os.PathLike[str], parser: pyexpat.XMLParserType, observer: ChunkObserver | None = None,
           runs: RunTaker | None = None) -> None:
    """Feed the file to `parser` (from `defused_parser`, its handlers set by the caller) chunk by chunk; with
    `runs`, the runs it takes go to it instead (see `plain_runs` for why that cannot change what is accepted).

    Nothing of the document is kept here; a handler that raises stops the parse with its exception (refusals and
    parse errors become `refusals`' one-line errors)."""
    name = os.fspath(path)
    # A regular file within the input size limit (a FIFO or /dev/zero is refused before a byte is read).
    with refusals(name), BoundedInput(name, "report") as handle:
        _feed(handle.read, parser, observer, runs)
        parser.Parse(b"", True)


def _feed(read: Callable[[int], bytes], parser: pyexpat.XMLParserType, observer: ChunkObserver | None,
          runs: RunTaker | None) -> None:
    """`stream`'s loop. Each chunk ends at its last `>`, the rest carried into the next one, so a run is never cut
    in two; expat is fed the bytes between the runs taken (all of them without a `RunTaker`)."""
    if hasattr(parser, "SetReparseDeferralEnabled"):  # expat >= 2.6 would hold a complete tag back
        parser.SetReparseDeferralEnabled(False)
    fed = 0  # bytes shown to expat
    offset = 0  # bytes of the file passed on (the chunk's place in the file)
    carry = b""
    while True:
        block = read(CHUNK_BYTES)
        chunk = carry + block if carry else block
        carry = b""
        if block:
            cut = chunk.rfind(b">") + 1
            if cut > 0 and len(chunk) - cut <= CHUNK_BYTES:
                chunk, carry = chunk[:cut], chunk[cut:]
        if not chunk:
            return
        if observer is not None:
            observer.before(chunk)
        position = 0
        for start, end in runs.find(chunk) if runs is not None else ():
            if start > position:
                parser.Parse(chunk[position:start], False)
                fed += start - position
                position = start
            if parser.CurrentByteIndex == fed and runs is not None and runs.take(chunk[start:end], offset + start):
                position = end
                if observer is not None:
                    observer.skipped(end - start)
        if position < len(chunk):
            parser.Parse(chunk[position:] if position else chunk, False)
            fed += len(chunk) - position
        if observer is not None:
            observer.after()
        offset += len(chunk)
        if not block:
            return
