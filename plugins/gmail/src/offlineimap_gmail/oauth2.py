"""OAuth2 access tokens for XOAUTH2 logins: configured, or refreshed from a refresh token.

OfflineIMAP's options, read from a ``[Repository X]`` section, each also as ``<name>_eval``
(a Python expression evaluated when the token is needed, so it may call a password manager):
``oauth2_client_id``, ``oauth2_client_secret``, ``oauth2_refresh_token``, ``oauth2_access_token``
and ``oauth2_request_url`` (Google's token endpoint unless set).

:class:`TokenSource` hands out a token that is valid for at least :data:`EXPIRY_MARGIN` more
seconds: a configured access token first, then one obtained with the refresh token (RFC 6749
section 6: a form-encoded POST with ``grant_type=refresh_token``), refreshed again shortly before
the ``expires_in`` the endpoint announced. After the server refuses a token, :meth:`invalidate`
makes the next call fetch a fresh one. Tokens and secrets never appear in an error message.

For ``type = IMAP`` (whose plugin takes a ready token), :func:`oauth2_refresh` is offered to the
configuration namespace: ``oauth2_access_token_eval = oauth2_refresh(client_id=..., ...)``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from offlineimap.config import Section
from offlineimap.errors import AuthenticationError, ConfigError

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
#: A token is refreshed when it has less than this many seconds left.
EXPIRY_MARGIN = 60.0
#: Assumed lifetime when the endpoint does not say (Google's tokens last an hour).
DEFAULT_LIFETIME = 3600.0
REQUEST_TIMEOUT = 30.0


def option(section: Section, name: str) -> str | None:
    """``<name>_eval`` evaluated if set, else ``<name>``; ``None`` when neither is set."""
    if section.has(name + "_eval"):
        value = section.get_eval(name + "_eval")
    else:
        value = section.get(name, None)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def configured(section: Section) -> bool:
    """Whether the section asks for XOAUTH2 (an access token or a refresh token)."""
    return any(section.has(name) or section.has(name + "_eval")
               for name in ("oauth2_access_token", "oauth2_refresh_token"))


class TokenSource:
    """The access token of one repository, shared by all its connections (thread-safe)."""

    def __init__(self, lookup: Callable[[str], str | None], *, where: str, can_refresh: bool,
                 default_url: str = GOOGLE_TOKEN_URL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """:param lookup: the value of an ``oauth2_*`` option, asked only when needed."""
        self.lookup = lookup
        self.where = where
        self.can_refresh = can_refresh
        self.default_url = default_url
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: float | None = None  #: clock time; ``None``: unknown (configured token)
        self._configured_used = False
        self.refreshes = 0  #: how many tokens were obtained from the endpoint (for tests, -d)

    @classmethod
    def for_section(cls, section: Section, **options: Any) -> TokenSource:
        """The token source of a ``[Repository X]`` section."""
        return cls(lambda name: option(section, name), where=f"[{section.name}]",
                   can_refresh=section.has("oauth2_refresh_token")
                   or section.has("oauth2_refresh_token_eval"), **options)

    def token(self) -> str:
        """A token to log in with now."""
        with self._lock:
            if self._token is not None and (
                    self._expires is None or self._expires - self._clock() > EXPIRY_MARGIN):
                return self._token
            if not self._configured_used:
                self._configured_used = True
                given = self.lookup("oauth2_access_token")
                if given is not None:
                    self._token, self._expires = given, None
                    return given
            if not self.can_refresh:
                raise AuthenticationError(
                    f"{self.where} the OAuth2 access token was refused or has expired and no "
                    "oauth2_refresh_token is set to get a new one")
            self._token, self._expires = self._refresh()
            return self._token

    def invalidate(self) -> None:
        """Forget the current token: the server refused it."""
        with self._lock:
            self._token = None
            self._configured_used = True

    def secrets(self) -> tuple[str, ...]:
        """Strings to mask in protocol traces."""
        return (self._token,) if self._token else ()

    def _refresh(self) -> tuple[str, float]:
        url = self.lookup("oauth2_request_url") or self.default_url
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"{self.where} oauth2_request_url = {url!r}: expected an "
                              "http(s) URL")
        form = {"grant_type": "refresh_token"}
        for name in ("client_id", "client_secret", "refresh_token"):
            value = self.lookup("oauth2_" + name)
            if value is None and name != "client_secret":
                raise ConfigError(f"{self.where} oauth2_{name} is not set (needed to refresh "
                                  "the OAuth2 access token)")
            if value is not None:
                form[name] = value
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode("ascii"), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"})
        where = f"{self.where} OAuth2 token request to {url}"
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise AuthenticationError(f"{where} refused (HTTP {exc.code}): "
                                      f"{_error_text(exc.read())}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise AuthenticationError(f"{where} failed: {reason}") from None
        try:
            answer = json.loads(payload)
            token = answer["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(f"{where}: the answer holds no access_token") from None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(f"{where}: the answer holds no access_token")
        try:
            lifetime = float(answer.get("expires_in", DEFAULT_LIFETIME))
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        self.refreshes += 1
        return token, self._clock() + lifetime


_shared: dict[tuple[str, str, str | None, str], TokenSource] = {}
_shared_lock = threading.Lock()


def oauth2_refresh(client_id: str, refresh_token: str, client_secret: str | None = None,
                   request_url: str = GOOGLE_TOKEN_URL) -> str:
    """A valid access token for these credentials, refreshed when it is about to expire.

    For ``oauth2_access_token_eval`` of any IMAP repository; one token is shared per set of
    credentials for the whole run.
    """
    key = (client_id, refresh_token, client_secret, request_url)
    with _shared_lock:
        source = _shared.get(key)
        if source is None:
            values = {"oauth2_client_id": client_id, "oauth2_refresh_token": refresh_token,
                      "oauth2_client_secret": client_secret, "oauth2_request_url": request_url}
            source = _shared[key] = TokenSource(values.get, where="oauth2_refresh()",
                                                can_refresh=True)
    return source.token()


def _error_text(payload: bytes) -> str:
    """The endpoint's ``error`` and ``error_description`` (RFC 6749 5.2), never anything else
    it echoes back (which could hold the refresh token)."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return "no readable reason"
    if not isinstance(answer, dict):
        return "no readable reason"
    parts = [str(answer[key]) for key in ("error", "error_description") if answer.get(key)]
    return ": ".join(parts) or "no reason given"
