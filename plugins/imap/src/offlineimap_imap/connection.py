"""One logged-in IMAP connection: connect, TLS (implicit or STARTTLS), authenticate, debug log.

imapclient is imported here, when the first connection opens, so that loading the plugin (for
``offlineimap --help``) stays cheap. ``-d imap`` routes imaplib's protocol trace to
``events.debug("imap", ...)`` with LOGIN and AUTHENTICATE arguments (and any known secret)
masked; without it the trace is switched off, which also saves formatting every line.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from offlineimap.errors import ConnectionFailed
from offlineimap_imap import auth, tls
from offlineimap_imap.settings import ServerSettings, StartTLS

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from offlineimap.events import Events

_AUTH_COMMAND = re.compile(r"\b(LOGIN|AUTHENTICATE)\b", re.IGNORECASE)
_MASK = "****"


def mask(line: str, secrets: Iterable[str] = ()) -> str:
    """A protocol trace line with credentials replaced: never log what follows LOGIN."""
    match = _AUTH_COMMAND.search(line)
    if match and line.lstrip().startswith(">"):
        line = line[:match.end()] + " " + _MASK
    for secret in secrets:
        if secret:
            line = line.replace(secret, _MASK)
    return line


class Connection:
    """An authenticated :class:`imapclient.IMAPClient` and what was learned while opening it.

    Used by one thread at a time (the pool hands it out). ``selected`` tracks the mailbox so a
    folder re-selects only when another folder used the connection in between.
    """

    def __init__(self, client: IMAPClient, greeting: str, trace: Callable[[str], None] | None):
        self.client = client
        self.greeting = greeting
        self._trace = trace
        self.capabilities = frozenset(
            cap.decode("ascii", "replace").upper() for cap in client.capabilities())
        #: ``(mailbox, readonly)`` currently selected, or ``None``.
        self.selected: tuple[str, bool] | None = None
        #: Set when the connection failed mid-command: the pool then discards it.
        self.broken = False

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    def debug(self, text: str) -> None:
        """Trace a command we send ourselves (imaplib traces only its own)."""
        if self._trace is not None:
            self._trace(text)

    def close(self) -> None:
        """Log out politely; a connection that is already gone is just dropped."""
        try:
            if self.broken:
                self.client.shutdown()
            else:
                self.client.logout()
        except Exception:  # closing a dead socket must never fail a sync
            _drop(self.client)


def _where(settings: ServerSettings) -> str:
    return f"[Repository {settings.repository}] {settings.host}:{settings.port}"


def _connect(settings: ServerSettings, context: ssl.SSLContext | None) -> IMAPClient:
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError

    try:
        return IMAPClient(settings.host, settings.port, ssl=settings.ssl, ssl_context=context,
                          timeout=settings.timeout)
    except ssl.SSLError as exc:
        raise tls.translate(settings, exc) from None
    except TimeoutError:
        raise ConnectionFailed(f"{_where(settings)}: cannot connect: timed out") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConnectionFailed(f"{_where(settings)}: cannot connect: {reason}") from None
    except IMAPClientError as exc:
        raise ConnectionFailed(f"{_where(settings)}: bad greeting: {exc}") from None


def _start_tls(client: IMAPClient, settings: ServerSettings, context: ssl.SSLContext) -> None:
    from imapclient.exceptions import IMAPClientError

    if not client.has_capability("STARTTLS"):
        if settings.starttls is StartTLS.REQUIRED:
            raise tls.certificate_error(
                settings, "starttls = yes but the server does not offer STARTTLS")
        return
    try:
        client.starttls(context)
    except ssl.SSLError as exc:
        raise tls.translate(settings, exc) from None
    except (IMAPClientError, OSError) as exc:
        raise tls.certificate_error(settings, f"STARTTLS failed: {exc}") from None
    tls.check_pins(settings, client.socket())


def open_connection(settings: ServerSettings, *, password: Callable[[], str], events: Events,
                    account: str, debug: bool,
                    secrets: Callable[[], Iterable[str]] = tuple) -> Connection:
    """Open, secure and authenticate one connection, reporting it to the UI.

    :param password: returns the password; called only if a mechanism needs one.
    :param secrets: strings masked in the debug trace besides LOGIN/AUTHENTICATE arguments.
    """
    events.connecting(account=account, repository=settings.repository, host=settings.host,
                      port=settings.port)
    uses_tls = settings.ssl or settings.starttls is not StartTLS.OFF
    context = tls.make_context(settings) if uses_tls else None
    client = _connect(settings, context)
    # Pipelined commands end in small segments: do not let Nagle hold them for an ACK.
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    trace = None
    if debug:
        def trace(text: str, secs: object = None) -> None:
            events.debug("imap", mask(text, secrets()))
        client._imap._mesg = trace
        client._imap.debug = 4  # 5 would also dump untagged data: message bodies
        trace(f"< {client.welcome!r}")
    else:
        client._imap.debug = 0
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

    try:
        if settings.ssl:
            tls.check_pins(settings, client.socket())
        elif context is not None:
            _start_tls(client, settings, context)
        encrypted = isinstance(client.socket(), ssl.SSLSocket)
        auth.authenticate(client, settings, password, encrypted=encrypted)
        connection = Connection(client, _decode(client.welcome), trace)
        # QRESYNC (which implies CONDSTORE) lets a changed folder be listed by its changes:
        # ``UID FETCH ... (CHANGEDSINCE <modseq> VANISHED)``, see IMAPFolder.list_changes.
        for extension in ("QRESYNC", "CONDSTORE"):
            if connection.has(extension) and connection.has("ENABLE"):
                client.enable(extension)
                break
    except BaseException as exc:
        _drop(client)
        if isinstance(exc, (OSError, IMAPClientAbortError)):
            raise ConnectionFailed(f"{_where(settings)}: connection lost: {exc}") from None
        if isinstance(exc, IMAPClientError):
            raise ConnectionFailed(f"{_where(settings)}: {exc}") from None
        raise
    return connection


def _drop(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # the socket may already be gone
        pass


def _decode(welcome: bytes | str | None) -> str:
    if isinstance(welcome, bytes):
        return welcome.decode("utf-8", "replace")
    return welcome or ""
