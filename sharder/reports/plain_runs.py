"""Runs of plain test cases, read from a report's bytes in bulk instead of through expat's events one by one.

A big report is mostly passes written as one empty element each, `<testcase classname="…" name="…" time="…" />`
(pytest's default xunit2 family): a million of them cost expat two Python callbacks each and the reader a dozen
steps per case, 9 s of a 15 s merge. Where consecutive cases have exactly that form, `RunFinder` finds them with one
regular expression per chunk, the reader (`ReportReader.take_run`) turns the whole run into its columns with
C-speed maps, and expat is never shown those bytes; everything else still goes through expat.

Skipping bytes must never let a document through that expat would refuse, nor read as cases bytes that are not
cases. That holds because a run is only taken:
- while nothing that can hide markup has appeared in the document (no `<!`: comments, CDATA, DOCTYPE; no `<?`
  after the XML declaration; no `xmlns`, so names are what they look like): in such a document, a `<` in the
  bytes can only start a tag, since attribute values and text cannot hold one;
- in a document declared (or taken) as UTF-8 or ASCII, and in bytes that decode as UTF-8 and hold no character
  XML forbids (the pattern admits no control character, `<`, `>`, `&` or quote in a value; U+FFFE and U+FFFF are
  refused apart);
- when expat has consumed every byte before the run (`CurrentByteIndex` at the end of what it was fed: no tag
  left open mid-attribute, where `<` would be an error) and the reader is directly inside a suite (not in a case,
  its properties, or an element it skips): then removing complete, empty, well-formed elements leaves expat
  exactly the document it would have checked, minus those elements.
A run that fails any check (or holds a rerun, an unreadable time, an unnamed case) is fed to expat as usual.
The one visible difference: an expat error later in the same document reports its column as if the runs were
not there.
"""

from __future__ import annotations

import codecs
import re

_SPACE = rb"[ \t\r\n]*"
_VALUE = rb'[^"<>&\x00-\x1f]*'
_CASE = rb'<testcase classname="' + _VALUE + rb'" name="' + _VALUE + rb'" time="' + _VALUE + rb'"' + _SPACE + rb"/>"
_RUN = re.compile(_CASE + rb"(?:" + _SPACE + _CASE + rb")*")
# Below this many bytes (a dozen cases) a run is left to expat: taking it costs more than its events would.
MIN_RUN_BYTES = 1024
_DECLARATION = re.compile(
    rb"<\?xml[ \t\r\n][^>]*?encoding=[\"']([A-Za-z0-9._-]{1,40})[\"'][^>]*\?>|<\?xml[ \t\r\n][^>]*\?>")
_NOT_XML_CHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE and U+FFFF in UTF-8


class RunFinder:
    """Finds the runs in each chunk of one document, in order, and stops for good at the first byte that could
    hide markup (see the module docstring)."""

    def __init__(self) -> None:
        self.enabled = True
        self._first = True
        self._tail = b""  # the last bytes of the previous chunk: a marker may straddle two chunks

    def find(self, chunk: bytes) -> list[tuple[int, int]]:
        """(start, end) of every run in `chunk` worth taking; none once the document has shown a hiding marker."""
        if not self.enabled:
            return []
        body = chunk
        if self._first:
            self._first = False
            body = self._after_declaration(chunk)
            if not self.enabled:
                return []
        joined = self._tail + body[:8]
        self._tail = chunk[-8:]
        if _hides_markup(body) or _hides_markup(joined):
            self.enabled = False
            return []
        return [(match.start(), match.end()) for match in _RUN.finditer(chunk)
                if match.end() - match.start() >= MIN_RUN_BYTES]

    def _after_declaration(self, chunk: bytes) -> bytes:
        """The first chunk past its XML declaration; not enabled unless the document is UTF-8 (or ASCII)."""
        start = 3 if chunk.startswith(codecs.BOM_UTF8) else 0
        if chunk[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\0", b"\0<"):  # UTF-16, with or without a byte order mark
            self.enabled = False
            return chunk
        declaration = _DECLARATION.match(chunk, start)
        if declaration is None:
            return chunk[start:]
        encoding = declaration.group(1)
        if encoding is not None:
            try:
                name = codecs.lookup(encoding.decode("ascii")).name
            except LookupError:
                name = ""
            if name not in ("utf-8", "ascii"):
                self.enabled = False
        return chunk[declaration.end():]


def case_pieces(run: bytes, count: int) -> list[bytes]:
    """Each of a run's `count` cases up to its `/>`, the white space before it included: no value in a run holds a
    `>`, so a run splits there and nowhere else."""
    return run.split(b"/>")[:count]


def _hides_markup(data: bytes) -> bool:
    """`data` holds `<!`, `<?` or `xmlns`; the lone `!` and `?` looked for first, most reports holding neither
    (a search for a byte runs at memory speed, a search for `<` stops at every tag)."""
    return (b"!" in data and b"<!" in data) or (b"?" in data and b"<?" in data) or b"xmlns" in data


def is_xml_text(run: bytes) -> bool:
    """The run's bytes are UTF-8 and hold no character XML 1.0 forbids (the pattern already keeps out the
    control characters)."""
    if run.isascii():
        return True
    if any(bad in run for bad in _NOT_XML_CHARACTERS):
        return False
    try:
        run.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
