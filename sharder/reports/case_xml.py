"""Each test case's XML kept as its report wrote it, for a writer that copies the cases into another report.

While a report streams through the parser (`sharder.reports.junit`), its bytes are copied as they are read into a
spool file (a private copy: the report may be rewritten while the merge runs), and for every `<testcase>` element
the reader notes where it starts and ends and where properties would be added to it (see `with_additions`); the
merged report then adds its properties and earlier attempts by splicing bytes. Building an element per case and
serialising it again, as before, cost 24 s and 1.3 GB for a million cases: ElementTree's serialiser is pure Python,
and the elements all lived until the report was written.

A case's bytes are used as they are only where they stand on their own: a UTF-8 (or ASCII) document, no namespace
prefix declared outside the case, no markup nested inside its results, output or properties (a producer's bug, or
an attack 100,000 levels deep), no processing instruction (which the tree drops). Any other case goes through
ElementTree once, as every case did before: its bytes decoded from the document's encoding and parsed again with
the namespaces in scope, nested markup flattened to its text, serialised as UTF-8. A case used as it is keeps its
comments, CDATA sections and character references, where the tree dropped the comments and escaped the rest: the
same content as canonical XML sees it, and a `&#13;` even survives (the tree wrote a bare carriage return, which
reads back as a newline).

A run of plain cases the reader took in bulk (`plain_runs`) is noted as one run, its cases given no span of their
own (`CaseXml.runs`): the merged report copies the run whole, and only a case that must be written differently is
cut out of it.
"""

from __future__ import annotations

import codecs
import os
import pyexpat
import tempfile
import weakref
import xml.etree.ElementTree as ElementTree
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

import defusedxml.ElementTree as SafeElementTree

from sharder.reports.plain_runs import case_pieces

_READ_BLOCK = 1 << 20
_CASE_END = b"</testcase"
_PROPERTIES_END = b"</properties"


def flatten_markup(case: ElementTree.Element) -> None:
    """JUnit results and captured output hold text only; markup nested in them becomes its text, and markup inside
    a property is dropped, so serialising the case cannot recurse without bound."""
    for child in case:
        if child.tag == "properties":
            for prop in child:
                del prop[:]
        elif len(child):
            text = "".join(child.itertext())
            attrib = dict(child.attrib)
            child.clear()
            child.attrib.update(attrib)
            child.text = text


class CaseXml:
    """The XML of a report's cases, in the report's case order: in the copy of the report (`stream`), or, for the
    cases that went through the tree, in a second spool (`rewritten`, where their offsets are stored inverted)."""

    def __init__(self, stream: BinaryIO, rewritten: BinaryIO | None, spans: array[int],
                 runs: list[tuple[int, int, int, int]] | None = None, runs_named_as_written: frozenset[int] = frozenset()
                 ) -> None:
        # Written to no more from here on: flushed once, then read with pread (a flush per read of a run cost an
        # lseek each, 10,000 of them for a million cases).
        stream.flush()
        if rewritten is not None:
            rewritten.flush()
        self._stream = stream
        self._rewritten = rewritten
        self._spans = spans  # per case: start, end, where properties go (`with_additions`), earlier attempts
        # Runs of plain cases taken in bulk (`plain_runs`), in case order: (first case, cases, start, end in the
        # copy), so a writer can copy a run as a whole.
        self.runs = runs or []
        # The runs (by first case) whose every id is its case's `classname::name` as the bytes spell it: a writer
        # can add the ids to such a run by substitution, without the ids themselves.
        self.runs_named_as_written = runs_named_as_written
        self._block, self._block_at = b"", 0  # the last block read of the copy, shared by `fragments` calls
        self._closers = [weakref.finalize(self, spool.close) for spool in (stream, rewritten) if spool is not None]

    def fragments(self, first: int = 0, stop: int | None = None) -> Iterator[tuple[bytes, int, int]]:
        """(the case's bytes, where properties go as `with_additions` takes it, how many earlier-attempt children it
        holds) for each case from `first` up to `stop`; read back in large blocks, since cases come mostly in the
        order of the report. A case of a run (`runs`, its span all zeros) is cut out of its run's bytes."""
        fd = self._stream.fileno()
        spans = self._spans
        run_cases: list[bytes] = []  # the cases of the run last met, from its first case, `run_first`, on
        run_first = -1
        for index in range(4 * first, len(spans) if stop is None else 4 * stop, 4):
            start, end = spans[index], spans[index + 1]
            if start == end == 0:  # no case ends where it starts: a case of a run
                case = index // 4
                if not run_first <= case < run_first + len(run_cases):
                    run_first, count, run_start, run_end = self.runs[bisect_right(self.runs, (case, _AFTER_ANY)) - 1]
                    run_cases = _run_cases(self.run_bytes(run_start, run_end), count)
                yield run_cases[case - run_first], -1, 0
                continue
            if start < 0:
                assert self._rewritten is not None
                yield os.pread(self._rewritten.fileno(), ~end - ~start, ~start), spans[index + 2], spans[index + 3]
                continue
            if start < self._block_at or end > self._block_at + len(self._block):
                self._block_at = start
                self._block = os.pread(fd, max(_READ_BLOCK, end - start), start)
            yield self._block[start - self._block_at:end - self._block_at], spans[index + 2], spans[index + 3]

    def run_bytes(self, start: int, end: int) -> bytes:
        """A run's bytes (`runs`), from the copy of the report."""
        return os.pread(self._stream.fileno(), end - start, start)

    def close(self) -> None:
        for closer in self._closers:
            closer()


class CaseCapture:
    """Copies each case's bytes out of the stream (see the module docstring); a `safe_xml.ChunkObserver`."""

    def __init__(self, parser: pyexpat.XMLParserType) -> None:
        self._parser = parser
        self._window = bytearray()  # the stream's bytes from `_window_at` on
        self._window_at = 0
        # Both handed to CaseXml, which closes them.
        self._stream: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115
        self._rewritten: BinaryIO | None = None
        self._rewritten_size = 0
        self._spans: array[int] = array("q")  # per occurrence, as CaseXml's
        self._encoding: str | None = None  # None: UTF-8, the case bytes can be copied as they are
        self._case_end, self._properties_end, self._tag_close = _CASE_END, _PROPERTIES_END, b">"  # in its bytes
        self._first_chunk = True
        self._namespaces: list[tuple[str, str, int]] = []  # (prefix, uri, where declared) in scope
        self._case_at = -1
        self._properties_at = -1
        self._first_child_at = -1
        self._instruction_in_case = False
        self._skipped = 0  # bytes a RunTaker took before expat's current index: file offset = index + this
        self._runs: list[tuple[int, int, int, int]] = []  # runs of plain cases taken in bulk, as CaseXml's
        self._named_as_written: set[int] = set()
        parser.XmlDeclHandler = self._xml_declaration
        parser.ProcessingInstructionHandler = self._instruction
        parser.StartNamespaceDeclHandler = self._namespace_start
        parser.EndNamespaceDeclHandler = self._namespace_end

    # -- the stream ---------------------------------------------------------------------------------------------

    def before(self, chunk: bytes) -> None:
        if self._first_chunk:
            self._first_chunk = False
            self._use(_encoding_by_bytes(chunk))
        self._stream.write(chunk)
        self._window += chunk

    def _at(self) -> int:
        """Where expat is, as an offset in the file (and the spool)."""
        return self._parser.CurrentByteIndex + self._skipped

    def skipped(self, count: int) -> None:
        self._skipped += count

    def after(self) -> None:
        """Let go of the bytes no open case needs: expat has consumed everything before its current index (an
        incomplete tag at the end of the chunk starts there, and may be a case's)."""
        keep = self._case_at if self._case_at >= 0 else self._at()
        if keep > self._window_at:
            del self._window[:keep - self._window_at]
            self._window_at = keep

    def _xml_declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding and self._encoding is None:
            name = codecs.lookup(encoding).name
            self._use(None if name in ("utf-8", "ascii") else name)

    def _use(self, encoding: str | None) -> None:
        """The document's encoding (None: UTF-8), and the markers the end of a case is found by, in its bytes."""
        self._encoding = encoding
        if encoding is not None:
            self._case_end, self._properties_end, self._tag_close = (
                marker.decode().encode(encoding) for marker in (_CASE_END, _PROPERTIES_END, b">"))

    def _instruction(self, target: str, data: str) -> None:
        if self._case_at >= 0:  # the tree drops processing instructions; a case holding one goes through it
            self._instruction_in_case = True

    def _namespace_start(self, prefix: str | None, uri: str) -> None:
        self._namespaces.append((prefix or "", uri, self._at()))

    def _namespace_end(self, prefix: str | None) -> None:
        self._namespaces.pop()

    # -- the reader's calls -------------------------------------------------------------------------------------

    def case_started(self) -> None:
        self._case_at = self._at()
        self._properties_at = self._first_child_at = -1

    def child_started(self) -> None:
        """The case's first child element starts here."""
        self._first_child_at = self._at() - self._case_at

    def properties_ended(self) -> None:
        """The case's first `<properties>` child ends here: before its end tag, or at the `/>` of an empty one."""
        at = self._at()
        local = at - self._window_at
        if self._window[local:local + len(self._properties_end)] != self._properties_end:
            at -= 2
        self._properties_at = at - self._case_at

    def case_ended(self, nested: bool, earlier: int) -> int:
        """Note the case that ends here; its number among the occurrences, for `finish`."""
        start = self._case_at
        self._case_at = -1
        end = self._at()  # an empty case's end; else where its end tag starts
        window = self._window
        local = end - self._window_at
        if window.startswith(self._case_end, local):
            end = window.index(self._tag_close, local) + len(self._tag_close) + self._window_at
        outside = [(prefix, uri) for prefix, uri, where in self._namespaces if where < start] if self._namespaces else []
        if nested or outside or self._encoding is not None or self._instruction_in_case:
            self._instruction_in_case = False
            fragment = bytes(window[start - self._window_at:end - self._window_at])
            rewritten = _through_the_tree(fragment, self._encoding or "utf-8", outside)
            if self._rewritten is None:
                self._rewritten = tempfile.TemporaryFile()  # noqa: SIM115  # handed to CaseXml
            self._rewritten.write(rewritten)
            at = self._rewritten_size
            self._rewritten_size += len(rewritten)
            self._spans.extend((~at, ~self._rewritten_size, _where_properties_go(rewritten), earlier))
        else:
            where = self._properties_at if self._properties_at >= 0 else self._first_child_at
            self._spans.extend((start, end, where, earlier))
        return len(self._spans) // 4 - 1

    def plain_case_ended(self) -> int:
        """`case_ended` for a case with no child element (no properties, nothing nested, no earlier attempt): a
        million times in a big report, so the usual one, a UTF-8 document with no namespace or instruction about,
        takes no detour."""
        if self._namespaces or self._encoding is not None or self._instruction_in_case:
            return self.case_ended(False, 0)
        start = self._case_at
        self._case_at = -1
        end = self._at()
        window = self._window
        local = end - self._window_at
        if window.startswith(_CASE_END, local):
            end = window.index(b">", local) + 1 + self._window_at
        spans = self._spans
        spans.extend((start, end, -1, 0))
        return len(spans) // 4 - 1

    def takes_runs(self) -> bool:
        """Whether cases can be copied as they are (see `plain_case_ended`), so a run of them can be taken."""
        return not self._namespaces and self._encoding is None and not self._instruction_in_case

    def plain_run(self, offset: int, size: int, count: int, named_as_written: bool) -> int:
        """Note a run of `count` plain cases (`plain_runs`), `size` bytes at `offset` in the file; the number of
        its first case among the occurrences. Its cases get no spans of their own (zeros: `CaseXml` finds them in
        the run), which would cost four numbers a case, a million times."""
        first = len(self._spans) // 4
        self._spans.frombytes(bytes(4 * self._spans.itemsize * count))
        self._runs.append((first, count, offset, offset + size))
        if named_as_written:
            self._named_as_written.add(first)
        return first

    def finish(self, occurrences: array[int] | None, ids_renamed: bool = False) -> CaseXml:
        """The kept XML: for each case of the report, the occurrence whose content it took (the last of a rerun);
        None when every occurrence is a case of its own. `ids_renamed`: the reader changed ids after reading them
        (qualified keys met in several suites), so no run is named as written any more."""
        kept = self._spans
        runs = self._runs
        if occurrences is not None:  # a rerun folded: cases no longer follow the occurrences, nor runs the cases
            self._spell_out_runs()
            runs = []
            kept = array("q")
            for occurrence in occurrences:
                kept.extend(self._spans[4 * occurrence:4 * occurrence + 4])
        self._window = bytearray()
        named = frozenset() if ids_renamed or not runs else frozenset(self._named_as_written)
        return CaseXml(self._stream, self._rewritten, kept, runs, named)

    def _spell_out_runs(self) -> None:
        """Give each case of a run the span of its own that `plain_run` spared it."""
        self._stream.flush()
        for first, count, start, end in self._runs:
            run = os.pread(self._stream.fileno(), end - start, start)
            at = start
            for number, piece in enumerate(case_pieces(run, count)):
                case_start = at + len(piece) - len(piece.lstrip(b" \t\r\n"))
                at += len(piece) + 2
                self._spans[4 * (first + number):4 * (first + number) + 2] = array("q", (case_start, at))

    def discard(self) -> None:
        for spool in (self._stream, self._rewritten):
            if spool is not None:
                spool.close()


_AFTER_ANY = 1 << 62  # sorts after every count, start and end: `bisect` by a run's first case alone


def _run_cases(run: bytes, count: int) -> list[bytes]:
    """Each case of a run as the reader would have cut it out: from its `<` to its `/>`."""
    return [piece.lstrip(b" \t\r\n") + b"/>" for piece in case_pieces(run, count)]


def _encoding_by_bytes(start: bytes) -> str | None:
    """What expat takes the document's encoding to be from its first bytes: a UTF-16 byte order mark, or the
    zero bytes of UTF-16 without one; None when the bytes say UTF-8 (or nothing)."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16-le" if start.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
    if start[:2] == b"<\0":
        return "utf-16-le"
    if start[:2] == b"\0<":
        return "utf-16-be"
    return None


def _through_the_tree(fragment: bytes, encoding: str, namespaces: list[tuple[str, str]]) -> bytes:
    """The case as ElementTree writes it: decoded, parsed with the namespaces in scope, nested markup flattened.
    The bytes are part of a document expat has checked, so they hold no DOCTYPE; defusedxml parses them anyway."""
    text = fragment.decode(encoding)
    if namespaces:
        declarations = "".join(f" xmlns{':' + prefix if prefix else ''}={quoteattr(uri)}" for prefix, uri in namespaces)
        case = SafeElementTree.fromstring(f"<w{declarations}>{text}</w>", forbid_dtd=True)[0]
    else:
        case = SafeElementTree.fromstring(text, forbid_dtd=True)
    flatten_markup(case)
    case.tail = None
    return ElementTree.tostring(case, encoding="unicode").encode("utf-8")


def _where_properties_go(fragment: bytes) -> int:
    """`with_additions`' place for a case serialised on its own, found as the reader finds it in a stream."""
    parser = pyexpat.ParserCreate(namespace_separator="}")
    depth = 0
    properties_end = first_child = -1

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, first_child
        depth += 1
        if depth == 2 and first_child < 0:
            first_child = parser.CurrentByteIndex

    def end(name: str) -> None:
        nonlocal depth, properties_end
        if depth == 2 and name == "properties" and properties_end < 0:
            at = parser.CurrentByteIndex
            properties_end = at if fragment.startswith(_PROPERTIES_END, at) else at - 2
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(fragment, True)
    return properties_end if properties_end >= 0 else first_child


def with_additions(fragment: bytes, properties_at: int, properties: bytes, children: bytes) -> bytes:
    """The case with `properties` (`<property>` elements) and `children` added where ElementTree put them: the
    properties at the end of its first `<properties>` element, or in a new one inserted as its first child (after
    its text, before its first child element); the children after everything else.

    `properties_at`, as the reader records it: where its first `<properties>` ends (its end tag, or the `/>` of an
    empty one), else where its first child element starts, else -1 (no child element)."""
    if not properties and not children:
        return fragment
    if fragment.endswith(b"/>"):  # <testcase ... />: no content, so no <properties> either
        inserted = b"<properties>" + properties + b"</properties>" if properties else b""
        return b"".join((fragment[:-2], b">", inserted, children, b"</testcase>"))
    close = fragment.rindex(b"</")
    if not properties:
        return b"".join((fragment[:close], children, fragment[close:]))
    if properties_at < 0:
        return b"".join((fragment[:close], b"<properties>", properties, b"</properties>", children, fragment[close:]))
    if fragment.startswith(b"</", properties_at):  # the end tag of its <properties>
        head = fragment[:properties_at] + properties
        cut = properties_at
    elif fragment.startswith(b"/>", properties_at):  # <properties/>
        head = b"".join((fragment[:properties_at], b">", properties, b"</properties>"))
        cut = properties_at + 2
    else:  # its first child element
        head = b"".join((fragment[:properties_at], b"<properties>", properties, b"</properties>"))
        cut = properties_at
    return b"".join((head, fragment[cut:close], children, fragment[close:]))
