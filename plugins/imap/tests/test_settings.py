"""Option parsing: defaults as OfflineIMAP's, one ConfigError line for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from offlineimap.errors import ConfigError
from offlineimap_imap.settings import StartTLS


def settings_for(make_repository, **options: str):
    base = {"remotehost": "mail.example.org", "remoteuser": "me"}
    base.update(options)
    return make_repository(base).repository.settings


def test_defaults_are_implicit_tls_on_993_with_verification(make_repository) -> None:
    settings = settings_for(make_repository)
    assert (settings.host, settings.port, settings.ssl) == ("mail.example.org", 993, True)
    assert settings.starttls is StartTLS.OFF
    assert settings.cafile is None and not settings.verifies_by_pin
    assert settings.auth_mechanisms == ("GSSAPI", "XOAUTH2", "CRAM-MD5", "PLAIN", "LOGIN")
    assert settings.min_tls is None


def test_plain_port_and_starttls_modes(make_repository) -> None:
    assert settings_for(make_repository, ssl="no").port == 143
    assert settings_for(make_repository, ssl="no").starttls is StartTLS.IF_OFFERED
    assert settings_for(make_repository, ssl="no", starttls="yes").starttls is StartTLS.REQUIRED
    assert settings_for(make_repository, ssl="no", starttls="no").starttls is StartTLS.OFF


def test_eval_options(make_repository) -> None:
    settings = settings_for(make_repository, remotehosteval="'imap.' + 'example.com'",
                            remoteporteval="1000 + 43", remoteusereval="b'bytes-user'")
    assert (settings.host, settings.port, settings.user) == ("imap.example.com", 1043,
                                                             "bytes-user")


def test_general_socktimeout(make_repository, tmp_path: Path) -> None:
    built = make_repository({"remotehost": "h"}, general="socktimeout = 7.5")
    assert built.repository.settings.timeout == 7.5


def test_fingerprints_accept_colons_and_case(make_repository) -> None:
    sha1 = "AB:" * 19 + "CD"
    sha256 = "0" * 64
    settings = settings_for(make_repository, cert_fingerprint=f"{sha1}, {sha256}")
    assert settings.fingerprints == (("sha1", "ab" * 19 + "cd"), ("sha256", sha256))
    assert settings.verifies_by_pin


def test_tls_floors(make_repository) -> None:
    assert settings_for(make_repository, tls_level="tls_secure").min_tls == "TLSv1_2"
    assert settings_for(make_repository, ssl_version="tls1_2").min_tls == "TLSv1_2"
    assert settings_for(make_repository, ssl_version="ssl23").min_tls is None


def test_readonly_maxconnections_and_single_connection(make_repository) -> None:
    options = {"remotehost": "h", "maxconnections": "3", "readonly": "yes"}
    repository = make_repository(options).repository
    assert repository.max_connections == 3 and repository.readonly
    assert make_repository(options, single_connection=True).repository.max_connections == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "remotehost is not set"),
        ({"remotehost": "h", "remoteport": "imap"}, "remoteport = 'imap'"),
        ({"remotehost": "h", "cert_fingerprint": "abc"}, "cert_fingerprint = 'abc'"),
        ({"remotehost": "h", "tls_level": "paranoid"}, "tls_level = 'paranoid'"),
        ({"remotehost": "h", "ssl_version": "ssl2"}, "ssl_version = 'ssl2'"),
        ({"remotehost": "h", "auth_mechanisms": "PLAIN, KERBEROS"}, "unknown mechanism"),
        ({"remotehost": "h", "sslcacertfile": "/nonexistent/ca.pem"}, "no such file"),
        ({"remotehost": "h", "maxconnections": "0"}, "maxconnections = 0"),
        ({"remotehost": "h", "ssl": "maybe"}, "ssl = 'maybe'"),
    ],
)
def test_bad_values_give_one_line(make_repository, options, message) -> None:
    with pytest.raises(ConfigError) as caught:
        make_repository(options)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_folderincludes_is_evaluated(make_repository) -> None:
    repository = make_repository(
        {"remotehost": "h", "folderincludes": "['Archive', 'Lists.' + 'python']"}).repository
    assert repository.included_folders() == ["Archive", "Lists.python"]
    assert make_repository({"remotehost": "h"}).repository.included_folders() == []
    with pytest.raises(ConfigError, match="folderincludes"):
        make_repository({"remotehost": "h", "folderincludes": "'INBOX'"}).repository \
            .included_folders()
