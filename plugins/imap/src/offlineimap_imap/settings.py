"""The options of an ``[Repository X]`` section with ``type = IMAP``, read and checked once.

Everything is parsed when the repository is built, so a bad value stops the run with one
``ConfigError`` line before anything connects. Values that may run user code at the moment they
are needed (``oauth2_access_token_eval``) stay unevaluated until authentication.
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Protocol

from offlineimap.config import Config, Section
from offlineimap.errors import ConfigError
from offlineimap.passwords import resolve_user

#: OfflineIMAP's mechanisms, strongest first; also its default order.
AUTH_MECHANISMS = ("GSSAPI", "XOAUTH2", "CRAM-MD5", "PLAIN", "LOGIN")

#: ``tls_level`` and ``ssl_version`` values -> the lowest TLS version we then accept (``None``:
#: the system's default floor, TLS 1.2 on current OpenSSL). OfflineIMAP pins ``ssl_version`` to
#: exactly one version; a floor is the safe reading of it.
TLS_LEVELS = {"tls_compat": None, "tls_no_ssl": None, "tls_secure": "TLSv1_2"}
SSL_VERSIONS = {"tls1": "TLSv1", "tls1_1": "TLSv1_1", "tls1_2": "TLSv1_2", "tls1_3": "TLSv1_3",
                "ssl23": None}
_FINGERPRINT_LENGTHS = {40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}


class TokenProvider(Protocol):
    """Where XOAUTH2 access tokens come from when a plugin supplies them (for example one that
    refreshes them with an OAuth2 refresh token): set it as
    :attr:`IMAPRepository.oauth2_token_provider <offlineimap_imap.repository.IMAPRepository>`.

    One provider serves all connections of a repository, from several threads.
    """

    def token(self) -> str:
        """A token to log in with now; raise ``AuthenticationError`` when there is none."""
        ...

    def invalidate(self) -> None:
        """The server refused the last token: the next :meth:`token` must not return it."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Strings to mask in protocol traces (the current token)."""
        ...


class StartTLS(enum.Enum):
    OFF = "off"  #: implicit TLS (``ssl = yes``), or ``starttls = no``
    IF_OFFERED = "if offered"  #: ``ssl = no`` and ``starttls`` unset: OfflineIMAP's default
    REQUIRED = "required"  #: ``starttls = yes`` written out: fail when the server lacks it


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """Where and how to connect and log in."""

    repository: str
    host: str
    port: int
    ssl: bool
    starttls: StartTLS
    cafile: Path | None  #: ``None``: the system's trust store
    fingerprints: tuple[tuple[str, str], ...]  #: ``(hash name, lower-case hex)`` pins
    client_cert: Path | None
    client_key: Path | None
    min_tls: str | None  #: name of an ``ssl.TLSVersion`` member
    auth_mechanisms: tuple[str, ...]
    user: str | None
    identity: str | None  #: ``remote_identity``: PLAIN's authorization identity
    timeout: float | None
    #: ``allow_plaintext_login``: LOGIN, PLAIN and XOAUTH2 may go out without TLS.
    allow_plaintext: bool
    section: Section = dataclasses.field(repr=False, compare=False)
    #: Supplies XOAUTH2 tokens instead of ``oauth2_access_token[_eval]`` when set.
    token_provider: TokenProvider | None = dataclasses.field(default=None, repr=False,
                                                             compare=False)

    @property
    def verifies_by_pin(self) -> bool:
        """Pins without a CA file replace CA verification, as in OfflineIMAP."""
        return bool(self.fingerprints) and self.cafile is None

    def oauth2_token(self) -> str | None:
        """The XOAUTH2 access token, asked now of the provider, else evaluated now (an
        ``_eval`` may fetch a fresh one)."""
        if self.token_provider is not None:
            return self.token_provider.token()
        if self.section.has("oauth2_access_token_eval"):
            value = self.section.get_eval("oauth2_access_token_eval")
            return None if value is None else str(value)
        return self.section.get("oauth2_access_token", None)

    @property
    def has_oauth2(self) -> bool:
        return self.token_provider is not None or self.section.has(
            "oauth2_access_token_eval") or self.section.has("oauth2_access_token")


def _text(section: Section, option: str) -> str | None:
    """An option that may be written ``<option>eval``; values of eval may be bytes."""
    value = section.get_or_eval(option, None)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return None if value is None else str(value).strip()


def _fingerprints(section: Section) -> tuple[tuple[str, str], ...]:
    pins = []
    for item in section.get_list("cert_fingerprint", []):
        hexdigest = item.lower().replace(":", "")
        algorithm = _FINGERPRINT_LENGTHS.get(len(hexdigest))
        if algorithm is None or any(char not in "0123456789abcdef" for char in hexdigest):
            raise ConfigError(
                f"[{section.name}] cert_fingerprint = {item!r}: expected the hex digest "
                "(sha1, sha256 or sha512) of the server certificate")
        pins.append((algorithm, hexdigest))
    return tuple(pins)


def _min_tls(section: Section) -> str | None:
    if section.has("ssl_version"):
        value = section.get("ssl_version").strip().lower()
        if value not in SSL_VERSIONS:
            raise ConfigError(f"[{section.name}] ssl_version = {value!r}: expected one of "
                              + ", ".join(SSL_VERSIONS))
        return SSL_VERSIONS[value]
    value = section.get("tls_level", "tls_compat").strip().lower()
    if value not in TLS_LEVELS:
        raise ConfigError(f"[{section.name}] tls_level = {value!r}: expected one of "
                          + ", ".join(TLS_LEVELS))
    return TLS_LEVELS[value]


def _mechanisms(section: Section) -> tuple[str, ...]:
    names = [name.upper() for name in section.get_list("auth_mechanisms", list(AUTH_MECHANISMS))]
    for name in names:
        if name not in AUTH_MECHANISMS:
            raise ConfigError(f"[{section.name}] auth_mechanisms: unknown mechanism {name!r} "
                              "(known: " + ", ".join(AUTH_MECHANISMS) + ")")
    if not names:
        raise ConfigError(f"[{section.name}] auth_mechanisms is empty")
    return tuple(names)


def _existing_file(section: Section, option: str) -> Path | None:
    if not section.has(option):
        return None
    path = section.get_path(option)
    if not path.is_file():
        raise ConfigError(f"[{section.name}] {option} = {path}: no such file")
    return path


def read_settings(name: str, section: Section, config: Config) -> ServerSettings:
    """Parse and check the connection options of repository ``name``."""
    host = _text(section, "remotehost")
    if not host:
        raise ConfigError(f"[{section.name}] remotehost is not set")
    use_ssl = section.get_bool("ssl", True)
    port_value = section.get_or_eval("remoteport", None)
    try:
        port = int(port_value) if port_value is not None else (993 if use_ssl else 143)
    except (TypeError, ValueError):
        raise ConfigError(f"[{section.name}] remoteport = {port_value!r}: expected a port "
                          "number") from None
    if use_ssl:
        starttls = StartTLS.OFF
    elif not section.has("starttls"):
        starttls = StartTLS.IF_OFFERED
    else:
        starttls = StartTLS.REQUIRED if section.get_bool("starttls") else StartTLS.OFF
    cafile = None
    if section.has("sslcacertfile") and section.get("sslcacertfile").strip() != "OS-DEFAULT":
        cafile = _existing_file(section, "sslcacertfile")
    timeout = config.general.get_float("socktimeout", None)
    return ServerSettings(
        repository=name, host=host, port=port, ssl=use_ssl, starttls=starttls, cafile=cafile,
        fingerprints=_fingerprints(section),
        client_cert=_existing_file(section, "sslclientcert"),
        client_key=_existing_file(section, "sslclientkey"),
        min_tls=_min_tls(section), auth_mechanisms=_mechanisms(section),
        user=resolve_user(section, host), identity=_text(section, "remote_identity"),
        timeout=timeout if timeout and timeout > 0 else None,
        allow_plaintext=section.get_bool("allow_plaintext_login", False), section=section,
    )
