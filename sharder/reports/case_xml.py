"""Each test case's XML kept as its report wrote it, for a writer that copies the cases into another report.

While a report streams through the parser (`sharder.reports.junit`), the bytes of every `<testcase>` element are
copied from the read buffer into a spool file, with the place where its first `<properties>` element ends; the
merged report then adds its properties and earlier attempts by splicing bytes (`with_additions`). Building an
element per case and serialising it again, as before, cost 24 s and 1.3 GB for a million cases: ElementTree's
serialiser is pure Python, and the elements all lived until the report was written.

A case's bytes are copied as they are only where they stand on their own: a UTF-8 (or ASCII) document, no namespace
prefix declared outside the case, no markup nested inside its results, output or properties (a producer's bug, or
an attack 100,000 levels deep). Any other case goes through ElementTree once, as every case did before: its bytes
decoded from the document's encoding and parsed again with the namespaces in scope, nested markup flattened to its
text, serialised as UTF-8. What a copied case may keep that the tree dropped: comments and processing instructions,
and CDATA sections and character references where the tree wrote escaped text; the parsed content is the same.
"""

from __future__ import annotations

import codecs
import os
import pyexpat
import re
import tempfile
import weakref
import xml.etree.ElementTree as ElementTree
from array import array
from collections.abc import Iterator
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

import defusedxml.ElementTree as SafeElementTree

_READ_BLOCK = 1 << 20
_CASE_END = b"</testcase"
_PROPERTIES_END = b"</properties"
# The end of an element's start tag: the first ">" outside a quoted attribute value.
_START_TAG = re.compile(rb"[^\"'>]*(?:(?:\"[^\"]*\"|'[^']*')[^\"'>]*)*>")


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
    """The XML of a report's cases, in the report's case order, spooled to an unnamed temporary file."""

    def __init__(self, spool: BinaryIO, spans: array[int]) -> None:
        self._spool = spool
        self._spans = spans  # per case: start, end, where its first <properties> ends (-1: none), earlier attempts
        self._closer = weakref.finalize(self, spool.close)

    def __len__(self) -> int:
        return len(self._spans) // 4

    def fragments(self) -> Iterator[tuple[bytes, int, int]]:
        """(the case's bytes, where its first `<properties>` ends or -1, how many earlier-attempt children it holds)
        for each case; read back in large blocks, since cases come mostly in the order they were written."""
        self._spool.flush()
        fd = self._spool.fileno()
        spans = self._spans
        block, block_at = b"", 0
        for index in range(0, len(spans), 4):
            start, end = spans[index], spans[index + 1]
            if start < block_at or end > block_at + len(block):
                block_at = start
                block = os.pread(fd, max(_READ_BLOCK, end - start), start)
            yield block[start - block_at:end - block_at], spans[index + 2], spans[index + 3]

    def close(self) -> None:
        self._closer()


class CaseCapture:
    """Copies each case's bytes out of the stream (see the module docstring); a `safe_xml.ChunkObserver`."""

    def __init__(self, parser: pyexpat.XMLParserType) -> None:
        self._parser = parser
        self._window = bytearray()  # the stream's bytes from `_window_at` on
        self._window_at = 0
        self._spool: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115  # handed to CaseXml, which closes it
        self._written = 0
        self._spans: array[int] = array("q")  # per occurrence, as CaseXml's
        self._declared: str | None = None
        self._encoding: str | None = None  # None: UTF-8, the case bytes can be copied as they are
        self._first_chunk = True
        self._namespaces: list[tuple[str, str, int]] = []  # (prefix, uri, where declared) in scope
        self._case_at = -1
        self._properties_at = -1
        parser.XmlDeclHandler = self._xml_declaration
        parser.StartNamespaceDeclHandler = self._namespace_start
        parser.EndNamespaceDeclHandler = self._namespace_end

    # -- the stream ---------------------------------------------------------------------------------------------

    def before(self, chunk: bytes) -> None:
        if self._first_chunk:
            self._first_chunk = False
            self._encoding = _encoding_by_bytes(chunk)
        self._window += chunk

    def after(self) -> None:
        """Let go of the bytes no open case needs: expat has consumed everything before its current index (an
        incomplete tag at the end of the chunk starts there, and may be a case's)."""
        keep = self._case_at if self._case_at >= 0 else self._parser.CurrentByteIndex
        if keep > self._window_at:
            del self._window[:keep - self._window_at]
            self._window_at = keep

    def _xml_declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding and self._encoding is None:
            name = codecs.lookup(encoding).name
            self._encoding = None if name in ("utf-8", "ascii") else name

    def _namespace_start(self, prefix: str | None, uri: str) -> None:
        self._namespaces.append((prefix or "", uri, self._parser.CurrentByteIndex))

    def _namespace_end(self, prefix: str | None) -> None:
        self._namespaces.pop()

    # -- the reader's calls -------------------------------------------------------------------------------------

    def case_started(self) -> None:
        self._case_at = self._parser.CurrentByteIndex
        self._properties_at = -1

    def properties_ended(self) -> None:
        """The case's first `<properties>` child ends here: before its end tag, or at the `/>` of an empty one."""
        at = self._parser.CurrentByteIndex
        local = at - self._window_at
        if self._window[local:local + len(_PROPERTIES_END)] != _PROPERTIES_END:
            at -= 2
        self._properties_at = at - self._case_at

    def case_ended(self, nested: bool, earlier: int) -> int:
        """Spool the case that ends here; its number among the occurrences, for `finish`."""
        start = self._case_at
        at = self._parser.CurrentByteIndex
        window = self._window
        local = at - self._window_at
        if window[local:local + len(_CASE_END)] == _CASE_END:
            local = window.index(b">", local) + 1
        fragment: bytes | bytearray = window[start - self._window_at:local]
        properties_at = self._properties_at
        outside = [(prefix, uri) for prefix, uri, where in self._namespaces if where < start] if self._namespaces else []
        if nested or outside or self._encoding is not None:
            fragment = _through_the_tree(bytes(fragment), self._encoding or "utf-8", outside)
            properties_at = _properties_end(fragment)
        self._case_at = -1
        self._spool.write(fragment)
        written = self._written
        self._written = written + len(fragment)
        self._spans.extend((written, self._written, properties_at, earlier))
        return len(self._spans) // 4 - 1

    def finish(self, occurrences: array[int] | None) -> CaseXml:
        """The kept XML: for each case of the report, the occurrence whose content it took (the last of a rerun);
        None when every occurrence is a case of its own."""
        kept = self._spans
        if occurrences is not None:
            kept = array("q")
            for occurrence in occurrences:
                kept.extend(self._spans[4 * occurrence:4 * occurrence + 4])
        self._window = bytearray()
        return CaseXml(self._spool, kept)

    def discard(self) -> None:
        self._spool.close()


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


def _properties_end(fragment: bytes) -> int:
    """Where the first `<properties>` child of a case serialised on its own ends, as `properties_ended` says."""
    parser = pyexpat.ParserCreate(namespace_separator="}")
    depth = 0
    found = -1

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1

    def end(name: str) -> None:
        nonlocal depth, found
        if depth == 2 and name == "properties" and found < 0:
            at = parser.CurrentByteIndex
            found = at if fragment.startswith(_PROPERTIES_END, at) else at - 2
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(fragment, True)
    return found


def _start_tag_end(fragment: bytes) -> int:
    cut = fragment.find(b">") + 1
    if fragment.count(b'"', 0, cut) % 2 or b"'" in fragment[:cut]:  # a ">" inside a quoted value: look closer
        match = _START_TAG.match(fragment)
        assert match is not None, "a case's bytes begin with its start tag"
        cut = match.end()
    return cut


def with_additions(fragment: bytes, properties_at: int, properties: bytes, children: bytes) -> bytes:
    """The case with `properties` (`<property>` elements) added at the end of its first `<properties>` (a new one
    first in the case when it has none) and `children` added after its last child, as ElementTree's
    `SubElement` calls on the case did."""
    if not properties and not children:
        return fragment
    if fragment.endswith(b"/>"):  # <testcase ... />: no content, so no <properties> either
        inserted = b"<properties>" + properties + b"</properties>" if properties else b""
        return b"".join((fragment[:-2], b">", inserted, children, b"</testcase>"))
    close = fragment.rindex(b"</")
    if not properties:
        return b"".join((fragment[:close], children, fragment[close:]))
    if properties_at < 0:
        cut = _start_tag_end(fragment)
        head = b"".join((fragment[:cut], b"<properties>", properties, b"</properties>"))
    elif fragment.startswith(b"/>", properties_at):  # <properties/>
        cut = properties_at + 2
        head = b"".join((fragment[:properties_at], b">", properties, b"</properties>"))
    else:
        cut = properties_at
        head = fragment[:cut] + properties
    return b"".join((head, fragment[cut:close], children, fragment[close:]))
