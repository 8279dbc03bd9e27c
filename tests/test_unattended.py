"""Running unattended, end to end: the real ``offlineimap`` daemon against a real Dovecot.

Every wait polls with a deadline (no fixed sleeps): a test that passes is quick, a test that
fails says what it was waiting for and shows the daemon's output.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from offlineimap_testing.messages import make_message

pytestmark = pytest.mark.dovecot

FINISHED = "*** Finished account 'Test'"


def remote_section(account, *, extra: str = "") -> str:
    """The remote repository on the fixture's plain port (TLS is covered by test_sync_imap)."""
    server = account.server
    return (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\n"
            f"remoteuser = {account.user}\nremotepass = {account.password}\n"
            f"ssl = no\nstarttls = no\nallow_plaintext_login = yes\n{extra}")


class Daemon:
    """``offlineimap`` without ``-o``, its output in a file we can poll."""

    def __init__(self, sandbox, *args: str) -> None:
        self.log_path = sandbox.root / f"daemon-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "offlineimap", "-c", str(sandbox.config), "-u", "basic",
                   *args]
        self.process = subprocess.Popen(command, env=sandbox.env(), stdout=self._log,
                                        stderr=subprocess.STDOUT)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def until(self, condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}) while waiting "
                                     f"for {what}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n"
                                     f"{self.output}")
            time.sleep(0.05)

    def syncs(self) -> int:
        return self.output.count(FINISHED)

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def exit_code(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"daemon still running {timeout} s later:\n"
                                 f"{self.output}") from None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def start_daemon(sandbox) -> Iterator[Callable[..., Daemon]]:
    daemons: list[Daemon] = []

    def start(*args: str) -> Daemon:
        daemon = Daemon(sandbox, *args)
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.close()


def local_count(sandbox, folder: str) -> int:
    return len(sandbox.local_files(folder)) if sandbox.folder_dir(folder).is_dir() else 0


def message(n: int) -> bytes:
    return make_message(f"unattended {n}", size=1200 + n)


# -- IMAP IDLE ------------------------------------------------------------------------------------


def test_idle_pushes_new_mail_flags_and_expunges_within_seconds(
        sandbox, imap_account, start_daemon) -> None:
    """Three deliveries in a row, then a flag change and an expunge, each within 2 s (measured),
    with nametrans on the remote side and IDLE renewed every second."""
    uids = imap_account.seed("INBOX", [message(0)])
    sandbox.write_config(
        remote_section(imap_account, extra=(
            "idlefolders = ['INBOX']\nidlerenew = 1\n"
            "nametrans = lambda f: 'Inbox' if f == 'INBOX' else f\n")),
        local=(f"type = Maildir\nlocalfolders = {sandbox.mail}\n"
               "nametrans = lambda f: 'INBOX' if f == 'Inbox' else f\n"),
        account="autorefresh = 60\n"
                f"postsynchook = echo $OFFLINEIMAP_SYNC_MODE >> {sandbox.root}/modes\n")
    daemon = start_daemon("-d", "idle")
    daemon.until(lambda: "IDLE on INBOX" in daemon.output, "IDLE to start")
    assert local_count(sandbox, "Inbox") == 1
    for n in range(1, 4):
        uids += imap_account.seed("INBOX", [message(n)])
        start = time.monotonic()
        daemon.until(lambda n=n: local_count(sandbox, "Inbox") == n + 1, f"pushed message {n}")
        assert time.monotonic() - start < 2.0 + 0.5, "push took longer than 2 s"
    imap_account.set_flags("INBOX", [uids[0]], ["\\Flagged"])
    daemon.until(lambda: any(flags == "F" for flags, _ in sandbox.local_messages("Inbox")),
                 "the pushed flag change")
    imap_account.delete("INBOX", [uids[1]])
    daemon.until(lambda: local_count(sandbox, "Inbox") == 3, "the pushed expunge")
    assert "idle" in (sandbox.root / "modes").read_text().split()
    assert "IDLE on INBOX renewed" in daemon.output
    daemon.send(signal.SIGUSR2)
    assert daemon.exit_code(10) == 0


def test_idle_survives_a_server_restart(sandbox, dovecot_factory, start_daemon) -> None:
    server = dovecot_factory()
    account = server.new_account()
    account.seed("INBOX", [message(0)])
    sandbox.write_config(remote_section(account, extra="idlefolders = ['INBOX']\n"),
                         account="autorefresh = 60\n", general="socktimeout = 10\n")
    daemon = start_daemon("-d", "idle")
    daemon.until(lambda: "IDLE on INBOX" in daemon.output, "IDLE to start")
    server.restart()
    daemon.until(lambda: "re-established" in daemon.output, "IDLE to reconnect", timeout=15)
    account.seed("INBOX", [message(1)])
    daemon.until(lambda: local_count(sandbox, "INBOX") == 2, "a push after the restart")
    daemon.send(signal.SIGTERM)
    assert daemon.exit_code(10) == 130


# -- failures while unattended ----------------------------------------------------------------


def test_an_unreachable_server_is_retried_at_the_next_refresh(
        sandbox, dovecot_factory, start_daemon) -> None:
    server = dovecot_factory()
    account = server.new_account()
    account.seed("INBOX", [message(0)])
    sandbox.write_config(remote_section(account), account="autorefresh = 0.02\n")
    server.stop()
    daemon = start_daemon()
    daemon.until(lambda: daemon.output.count("ERROR") >= 2, "two failed refreshes")
    server.start()
    daemon.until(lambda: local_count(sandbox, "INBOX") == 1, "the sync once the server is back")
    daemon.send(signal.SIGUSR2)
    assert daemon.exit_code(10) == 1  # the failed refreshes are reported in the exit status


# -- signals --------------------------------------------------------------------------------------


def test_sigusr1_ends_a_long_sleep(sandbox, imap_account, start_daemon) -> None:
    sandbox.write_config(remote_section(imap_account), account="autorefresh = 60\n")
    daemon = start_daemon()
    daemon.until(lambda: daemon.syncs() == 1, "the first sync")
    imap_account.seed("INBOX", [message(1)])
    daemon.send(signal.SIGUSR1)
    daemon.until(lambda: local_count(sandbox, "INBOX") == 1, "the sync SIGUSR1 asked for")
    # the message file lands before the sync's end is logged: wait for that, then check
    # that exactly one more sync ran, not a refresh storm
    daemon.until(lambda: daemon.syncs() >= 2, "the end of the second sync")
    assert daemon.syncs() == 2
    daemon.send(signal.SIGUSR2)
    assert daemon.exit_code(10) == 0


def test_sigusr2_exits_after_the_running_sync(sandbox, imap_account, start_daemon) -> None:
    imap_account.seed("INBOX", [message(0), message(1)])
    started = sandbox.root / "started"
    sandbox.write_config(remote_section(imap_account),
                         account=f"autorefresh = 60\npresynchook = touch {started}; sleep 1\n")
    daemon = start_daemon()
    daemon.until(started.exists, "the presynchook")
    daemon.send(signal.SIGUSR2)
    assert daemon.exit_code(10) == 0
    assert local_count(sandbox, "INBOX") == 2, "the running sync was not finished"
    assert daemon.syncs() == 1


def test_sigterm_exits_promptly_and_releases_the_lock(sandbox, imap_account,
                                                       start_daemon) -> None:
    imap_account.seed("INBOX", [message(0)])
    sandbox.write_config(remote_section(imap_account, extra="idlefolders = ['INBOX']\n"),
                         account="autorefresh = 60\n")
    daemon = start_daemon()
    daemon.until(lambda: daemon.syncs() == 1, "the first sync")
    start = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.exit_code(10) == 130
    assert time.monotonic() - start < 10
    imap_account.seed("INBOX", [message(1)])
    sandbox.run()  # the lock is free: a second run syncs
    assert local_count(sandbox, "INBOX") == 2


def test_a_second_sigint_exits_at_once_and_loses_nothing(sandbox, imap_account,
                                                          start_daemon) -> None:
    imap_account.seed("INBOX", [message(n) for n in range(5)])
    started = sandbox.root / "started"
    sandbox.write_config(remote_section(imap_account),
                         account=f"autorefresh = 60\npresynchook = touch {started}; sleep 30\n")
    daemon = start_daemon()
    daemon.until(started.exists, "the presynchook")
    daemon.send(signal.SIGINT)
    daemon.send(signal.SIGINT)
    assert daemon.exit_code(3) == 130
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    assert local_count(sandbox, "INBOX") == 5


# -- hooks -----------------------------------------------------------------------------------------


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line.startswith("OFFLINEIMAP_"))


def test_hooks_see_the_documented_environment(sandbox, imap_account) -> None:
    imap_account.seed("INBOX", [message(0)])
    root = sandbox.root
    sandbox.write_config(
        remote_section(imap_account,
                       extra=f"newmail_hook = lambda: open({str(root / 'newmail')!r}, 'a')"
                             ".write('new mail\\n')\n"),
        account=f"presynchook = env > {root}/pre.env\npostsynchook = env > {root}/post.env\n")
    sandbox.run()
    pre, post = _env_file(root / "pre.env"), _env_file(root / "post.env")
    assert pre == {"OFFLINEIMAP_ACCOUNT": "Test", "OFFLINEIMAP_SYNC_MODE": "full",
                   "OFFLINEIMAP_HOOK": "presynchook"}
    assert post == {"OFFLINEIMAP_ACCOUNT": "Test", "OFFLINEIMAP_SYNC_MODE": "full",
                    "OFFLINEIMAP_HOOK": "postsynchook", "OFFLINEIMAP_SYNC_ERRORS": "0"}
    assert (root / "newmail").read_text() == "new mail\n"
    sandbox.run("-q")
    assert _env_file(root / "post.env")["OFFLINEIMAP_SYNC_MODE"] == "quick"
    assert (root / "newmail").read_text() == "new mail\n", "no new mail, no newmail_hook"


def test_a_failing_hook_is_reported_and_the_sync_goes_on(sandbox, imap_account) -> None:
    imap_account.seed("INBOX", [message(0)])
    sandbox.write_config(remote_section(imap_account),
                         account="presynchook = echo preparing; exit 3\n")
    run = sandbox.run()
    assert "preparing" in run.text
    assert "presynchook exited with status 3" in run.text
    assert local_count(sandbox, "INBOX") == 1


# -- quick sync ------------------------------------------------------------------------------------


def _listings(run_text: str) -> int:
    """How many folder listings (``UID FETCH <n>:*``) the IMAP trace shows."""
    return len(re.findall(r"UID FETCH \d+:\* \(UID FLAGS", run_text))


def test_quick_sync_skips_unchanged_folders_and_sees_local_changes(
        sandbox, imap_account) -> None:
    imap_account.seed("INBOX", [message(0)])
    imap_account.seed("Archive", [message(1)])
    sandbox.write_config(remote_section(imap_account))
    sandbox.run()
    quick = ("-q", "-d", "quick,imap")

    untouched = sandbox.run(*quick)
    assert "INBOX: unchanged since the last sync, skipped" in untouched.text
    assert "Archive: unchanged since the last sync, skipped" in untouched.text
    assert _listings(untouched.text) == 0

    sandbox.deliver("Archive", message(2))  # a local change only
    local_change = sandbox.run(*quick)
    assert "INBOX: unchanged" in local_change.text
    assert "Archive: unchanged" not in local_change.text
    assert _listings(local_change.text) == 1
    assert len(imap_account.messages("Archive")) == 2

    imap_account.seed("INBOX", [message(3)])  # a remote change only
    remote_change = sandbox.run(*quick)
    assert "INBOX: unchanged" not in remote_change.text
    assert local_count(sandbox, "INBOX") == 2

    settled = sandbox.run(*quick)
    assert _listings(settled.text) == 0


def test_quick_n_alternates_with_full_syncs(sandbox, imap_account, start_daemon) -> None:
    """``quick = 2``: a full sync, two quick ones, a full one again."""
    modes = sandbox.root / "modes"
    sandbox.write_config(remote_section(imap_account), account=(
        f"autorefresh = 0.005\nquick = 2\n"
        f"postsynchook = echo $OFFLINEIMAP_SYNC_MODE >> {modes}\n"))
    daemon = start_daemon()
    daemon.until(lambda: modes.exists() and len(modes.read_text().split()) >= 4, "four syncs")
    daemon.send(signal.SIGUSR2)
    assert daemon.exit_code(10) == 0
    assert modes.read_text().split()[:4] == ["full", "quick", "quick", "full"]


# -- mbnames ---------------------------------------------------------------------------------------


def test_mbnames_writes_the_mailbox_list(sandbox, imap_account) -> None:
    imap_account.seed("INBOX", [message(0)])
    imap_account.seed("Lists.python", [message(1)])
    imap_account.seed("Spam", [message(2)])
    muttrc = sandbox.root / "muttrc.mailboxes"
    sandbox.write_config(remote_section(imap_account), extra=(
        "[mbnames]\nenabled = yes\n"
        f"filename = {muttrc}\n"
        'header = "mailboxes "\n'
        'peritem = "+%(accountname)s/%(foldername)s"\n'
        'sep = " "\n'
        'footer = "\\n"\n'
        "folderfilter = lambda account, folder: folder != 'Spam'\n"
        "sort_keyfunc = lambda d: (d['foldername'] != 'INBOX', d['foldername'])\n"))
    sandbox.run()
    assert muttrc.read_text() == 'mailboxes "+Test/INBOX" "+Test/Lists.python"\n'
    cache = sandbox.metadata / "mbnames" / "Test.json"
    assert '"localfolders": "' + str(sandbox.mail) + '"' in cache.read_text()
