"""Logging in: OfflineIMAP's mechanisms in the configured order (``auth_mechanisms``).

Each mechanism is tried only when the server offers it (``AUTH=...``; ``LOGIN`` unless
``LOGINDISABLED``). A rejection carrying ``[AUTHENTICATIONFAILED]`` (RFC 5530: the credentials
are wrong) ends the attempt at once: trying weaker mechanisms with the same wrong password only
multiplies the server's failure delay. The error is the server's own text, never the password.
GSSAPI needs a Kerberos library we do not ship, so it is skipped.

Where the server offers SASL-IR (RFC 4959), the client-first mechanisms (PLAIN, XOAUTH2) put
their initial response on the AUTHENTICATE line: one round trip instead of two. The trace masks
everything after ``AUTHENTICATE`` (:func:`offlineimap_imap.connection.mask`), so the encoded
password never reaches the log.

Mechanisms that send the password or token as it is (LOGIN, PLAIN, XOAUTH2) are not used on a
connection without TLS unless ``allow_plaintext_login = yes``: OfflineIMAP sent them to anyone
listening whenever ``ssl = no`` and the server offered no STARTTLS. CRAM-MD5 sends only a
keyed digest, so it stays allowed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

from offlineimap.errors import AuthenticationError
from offlineimap_imap.settings import ServerSettings

if TYPE_CHECKING:
    from imapclient import IMAPClient

#: Mechanisms whose exchange carries the secret itself.
CLEARTEXT = frozenset({"LOGIN", "PLAIN", "XOAUTH2"})
#: SASL mechanisms whose client speaks first: their answer can ride on the command (SASL-IR).
CLIENT_FIRST = frozenset({"PLAIN", "XOAUTH2"})


class TokenRefused(AuthenticationError):
    """The server refused an XOAUTH2 token from a token provider: a fresh one may work."""


class _Attempt:
    """One SASL exchange answering the first challenge and then only empty ones.

    XOAUTH2 servers report a failure as a challenge holding a JSON error, to which the client
    must answer empty; imapclient's own helper would send the token again.
    """

    def __init__(self, first: Callable[[bytes], str]) -> None:
        self._first = first
        self._answered = False

    def __call__(self, challenge: bytes) -> str:
        if self._answered:
            return ""
        self._answered = True
        return self._first(challenge)


class _EmptyAnswers:
    """After an initial response, every further challenge (XOAUTH2's error report) gets an
    empty answer. A class, because imaplib takes only a bound method as a continuation
    callback: anything else it would send as a literal."""

    def answer(self, challenge: bytes) -> bytes:
        return b""


def _authenticate_initial(client: IMAPClient, mechanism: str, initial: str) -> None:
    """``AUTHENTICATE <mechanism> <initial response>`` (SASL-IR, RFC 4959): one round trip.

    imapclient's ``sasl_login`` always waits for a first continuation; imaplib sends a
    command with arguments as they are and, given a continuation callback, answers any
    challenge that still comes (XOAUTH2's error report) while waiting for the tagged answer.
    """
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

    imap = client._imap
    encoded = base64.b64encode(initial.encode("utf-8")).decode("ascii") or "="
    imap.literal = _EmptyAnswers().answer
    try:
        typ, data = imap._simple_command("AUTHENTICATE", mechanism, encoded)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:  # BAD: imaplib raises with the server's text
        raise LoginError(str(exc)) from None
    finally:
        imap.literal = None
    if typ != "OK":
        text = data[-1] if data else b""
        raise LoginError(text.decode("utf-8", "replace") if isinstance(text, bytes)
                         else str(text))
    imap.state = "AUTH"


def _cram_md5(user: str, password: str) -> Callable[[bytes], str]:
    def answer(challenge: bytes) -> str:
        digest = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
        return f"{user} {digest}"

    return answer


def _server_text(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for prefix in ("login failed: ", "authenticate failed: "):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    return text


def _offered(mechanism: str, settings: ServerSettings, capabilities: set[str]) -> bool:
    if mechanism == "GSSAPI":
        return False
    if mechanism == "LOGIN":
        return "LOGINDISABLED" not in capabilities
    if mechanism == "XOAUTH2" and not settings.has_oauth2:
        return False
    return f"AUTH={mechanism}" in capabilities


def _sasl_answer(mechanism: str, settings: ServerSettings, user: str,
                 password: Callable[[], str]) -> Callable[[bytes], str]:
    """The first answer of a SASL mechanism: XOAUTH2, CRAM-MD5 or PLAIN."""
    if mechanism == "XOAUTH2":
        token = settings.oauth2_token() or ""
        return lambda _: f"user={user}\1auth=Bearer {token}\1\1"
    if mechanism == "CRAM-MD5":
        return _cram_md5(user, password())
    identity, secret = settings.identity or "", password()
    return lambda _: f"{identity}\0{user}\0{secret}"


def authenticate(client: IMAPClient, settings: ServerSettings,
                 password: Callable[[], str], *, encrypted: bool) -> str:
    """Log ``client`` in; return the mechanism that worked. ``password`` is asked lazily.

    :param encrypted: whether the connection runs TLS; without it, cleartext mechanisms are
        refused unless the repository allows them.
    """
    from imapclient.exceptions import IMAPClientAbortError, LoginError

    if not settings.user:
        raise AuthenticationError(f"[Repository {settings.repository}] remoteuser is not set")
    user = settings.user
    # imaplib's own list is the current pre-login one (re-read after STARTTLS); asking
    # imapclient would cost another CAPABILITY round trip.
    capabilities = {str(cap).upper() for cap in client._imap.capabilities}
    where = f"[Repository {settings.repository}] login as {user} on {settings.host}"
    failures: list[str] = []
    withheld: list[str] = []
    for mechanism in settings.auth_mechanisms:
        if not _offered(mechanism, settings, capabilities):
            continue
        if mechanism in CLEARTEXT and not (encrypted or settings.allow_plaintext):
            withheld.append(mechanism)
            continue
        try:
            if mechanism == "LOGIN":
                client.login(user, password())
            else:
                answer = _sasl_answer(mechanism, settings, user, password)
                if mechanism in CLIENT_FIRST and "SASL-IR" in capabilities:
                    _authenticate_initial(client, mechanism, answer(b""))
                else:
                    client.sasl_login(mechanism, _Attempt(answer))
            return mechanism
        except IMAPClientAbortError as exc:
            raise AuthenticationError(f"{where}: connection lost: {_server_text(exc)}") from None
        except LoginError as exc:
            text = _server_text(exc)
            if mechanism == "XOAUTH2" and settings.token_provider is not None:
                raise TokenRefused(f"{where} refused the OAuth2 token: {text}") from None
            if "[AUTHENTICATIONFAILED]" in text.upper():
                raise AuthenticationError(f"{where} refused: {text}") from None
            failures.append(f"{mechanism}: {text}")
    if failures:
        raise AuthenticationError(f"{where} refused: " + "; ".join(failures))
    if withheld:
        raise AuthenticationError(
            f"{where}: not sending the password unencrypted ({', '.join(withheld)} without "
            "TLS): use ssl = yes or starttls = yes, or set allow_plaintext_login = yes if "
            "the network is trusted")
    offered = sorted(cap[5:] for cap in capabilities if cap.startswith("AUTH="))
    raise AuthenticationError(
        f"{where}: the server offers none of auth_mechanisms = "
        f"{', '.join(settings.auth_mechanisms)} (it offers: {', '.join(offered) or 'nothing'})")
