"""Authentication details that Dovecot's fixture cannot show, plugin registration, import cost."""

from __future__ import annotations

import subprocess
import sys

import pluggy
import pytest

from offlineimap import hookspecs
from offlineimap.errors import AuthenticationError
from offlineimap_imap import plugin
from offlineimap_imap.auth import _Attempt, _cram_md5
from offlineimap_imap.repository import IMAPRepository


def test_cram_md5_answer_matches_rfc_2195() -> None:
    answer = _cram_md5("tim", "tanstaaftanstaaf")
    assert answer(b"<1896.697170952@postoffice.reston.mci.net>") == (
        "tim b913a602c7eda7a495b4e6e7334d3890")


def test_a_sasl_attempt_answers_failure_challenges_empty() -> None:
    attempt = _Attempt(lambda _: "user=a\1auth=Bearer t\1\1")
    assert attempt(b"") == "user=a\1auth=Bearer t\1\1"
    assert attempt(b'{"status":"401"}') == ""


def test_plugin_registers_the_imap_type() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin)
    registered: dict[str, type] = {}
    manager.hook.offlineimap_repository_types(register=registered.__setitem__)
    assert registered == {"IMAP": IMAPRepository}


def test_loading_the_plugin_does_not_import_imapclient() -> None:
    code = ("import sys, offlineimap_imap.plugin, offlineimap_imap.repository;"
            "print('imapclient' in sys.modules, 'ssl' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.dovecot
def test_no_common_mechanism_is_one_line(make_repository, plain) -> None:
    built = make_repository(plain(auth_mechanisms="GSSAPI, CRAM-MD5"))
    with pytest.raises(AuthenticationError) as caught:
        built.repository.connect()
    message = str(caught.value)
    assert "offers none of auth_mechanisms = GSSAPI, CRAM-MD5" in message
    assert "PLAIN" in message and "\n" not in message


@pytest.mark.dovecot
def test_a_lost_connection_is_replaced_and_the_read_retried(dovecot_factory, make_repository,
                                                            options_for) -> None:
    """A read (here the listing) survives one lost connection: a fresh one is opened, the
    folder selected again and the read repeated, with a one-line warning. A second loss
    fails the folder (tests/test_faults.py cuts twice through a proxy)."""
    server = dovecot_factory()
    account = server.new_account()
    built = make_repository(options_for(account))
    repository = built.repository
    repository.connect()
    folder = repository.open_folder("INBOX")
    folder.state()
    server.restart()
    assert folder.list_messages() == {}
    (warning,) = built.events.warnings
    assert "connection lost" in warning and "reconnecting" in warning and "\n" not in warning
    folder.close()
    with repository.open_folder("INBOX") as again:
        assert again.state().exists == 0
    assert len(built.events.connecting) == 2
