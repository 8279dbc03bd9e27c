"""Connecting to a real Dovecot: TLS verification, pins, STARTTLS, login errors, debug trace."""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from offlineimap.errors import AuthenticationError, CertificateError, ConnectionFailed

pytestmark = pytest.mark.dovecot


def server_fingerprint(server, algorithm: str) -> str:
    pem = ssl.get_server_certificate((server.host, server.ssl_port))
    return hashlib.new(algorithm, ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def test_imaps_with_the_fixture_ca(imap_account, make_repository, imaps) -> None:
    built = make_repository(imaps())
    built.repository.connect()
    assert built.repository.list_folders() == ["INBOX"]
    assert built.events.connecting == [(imap_account.server.host, imap_account.server.ssl_port)]


def test_imaps_without_the_ca_is_refused(make_repository, imaps) -> None:
    options = imaps()
    del options["sslcacertfile"]  # the system store does not know the fixture CA
    built = make_repository(options)
    with pytest.raises(CertificateError) as caught:
        built.repository.connect()
    assert "certificate verification failed" in one_line(caught.value)


def test_host_name_is_checked(make_repository, imaps) -> None:
    built = make_repository(imaps(remotehost="127.1"))
    with pytest.raises(CertificateError) as caught:
        built.repository.connect()
    assert "127.1" in one_line(caught.value)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_matching_fingerprint_replaces_the_ca(imap_account, make_repository, imaps,
                                              algorithm) -> None:
    options = imaps(cert_fingerprint=server_fingerprint(imap_account.server, algorithm))
    del options["sslcacertfile"]
    built = make_repository(options)
    built.repository.connect()
    assert built.repository.list_folders() == ["INBOX"]


def test_wrong_fingerprint_is_refused_even_with_a_valid_ca(imap_account, make_repository,
                                                           imaps) -> None:
    built = make_repository(imaps(cert_fingerprint="ab" * 32))
    with pytest.raises(CertificateError) as caught:
        built.repository.connect()
    message = one_line(caught.value)
    assert "matches no cert_fingerprint" in message
    assert server_fingerprint(imap_account.server, "sha256") in message


def test_starttls_verified(make_repository, plain) -> None:
    built = make_repository(plain(starttls="yes"), debug=frozenset({"imap"}))
    built.repository.connect()
    assert any("STARTTLS" in line and "> " in line for line in built.events.debug)


def test_starttls_without_the_ca_fails_instead_of_falling_back(make_repository, plain) -> None:
    options = plain()
    del options["sslcacertfile"]
    built = make_repository(options)
    with pytest.raises(CertificateError) as caught:
        built.repository.connect()
    assert "certificate verification failed" in one_line(caught.value)


@pytest.fixture
def no_starttls_server() -> Iterator[int]:
    """A TCP peer that answers like an IMAP server without STARTTLS until asked to log in."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, connection.makefile("rb") as lines:
            connection.sendall(b"* OK plaintext only\r\n")
            for line in lines:
                tag, command = line.split()[:2]
                if command.upper() != b"CAPABILITY":
                    return
                connection.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    listener.close()
    thread.join(timeout=5)


def test_required_starttls_not_offered_fails(make_repository, no_starttls_server) -> None:
    built = make_repository({"remotehost": "127.0.0.1", "remoteport": str(no_starttls_server),
                             "remoteuser": "u", "remotepass": "p", "ssl": "no",
                             "starttls": "yes"})
    with pytest.raises(CertificateError) as caught:
        built.repository.connect()
    assert "does not offer STARTTLS" in one_line(caught.value)


@pytest.mark.parametrize("mechanisms", ["PLAIN", "LOGIN"])
def test_wrong_password_is_one_line_without_the_password(imap_account, make_repository, plain,
                                                         mechanisms) -> None:
    built = make_repository(plain(remotepass="Wr0ng-Pa55", auth_mechanisms=mechanisms))
    with pytest.raises(AuthenticationError) as caught:
        built.repository.connect()
    message = one_line(caught.value)
    assert "[AUTHENTICATIONFAILED]" in message and imap_account.user in message
    assert "Wr0ng-Pa55" not in message


def test_unreachable_host(make_repository) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    built = make_repository({"remotehost": "127.0.0.1", "remoteport": str(port),
                             "remoteuser": "u", "remotepass": "p", "ssl": "no"})
    with pytest.raises(ConnectionFailed) as caught:
        built.repository.connect()
    assert f"127.0.0.1:{port}" in one_line(caught.value)


@pytest.mark.parametrize(("mechanisms", "command"),
                         [("PLAIN", "AUTHENTICATE"), ("LOGIN", "LOGIN")])
def test_debug_trace_never_contains_the_password(imap_account, make_repository, plain,
                                                 mechanisms, command) -> None:
    built = make_repository(plain(auth_mechanisms=mechanisms), debug=frozenset({"imap"}))
    repository = built.repository
    repository.connect()
    with repository.open_folder("INBOX") as folder:
        folder.state()
        folder.list_messages()
    trace = "\n".join(built.events.debug)
    assert "Logged in" in trace and "SELECT" in trace
    assert f" {command} ****" in trace
    assert imap_account.password not in trace


def test_no_trace_without_debug(connected) -> None:
    assert connected.events.debug == []


def test_password_asked_once_for_all_connections(imap_account, make_repository, plain) -> None:
    built = make_repository(plain(maxconnections="3"))
    repository = built.repository
    repository.connect()
    folders = [repository.open_folder("INBOX") for _ in range(3)]
    for folder in folders:
        folder.state()
        folder.close()
    assert len(built.events.connecting) == 3
    assert len(built.events.password_requests) == 1
    request = built.events.password_requests[0]
    assert (request.repository, request.user) == ("R", imap_account.user)


def test_info(connected) -> None:
    info = connected.repository.info()
    assert "Dovecot" in info["greeting"]
    assert "UIDPLUS" in info["capabilities"]
    assert info["separator"] == "."
    assert info["folders"] == ["INBOX"]
