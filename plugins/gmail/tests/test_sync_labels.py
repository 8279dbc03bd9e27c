"""Label sync end to end: the real ``offlineimap`` between the Gmail double and a GmailMaildir."""

from __future__ import annotations

from gmail_messages import make_message as message

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


def edit_labels(path, labels) -> None:
    """What a mail reader does: rewrite the file with another labels header."""
    path.write_bytes(set_header(path.read_bytes(), "X-Keywords", labels))


def test_label_added_and_removed_on_each_side(sandbox, gmail) -> None:
    one = gmail.store.add(message(1), labels=["\\Inbox", "Work"])
    two = gmail.store.add(message(2), labels=["\\Inbox"])
    sandbox.write_config(extra="")
    sandbox.run()
    # remote: m1 gains Urgent and loses Work; local: m2 gains Later (edited in INBOX)
    gmail.store.change_labels(one, add=["Urgent"], remove=["Work"])
    edit_labels(sandbox.file_with("INBOX", b"<m2@"), ["\\Inbox", "Later"])
    out = sandbox.run().out
    assert "labels changed" in out
    assert read_labels(sandbox.file_with("INBOX", b"<m1@").read_bytes(), "X-Keywords") == {
        "\\Inbox", "Urgent"}
    assert not any(b"<m1@" in p.read_bytes() for p in sandbox.files("Work"))
    assert gmail.store.labels(two) == {"\\Inbox", "Later"}
    # a third run brings the new folders and their copies; nothing else changes
    sandbox.run()
    assert read_labels(sandbox.file_with("Urgent", b"<m1@").read_bytes(), "X-Keywords") == {
        "\\Inbox", "Urgent"}
    assert read_labels(sandbox.file_with("[Gmail]/All Mail", b"<m2@").read_bytes(),
                       "X-Keywords") == {"\\Inbox", "Later"}
    # remote removes Urgent, local removes Later: both removals arrive on the other side
    gmail.store.change_labels(one, remove=["Urgent"])
    edit_labels(sandbox.file_with("INBOX", b"<m2@"), ["\\Inbox"])
    sandbox.run()
    assert read_labels(sandbox.file_with("INBOX", b"<m1@").read_bytes(), "X-Keywords") == {
        "\\Inbox"}
    assert gmail.store.labels(one) == {"\\Inbox"}
    assert gmail.store.labels(two) == {"\\Inbox"}


def test_both_sides_change_the_same_message(sandbox, gmail) -> None:
    one = gmail.store.add(message(1), labels=["\\Inbox", "A", "B"])
    sandbox.write_config(account="synclabels = yes\nfolderfilter = lambda f: f == 'INBOX'\n")
    sandbox.write_config(remote=sandbox.remote(
        "remotepass = app-password\nfolderfilter = lambda f: f == 'INBOX'\n"))
    sandbox.run()
    gmail.store.change_labels(one, add=["C"], remove=["A"])
    edit_labels(sandbox.file_with("INBOX", b"<m1@"), ["\\Inbox", "A", "D"])  # B removed, D added
    sandbox.run()
    expected = {"\\Inbox", "C", "D"}
    assert gmail.store.labels(one) == expected
    assert read_labels(sandbox.file_with("INBOX", b"<m1@").read_bytes(), "X-Keywords") == expected
    before = sandbox.file_with("INBOX", b"<m1@").stat().st_mtime_ns
    commands = len(gmail.commands)
    sandbox.run()
    assert sandbox.file_with("INBOX", b"<m1@").stat().st_mtime_ns == before
    assert not any("STORE" in c for c in gmail.commands[commands:])


def test_ignorelabels_are_left_alone(sandbox, gmail) -> None:
    one = gmail.store.add(message(1), labels=["\\Inbox", "\\Important", "Secret", "Work"])
    inbox_only = "remotepass = app-password\nfolderfilter = lambda f: f == 'INBOX'\n"
    sandbox.write_config(account="synclabels = yes\nignorelabels = \\Important, Secret\n",
                         remote=sandbox.remote(inbox_only))
    sandbox.run()
    path = sandbox.file_with("INBOX", b"<m1@")
    assert read_labels(path.read_bytes(), "X-Keywords") == {"\\Inbox", "Work"}
    # locally: Work removed, Extra added, and an ignored label written by hand
    edit_labels(path, ["\\Inbox", "Extra", "Secret"])
    gmail.store.change_labels(one, remove=["\\Important"])
    sandbox.run()
    assert gmail.store.labels(one) == {"\\Inbox", "Secret", "Extra"}
    # remote changes arrive without dropping the ignored label kept in the local header
    gmail.store.change_labels(one, add=["New"])
    sandbox.run()
    assert read_labels(sandbox.file_with("INBOX", b"<m1@").read_bytes(), "X-Keywords") == {
        "\\Inbox", "Extra", "New", "Secret"}
    assert gmail.store.labels(one) == {"\\Inbox", "Secret", "Extra", "New"}


def test_new_local_message_is_uploaded_with_its_labels(sandbox, gmail) -> None:
    gmail.store.add(message(1), labels=["Work"])
    sandbox.write_config()
    sandbox.run()
    new = sandbox.mail / "Work" / "new" / "1700000000.M1P1.host"
    body = message(7, b"X-Keywords: Work,Travel,\xc3\x89t\xc3\xa9\r\n").replace(b"\r\n", b"\n")
    new.write_bytes(body)
    sandbox.run()
    uploaded = gmail.store.find(b"<m7@")
    assert gmail.store.labels(uploaded) == {"Work", "Travel", "Été"}
    assert gmail.store.messages[uploaded].body == body.replace(b"\n", b"\r\n")
    sandbox.run()
    assert read_labels(sandbox.file_with("Travel", b"<m7@").read_bytes(), "X-Keywords") == {
        "Work", "Travel", "Été"}
    assert len([p for p in sandbox.files("Work") if b"<m7@" in p.read_bytes()]) == 1


def test_labels_header_option_and_plain_maildir(sandbox, gmail) -> None:
    gmail.store.add(message(1), labels=["\\Inbox", "Work"])
    sandbox.write_config(account="synclabels = yes\nlabelsheader = X-Label\n",
                         local=f"type = Maildir\nlocalfolders = {sandbox.mail}\nsep = /\n")
    sandbox.run()
    assert b"X-Label: Work \\Inbox\n" in sandbox.file_with("INBOX", b"<m1@").read_bytes()


def test_parallel_folders(sandbox, gmail) -> None:
    """With maxconnections > 1 each worker thread pairs its own folders."""
    ids = [gmail.store.add(message(n), labels=["\\Inbox", f"L{n}"]) for n in range(4)]
    sandbox.write_config(remote=sandbox.remote("remotepass = app-password\nmaxconnections = 3\n"))
    sandbox.run()
    for n in range(len(ids)):
        path = sandbox.file_with(f"L{n}", b"<m%d@" % n)
        assert read_labels(path.read_bytes(), "X-Keywords") == {"\\Inbox", f"L{n}"}
        edit_labels(path, ["\\Inbox", f"L{n}", "Done"])
    sandbox.run()
    assert all(gmail.store.labels(msgid) >= {"Done"} for msgid in ids)


def test_a_file_a_mail_reader_renames_during_its_label_rewrite_stays_one_file(
        sandbox, gmail, monkeypatch) -> None:
    """A mail reader flags the message (renames its file) while the label rewrite has the new
    copy in tmp/: the rewrite finds the renamed file and rewrites that one. Run in-process so
    that the reader's rename lands exactly in that window."""
    from offlineimap_gmail import folder as gmail_folder
    from offlineimap_testing.inprocess import run_offlineimap

    one = gmail.store.add(message(1), labels=["\\Inbox"])
    sandbox.write_config(remote=sandbox.remote(
        "remotepass = app-password\nfolderfilter = lambda f: f == 'INBOX'\n"))
    sandbox.run()
    gmail.store.change_labels(one, add=["Work"])
    real_write = gmail_folder.write_new_file
    reader_named: list[str] = []

    def write_then_reader_renames(path, data, **kwargs) -> None:
        real_write(path, data, **kwargs)
        if not reader_named:
            (old,) = sandbox.files("INBOX")
            base, _, flags = old.name.partition(":2,")
            reader_named.append(f"{base}:2,F{flags}")
            old.rename(old.with_name(reader_named[0]))

    monkeypatch.setattr(gmail_folder, "write_new_file", write_then_reader_renames)
    _argv, env = sandbox.command()
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, env[name])
    assert run_offlineimap(["-c", str(sandbox.config), "-o", "-u", "quiet"]) == 0
    assert reader_named, "the label rewrite did not run"
    files = sandbox.files("INBOX")
    assert [path.name for path in files] == reader_named, "the message is there twice"
    assert read_labels(files[0].read_bytes(), "X-Keywords") == {"\\Inbox", "Work"}
