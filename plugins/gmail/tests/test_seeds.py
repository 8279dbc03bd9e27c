"""The manual's Gmail use cases, run as written (with the double standing in for Gmail)."""

from __future__ import annotations

import pytest
from gmail_messages import make_message


@pytest.mark.dovecot
@pytest.mark.parametrize("local_filter", [False, True])
def test_sync_from_gmail_to_another_imap_server(sandbox, gmail, imap_account,
                                                local_filter) -> None:
    """"Sync from GMail to another IMAP server": every Gmail folder under the other's INBOX.

    As written in the manual, the other server's own INBOX has no Gmail counterpart that
    nametrans maps to it, so (as OfflineIMAP 8 does) that one folder is reported as an error
    and everything else syncs. A folderfilter on the other side (still no nametrans there, as
    the manual asks) makes the run clean.
    """
    gmail.store.add(make_message(1), labels=["\\Inbox", "Work"])
    gmail.store.add(make_message(2), labels=["\\Sent"], flags=["\\Seen"])
    server = imap_account.server
    other = (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\n"
             f"remoteuser = {imap_account.user}\nremotepass = {imap_account.password}\n"
             "ssl = no\nstarttls = no\nallow_plaintext_login = yes\n")
    if local_filter:
        other += "folderfilter = lambda folder: folder.startswith('INBOX.')\n"
    sandbox.write_config(
        remote=sandbox.remote("remotepass = app-password\nnametrans = lambda x: 'INBOX.' + x\n"),
        local=other, account="")
    run = sandbox.run(check=local_filter)
    if not local_filter:
        errors = [line for line in run.out.splitlines() if "ERROR" in line]
        assert len(errors) == 1 and "local folder 'INBOX'" in errors[0], run.out
        assert "Traceback" not in run.out
    folders = set(imap_account.folders())
    assert {"INBOX.INBOX", "INBOX.Work", "INBOX.[Gmail].All Mail",
            "INBOX.[Gmail].Sent Mail"} <= folders

    def bodies(folder: str) -> list[bytes]:
        return sorted(body for _flags, body in imap_account.messages(folder).values())

    assert bodies("INBOX.INBOX") == [make_message(1)]
    assert bodies("INBOX.Work") == [make_message(1)]
    assert bodies("INBOX.[Gmail].All Mail") == sorted([make_message(1), make_message(2)])
    sent = imap_account.messages("INBOX.[Gmail].Sent Mail")
    assert [flags for flags, _ in sent.values()] == [frozenset({"\\Seen"})]
    # nothing is created back on Gmail, and a second run has nothing to do
    mailboxes = set(gmail.store.mailboxes)
    sandbox.run(check=local_filter)
    assert set(gmail.store.mailboxes) == mailboxes
    assert bodies("INBOX.INBOX") == [make_message(1)]


def test_only_all_mail(sandbox, gmail) -> None:
    """"To only get the All Mail folder from a Gmail account"."""
    gmail.store.add(make_message(1), labels=["\\Inbox", "Work"])
    gmail.store.add(make_message(2), labels=[])
    gmail.store.add(make_message(3), labels=["\\Trash"])
    sandbox.write_config(remote=sandbox.remote(
        "remotepass = app-password\n"
        "folderfilter = lambda folder: folder.startswith('[Gmail]/All Mail')\n"), account="")
    sandbox.run()
    assert sorted(p.name for p in sandbox.mail.iterdir()) == ["[Gmail]"]
    assert [p.name for p in (sandbox.mail / "[Gmail]").iterdir()] == ["All Mail"]
    bodies = sorted(p.read_bytes() for p in sandbox.files("[Gmail]/All Mail"))
    assert bodies == sorted(make_message(n).replace(b"\r\n", b"\n") for n in (1, 2))


def test_gmail_defaults(tmp_path) -> None:
    """``type = Gmail`` needs only the user: host, port and TLS are Gmail's."""
    from offlineimap.config import Config
    from offlineimap_gmail.repository import GmailRepository

    config = Config.from_string(
        "[general]\n[Account A]\nsynclabels = yes\nignorelabels = \\Important ,Muted\n"
        "[Repository G]\ntype = Gmail\nremoteuser = me@gmail.com\n")
    repo = GmailRepository(_context(config, tmp_path))
    assert (repo.settings.host, repo.settings.port, repo.settings.ssl) == (
        "imap.gmail.com", 993, True)
    assert repo.trashfolder == "[Gmail]/Trash" and repo.spamfolder == "[Gmail]/Spam"
    assert repo.labels.ignorelabels == {"\\Important", "Muted"}
    assert repo.oauth2_token_provider is None


def _context(config, tmp_path):
    from offlineimap.events import Events
    from offlineimap.repository import RepositoryContext

    return RepositoryContext(name="G", section=config.section("Repository G"), config=config,
                             account="A", metadata_dir=tmp_path, events=Events(None),
                             get_password=lambda request: "pw", role="remote")
