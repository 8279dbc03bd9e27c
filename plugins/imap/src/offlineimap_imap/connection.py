"""One logged-in IMAP connection: connect, TLS (implicit or STARTTLS), authenticate, debug log.

imapclient is imported here, when the first connection opens, so that loading the plugin (for
``offlineimap --help``) stays cheap. ``-d imap`` routes imaplib's protocol trace to
``events.debug("imap", ...)`` with LOGIN and AUTHENTICATE arguments (and any known secret)
masked; without it the trace is switched off, which also saves formatting every line.

On a network every command answered before the next one is sent costs a round trip, so opening
and closing ask nothing the server has already said: the capabilities come from the greeting's
``[CAPABILITY ...]`` code (imaplib would ask CAPABILITY again) and, after login, from the
tagged OK's (imapclient asks once only when that is missing); LOGOUT is sent, not waited for.
"""

from __future__ import annotations

import functools
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
#: Seconds closing may spend handing LOGOUT to the socket (it never waits for the answer).
CLOSE_TIMEOUT = 2.0


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
        """Send LOGOUT and hang up without waiting for its answer; never raises.

        Waiting for ``* BYE`` and the tagged OK would cost a round trip per connection and
        tell us nothing: every command before it was already answered (one connection is
        lock-step) and LOGOUT changes no mail. LOGOUT goes out whole, under a short send
        timeout; the socket is closed right after, so nothing half-sent can be followed by
        anything else. A broken connection is dropped without a word.
        """
        client = self.client
        if not self.broken:
            try:
                client.socket().settimeout(CLOSE_TIMEOUT)
                imap = client._imap
                imap.state = "LOGOUT"
                imap._command("LOGOUT")  # sends (and traces) the line; reads nothing
            except Exception:  # a dead socket: dropping it below is all that is left to do
                pass
        _drop(client)


def _where(settings: ServerSettings) -> str:
    return f"[Repository {settings.repository}] {settings.host}:{settings.port}"


@functools.cache
def _client_class() -> type[IMAPClient]:
    """:class:`imapclient.IMAPClient` whose imaplib object takes the greeting's capabilities.

    Built on first use so that imapclient is imported only when a connection opens.
    """
    from imapclient import IMAPClient, imap4
    from imapclient import tls as imapclient_tls

    class GreetingCapabilities:
        """imaplib mixin: take the capabilities from the greeting's ``[CAPABILITY ...]`` code.

        The code is popped from ``untagged_responses`` (so imapclient never mistakes it for
        a post-login list) and CAPABILITY is sent only when the greeting had none. After
        STARTTLS imaplib calls this again: what was said before TLS cannot be trusted (RFC
        3501 6.2.1), so any leftover code is dropped and the server is asked.
        """

        _greeted = False
        untagged_responses: dict[str, list[bytes]]
        capabilities: tuple[str, ...]

        def _get_capabilities(self) -> None:
            offered = self.untagged_responses.pop("CAPABILITY", None)
            if offered and not self._greeted and isinstance(offered[-1], bytes):
                self._greeted = True
                self.capabilities = tuple(offered[-1].decode("ascii", "replace").upper().split())
                return
            self._greeted = True
            super()._get_capabilities()  # type: ignore[misc]

    class PlainIMAP4(GreetingCapabilities, imap4.IMAP4WithTimeout):
        pass

    class TLSIMAP4(GreetingCapabilities, imapclient_tls.IMAP4_TLS):
        pass

    class Client(IMAPClient):
        def _create_IMAP4(self) -> PlainIMAP4 | TLSIMAP4:
            timeout = getattr(self._timeout, "connect", None)
            if self.ssl:
                return TLSIMAP4(self.host, self.port, self.ssl_context, timeout)
            return PlainIMAP4(self.host, self.port, timeout)

    return Client


def _connect(settings: ServerSettings, context: ssl.SSLContext | None) -> IMAPClient:
    from imapclient.exceptions import IMAPClientError

    try:
        return _client_class()(settings.host, settings.port, ssl=settings.ssl,
                               ssl_context=context, timeout=settings.timeout)
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
                # imaplib's command, unlike imapclient's enable(), shows in the debug trace.
                typ, data = client._imap._simple_command("ENABLE", extension)
                client._checkok("enable", typ, data)
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
