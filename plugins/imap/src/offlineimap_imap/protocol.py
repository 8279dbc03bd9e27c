"""Commands imapclient 4.1 does not send the way we need, and one-line errors for all of them.

* ``UID FETCH`` with a sequence set string (``1:*``, ``5:9,12``): imapclient's ``fetch`` raises
  ``ValueError`` on ``1:*`` after the server answered and sends UID lists comma by comma.
* Uploads in as few round trips and server transactions as the server allows: ``MULTIAPPEND``
  (RFC 3502) batches, measured 5x faster than one APPEND per message on Dovecot, which commits
  each APPEND separately; else ``APPEND`` commands pipelined with non-synchronising literals
  (LITERAL+, RFC 7888); else one at a time. A refused batch is all-or-nothing, so it is retried
  message by message and only the bad message fails.
* :func:`guard` turns imapclient and socket exceptions into :mod:`offlineimap.errors`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from offlineimap.errors import ConnectionFailed, FolderError, Scope
from offlineimap_imap.responses import parse_appenduid

if TYPE_CHECKING:
    from offlineimap_imap.connection import Connection

#: One MULTIAPPEND carries at most this many messages or bytes.
BATCH_MESSAGES = 100
BATCH_BYTES = 8 * 1024 * 1024
#: Pipelined single APPENDs (LITERAL+ without MULTIAPPEND): commands in flight.
WINDOW_COMMANDS = 64

def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def guard(connection: Connection, where: str) -> Iterator[None]:
    """Translate failures inside the block: a lost connection is marked broken for the pool."""
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

    try:
        yield
    except (IMAPClientAbortError, OSError) as exc:
        connection.broken = True
        raise ConnectionFailed(f"{where}: connection lost: {first_line(exc)}",
                               scope=Scope.FOLDER) from None
    except IMAPClientError as exc:
        raise FolderError(f"{where}: {first_line(exc)}") from None


def uid_fetch(connection: Connection, sequence_set: str, items: str) -> list[Any]:
    """Send ``UID FETCH <sequence_set> <items>`` and return imaplib's untagged FETCH data."""
    from imapclient.exceptions import IMAPClientError

    imap = connection.client._imap
    # Unsolicited FETCH answers to earlier commands would otherwise be returned with ours.
    imap.untagged_responses.pop("FETCH", None)
    typ, data = imap.uid("FETCH", sequence_set, items)
    if typ != "OK":
        raise IMAPClientError(f"UID FETCH failed: {_text(data)}")
    return data


@dataclasses.dataclass
class ListingAnswer:
    """The answer to a folder listing (:func:`fetch_listing`)."""

    data: list[Any]  #: imaplib's untagged FETCH data
    vanished: list[str]  #: sequence sets of ``VANISHED`` answers (UIDs expunged since)
    #: ``UIDVALIDITY`` and ``EXISTS`` of a SELECT sent in the same round trip (empty without)
    selected: dict[str, int]
    exists: int | None  #: the last message count the server reported, if it reported one


_SELECT_CODES = ("UIDVALIDITY", "EXISTS")


def fetch_listing(connection: Connection, items: str, *, start: int = 1,
                  changedsince: int | None = None, select: tuple[str, bool] | None = None
                  ) -> ListingAnswer:
    """``UID FETCH <start>:* <items>``, with ``(CHANGEDSINCE <modseq> VANISHED)`` (RFC 7162, after
    ENABLE QRESYNC) when ``changedsince`` is given, which imapclient cannot send or read.

    With ``select = (mailbox, readonly)`` the SELECT (or EXAMINE) goes out in the same round
    trip, just before the FETCH: servers run pipelined commands in order, and a failed SELECT
    leaves no mailbox selected, so the FETCH then fails instead of reading another mailbox.
    """
    from imapclient.exceptions import IMAPClientError

    imap = connection.client._imap
    modifiers = f" (CHANGEDSINCE {changedsince} VANISHED)" if changedsince is not None else ""
    lines = []
    select_tag = None
    if select is not None:
        mailbox, readonly = select
        imap.untagged_responses = {}
        imap.is_readonly = readonly
        select_tag = imap._new_tag()
        lines.append(select_tag + (b" EXAMINE " if readonly else b" SELECT ")
                     + connection.client._normalise_folder(mailbox))
    else:
        for kind in ("FETCH", "VANISHED", "EXISTS"):
            imap.untagged_responses.pop(kind, None)
    fetch_tag = imap._new_tag()
    lines.append(fetch_tag + f" UID FETCH {start}:* {items}{modifiers}".encode("ascii"))
    for line in lines:
        connection.debug(f"> {line.decode('utf-8', 'replace')}")
    imap.send(b"".join(line + b"\r\n" for line in lines))  # one segment, one round trip
    selected: dict[str, int] = {}
    if select_tag is not None:
        typ, data = imap._command_complete("SELECT", select_tag)
        if typ != "OK":
            imap.state = "AUTH"
            with contextlib.suppress(IMAPClientError):
                imap._command_complete("UID", fetch_tag)
            raise FolderError(f"SELECT {select[0]} failed: {_text(data)}")
        imap.state = "SELECTED"
        for code in _SELECT_CODES:
            values = imap.untagged_responses.pop(code, None)
            if values and isinstance(values[-1], bytes) and values[-1].isdigit():
                selected[code] = int(values[-1])
    typ, data = imap._command_complete("UID", fetch_tag)
    typ, data = imap._untagged_response(typ, data, "FETCH")
    if typ != "OK":
        raise IMAPClientError(f"UID FETCH failed: {_text(data)}")
    vanished = []
    for line in imap.untagged_responses.pop("VANISHED", []):
        text = line.decode("ascii", "replace") if isinstance(line, bytes) else str(line)
        words = text.split()
        if words and words[0].upper() == "(EARLIER)":
            words = words[1:]
        vanished.extend(words)
    counts = [int(value) for value in imap.untagged_responses.pop("EXISTS", [])
              if isinstance(value, bytes) and value.isdigit()]
    exists = counts[-1] if counts else selected.get("EXISTS")
    return ListingAnswer(data=data, vanished=vanished, selected=selected, exists=exists)


def to_crlf(body: bytes) -> bytes:
    """IMAP line endings: bare LF becomes CRLF; every other byte stays as it is.

    Two C-speed replaces (CRLF to LF, then LF to CRLF) instead of a look-behind regex: 15x
    faster, and exact, since every LF ends up preceded by exactly the CR it had or one new CR.
    """
    if b"\n" not in body or body.count(b"\n") == body.count(b"\r\n"):
        return body
    if b"\r" not in body:
        return body.replace(b"\n", b"\r\n")
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _text(data: list[Any] | None) -> str:
    if not data or data[-1] is None:
        return "no reason given"
    item = data[-1]
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


@dataclasses.dataclass
class Upload:
    """One message to APPEND: ``body`` with CRLF line endings, ``flags`` a flag list."""

    key: Any
    body: bytes
    flags: bytes
    date: bytes | None


@dataclasses.dataclass
class Appended:
    """What the server said about one upload."""

    key: Any
    stored: bool
    text: str  #: the server's answer (the reason, when not stored)
    uidvalidity: int | None = None
    uid: int | None = None  #: from APPENDUID; ``None`` when the server has no UIDPLUS


def _send_append(connection: Connection, quoted_mailbox: bytes, batch: list[Upload],
                 literal_plus: bool) -> bytes:
    """Send one APPEND (MULTIAPPEND for several uploads); return its tag.

    Without LITERAL+ each literal waits for the server's go-ahead; a tagged answer instead
    (message too large, no such mailbox) ends the command early.
    """
    imap = connection.client._imap
    tag = imap._new_tag()
    pieces = []
    for index, upload in enumerate(batch):
        text = (tag + b" APPEND " + quoted_mailbox if index == 0 else b"") + b" " + upload.flags
        if upload.date:
            text += b" " + upload.date
        pieces.append((text, upload.body))
    connection.debug(f"> {pieces[0][0].decode('utf-8', 'replace')} {{{len(batch[0].body)}}}"
                     + (f" and {len(batch) - 1} more messages" if len(batch) > 1 else ""))
    if literal_plus:
        wire = []
        for text, body in pieces:
            wire += [text, b" {%d+}\r\n" % len(body), body]
        imap.send(b"".join([*wire, b"\r\n"]))
        return tag
    for text, body in pieces:
        imap.send(text + b" {%d}\r\n" % len(body))
        while imap._get_response() is not None:  # None: the continuation request arrived
            if imap.tagged_commands.get(tag) is not None:
                return tag
        imap.send(body)
    imap.send(b"\r\n")
    return tag


def _complete(connection: Connection, tag: bytes) -> tuple[bool, str]:
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

    try:
        typ, data = connection.client._imap._command_complete("APPEND", tag)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:  # BAD
        return False, first_line(exc)
    return typ == "OK", _text(data)


class _Uploader:
    """Sends batches, keeps up to a window of commands in flight, and reads the answers."""

    def __init__(self, connection: Connection, mailbox: str) -> None:
        self.connection = connection
        self.quoted = connection.client._normalise_folder(mailbox)
        self.literal_plus = connection.has("LITERAL+")
        self.multi = connection.has("MULTIAPPEND")
        self.window = WINDOW_COMMANDS if self.literal_plus and not self.multi else 1
        self.pending: collections.deque[tuple[bytes, list[Upload]]] = collections.deque()

    def send(self, batch: list[Upload]) -> Iterator[Appended]:
        tag = _send_append(self.connection, self.quoted, batch, self.literal_plus)
        self.pending.append((tag, batch))
        while len(self.pending) >= self.window:
            yield from self.receive()

    def receive(self) -> Iterator[Appended]:
        tag, batch = self.pending.popleft()
        stored, text = _complete(self.connection, tag)
        if not stored and len(batch) > 1:
            for upload in batch:  # all-or-nothing refused: find the message at fault
                single = _send_append(self.connection, self.quoted, [upload], self.literal_plus)
                yield from _answers([upload], *_complete(self.connection, single))
            return
        yield from _answers(batch, stored, text)


def _answers(batch: list[Upload], stored: bool, text: str) -> Iterator[Appended]:
    answer = parse_appenduid(text.encode("utf-8", "replace"), len(batch)) if stored else None
    uids: list[int | None] = list(answer[1]) if answer else [None] * len(batch)
    for upload, uid in zip(batch, uids, strict=True):
        yield Appended(upload.key, stored, text, answer[0] if answer else None, uid)


def append_messages(connection: Connection, mailbox: str,
                    uploads: Iterable[Upload]) -> Iterator[Appended]:
    """APPEND every upload, yielding the server's answer for each in the order given.

    Memory stays bounded by one batch (MULTIAPPEND) or one window (pipelining).
    """
    uploader = _Uploader(connection, mailbox)
    batch: list[Upload] = []
    size = 0
    for upload in uploads:
        if batch and (not uploader.multi or len(batch) >= BATCH_MESSAGES
                      or size + len(upload.body) > BATCH_BYTES):
            yield from uploader.send(batch)
            batch, size = [], 0
        batch.append(upload)
        size += len(upload.body)
    if batch:
        yield from uploader.send(batch)
    while uploader.pending:
        yield from uploader.receive()
