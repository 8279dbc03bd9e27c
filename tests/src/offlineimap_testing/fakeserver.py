"""A scripted IMAP server on 127.0.0.1 that says whatever a test wants, however wrong.

Dovecot is a well-behaved server; security and hostile-input tests need the other kind: one
that hides STARTTLS (a man in the middle stripping it), answers a login with garbage, or sends
malformed FETCH data. :class:`FakeImapServer` sends ``greeting`` to each client, then calls
``respond(tag, command_line)`` for every command line and sends back the bytes it returns (an
empty answer closes the connection, and so does :class:`Hangup` after sending its answer).
Everything a client sent is kept in :attr:`received`, so a test can assert that a password
never left the client.

Bounded like the fault proxy: loopback only, a few connections, timeouts everywhere, and
:meth:`FakeImapServer.close` ends every thread.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from offlineimap_testing.loopback import LoopbackServer

__all__ = ["FakeImapServer", "Hangup", "Responder", "capability_responder", "mailbox_responder"]

Responder = Callable[[bytes, bytes], bytes]


class Hangup(Exception):
    """Raised by a responder: send ``answer``, then close the connection."""

    def __init__(self, answer: bytes) -> None:
        super().__init__("hang up")
        self.answer = answer
_TIMEOUT = 10.0


def capability_responder(capabilities: bytes) -> Responder:
    """A server that knows only CAPABILITY (answered with ``capabilities``), LOGOUT, NOOP;
    everything else, logins included, gets ``NO``."""

    def respond(tag: bytes, line: bytes) -> bytes:
        command = line.split(b" ", 1)[0].upper()
        if command == b"CAPABILITY":
            return b"* CAPABILITY " + capabilities + b"\r\n" + tag + b" OK done\r\n"
        if command == b"LOGOUT":
            return b"* BYE\r\n" + tag + b" OK bye\r\n"
        if command == b"NOOP":
            return tag + b" OK\r\n"
        return tag + b" NO not here\r\n"

    return respond


def mailbox_responder(listing: bytes = b"", bodies: bytes = b"",
                      capabilities: bytes = b"IMAP4rev1 UIDPLUS") -> Responder:
    """A server that logs anyone in (LOGIN or any AUTHENTICATE), has an INBOX of two
    messages, and answers the listing's ``UID FETCH`` with ``listing`` and the body
    download's with ``bodies`` (each followed by a tagged OK)."""

    authenticating: list[bytes] = []  # the tag of an AUTHENTICATE awaiting its answer line

    def respond(tag: bytes, line: bytes) -> bytes:
        if authenticating:  # this line is the client's SASL answer, not a command
            return authenticating.pop() + b" OK authenticated\r\n"
        words = line.upper().split()
        ok = tag + b" OK done\r\n"
        if not words:
            return tag + b" BAD empty\r\n"
        if words[0] == b"AUTHENTICATE" and len(words) == 2:
            authenticating.append(tag)
            return b"+ \r\n"
        if words[0] == b"CAPABILITY":
            return b"* CAPABILITY " + capabilities + b"\r\n" + ok
        if words[0] == b"LIST":
            if line.endswith(b'""'):
                return b'* LIST (\\Noselect) "." ""\r\n' + ok
            return b'* LIST () "." INBOX\r\n' + ok
        if words[0] in (b"SELECT", b"EXAMINE"):
            return (b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n"
                    + tag + b" OK [READ-WRITE] selected\r\n")
        if words[:2] == [b"UID", b"FETCH"]:
            return (listing if b"FLAGS" in line.upper() else bodies) + ok
        if words[0] == b"LOGOUT":
            return b"* BYE\r\n" + ok
        return ok

    return respond


class FakeImapServer(LoopbackServer):
    """Serves ``greeting`` then ``respond``'s answers, one thread per client (at most 8)."""

    def __init__(self, greeting: bytes, respond: Responder) -> None:
        self.greeting = greeting
        self.respond = respond
        self.received = bytearray()
        self._lock = threading.Lock()
        super().__init__(max_connections=8, name="fakeserver", join_timeout=_TIMEOUT)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(_TIMEOUT)
        with client, client.makefile("rb") as reader:
            try:
                client.sendall(self.greeting)
                while not self._stop.is_set():
                    line = reader.readline(65536)
                    if not line:
                        return
                    with self._lock:
                        self.received += line
                    tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                    try:
                        answer = self.respond(tag, rest)
                    except Hangup as hangup:
                        client.sendall(hangup.answer)
                        return
                    if not answer:
                        return
                    client.sendall(answer)
            except OSError:
                return
