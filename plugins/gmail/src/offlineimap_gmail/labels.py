"""Gmail labels in two encodings: a header line in a message's bytes, and IMAP ``X-GM-LABELS``.

On disk, OfflineIMAP keeps a message's labels in one header (``labelsheader``, by default
``X-Keywords``) as a comma-separated list; ``X-Label`` and ``Keywords`` use spaces instead,
as the mail readers that own those headers expect. :func:`set_header` replaces or inserts that one
header in the raw bytes and changes nothing else: no parsing and re-serialising of the message.

On the wire, Gmail sends and accepts labels as IMAP strings (astrings) in modified UTF-7
(RFC 3501 section 5.1.3), like mailbox names; system labels are atoms starting with a backslash
(``\\Inbox``, ``\\Sent``, ``\\Important``, ``\\Starred``, ``\\Draft``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Headers whose labels are separated by spaces (OfflineIMAP's list); all others use commas.
SPACE_SEPARATED_HEADERS = frozenset({"x-label", "keywords"})
DEFAULT_HEADER = "X-Keywords"

_ATOM = re.compile(rb"^\\?[A-Za-z0-9_.\-]+$")


def _separator(header: str) -> str:
    return " " if header.lower() in SPACE_SEPARATED_HEADERS else ","


def format_labels(header: str, labels: Iterable[str]) -> str:
    """The header value for ``labels``: sorted, joined the way ``header`` expects."""
    return _separator(header).join(sorted(labels))


def parse_labels(header: str, value: str) -> frozenset[str]:
    """The labels in a header value (empty items and surrounding blanks dropped)."""
    return frozenset(item.strip() for item in value.split(_separator(header)) if item.strip())


def _header_end(body: bytes) -> int:
    """Offset of the blank line ending the header block (``len(body)`` if there is none)."""
    if body.startswith((b"\n", b"\r\n")):
        return 0
    ends = [pos + 1 for pos in (body.find(b"\n\n"), body.find(b"\n\r\n")) if pos >= 0]
    return min(ends) if ends else len(body)


def _fields(body: bytes, name: str) -> list[tuple[int, int]]:
    """``(start, end)`` byte ranges of each occurrence of header ``name``, with its
    continuation lines and line ending."""
    end_of_headers = _header_end(body)
    wanted = name.lower().encode("ascii") + b":"
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos < end_of_headers:
        line_end = body.find(b"\n", pos, end_of_headers)
        line_end = end_of_headers if line_end < 0 else line_end + 1
        if body[pos:pos + len(wanted)].lower() == wanted:
            stop = line_end
            while stop < end_of_headers and body[stop:stop + 1] in (b" ", b"\t"):
                nxt = body.find(b"\n", stop, end_of_headers)
                stop = end_of_headers if nxt < 0 else nxt + 1
            spans.append((pos, stop))
            pos = stop
        else:
            pos = line_end
    return spans


def read_labels(body: bytes, header: str) -> frozenset[str]:
    """The labels of every ``header`` field of the message (none: the empty set)."""
    labels: set[str] = set()
    for start, stop in _fields(body, header):
        raw = body[start + len(header) + 1:stop]
        value = re.sub(r"\r?\n[ \t]", " ", raw.decode("utf-8", "replace")).strip()
        labels |= parse_labels(header, value)
    return frozenset(labels)


def set_header(body: bytes, header: str, labels: Iterable[str]) -> bytes:
    """``body`` with exactly one ``header`` line holding ``labels``.

    The line takes the place of the first existing field (others are removed) or goes at the
    end of the header block; it uses the message's own line ending. Every other byte stays.
    """
    crlf = b"\r\n" in body[:_header_end(body) or len(body)]
    newline = b"\r\n" if crlf else b"\n"
    line = f"{header}: {format_labels(header, labels)}".encode() + newline
    spans = _fields(body, header)
    if spans:
        first = spans[0][0]
        out = bytearray(body[:first])
        out += line
        previous = spans[0][1]
        for start, stop in spans[1:]:
            out += body[previous:start]
            previous = stop
        out += body[previous:]
        return bytes(out)
    end = _header_end(body)
    if end == len(body) and body and not body.endswith(b"\n"):
        return body + newline + line  # a message of headers only, without a final newline
    return body[:end] + line + body[end:]


# -- IMAP -------------------------------------------------------------------------------------


def to_wire(label: str) -> bytes:
    """One label as an IMAP argument: an atom when it is one, else a quoted modified UTF-7."""
    from imapclient import imap_utf7

    encoded = imap_utf7.encode(label)
    if _ATOM.match(encoded):
        return encoded
    return b'"' + encoded.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def wire_list(labels: Iterable[str]) -> bytes:
    """The parenthesised label list of ``STORE X-GM-LABELS``: ``(\\Inbox "My label")``."""
    return b"(" + b" ".join(to_wire(label) for label in sorted(labels)) + b")"


def from_wire(items: Iterable[bytes | str | int]) -> frozenset[str]:
    """Labels from a parsed ``X-GM-LABELS`` value (imapclient gives bytes, or ints for
    labels that look like numbers), decoded from modified UTF-7."""
    from imapclient import imap_utf7

    labels = set()
    for item in items:
        if isinstance(item, int):
            item = str(item)
        labels.add(imap_utf7.decode(item.encode() if isinstance(item, str) else item))
    return frozenset(labels)
