"""Commands imapclient 4.1 does not send the way we need, and one-line errors for all of them.

* ``UID FETCH`` with a sequence set string (``1:*``, ``5:9,12``): imapclient's ``fetch`` raises
  ``ValueError`` on ``1:*`` after the server answered and sends UID lists comma by comma.
* Pipelined ``APPEND`` with non-synchronising literals (LITERAL+, RFC 7888): up to a window of
  messages is on the wire before the first answer is read, so a thousand uploads cost a few
  round trips instead of two thousand; each message still gets its own tagged answer, so one
  refused message fails alone (``MULTIAPPEND`` would refuse the whole batch).
* :func:`guard` turns imapclient and socket exceptions into :mod:`offlineimap.errors`.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from offlineimap.errors import ConnectionFailed, FolderError, Scope

if TYPE_CHECKING:
    from offlineimap_imap.connection import Connection

#: Pipelined APPEND window: messages and bytes sent before waiting for the oldest answer.
APPEND_WINDOW_MESSAGES = 64
APPEND_WINDOW_BYTES = 8 * 1024 * 1024

_BARE_LF = re.compile(rb"(?<!\r)\n")


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


def to_crlf(body: bytes) -> bytes:
    """IMAP line endings: bare LF becomes CRLF; every other byte stays as it is."""
    if b"\n" not in body or body.count(b"\n") == body.count(b"\r\n"):
        return body
    return _BARE_LF.sub(b"\r\n", body)


def _text(data: list[Any] | None) -> str:
    if not data or data[-1] is None:
        return "no reason given"
    item = data[-1]
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _send_append(connection: Connection, head: bytes, body: bytes, literal_plus: bool) -> bytes:
    """Send one APPEND; return its tag. Without LITERAL+ wait for the server's go-ahead."""
    imap = connection.client._imap
    tag = imap._new_tag()
    line = tag + b" APPEND " + head
    connection.debug(f"> {line.decode('utf-8', 'replace')} {{{len(body)}}}")
    if literal_plus:
        imap.send(b"%s {%d+}\r\n%s\r\n" % (line, len(body), body))
        return tag
    imap.send(b"%s {%d}\r\n" % (line, len(body)))
    while imap._get_response() is not None:  # None: the continuation request arrived
        if imap.tagged_commands.get(tag) is not None:
            return tag  # refused before the literal (too large, no such mailbox, ...)
    imap.send(body + b"\r\n")
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


def append_pipelined(connection: Connection, mailbox: str,
                     messages: Iterable[tuple[Any, bytes, bytes, bytes | None]],
                     ) -> Iterator[tuple[Any, bool, str]]:
    """APPEND each ``(key, body, flag list, date)``; yield ``(key, stored, server text)``.

    ``body`` must already have CRLF line endings. Answers come in the order sent. With LITERAL+
    the window bounds both the memory held and the work lost if the connection breaks.
    """
    literal_plus = connection.has("LITERAL+")
    quoted = connection.client._normalise_folder(mailbox)
    pending: collections.deque[tuple[Any, bytes, int]] = collections.deque()
    pending_bytes = 0
    for key, body, flag_list, date in messages:
        head = quoted + b" " + flag_list + (b" " + date if date else b"")
        pending.append((key, _send_append(connection, head, body, literal_plus), len(body)))
        pending_bytes += len(body)
        while pending and (not literal_plus or len(pending) >= APPEND_WINDOW_MESSAGES
                           or pending_bytes >= APPEND_WINDOW_BYTES):
            key, tag, size = pending.popleft()
            pending_bytes -= size
            yield (key, *_complete(connection, tag))
    while pending:
        key, tag, _ = pending.popleft()
        yield (key, *_complete(connection, tag))
