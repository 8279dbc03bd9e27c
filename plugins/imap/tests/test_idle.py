"""IMAP IDLE handles against Dovecot: pushes, renewal, a server that goes away, no IDLE."""

from __future__ import annotations

import time

import pytest

from offlineimap.errors import ConnectionFailed, FolderError
from offlineimap_testing.messages import make_message

pytestmark = pytest.mark.dovecot


def wait_for_change(handle, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if handle.wait(0.2):
            return True
    return False


def test_new_mail_flags_and_expunge_are_reported(imap_account, make_repository, plain) -> None:
    uids = imap_account.seed("INBOX", [make_message("one")])
    repository = make_repository(plain()).repository
    handle = repository.idle_connection("INBOX")
    try:
        assert not handle.wait(0.2), "nothing happened yet"
        imap_account.seed("INBOX", [make_message("two")])
        assert wait_for_change(handle)
        assert not handle.renew()
        imap_account.set_flags("INBOX", [uids[0]], ["\\Flagged"])
        assert wait_for_change(handle)
        imap_account.delete("INBOX", [uids[0]])
        assert wait_for_change(handle)
    finally:
        handle.close()


def test_a_change_during_renewal_is_not_lost(imap_account, make_repository, plain) -> None:
    repository = make_repository(plain()).repository
    handle = repository.idle_connection("INBOX")
    try:
        imap_account.seed("INBOX", [make_message("one")])
        time.sleep(0.3)  # let the notification reach our socket before DONE
        assert handle.renew() or wait_for_change(handle)
    finally:
        handle.close()


def test_a_stopped_server_is_a_connection_failure(dovecot_factory, make_repository,
                                                  options_for) -> None:
    server = dovecot_factory()
    account = server.new_account()
    repository = make_repository(options_for(account)).repository
    handle = repository.idle_connection("INBOX")
    server.stop()
    with pytest.raises(ConnectionFailed, match="connection lost"):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            handle.wait(0.2)
    handle.close()  # never raises on a dead connection
    with pytest.raises(ConnectionFailed):
        repository.idle_connection("INBOX")


def test_a_server_without_idle_is_a_folder_error(dovecot_factory, make_repository,
                                                 options_for) -> None:
    server = dovecot_factory(capabilities_drop=["IDLE"])
    repository = make_repository(options_for(server.new_account())).repository
    with pytest.raises(FolderError, match="does not support IDLE"):
        repository.idle_connection("INBOX")
