"""The main job, end to end: the real ``offlineimap`` against a real Dovecot and a real Maildir."""

from __future__ import annotations

import hashlib
import threading

import pytest

from offlineimap.hookspecs import hookimpl

pytestmark = pytest.mark.dovecot


def remote_section(account, *, ssl: bool = False, extra: str = "") -> str:
    server = account.server
    port = server.ssl_port if ssl else server.port
    tls = (f"ssl = yes\nsslcacertfile = {server.ca_cert}" if ssl
           else "ssl = no\nstarttls = no\nallow_plaintext_login = yes")
    return (f"type = IMAP\nremotehost = {server.host}\nremoteport = {port}\n"
            f"remoteuser = {account.user}\nremotepass = {account.password}\n{tls}\n{extra}")


def digest(body: bytes) -> str:
    return hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


def server_view(account, folder: str) -> dict[str, frozenset[str]]:
    """{hash of body: flags} of a server folder (flags without \\Recent)."""
    return {digest(body): frozenset(f for f in flags if f != "\\Recent")
            for flags, body in account.messages(folder).values()}


FLAG_LETTER = {"\\Seen": "S", "\\Answered": "R", "\\Flagged": "F", "\\Draft": "D",
               "\\Deleted": "T"}


def as_letters(flags: frozenset[str]) -> str:
    return "".join(sorted(FLAG_LETTER[f] for f in flags if f in FLAG_LETTER))


def assert_in_sync(sandbox, account, folder: str, local_folder: str | None = None) -> int:
    remote = server_view(account, folder)
    local = sandbox.local_messages(local_folder or folder)
    assert len(local) == len(remote), "message count differs"
    assert sorted(digest(body) for _, body in local) == sorted(remote), "bodies differ"
    for flags, body in local:
        assert flags == as_letters(remote[digest(body)])
    return len(local)


def test_initial_sync_then_nothing_to_do(sandbox, imap_account, make_messages) -> None:
    imap_account.seed("INBOX", make_messages(30, flags=[(), ("\\Seen",), ("\\Flagged",)]))
    imap_account.seed("Archive.2024", make_messages(20))
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 30
    assert assert_in_sync(sandbox, imap_account, "Archive.2024") == 20
    before = {p.name for p in sandbox.local_files("INBOX")}
    again = sandbox.run()
    assert {p.name for p in sandbox.local_files("INBOX")} == before
    assert "copied" not in again.out.lower() or " 0 " in again.out


def test_changes_on_both_sides_converge(sandbox, imap_account, make_messages) -> None:
    uids = imap_account.seed("INBOX", make_messages(10))
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    # server: new mail, one deletion, one flag change
    imap_account.seed("INBOX", make_messages(3, start=100))
    imap_account.delete("INBOX", [uids[0]])
    imap_account.set_flags("INBOX", [uids[1]], ["\\Flagged"])
    # local: a new message, one deleted file, one re-flagged file
    sandbox.deliver("INBOX", make_messages(1, start=200)[0], flags="S")
    files = [p for p in sandbox.local_files("INBOX") if ",U=" in p.name]
    by_uid = {int(p.name.split(",U=")[1].split(",")[0]): p for p in files}
    by_uid[uids[2]].unlink()
    flagged = by_uid[uids[3]]
    flagged.rename(flagged.with_name(flagged.name.split(":2,")[0] + ":2,RS"))
    sandbox.run()
    count = assert_in_sync(sandbox, imap_account, "INBOX")
    assert count == 10 + 3 - 1 + 1 - 1
    remote = imap_account.messages("INBOX")
    assert uids[2] not in remote
    assert {"\\Answered", "\\Seen"} <= set(remote[uids[3]][0])
    assert "\\Flagged" in remote[uids[1]][0]
    # a third run has nothing to do and changes nothing
    snapshot = sorted(p.name for p in sandbox.local_files("INBOX"))
    sandbox.run()
    assert sorted(p.name for p in sandbox.local_files("INBOX")) == snapshot


def test_same_message_flagged_differently_on_both_sides_is_merged(
        sandbox, imap_account, make_messages) -> None:
    (uid,) = imap_account.seed("INBOX", make_messages(1))
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    imap_account.set_flags("INBOX", [uid], ["\\Flagged"])
    (path,) = sandbox.local_files("INBOX")
    path.rename(path.with_name(path.name.split(":2,")[0] + ":2,S"))
    sandbox.run()
    flags, _ = imap_account.messages("INBOX")[uid]
    assert {"\\Flagged", "\\Seen"} <= set(flags)
    assert sandbox.local_messages("INBOX")[0][0] == "FS"


def test_folders_created_on_either_side(sandbox, imap_account, make_messages) -> None:
    imap_account.seed("INBOX", make_messages(1))
    imap_account.seed("FromServer", make_messages(2))
    sandbox.write_config(remote_section(imap_account))
    sandbox.deliver("MadeLocally", make_messages(1, start=50)[0])
    sandbox.run()
    assert "MadeLocally" in imap_account.folders()
    assert assert_in_sync(sandbox, imap_account, "MadeLocally") == 1
    assert assert_in_sync(sandbox, imap_account, "FromServer") == 2


def test_nametrans_and_folderfilter(sandbox, imap_account, make_messages) -> None:
    imap_account.seed("INBOX", make_messages(2))
    imap_account.seed("Work", make_messages(3))
    imap_account.seed("Spam", make_messages(4))
    sandbox.write_config(
        remote_section(imap_account, extra=(
            "nametrans = lambda f: 'acc1' if f == 'INBOX' else 'acc1.' + f\n"
            "folderfilter = lambda f: f != 'Spam'\n")),
        local=(f"type = Maildir\nlocalfolders = {sandbox.mail}\n"
               "nametrans = lambda f: 'INBOX' if f == 'acc1' else f[len('acc1.'):]\n"))
    sandbox.run()
    assert assert_in_sync(sandbox, imap_account, "INBOX", "acc1") == 2
    assert assert_in_sync(sandbox, imap_account, "Work", "acc1.Work") == 3
    assert not sandbox.folder_dir("acc1.Spam").exists()
    sandbox.deliver("acc1.Projects", make_messages(1, start=9)[0])
    sandbox.run()
    assert assert_in_sync(sandbox, imap_account, "Projects", "acc1.Projects") == 1
    assert "acc1.Projects" not in imap_account.folders()


def test_imaps_verified_with_the_ca_and_refused_without(sandbox, imap_account,
                                                        make_messages) -> None:
    imap_account.seed("INBOX", make_messages(2))
    sandbox.write_config(remote_section(imap_account, ssl=True))
    sandbox.run()
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 2
    server = imap_account.server
    sandbox.write_config(
        f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.ssl_port}\n"
        f"remoteuser = {imap_account.user}\nremotepass = {imap_account.password}\nssl = yes\n")
    refused = sandbox.run(expect=None)
    assert refused.code != 0
    assert "certificate" in refused.text.lower()
    assert "Traceback" not in refused.text


def test_wrong_password_is_one_line_and_touches_nothing(sandbox, imap_account) -> None:
    imap_account.seed("INBOX", [b"Subject: x\r\n\r\nbody\r\n"])
    server = imap_account.server
    sandbox.write_config(
        f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
        f"remoteuser = {imap_account.user}\nremotepass = not-the-password\n")
    run = sandbox.run(expect=None)
    assert run.code != 0
    assert "Traceback" not in run.text
    assert "not-the-password" not in run.text
    assert not sandbox.mail.exists() or not any(sandbox.mail.rglob("*,U=*"))


def test_password_from_file_and_netrc(sandbox, imap_account, make_messages) -> None:
    imap_account.seed("INBOX", make_messages(1))
    server = imap_account.server
    base = (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
            f"starttls = no\nallow_plaintext_login = yes\nremoteuser = {imap_account.user}\n")
    secret = sandbox.root / "secret"
    secret.write_text(imap_account.password + "\n")
    sandbox.write_config(base + f"remotepassfile = {secret}\n")
    sandbox.run()
    netrc = sandbox.home / ".netrc"
    netrc.write_text(f"machine {server.host} login {imap_account.user} "
                     f"password {imap_account.password}\n")
    netrc.chmod(0o600)
    sandbox.write_config(base)
    sandbox.run()
    sandbox.write_config(base + f"remotepasseval = {imap_account.password!r}.upper().lower()\n")
    sandbox.run()
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 1


def test_imap_to_imap_with_uid_mapping(sandbox, imap_account, dovecot_server,
                                       make_messages) -> None:
    """The seed's "Gmail to another IMAP server" shape: remote IMAP, local IMAP, nametrans."""
    target = dovecot_server.new_account("local")
    imap_account.seed("INBOX", make_messages(5, flags=[(), ("\\Seen",)]))
    imap_account.seed("Work", make_messages(3, start=10))
    server = target.server
    local = (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\n"
             f"ssl = no\nstarttls = no\nallow_plaintext_login = yes\nremoteuser = {target.user}\n"
             f"remotepass = {target.password}\n")
    sandbox.write_config(
        remote_section(imap_account, extra="nametrans = lambda f: 'INBOX.' + f\n"),
        local=local + "nametrans = lambda f: f[len('INBOX.'):] if f.startswith('INBOX.') else f\n"
                      "folderfilter = lambda f: f.startswith('INBOX.')\n")
    sandbox.run()
    assert server_view(target, "INBOX.INBOX") == server_view(imap_account, "INBOX")
    assert server_view(target, "INBOX.Work") == server_view(imap_account, "Work")
    mapping = sandbox.metadata / "Repository-Local" / "UIDMapping" / "INBOX.INBOX"
    pairs = [line.split(":") for line in mapping.read_text().split()]
    assert sorted(int(remote) for _, remote in pairs) == sorted(imap_account.messages("INBOX"))
    # changes on the local IMAP side travel back under the right UIDs
    local_uids = sorted(target.messages("INBOX.Work"))
    target.set_flags("INBOX.Work", local_uids[:1], ["\\Flagged"])
    target.delete("INBOX.Work", local_uids[1:2])
    target.seed("INBOX.Work", make_messages(1, start=40))
    sandbox.run()
    assert server_view(target, "INBOX.Work") == server_view(imap_account, "Work")
    assert len(imap_account.messages("Work")) == 3
    before = imap_account.messages("Work")
    sandbox.run()
    assert imap_account.messages("Work") == before


def test_imap_on_both_sides_with_one_connection_each_never_deadlocks(
        sandbox, imap_account, dovecot_server, make_messages) -> None:
    """Folder pairs run two at a time: each must take the local connection and then the remote
    one in folder order, or a later pair holding the local one waits for an earlier pair that
    waits for it."""
    target = dovecot_server.new_account("local")
    folders = [f"F{number}" for number in range(6)]
    for number, folder in enumerate(folders):
        imap_account.seed(folder, make_messages(2, start=10 * number))
    server = target.server
    local = (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\n"
             f"ssl = no\nstarttls = no\nallow_plaintext_login = yes\nremoteuser = {target.user}\n"
             f"remotepass = {target.password}\nmaxconnections = 1\n")
    sandbox.write_config(remote_section(imap_account, extra="maxconnections = 1\n"), local=local)
    for _ in range(2):  # the first run creates the folders, the second finds them all
        sandbox.run(timeout=60)
    for folder in folders:
        assert server_view(target, folder) == server_view(imap_account, folder)


def test_dry_run_reports_and_touches_nothing(sandbox, imap_account, make_messages) -> None:
    imap_account.seed("INBOX", make_messages(4))
    sandbox.write_config(remote_section(imap_account))
    sandbox.mail.mkdir()
    (sandbox.mail / "INBOX").mkdir()
    for sub in ("cur", "new", "tmp"):
        (sandbox.mail / "INBOX" / sub).mkdir()
    run = sandbox.run("--dry-run")
    assert "would copy 4 to local" in run.text
    assert sandbox.local_files("INBOX") == []
    assert not list(sandbox.metadata.glob("Account-Test/LocalStatus*/*"))
    assert not list(sandbox.metadata.glob("Repository-*/FolderValidity/*"))
    sandbox.run()
    assert len(sandbox.local_files("INBOX")) == 4


def test_info_shows_capabilities_and_folder_translation(sandbox, imap_account,
                                                        make_messages) -> None:
    imap_account.seed("Work", make_messages(1))
    sandbox.write_config(remote_section(imap_account,
                                        extra="nametrans = lambda f: 'srv.' + f\n"))
    run = sandbox.run("--info")
    assert "IMAP4REV1" in run.out.upper()
    assert "Work -> srv.Work" in run.out
    assert not sandbox.mail.exists() or not any(sandbox.mail.rglob("*,U=*"))


def test_server_recreating_a_folder_is_recovered_without_duplicates(
        sandbox, imap_account, make_messages) -> None:
    originals = make_messages(6, flags=[("\\Seen",), ()])
    imap_account.seed("Work", originals)
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    with imap_account.client() as client:  # a restore: same mail, new UIDVALIDITY and UIDs
        client.delete_folder("Work")
    imap_account.seed("Work", list(reversed(originals)))
    run = sandbox.run()
    assert "recovered: 6 local messages" in run.text
    assert assert_in_sync(sandbox, imap_account, "Work") == 6
    names = sorted(p.name for p in sandbox.local_files("Work"))
    sandbox.run()
    assert sorted(p.name for p in sandbox.local_files("Work")) == names


def test_unchanged_folders_are_not_even_selected(sandbox, imap_account, make_messages) -> None:
    """CONDSTORE + LIST-STATUS: a routine resync costs per folder, not per message, and a flag
    changed on the server or in the Maildir is still caught."""
    for folder in ("INBOX", "Lists", "Archive"):
        imap_account.seed(folder, make_messages(20, start=len(folder) * 100))
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    log = sandbox.root / "debug.log"

    def selects() -> list[str]:
        log.unlink(missing_ok=True)
        sandbox.run("-d", "imap", "-l", str(log))
        return [line for line in log.read_text().splitlines() if " SELECT " in line]

    assert selects() == []
    uid = min(imap_account.messages("Lists"))
    imap_account.set_flags("Lists", [uid], ["\\Flagged"])
    selected = selects()
    assert len(selected) == 1 and "Lists" in selected[0]
    assert sorted(f for f, _ in sandbox.local_messages("Lists")).count("F") == 1
    (path, *_rest) = sandbox.local_files("Archive")
    path.rename(path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,S"))
    selected = selects()
    assert len(selected) == 1 and "Archive" in selected[0]
    assert "\\Seen" in imap_account.messages("Archive")[
        int(path.name.split(",U=")[1].split(",")[0])][0]


def _fetch_commands(sandbox, *args: str) -> list[str]:
    """The listing commands (``UID FETCH 1:*``) of one run, from its ``-d imap`` trace."""
    log = sandbox.root / "debug.log"
    log.unlink(missing_ok=True)
    sandbox.run("-d", "imap,quick", "-l", str(log), *args)
    return [line for line in log.read_text().splitlines() if "UID FETCH 1:* " in line]


def test_changed_folder_is_listed_by_its_changes(sandbox, imap_account, make_messages) -> None:
    """QRESYNC: a folder with a few changes among many messages is listed with CHANGEDSINCE
    and VANISHED, and every kind of change on either side still arrives."""
    uids = imap_account.seed("INBOX", make_messages(40, flags=[(), ("\\Seen",)]))
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    imap_account.seed("INBOX", make_messages(5, start=100))
    imap_account.delete("INBOX", uids[:3])
    imap_account.set_flags("INBOX", uids[3:5], ["\\Flagged"])
    sandbox.deliver("INBOX", make_messages(1, start=200)[0], flags="S")
    by_uid = {int(p.name.split(",U=")[1].split(",")[0]): p
              for p in sandbox.local_files("INBOX") if ",U=" in p.name}
    by_uid[uids[10]].unlink()
    replied = by_uid[uids[11]]
    replied.rename(replied.with_name(replied.name.split(":2,")[0] + ":2,RS"))
    fetches = _fetch_commands(sandbox)
    assert fetches and all("CHANGEDSINCE" in line and "VANISHED" in line for line in fetches)
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 40 + 5 - 3 + 1 - 1
    remote = imap_account.messages("INBOX")
    assert uids[10] not in remote
    assert "\\Answered" in remote[uids[11]][0]
    # The changes this sync made itself come back once as changes, and change nothing.
    names = sorted(p.name for p in sandbox.local_files("INBOX"))
    assert all("CHANGEDSINCE" in line for line in _fetch_commands(sandbox))
    assert sorted(p.name for p in sandbox.local_files("INBOX")) == names


def test_listing_by_changes_falls_back_when_the_status_does_not_match(
        sandbox, imap_account, make_messages) -> None:
    """A status cache that no longer describes the server (here: deleted by hand) fails the
    count check and the folder is listed in full: nothing is copied twice or deleted; and
    fullsync_every = 0 lists in full every time."""
    uids = imap_account.seed("INBOX", make_messages(12))
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    for path in sandbox.metadata.glob("Account-*/LocalStatus*/INBOX"):
        path.unlink()
    imap_account.set_flags("INBOX", uids[:1], ["\\Seen"])
    fetches = _fetch_commands(sandbox)
    assert [line for line in fetches if "CHANGEDSINCE" not in line]
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 12
    imap_account.set_flags("INBOX", uids[1:2], ["\\Seen"])
    fetches = _fetch_commands(sandbox, "-k", "Account_Test:fullsync_every=0")
    assert fetches and not [line for line in fetches if "CHANGEDSINCE" in line]
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 12


def test_the_first_resync_after_a_download_does_not_open_the_status(
        sandbox, imap_account, make_messages) -> None:
    """The download moved the Maildir's change token; the next sync compares a listing of the
    Maildir with the digest the download recorded instead of opening the status cache (which
    here is garbage that opening would report and set aside)."""
    imap_account.seed("INBOX", make_messages(15))
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    (status,) = sandbox.metadata.glob("Account-Test/LocalStatus*/INBOX")
    status.write_bytes(b"\x00garbage")
    again = sandbox.run()
    assert "damaged" not in again.text and status.read_bytes() == b"\x00garbage"
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 15
    uid = min(imap_account.messages("INBOX"))
    imap_account.set_flags("INBOX", [uid], ["\\Flagged"])
    changed = sandbox.run()
    assert "damaged" in changed.text
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 15


def test_a_readonly_server_folder_is_examined_and_listed_by_its_changes(
        sandbox, imap_account, make_messages) -> None:
    """readonly = yes: EXAMINE (never SELECT) rides with the listing, changes on the server
    arrive, and local changes stay local."""
    uids = imap_account.seed("INBOX", make_messages(8))
    sandbox.write_config(remote_section(imap_account, extra="readonly = yes"))
    sandbox.run()
    imap_account.set_flags("INBOX", uids[:2], ["\\Flagged"])
    imap_account.delete("INBOX", uids[2:3])
    (path, *_rest) = sandbox.local_files("INBOX")
    path.rename(path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,S"))
    log = sandbox.root / "debug.log"
    sandbox.run("-d", "imap", "-l", str(log))
    sent = [line for line in log.read_text().splitlines() if "> " in line]
    assert not [line for line in sent if " SELECT " in line]
    assert [line for line in sent if " EXAMINE " in line]
    assert [line for line in sent if "CHANGEDSINCE" in line]
    local = dict((digest(body), flags) for flags, body in sandbox.local_messages("INBOX"))
    server = server_view(imap_account, "INBOX")
    assert len(local) == 7 and set(local) == set(server)
    assert sum("F" in flags for flags in local.values()) == 2
    assert all(flags != {"\\Seen"} for flags in server.values())


class FolderOrder:
    """Keeps the order in which folders are listed on the server, and holds the first folder's
    first stored message until the next folder has been listed there (10 s at most)."""

    def __init__(self, first: str, second: str) -> None:
        self.first, self.second = first, second
        self.remote_listings: list[str] = []
        self.second_listed = threading.Event()
        self.overlapped: bool | None = None

    @hookimpl
    def offlineimap_listing(self, account: str, folder: str, side: str) -> None:
        if side == "remote":
            self.remote_listings.append(folder)
            if folder == self.second:
                self.second_listed.set()

    @hookimpl
    def offlineimap_message_copied(self, account: str, folder: str, uid: int, source: str,
                                   destination: str, size: int) -> None:
        if folder == self.first and self.overlapped is None:
            self.overlapped = self.second_listed.wait(10)


def test_one_connection_lists_the_next_folder_while_the_last_one_is_stored(
        sandbox, imap_account, make_messages, run_in_process) -> None:
    """maxconnections = 1: once a folder's download is in, the next folder uses the connection
    while the first one's messages are still being written; folders still take the connection
    in their sorted order."""
    folders = ["Alpha", "Beta", "Gamma", "INBOX"]
    for number, folder in enumerate(folders):
        imap_account.seed(folder, make_messages(5, start=10 * number))
    sandbox.write_config(remote_section(imap_account, extra="maxconnections = 1\n"))
    order = FolderOrder("Alpha", "Beta")
    assert run_in_process(order) == 0
    assert order.overlapped is True
    assert order.remote_listings == folders
    for folder in folders:
        assert_in_sync(sandbox, imap_account, folder)
