"""Download once, end to end: the real ``offlineimap`` against the Gmail double, which counts
every message body it sends (``GmailDouble.body_fetches``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from gmail_messages import make_message as message

from offlineimap_gmail.labels import set_header

ALL_MAIL = "[Gmail]/All Mail"


def written(n: int, labels: list[str] | None) -> bytes:
    """What a fresh download of ``message(n)`` leaves in a Maildir."""
    body = message(n) if labels is None else set_header(message(n), "X-Keywords", labels)
    return body.replace(b"\r\n", b"\n")


def snapshot(sandbox, folders: list[str]) -> dict[str, bytes]:
    return {f"{folder}/{path.parent.name}/{path.name}": path.read_bytes()
            for folder in folders for path in sandbox.files(folder)}


def test_message_in_three_label_folders_is_downloaded_once(sandbox, gmail) -> None:
    labels = ["\\Inbox", "Work", "Été"]
    shared = gmail.store.add(message(1), labels=labels)
    alone = gmail.store.add(message(2), labels=["Work"], flags=["\\Seen"])
    sandbox.write_config()
    sandbox.run()
    assert gmail.body_fetches.count(shared) == 1
    assert gmail.body_fetches.count(alone) == 1
    folders = ["INBOX", "Work", "Été", ALL_MAIL]
    for folder in folders:
        assert sandbox.file_with(folder, b"<m1@").read_bytes() == written(1, labels)
    for folder in ("Work", ALL_MAIL):
        assert sandbox.file_with(folder, b"<m2@").read_bytes() == written(2, ["Work"])
    assert (sandbox.root / "metadata" / "Account-Test" / "GmailMessages").is_file()
    before = snapshot(sandbox, folders)
    sandbox.run()
    assert len(gmail.body_fetches) == 2
    assert snapshot(sandbox, folders) == before


def test_without_synclabels_the_bytes_are_the_servers(sandbox, gmail) -> None:
    shared = gmail.store.add(message(1, b"X-Keywords: kept as it is\r\n"),
                             labels=["\\Inbox", "Work"])
    sandbox.write_config(account="")
    sandbox.run()
    assert gmail.body_fetches == [shared]
    expected = message(1, b"X-Keywords: kept as it is\r\n").replace(b"\r\n", b"\n")
    for folder in ("INBOX", "Work", ALL_MAIL):
        assert sandbox.file_with(folder, b"<m1@").read_bytes() == expected


def test_a_later_label_is_served_from_the_stored_copy_with_the_new_labels(sandbox,
                                                                          gmail) -> None:
    """A label added on Gmail after the first run: the new folder's copy comes from disk,
    even after a mail reader moved the file to cur/ with new flags, and label rewrites."""
    shared = gmail.store.add(message(1), labels=["\\Inbox"])
    inbox_only = "remotepass = app-password\nfolderfilter = lambda f: f == 'INBOX'\n"
    sandbox.write_config(remote=sandbox.remote(inbox_only))
    sandbox.run()
    path = sandbox.file_with("INBOX", b"<m1@")
    assert path.parent.name == "new"
    os.rename(path, path.parent.parent / "cur" / (path.name + "S"))  # read in a mail reader
    gmail.store.change_labels(shared, add=["Later"])
    sandbox.run()  # the label reaches the INBOX copy's header (the file is rewritten)
    assert b"X-Keywords: Later,\\Inbox\n" in sandbox.file_with("INBOX", b"<m1@").read_bytes()
    sandbox.write_config()
    sandbox.run()
    assert gmail.body_fetches == [shared]
    for folder in ("Later", ALL_MAIL):
        assert sandbox.file_with(folder, b"<m1@").read_bytes() == written(1, ["\\Inbox",
                                                                              "Later"])


def test_a_copy_changed_on_disk_is_not_used(sandbox, gmail) -> None:
    """Edited in place (same size) or deleted: the registry's entry is stale, the body is
    downloaded again and the other folders get the server's bytes."""
    edited = gmail.store.add(message(1), labels=["\\Inbox", "Work", "Other"])
    inbox_only = "remotepass = app-password\nfolderfilter = lambda f: f == 'INBOX'\n"
    sandbox.write_config(remote=sandbox.remote(inbox_only))
    sandbox.run()
    path = sandbox.file_with("INBOX", b"<m1@")
    path.write_bytes(path.read_bytes().replace(b"body 1", b"BODY 1"))
    work_only = "remotepass = app-password\nfolderfilter = lambda f: f == 'Work'\n"
    sandbox.write_config(remote=sandbox.remote(work_only))
    sandbox.run()
    assert gmail.body_fetches == [edited, edited]
    labels = ["\\Inbox", "Work", "Other"]
    assert sandbox.file_with("Work", b"<m1@").read_bytes() == written(1, labels)
    # the Work copy is recorded now; removed behind our back, it is not used either
    sandbox.file_with("Work", b"<m1@").unlink()
    other_only = "remotepass = app-password\nfolderfilter = lambda f: f == 'Other'\n"
    sandbox.write_config(remote=sandbox.remote(other_only))
    sandbox.run()
    assert gmail.body_fetches == [edited] * 3
    assert sandbox.file_with("Other", b"<m1@").read_bytes() == written(1, labels)


def test_kill_during_the_first_sync_loses_and_corrupts_nothing(sandbox, gmail) -> None:
    count = 150
    labels = ["\\Inbox", "Work"]
    for n in range(count):
        gmail.store.add(message(n, b"X-Pad: " + b"x" * 4000 + b"\r\n"), labels=labels)
    sandbox.write_config(extra="")
    argv, env = sandbox.command()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(gmail.body_fetches) < count // 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(gmail.body_fetches) < 3 * count  # killed before the end
    sandbox.run()
    for folder in ("INBOX", "Work", ALL_MAIL):
        files = sandbox.files(folder)
        assert len(files) == count, folder
        bodies = sorted(path.read_bytes() for path in files)
        assert bodies == sorted(
            set_header(message(n, b"X-Pad: " + b"x" * 4000 + b"\r\n"), "X-Keywords", labels)
            .replace(b"\r\n", b"\n") for n in range(count))
    assert len(gmail.body_fetches) <= 2 * count
