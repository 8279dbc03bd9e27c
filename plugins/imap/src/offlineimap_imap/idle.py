"""IMAP IDLE (RFC 2177) on a connection of its own, for core's :mod:`offlineimap.idle`.

The folder is EXAMINEd (read-only, so ``\\Recent`` is left to mail readers) and put in IDLE.
:meth:`IMAPIdleHandle.wait` looks for untagged ``EXISTS``, ``EXPUNGE``, ``FETCH`` (flags) and
``VANISHED`` answers. imapclient's ``idle_check`` is not used because it returns an empty list
both when nothing happened and when the server closed the connection; here a readable socket
that yields no line is a closed connection (``ConnectionFailed``), and so is ``* BYE``.

Every blocking read is bounded: ``socktimeout`` when set, else :data:`DEFAULT_TIMEOUT`, so a
connection that silently died cannot hang the daemon when the wait is renewed.
"""

from __future__ import annotations

import dataclasses
import re
import select
import ssl
from typing import TYPE_CHECKING

from offlineimap.errors import ConnectionFailed, FolderError, Scope
from offlineimap.repository import IdleHandle
from offlineimap_imap import protocol
from offlineimap_imap.connection import Connection

if TYPE_CHECKING:
    from offlineimap_imap.repository import IMAPRepository

#: Read timeout of IDLE connections when ``socktimeout`` is not set (seconds).
DEFAULT_TIMEOUT = 60.0
#: Timeout of the polite goodbye in close().
CLOSE_TIMEOUT = 2.0

_CHANGE = re.compile(rb"^\* (?:\d+ (?:EXISTS|EXPUNGE|FETCH)\b|VANISHED\b)", re.IGNORECASE)
_BYE = re.compile(rb"^\* BYE\b", re.IGNORECASE)


def open_idle(repository: IMAPRepository, folder: str) -> IMAPIdleHandle:
    """Connect, log in, EXAMINE ``folder`` and start IDLE (``Repository.idle_connection``)."""
    settings = repository.settings
    settings = dataclasses.replace(settings, timeout=settings.timeout or DEFAULT_TIMEOUT)
    connection = repository._open_connection(settings)
    where = f"[Repository {repository.name}] folder {folder}: IDLE"
    try:
        if not connection.has("IDLE"):
            raise FolderError(f"{where}: the server does not support IDLE")
        with protocol.guard(connection, f"{where}: EXAMINE"):
            connection.client.select_folder(folder, readonly=True)
        handle = IMAPIdleHandle(connection, where)
        handle.start()
    except BaseException:
        connection.broken = True
        connection.close()
        raise
    return handle


class IMAPIdleHandle(IdleHandle):
    """One connection in IDLE on a selected folder."""

    def __init__(self, connection: Connection, where: str) -> None:
        self.connection = connection
        self.where = where
        #: A change read while (re)starting IDLE, reported by the next wait().
        self._unreported = False

    def start(self) -> None:
        """Send IDLE; the server's first answers may already sit in the read buffer."""
        with protocol.guard(self.connection, f"{self.where}: IDLE"):
            self.connection.client.idle()
        self._unreported |= self._read_available(expect_data=False)

    def wait(self, timeout: float) -> bool:
        if self._unreported:
            self._unreported = False
            return True
        sock = self.connection.client.socket()
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not pending:
            try:
                readable, _, _ = select.select([sock], [], [], timeout)
            except (OSError, ValueError) as exc:  # closed socket
                raise self._lost(str(exc)) from None
            if not readable:
                return False
        return self._read_available(expect_data=True)

    def renew(self) -> bool:
        client = self.connection.client
        self.connection.debug("> DONE")
        with protocol.guard(self.connection, f"{self.where}: DONE"):
            _text, responses = client.idle_done()
        changed = any(_is_change_response(response) for response in responses)
        self.start()
        changed |= self._unreported
        self._unreported = False
        return changed

    def close(self) -> None:
        client = self.connection.client
        try:
            client.socket().settimeout(CLOSE_TIMEOUT)
            if not self.connection.broken:
                self.connection.debug("> DONE")
                client.idle_done()
        except Exception:  # a connection already gone is simply dropped below
            self.connection.broken = True
        self.connection.close()

    # -- reading ---------------------------------------------------------------------------------

    def _read_available(self, *, expect_data: bool) -> bool:
        """Read the lines that can be read without blocking; whether one reports a change.

        With ``expect_data`` (the socket was readable), getting no line at all means the
        server closed the connection.
        """
        from imapclient.exceptions import IMAPClientAbortError

        client = self.connection.client
        sock = client.socket()
        lines: list[bytes] = []
        sock.setblocking(False)
        try:
            while True:
                try:
                    lines.append(client._imap._get_line())
                except (BlockingIOError, ssl.SSLWantReadError):
                    break
                except (IMAPClientAbortError, OSError) as exc:
                    # imaplib reports "no more data for now" as EOF on a non-blocking socket.
                    if lines or not expect_data:
                        break
                    raise self._lost(protocol.first_line(exc)) from None
        finally:
            try:
                sock.setblocking(True)
                client._set_read_timeout()
            except OSError:
                self.connection.broken = True
        if any(_BYE.match(line) for line in lines):
            raise self._lost("the server said BYE")
        return any(_CHANGE.match(line) for line in lines)

    def _lost(self, reason: str) -> ConnectionFailed:
        self.connection.broken = True
        return ConnectionFailed(f"{self.where}: connection lost: {reason}", scope=Scope.FOLDER)


def _is_change_response(response: object) -> bool:
    """An answer parsed by imapclient (``(3, b'EXISTS')``) that reports a change."""
    return (isinstance(response, tuple) and len(response) >= 2
            and isinstance(response[1], bytes)
            and response[1].upper() in (b"EXISTS", b"EXPUNGE", b"FETCH", b"VANISHED"))
