"""TLS for IMAP connections: the SSL context, certificate pins, and readable failures.

Unlike OfflineIMAP, verification is on by default: the system trust store (or
``sslcacertfile``) and a host name check. ``cert_fingerprint`` pins replace CA verification when
no ``sslcacertfile`` is given (OfflineIMAP's rule) and are checked in addition when one is.
"""

from __future__ import annotations

import hashlib
import ssl

from offlineimap.errors import CertificateError, ConfigError
from offlineimap_imap.settings import ServerSettings


def make_context(settings: ServerSettings) -> ssl.SSLContext:
    """An SSL context that enforces the repository's verification and TLS floor."""
    context = ssl.create_default_context(
        cafile=str(settings.cafile) if settings.cafile else None)
    if settings.verifies_by_pin:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.min_tls:
        context.minimum_version = getattr(ssl.TLSVersion, settings.min_tls)
    if settings.client_cert:
        try:
            context.load_cert_chain(
                str(settings.client_cert),
                str(settings.client_key) if settings.client_key else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[Repository {settings.repository}] sslclientcert/sslclientkey: "
                              f"cannot load: {_reason(exc)}") from None
    return context


def check_pins(settings: ServerSettings, sock: ssl.SSLSocket) -> None:
    """Raise :class:`CertificateError` unless the server certificate matches a pin."""
    if not settings.fingerprints:
        return
    der = sock.getpeercert(binary_form=True)
    if der is None:
        raise certificate_error(settings, "the server sent no certificate")
    for algorithm, pin in settings.fingerprints:
        if hashlib.new(algorithm, der).hexdigest() == pin:
            return
    actual = hashlib.sha256(der).hexdigest()
    raise certificate_error(
        settings, f"the certificate's fingerprint (sha256 {actual}) matches no cert_fingerprint")


def certificate_error(settings: ServerSettings, what: str) -> CertificateError:
    return CertificateError(
        f"[Repository {settings.repository}] TLS with {settings.host}:{settings.port} failed: "
        f"{what}")


def translate(settings: ServerSettings, exc: ssl.SSLError) -> CertificateError:
    """One line for a failed handshake: which check failed, not a traceback."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return certificate_error(settings, f"certificate verification failed: {_reason(exc)}")
    return certificate_error(settings, _reason(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return exc.verify_message
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.replace("_", " ").lower()
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0]
