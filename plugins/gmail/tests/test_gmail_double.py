"""The double behaves as its docstring says Gmail does (checked through imapclient)."""

from __future__ import annotations

import pytest
from gmail_double import ALL_MAIL, GmailDouble
from gmail_messages import make_message
from imapclient import IMAPClient
from imapclient.exceptions import LoginError


@pytest.fixture
def client(gmail: GmailDouble):
    connection = IMAPClient(gmail.host, gmail.port, ssl=False)
    connection.login("me@gmail.com", "app-password")
    yield connection
    connection.logout()


def test_labels_are_folders_and_all_mail_holds_everything(gmail, client) -> None:
    one = gmail.store.add(make_message(1), labels=["\\Inbox", "Work"])
    gmail.store.add(make_message(2), labels=["\\Trash"])
    assert b"X-GM-EXT-1" in client.capabilities()
    names = {name: flags for flags, _sep, name in client.list_folders()}
    assert b"\\All" in names[ALL_MAIL] and b"\\Noselect" in names["[Gmail]"]
    assert client.select_folder(ALL_MAIL)[b"EXISTS"] == 1  # not the trashed message
    assert client.select_folder("Work")[b"EXISTS"] == 1
    uid = gmail.store.uid_of("Work", one)
    answer = client.fetch([uid], ["X-GM-MSGID", "X-GM-LABELS"])[uid]
    assert answer[b"X-GM-MSGID"] == one
    assert set(answer[b"X-GM-LABELS"]) == {b"\\Inbox", b"Work"}
    client.add_gmail_labels([uid], ["Été"])
    assert "Été" in {name for *_, name in client.list_folders()}
    assert gmail.store.labels(one) == {"\\Inbox", "Work", "Été"}


def test_expunge_from_a_label_removes_the_label_only(gmail, client) -> None:
    one = gmail.store.add(make_message(1), labels=["\\Inbox", "Work"], flags=["\\Seen"])
    client.select_folder("Work")
    uid = gmail.store.uid_of("Work", one)
    client.delete_messages([uid])
    client.uid_expunge([uid])
    assert gmail.store.labels(one) == {"\\Inbox"}
    assert gmail.store.messages[one].flags == {"\\Seen"}
    client.select_folder(ALL_MAIL)
    uid = gmail.store.uid_of(ALL_MAIL, one)
    client.delete_messages([uid])
    client.uid_expunge([uid])
    assert one not in gmail.store.messages


def test_append_labels_the_message_and_answers_appenduid(gmail, client) -> None:
    client.create_folder("Work")
    answer = client.append("Work", make_message(3), flags=["\\Flagged"])
    assert answer.startswith(b"[APPENDUID ")
    msgid = gmail.store.find(b"<m3@")
    assert gmail.store.labels(msgid) == {"Work"}
    assert int(answer.split()[2].rstrip(b"]")) == gmail.store.uid_of("Work", msgid)


def test_xoauth2_refusal_follows_google(gmail) -> None:
    gmail.tokens = {"good": "me@gmail.com"}
    connection = IMAPClient(gmail.host, gmail.port, ssl=False)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        connection.oauth2_login("me@gmail.com", "bad")
    connection.oauth2_login("me@gmail.com", "good")
    assert gmail.tokens_used == ["good"] and gmail.failed_logins == 1
    connection.logout()
