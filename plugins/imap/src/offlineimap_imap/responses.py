"""Parsers for the few server responses on the hot path, and INTERNALDATE both ways.

A folder listing is one ``UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)`` whose answer has
a line per message. imapclient's general parser builds a token tree and a ``datetime`` for every
line; the listing only needs four items, so a single regular expression over each line does it
several times faster (see the measurements in the README). Bodies still go through imapclient's
parser, where the per-message cost is dwarfed by the message itself.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable
from typing import Any

from offlineimap.errors import FolderError
from offlineimap.repository import MessageInfo
from offlineimap_imap import flags as flagmap
from offlineimap_imap.uidset import expand

#: The largest UID (RFC 3501: a non-zero 32-bit number).
MAX_UID = 2**32 - 1
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_MONTH_NAMES = {number: name for name, number in _MONTHS.items()}

# One FETCH data item of a listing line. FLAGS cannot contain ")" (flags are atoms), and
# INTERNALDATE is always a quoted string, so neither needs a real tokenizer.
_ITEM = re.compile(
    rb'(UID|RFC822\.SIZE) (\d+)|FLAGS \(([^)]*)\)|INTERNALDATE "([^"]+)"|MODSEQ \(\d+\)'
)
# The whole line in the order we ask for (what Dovecot and most servers send): one match.
_CANONICAL = re.compile(
    rb'\d+ \(UID (\d+) FLAGS \(([^)]*)\) RFC822\.SIZE (\d+) INTERNALDATE "([^"]+)"')
_INTERNALDATE = re.compile(
    r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([-+])(\d\d)(\d\d)\s*$"
)
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", re.IGNORECASE)


def parse_internaldate(text: str) -> float | None:
    """Seconds since the epoch for ``"17-Jul-1996 02:44:25 -0700"``; ``None`` if malformed."""
    match = _INTERNALDATE.match(text)
    if not match:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    month_number = _MONTHS.get(month.capitalize())
    if month_number is None:
        return None
    offset = (int(off_h) * 60 + int(off_m)) * 60 * (-1 if sign == "-" else 1)
    moment = (int(year), month_number, int(day), int(hour), int(minute), int(second))
    return float(calendar.timegm(moment) - offset)


def format_internaldate(seconds: float) -> bytes | None:
    """The quoted date-time argument of ``APPEND`` for an epoch time, in UTC.

    ``None`` for a time IMAP cannot express (a four-digit year): the message is then stored
    with the server's arrival time rather than refused over a broken file time.
    """
    try:
        moment = time.gmtime(seconds)
    except (OverflowError, OSError, ValueError):
        return None
    if not 1 <= moment.tm_year <= 9999:
        return None
    return (f'"{moment.tm_mday:02d}-{_MONTH_NAMES[moment.tm_mon]}-{moment.tm_year:04d} '
            f'{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000"').encode()


def parse_listing(lines: Iterable[bytes | tuple[bytes, bytes] | None],
                  min_uid: int | None = None) -> dict[int, MessageInfo]:
    """``{uid: MessageInfo}`` from the untagged FETCH data of a listing.

    Lines without a UID (unsolicited flag updates in sequence-number form) or with an
    impossible one are skipped; a UID seen twice keeps its last line, the newest information.
    """
    listing: dict[int, MessageInfo] = {}
    letters: dict[bytes, frozenset[str]] = {}
    for line in lines:
        if not isinstance(line, bytes):
            continue  # None for an empty answer; listings never carry literals
        canonical = _CANONICAL.match(line)
        if canonical:
            uid_text, flag_text, size_text, date_text = canonical.groups()
            uid, size = int(uid_text), int(size_text)
        else:
            uid, flag_text, size, date_text = _scan(line)
        if (uid is None or flag_text is None or not 0 < uid <= MAX_UID
                or (min_uid is not None and uid < min_uid)):
            continue  # a UID outside RFC 3501's 32-bit nz-number is a broken server's
        flags = letters.get(flag_text)
        if flags is None:  # a mailbox has few distinct flag sets: convert each once
            flags = letters[flag_text] = flagmap.to_letters(flag_text.split())
        date = parse_internaldate(date_text.decode("ascii", "replace")) if date_text else None
        listing[uid] = MessageInfo(flags=flags, size=size, internaldate=date)
    return listing


def _scan(line: bytes) -> tuple[int | None, bytes | None, int | None, bytes | None]:
    """UID, flag text, size and date text of a line whose items come in any order."""
    uid = size = None
    flag_text = date_text = None
    for match in _ITEM.finditer(line):
        name, number, flags, date = match.groups()
        if name == b"UID":
            uid = int(number)
        elif name is not None:
            size = int(number)
        elif flags is not None:
            flag_text = flags
        elif date is not None:
            date_text = date
    return uid, flag_text, size, date_text


def parse_appenduid(text: bytes, count: int) -> tuple[int, list[int]] | None:
    """``(uidvalidity, [uids])`` from a tagged APPEND answer carrying ``[APPENDUID ...]`` for
    ``count`` messages; ``None`` when it is missing or does not name exactly ``count`` valid
    UIDs (the caller then finds the UIDs by Message-ID, as without UIDPLUS)."""
    match = _APPENDUID.search(text)
    if not match:
        return None
    try:
        uids = expand(match.group(2).decode("ascii"), limit=count)
    except ValueError:
        return None
    if len(uids) != count or min(uids, default=1) < 1:
        return None
    return int(match.group(1)), uids


def parse_fetch_generally(data: list[Any]) -> list[tuple[int, bytes | None]]:
    """``[(uid, body or None)]`` through imapclient's general parser, for answers
    :func:`parse_bodies` does not recognise.

    Whatever the parser chokes on (a server sending garbage) becomes one :class:`FolderError`
    line, whichever exception it raised.
    """
    from imapclient.response_parser import parse_fetch_response

    try:
        parsed = parse_fetch_response(data, normalise_times=False, uid_is_key=True)
    except Exception as exc:  # a third-party parser fed hostile bytes: any failure is ours
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise FolderError(f"malformed FETCH answer from the server: {type(exc).__name__}"
                          + (f": {reason}" if reason else "")) from None
    return [(uid, items.get(b"BODY[]")) for uid, items in parsed.items()
            if isinstance(uid, int) and isinstance(items, dict)]


def message_id(body: bytes) -> str | None:
    """The ``Message-ID`` of a message (from its header block only), or ``None``."""
    end = body.find(b"\r\n\r\n")
    if end < 0:
        end = body.find(b"\n\n")
    header = body if end < 0 else body[:end]
    match = _MESSAGE_ID.search(header)
    return match.group(1).decode("ascii", "replace") if match else None


_BODY_UID = re.compile(rb"\bUID (\d+)")


def parse_bodies(data: Iterable[Any]) -> list[tuple[int, bytes]] | None:
    """``[(uid, body)]`` straight from imaplib's untagged data of ``UID FETCH (UID BODY.PEEK[])``.

    A body arrives as a literal: the pair ``(b'7 (UID 42 BODY[] {n}', body)``, with the UID
    before the literal or in the text after it. Reading that directly avoids a general
    response parser walking every byte of every message. Anything else (unsolicited FLAGS
    lines) is skipped; an answer of another shape gives ``None``, and the caller parses it
    the general way.
    """
    bodies: list[tuple[int, bytes]] = []
    pending: bytes | None = None
    for item in data:
        if isinstance(item, tuple):
            if pending is not None or len(item) != 2 or b"BODY[]" not in item[0]:
                return None
            match = _BODY_UID.search(item[0])
            if match:
                bodies.append((int(match.group(1)), item[1]))
            else:
                pending = item[1]
        elif pending is not None:
            match = _BODY_UID.search(item) if isinstance(item, bytes) else None
            if match is None:
                return None
            bodies.append((int(match.group(1)), pending))
            pending = None
    return None if pending is not None else bodies
