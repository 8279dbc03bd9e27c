"""Label sync end to end: the real ``offlineimap`` between the Gmail double and a GmailMaildir."""

from __future__ import annotations

from conftest import message

from offlineimap_gmail.labels import read_labels, set_header


def test_initial_sync_writes_labels_header(sandbox, gmail) -> None:
    gmail.store.add(message(1), labels=["\\Inbox", "Work", "Été"])
    gmail.store.add(message(2), labels=["\\Inbox"], flags=["\\Seen"])
    sandbox.write_config()
    sandbox.run()
    first = sandbox.file_with("INBOX", b"<m1@")
    assert read_labels(first.read_bytes(), "X-Keywords") == {"\\Inbox", "Work", "Été"}
    assert first.read_bytes() == set_header(message(1), "X-Keywords",
                                            ["\\Inbox", "Work", "Été"]).replace(b"\r\n", b"\n")
    assert b"X-Keywords: \\Inbox\n" in sandbox.file_with("INBOX", b"<m2@").read_bytes()
    assert read_labels(sandbox.file_with("Work", b"<m1@").read_bytes(), "X-Keywords") == {
        "\\Inbox", "Work", "Été"}
    assert len(sandbox.files("[Gmail]/All Mail")) == 2
