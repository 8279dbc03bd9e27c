"""Switching from the real OfflineIMAP 8.0.3: same config file, same metadata, nothing re-copied.

OfflineIMAP 8.0.3 is installed from PyPI into a virtual environment of its own (cached across
test sessions under pytest's cache directory, keyed by version and Python version). It syncs
from the Dovecot fixture first; then mail changes on both sides; then this project runs with
the same configuration file and metadata directory. Its first run must copy exactly the new
changes and leave every message OfflineIMAP synced where it is: the same Maildir file names,
the same server UIDs, no duplicates.

Status caches: 8.0.3 writes only the sqlite cache (it refuses ``status_backend``). The plain
cache of OfflineIMAP 7 installations is produced by running 8.0.3 with its own plain status
class selected (:data:`PLAIN_STATUS_LAUNCHER`), so the files are OfflineIMAP's own code's output.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from tests.conftest import Run
from tests.test_sync_imap import assert_in_sync, remote_section, server_view

pytestmark = pytest.mark.dovecot

VERSION = "8.0.3"

#: Runs OfflineIMAP 8.0.3 with its plain-text LocalStatus backend instead of sqlite (what
#: ``status_backend = plain`` did before 8.0 refused the option).
PLAIN_STATUS_LAUNCHER = """
import os, sys
from offlineimap.repository import LocalStatus
original = LocalStatus.LocalStatusRepository.__init__
def plain_init(self, *args, **kwargs):
    original(self, *args, **kwargs)
    self.setup_backend("plain")
    os.makedirs(self.root, 0o700, exist_ok=True)
LocalStatus.LocalStatusRepository.__init__ = plain_init
from offlineimap import init
sys.argv[0] = "offlineimap"
sys.exit(init.OfflineImap().run())
"""


class OfflineImap8:
    """The real OfflineIMAP 8.0.3 in its own virtual environment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"

    def install(self) -> None:
        """Create the environment and ``pip install offlineimap==8.0.3``, once per cache."""
        done = self.root / ".installed"
        lock_path = self.root.with_name(self.root.name + ".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers share the cache
            if done.exists():
                return
            venv.EnvBuilder(clear=True, with_pip=True).create(self.root)
            proc = subprocess.run(
                [str(self.python), "-m", "pip", "install", "--disable-pip-version-check",
                 "--quiet", f"offlineimap=={VERSION}"],
                capture_output=True, text=True, timeout=600, check=False)
            if proc.returncode != 0:
                pytest.fail(f"cannot install OfflineIMAP {VERSION} from PyPI (is PyPI "
                            f"reachable?): pip exited {proc.returncode}:\n"
                            f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}", pytrace=False)
            done.touch()

    def run(self, sandbox, *, plain_status: bool = False) -> str:
        """One ``offlineimap -o`` of 8.0.3 on the sandbox's config; fails the test on errors."""
        program = ([str(self.python), "-c", PLAIN_STATUS_LAUNCHER] if plain_status
                   else [str(self.root / "bin" / "offlineimap")])
        proc = subprocess.run(
            [*program, "-c", str(sandbox.config), "-o", "-u", "basic"],
            capture_output=True, text=True, env=sandbox.env(), timeout=180, check=False)
        text = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"OfflineIMAP {VERSION} exited {proc.returncode}:\n{text}"
        assert "ERROR" not in text, f"OfflineIMAP {VERSION} reported errors:\n{text}"
        return text


@pytest.fixture(scope="session")
def offlineimap8(request: pytest.FixtureRequest) -> OfflineImap8:
    cache = request.config.cache
    assert cache is not None, "the pytest cache provider is needed to keep OfflineIMAP 8"
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    program = OfflineImap8(cache.mkdir(f"offlineimap-{VERSION}-{python}") / "venv")
    program.install()
    return program


# -- helpers ---------------------------------------------------------------------------------------


def names(sandbox, folder: str) -> set[str]:
    return {path.name for path in sandbox.local_files(folder)}


def uid_of(name: str) -> int:
    return int(name.split(",U=")[1].split(",")[0])


def file_with_uid(sandbox, folder: str, uid: int) -> Path:
    (path,) = [p for p in sandbox.local_files(folder) if ",U=" in p.name and uid_of(p.name) == uid]
    return path


def reflag(path: Path, flags: str) -> Path:
    target = path.with_name(path.name.split(":2,")[0] + ":2," + flags)
    path.rename(target)
    return target


SUMMARY = re.compile(
    r"Test: (?P<to_local>\d+) copied to local, (?P<to_remote>\d+) copied to remote; "
    r"(?P<deleted_local>\d+) deleted locally, (?P<deleted_remote>\d+) deleted remotely; "
    r"flags changed on (?P<flags_local>\d+) local, (?P<flags_remote>\d+) remote; "
    r"(?P<errors>\d+) errors?")


def summary(run: Run) -> dict[str, int]:
    """The numbers of our end-of-run summary line for the account."""
    match = SUMMARY.search(run.text)
    assert match is not None, f"no summary line for account Test in:\n{run.text}"
    return {key: int(value) for key, value in match.groupdict().items()}


def expect(**changes: int) -> dict[str, int]:
    """A summary with these numbers and zero for the rest."""
    keys = SUMMARY.groupindex
    assert set(changes) <= set(keys), changes
    return {key: changes.get(key, 0) for key in keys}



# -- Maildir local side -------------------------------------------------------------------------


def _seed(imap_account, make_messages) -> dict[str, list[int]]:
    return {
        "INBOX": imap_account.seed("INBOX", make_messages(
            8, flags=[(), ("\\Seen",), ("\\Flagged", "\\Seen"), ("\\Answered", "\\Seen")])),
        "Work": imap_account.seed("Work", make_messages(4, start=20)),
    }


def _remote(imap_account, *, ssl: bool) -> str:
    """The remote repository; over IMAPS by the certificate's host name, which OfflineIMAP 8
    checks (it does not match IP addresses)."""
    section = remote_section(imap_account, ssl=ssl)
    return section.replace(f"remotehost = {imap_account.server.host}\n",
                           "remotehost = localhost\n") if ssl else section


@pytest.mark.parametrize("status", ["sqlite", "plain"])
def test_maildir_installation_continues_without_copying_again(
        sandbox, imap_account, make_messages, offlineimap8, status) -> None:
    uids = _seed(imap_account, make_messages)
    ssl = status == "sqlite"  # one case over IMAPS with OfflineIMAP's sslcacertfile
    sandbox.write_config(_remote(imap_account, ssl=ssl))
    offlineimap8.run(sandbox, plain_status=status == "plain")
    status_dir = "LocalStatus-sqlite" if status == "sqlite" else "LocalStatus"
    assert (sandbox.metadata / "Account-Test" / status_dir / "INBOX").is_file()
    if status == "plain":  # what an OfflineIMAP 7 configuration said (8.0.3 refuses it)
        sandbox.write_config(_remote(imap_account, ssl=ssl), account="status_backend = plain\n")
    synced = {folder: names(sandbox, folder) for folder in uids}
    assert {folder: len(found) for folder, found in synced.items()} == {"INBOX": 8, "Work": 4}
    server_before = {folder: set(imap_account.messages(folder)) for folder in uids}

    # changes on both sides after OfflineIMAP's run
    inbox = uids["INBOX"]
    new_remote = imap_account.seed("INBOX", make_messages(2, start=100))
    imap_account.delete("INBOX", [inbox[0]])
    imap_account.set_flags("INBOX", [inbox[1]], ["\\Flagged"])
    delivered = sandbox.deliver("Work", make_messages(1, start=200)[0], flags="S")
    file_with_uid(sandbox, "INBOX", inbox[2]).unlink()
    reflagged = reflag(file_with_uid(sandbox, "INBOX", inbox[3]), "FRS")

    run = sandbox.run()
    assert summary(run) == expect(to_local=2, to_remote=1, deleted_local=1, deleted_remote=1,
                                  flags_local=1, flags_remote=1), run.text
    # every message OfflineIMAP synced and nobody touched is still the very same file
    touched = {name for name in synced["INBOX"] if uid_of(name) in inbox[:4]}
    assert synced["INBOX"] - touched <= names(sandbox, "INBOX")
    assert synced["Work"] <= names(sandbox, "Work")
    assert reflagged.exists()
    # the server kept every UID it had but the two deleted ones: nothing uploaded twice
    assert set(imap_account.messages("INBOX")) == (
        server_before["INBOX"] - {inbox[0], inbox[2]}) | set(new_remote)
    assert server_before["Work"] < set(imap_account.messages("Work"))
    assert not delivered.exists()  # renamed to carry the UID the server gave it
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 8 - 2 + 2
    assert assert_in_sync(sandbox, imap_account, "Work") == 4 + 1

    settled = {folder: names(sandbox, folder) for folder in uids}
    again = sandbox.run()
    assert summary(again) == expect(), again.text
    assert {folder: names(sandbox, folder) for folder in uids} == settled


def test_first_run_after_offlineimap_changes_nothing(sandbox, imap_account, make_messages,
                                                     offlineimap8) -> None:
    """No change since OfflineIMAP's run: ours copies, deletes and renames nothing, and
    OfflineIMAP 8.0.3 can take over again from our state (switching back costs nothing)."""
    uids = _seed(imap_account, make_messages)
    sandbox.write_config(_remote(imap_account, ssl=False))
    offlineimap8.run(sandbox)
    synced = {folder: names(sandbox, folder) for folder in uids}
    server = {folder: imap_account.messages(folder) for folder in uids}
    run = sandbox.run()
    assert summary(run) == expect(), run.text
    assert {folder: names(sandbox, folder) for folder in uids} == synced
    assert {folder: imap_account.messages(folder) for folder in uids} == server
    back = offlineimap8.run(sandbox)
    assert {folder: names(sandbox, folder) for folder in uids} == synced, back
    assert {folder: imap_account.messages(folder) for folder in uids} == server, back


# -- IMAP local side (UIDMapping) -----------------------------------------------------------------


def test_imap_to_imap_installation_continues(sandbox, imap_account, dovecot_server,
                                             make_messages, offlineimap8) -> None:
    target = dovecot_server.new_account("local")
    uids = _seed(imap_account, make_messages)
    server = target.server
    local = (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\n"
             f"ssl = no\nstarttls = no\nallow_plaintext_login = yes\nremoteuser = {target.user}\n"
             f"remotepass = {target.password}\n")
    sandbox.write_config(_remote(imap_account, ssl=False), local=local)
    offlineimap8.run(sandbox)
    assert (sandbox.metadata / "Repository-Local" / "UIDMapping" / "INBOX").is_file()
    for folder in uids:
        assert server_view(target, folder) == server_view(imap_account, folder)
    local_before = {folder: set(target.messages(folder)) for folder in uids}
    remote_before = {folder: set(imap_account.messages(folder)) for folder in uids}

    inbox = uids["INBOX"]
    new_remote = imap_account.seed("INBOX", make_messages(2, start=100))
    imap_account.delete("INBOX", [inbox[0]])
    target.set_flags("Work", sorted(local_before["Work"])[:1], ["\\Flagged"])
    new_local = target.seed("Work", make_messages(1, start=200))

    run = sandbox.run()
    assert summary(run) == expect(to_local=2, to_remote=1, deleted_local=1,
                                  flags_remote=1), run.text
    assert set(imap_account.messages("INBOX")) == (
        remote_before["INBOX"] - {inbox[0]}) | set(new_remote)
    assert remote_before["Work"] < set(imap_account.messages("Work"))
    # the local server kept every message it had: only appended to and the one deletion
    assert set(target.messages("Work")) == local_before["Work"] | set(new_local)
    inbox_local = set(target.messages("INBOX"))
    assert len(local_before["INBOX"] - inbox_local) == 1 and len(inbox_local) == 8 - 1 + 2
    for folder in uids:
        assert server_view(target, folder) == server_view(imap_account, folder)
    again = sandbox.run()
    assert summary(again) == expect(), again.text


# -- OfflineIMAP 8.0.3's other command-line options ----------------------------------------------


def test_capital_v_prints_the_version(sandbox) -> None:
    sandbox.config.write_text("[general]\naccounts = A\n")
    proc = subprocess.run([sys.executable, "-m", "offlineimap", "-V"], capture_output=True,
                          text=True, env=sandbox.env(), check=False)
    assert proc.returncode == 0
    assert re.match(r"offlineimap \S+ \(Python 3\.", proc.stdout)


def test_migrate_fmd5_using_nametrans(sandbox, imap_account, make_messages) -> None:
    """Files named with the FMD5 of the untranslated local name (OfflineIMAP before 6.3.5) get
    the FMD5 of the nametrans'd name, and the next sync then copies nothing."""
    imap_account.seed("srv.Work", make_messages(3))
    local = (f"type = Maildir\nlocalfolders = {sandbox.mail}\n"
             "nametrans = lambda f: 'srv.' + f\n")
    sandbox.write_config(_remote(imap_account, ssl=False) + "nametrans = lambda f: f[4:]\n"
                         "folderfilter = lambda f: f == 'srv.Work'\n", local=local)
    sandbox.run()
    current = hashlib.md5(b"srv.Work").hexdigest()
    old = hashlib.md5(b"Work").hexdigest()
    synced = sorted(names(sandbox, "Work"))
    assert len(synced) == 3 and all(f"FMD5={current}" in name for name in synced)
    for path in sandbox.local_files("Work"):
        path.rename(path.with_name(path.name.replace(current, old)))
    dry = sandbox.run("--migrate-fmd5-using-nametrans", "--dry-run")
    assert dry.text.count("would migrate") == 3
    assert all(old in name for name in names(sandbox, "Work"))
    sandbox.run("--migrate-fmd5-using-nametrans")
    assert sorted(names(sandbox, "Work")) == synced
    assert summary(sandbox.run()) == expect()


def test_mbnames_prune_removes_accounts_no_longer_configured(sandbox) -> None:
    mailboxes = sandbox.root / "mailboxes"
    sandbox.write_config("type = Maildir\nlocalfolders = /nonexistent\n", extra=(
        f"[mbnames]\nenabled = yes\nfilename = {mailboxes}\nheader = 'mailboxes '\n"
        "peritem = +%(accountname)s/%(foldername)s\nsep = ' '\nfooter = '\\n'\n"))
    cache = sandbox.metadata / "mbnames"
    cache.mkdir(parents=True)
    (cache / "Test.json").write_text('[{"accountname": "Test", "foldername": "INBOX"}]')
    (cache / "Gone.json").write_text('[{"accountname": "Gone", "foldername": "INBOX"}]')
    sandbox.run("--mbnames-prune")
    assert sorted(p.name for p in cache.iterdir()) == ["Test.json"]
    assert mailboxes.read_text() == "mailboxes +Test/INBOX\n"


def test_delete_folder_needs_one_account_and_deletes_on_the_server(sandbox, imap_account) -> None:
    sandbox.write_config(_remote(imap_account, ssl=False),
                         extra="[Account Other]\nlocalrepository = Local\n"
                               "remoterepository = Remote\n")
    two = sandbox.run("--delete-folder", "Work", "-a", "Test,Other", expect=3)
    assert "--delete-folder needs exactly one account, not 2" in two.err
    imap_account.seed("Work", [])
    dry = sandbox.run("--delete-folder", "Work", "-a", "Test", "--dry-run")
    assert "would delete folder 'Work'" in dry.text and "Work" in imap_account.folders()
    sandbox.run("--delete-folder", "Work", "-a", "Test")
    assert "Work" not in imap_account.folders()


def test_keyring_options_become_general_options() -> None:
    from offlineimap.config import Config
    from offlineimap.options import Options

    config = Config.from_string("[general]\naccounts = A\n")
    Options.from_argv(["--ignore-keyring", "--update-keyring"]).apply_to(config, ["A"])
    assert config.general.get_bool("ignore-keyring") is True
    assert config.general.get_bool("update-keyring") is True
    plain = Config.from_string("[general]\naccounts = A\n")
    Options.from_argv([]).apply_to(plain, ["A"])
    assert not plain.general.has("ignore-keyring")
