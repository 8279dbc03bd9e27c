"""The user interfaces on real syncs: the real ``offlineimap`` against the real Dovecot fixture.

Blinkenlights and TTYUI run in a real terminal (tmux, one server socket per test): the screen is
read with ``capture-pane`` and keys are typed with ``send-keys``; the daemon keeps running on
``autorefresh`` until the test quits it. The line interfaces (MachineUI, Quiet, Basic, the
``-l`` file, ``-d`` output) run as plain subprocesses and are checked line by line.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from offlineimap_testing.messages import make_message
from offlineimap_testing.tmux import TmuxTerminal

pytestmark = pytest.mark.dovecot

COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|38;5;\d+)m")
SUMMARY = re.compile(
    r"Test: (\d+) copied to local, (\d+) copied to remote; (\d+) deleted locally, "
    r"(\d+) deleted remotely; flags changed on (\d+) local, (\d+) remote; (\d+) errors?; "
    r"\d+:\d\d")
#: percent-encoded fields: nothing but unreserved characters and %XX (so no ':', no '+')
MACHINE_LINE = re.compile(r"(msg|warn|error|debug):([a-z]*):((?:[\w.~-]|%[0-9A-F]{2})*):"
                          r"((?:[\w.~-]|%[0-9A-F]{2})*)", re.ASCII)


def remote_section(account, *, password: bool = True, wrong: bool = False) -> str:
    """The remote repository (STARTTLS, the fixture's CA), with or without a password source."""
    server = account.server
    secret = "not-the-password" if wrong else account.password
    return (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\n"
            f"remoteuser = {account.user}\nssl = no\nstarttls = yes\n"
            f"sslcacertfile = {server.ca_cert}\n"
            + (f"remotepass = {secret}\n" if password else ""))


def messages(count: int, start: int = 0, size: int = 3000) -> list[bytes]:
    return [make_message(f"ui message {n}", size=size + n) for n in range(start, start + count)]


def local_count(sandbox, folder: str = "INBOX", root: Path | None = None) -> int:
    return len(sandbox.local_files(folder, root))


def until(condition: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def account_row(screen: str, number: int) -> str:
    """Account ``number``'s row with its totals, which a narrow screen wraps onto indented
    lines below it, joined back into one line ("" while the row is not on screen)."""
    lines = screen.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{number}: [")), None)
    if start is None:
        return ""
    wrapped = []
    for line in lines[start + 1:]:
        if not re.match(r"   \S", line):
            break
        wrapped.append(line.strip())
    row = lines[start].rstrip()
    return f"{row}  {' '.join(wrapped)}" if wrapped else row


@pytest.fixture
def terminal(sandbox) -> Iterator[TmuxTerminal]:
    """``offlineimap -c CONFIG -u`` in tmux, in the sandbox's environment; tests add the UI and
    options (no ``-o``: the config's autorefresh keeps it up until the test quits it)."""
    command = [sys.executable, "-m", "offlineimap", "-c", str(sandbox.config), "-u"]
    with TmuxTerminal(sandbox.root, command, env=sandbox.env(), joined=True) as term:
        yield term


PROGRESS = re.compile(r"Test/INBOX: (\d+)/(\d+) msgs, [\d.]+ \w?i?B/([\d.]+) MiB, "
                      r"[\d.]+ \w?i?B/s \[#*\.*\]")


def test_blinkenlights_real_sync_progress_sync_now_and_quit(sandbox, imap_account,
                                                            terminal) -> None:
    imap_account.seed("INBOX", messages(800))
    imap_account.seed("Archive", messages(3, start=900))
    sandbox.write_config(remote_section(imap_account), account="autorefresh = 10\n")
    terminal.start("blinkenlights")
    screen = terminal.wait_for(PROGRESS.search, "per-folder progress of INBOX")
    done, total, _ = PROGRESS.search(screen).groups()
    assert total == "800" and int(done) < 800
    assert "q: quit" in screen and "Copy message UID" in screen  # title bar and log pane
    row = account_row(screen, 1)
    assert re.match(r"1: \[ *\d+:\d\d\] Test +[MCAFLScd+\-z.]+  \d+ to local", row), row
    colours = terminal.screen(escapes=True)
    assert re.search(r"\x1b\[7m(?:\x1b\[[0-9;]*m)*[CAFLScd]", colours), "no lit cell"
    # the sync ends, the account sleeps: countdown and the account's summary on its row (the
    # folder threads' lights, ended, stay black beside it)
    asleep = terminal.wait_for(lambda s: "803 to local" in s and re.search(r" z\.* ", s),
                               "the sleep")
    assert local_count(sandbox) == 800 and local_count(sandbox, "Archive") == 3
    assert "*** Finished account 'Test'" in asleep
    row = account_row(asleep, 1)
    assert re.fullmatch(r"1: \[ *[5-9]:\d\d\] Test +[z.]+  803 to local, 0 to remote "
                        r"\([\d.]+ MiB\), 0 deleted, 0 flags, 0 errors; last sync took \d+:\d\d",
                        row), row  # countdown from 10:00, the account's summary
    # new mail while it sleeps; '1' syncs it now
    imap_account.seed("INBOX", messages(1, start=1000))
    started = time.monotonic()
    terminal.keys("1")
    until(lambda: local_count(sandbox) == 801, "the mail '1' asked for", timeout=5)
    assert time.monotonic() - started < 5
    terminal.wait_text("1 to local")
    assert "Requested synchronization for account Test" in terminal.screen()
    terminal.keys("q")
    assert terminal.exit_status() == "EXIT=0"
    terminal.assert_restored()
    after = terminal.wait_text("EXIT=0")
    assert "q: quit" not in after  # the curses screen is gone
    summary = SUMMARY.search(after)
    assert summary and summary.groups() == ("804", "0", "0", "0", "0", "0", "0"), after


def test_blinkenlights_quit_mid_sync_leaves_a_consistent_state(sandbox, imap_account,
                                                         terminal) -> None:
    imap_account.seed("INBOX", messages(1500))
    sandbox.write_config(remote_section(imap_account), account="autorefresh = 10\n")
    terminal.start("blinkenlights")
    terminal.wait_for(PROGRESS.search, "the copy to start")
    terminal.keys("q")
    assert terminal.exit_status() == "EXIT=0"
    terminal.assert_restored()
    # nothing half-done: another run finds everything it copied recorded, and copies the rest
    copied = local_count(sandbox)
    assert 0 < copied <= 1500
    rerun = sandbox.run()
    assert SUMMARY.search(rerun.out).group(1) == str(1500 - copied), rerun.out
    assert local_count(sandbox) == 1500


def test_blinkenlights_without_colour_resized_and_terminated(sandbox, imap_account,
                                                              terminal) -> None:
    imap_account.seed("INBOX", messages(600))
    sandbox.write_config(remote_section(imap_account), account="autorefresh = 10\n")
    terminal.start("blinkenlights", term="vt100", width=100, height=30)
    screen = terminal.wait_for(PROGRESS.search, "progress on a vt100")
    assert not COLOUR.search(terminal.screen(escapes=True))
    row = account_row(screen, 1)
    assert re.match(r"1: \[ *\d+:\d\d\] Test +[MCAFLScd+\-z.]+  \d+ to local", row), row
    terminal.resize(70, 20)
    resized = terminal.wait_for(lambda s: len(s.splitlines()) == 20 and "q: quit" in s
                                and "Test" in s, "the resized screen")
    assert max(len(line) for line in resized.splitlines()) <= 70, resized
    narrow = terminal.wait_for(lambda s: "last sync took" in s, "the end of the sync")
    assert max(len(line) for line in narrow.splitlines()) <= 70, narrow
    assert re.fullmatch(r"1: \[ *\d+:\d\d\] Test +[z.]+  600 to local, 0 to remote "
                        r"\([\d.]+ MiB\), 0 deleted, 0 flags, 0 errors; last sync took \d+:\d\d",
                        account_row(narrow, 1)), narrow  # wrapped, not cut off
    os.kill(terminal.pid, signal.SIGTERM)  # a signal restores the terminal as well as q
    assert terminal.exit_status() == "EXIT=130"
    terminal.assert_restored()
    assert "*** Summary" in terminal.wait_text("EXIT=130")


def test_ttyui_status_lines_and_password_prompt(sandbox, imap_account, terminal) -> None:
    imap_account.seed("INBOX", messages(5))
    sandbox.write_config(remote_section(imap_account, password=False),
                         account="autorefresh = 10\n")
    terminal.start("ttyui")
    terminal.wait_text(f"Enter password for user '{imap_account.user}' on "
                       f"{imap_account.server.host}:")
    terminal.keys(imap_account.password, "Enter")
    screen = terminal.wait_text("Next refresh of Test in 10.0 minutes")
    for line in ("*** Processing account Test", "Copy message UID 5 (5/5)",
                 "*** Finished account 'Test'"):
        assert line in screen
    assert imap_account.password not in screen
    assert local_count(sandbox) == 5
    os.kill(terminal.pid, signal.SIGUSR2)  # ends autorefresh: the clean way out of TTYUI
    assert terminal.exit_status() == "EXIT=0"
    terminal.assert_restored()
    assert SUMMARY.search(terminal.wait_text("EXIT=0")).groups()[:2] == ("5", "0")


def parse_machine(out: str) -> list[tuple[str, str, str, str]]:
    """Every stdout line as (severity, command, thread, message), decoded; the protocol first."""
    parsed = []
    for line in out.splitlines():
        match = MACHINE_LINE.fullmatch(line)
        assert match, f"unparseable MachineUI line: {line!r}"
        severity, command, thread, message = match.groups()
        parsed.append((severity, command, unquote(thread), unquote(message)))
    assert parsed[0][:2] == ("msg", "protocol") and parsed[0][3] == "7.2.0"
    return parsed


def test_machineui_every_line_parses(sandbox, imap_account) -> None:
    uids = imap_account.seed("INBOX", messages(4))
    imap_account.seed("Work: notes", messages(2, start=10))  # a colon and a space to encode
    sandbox.write_config(remote_section(imap_account))
    first = sandbox.run(ui="machineui")
    parsed = parse_machine(first.out)
    assert parsed[1][1] == "initbanner" and parsed[1][3].startswith("OfflineIMAP")
    assert [c for _, c, _, _ in parsed].count("copyingmessage") == 6
    assert any(c == "syncingfolder" and m.split("\n")[:3] == ["Test", "Work: notes", "2"]
               for _, c, _, m in parsed)
    assert (first.err, parsed[-1][1], parsed[-1][3]) == ("", "terminate", "0\n\n")
    imap_account.set_flags("INBOX", uids[:2], ["\\Flagged"])
    imap_account.delete("INBOX", [uids[3]])
    sandbox.deliver("INBOX", messages(1, start=20)[0], flags="S")
    second = sandbox.run(ui="machineui")
    parsed = parse_machine(second.out)
    commands = [command for _, command, _, _ in parsed]
    assert commands.count("copyingmessage") == 1  # the local message, to the server
    copy = next(m for _, c, _, m in parsed if c == "copyingmessage").split("\n")
    assert copy[1:] == ["local", "INBOX", "remote[INBOX]"]
    flags = next(m for _, c, _, m in parsed if c == "addingflags").split("\n")
    assert flags[0].split("\f") == [str(uid) for uid in uids[:2]] and flags[1:] == [
        "F", "local[INBOX]"]
    assert {"deletingmessages", "acct", "acctdone"} <= set(commands)
    assert (second.err, parsed[-1][1], parsed[-1][3]) == ("", "terminate", "0\n\n")
    # debug lines (multi-line protocol traces among them) are MachineUI lines too
    traced = parse_machine(sandbox.run("-d", "imap,maildir", ui="machineui").out)
    debug = [message for severity, _, _, message in traced if severity == "debug"]
    assert len(debug) > 10 and any("[imap]" in message for message in debug)


def test_quiet_silent_when_clean_and_speaks_on_failure(sandbox, imap_account) -> None:
    imap_account.seed("INBOX", messages(3))
    sandbox.write_config(remote_section(imap_account))
    clean = sandbox.run(ui="quiet")
    assert (clean.out, clean.err) == ("", "")
    assert local_count(sandbox) == 3
    sandbox.write_config(remote_section(imap_account, wrong=True))
    failing = sandbox.run(ui="quiet", expect=1)
    assert failing.out == ""
    errors = [line for line in failing.err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "account Test" in errors[0] and "refused" in errors[0], errors
    assert "Traceback" not in failing.err
    assert SUMMARY.search(failing.err).group(7) == "1" and "(FAILED)" in failing.err
    assert "not-the-password" not in failing.err


@pytest.mark.parametrize("logfile", [False, True], ids=["stderr", "logfile"])
def test_debug_output_never_shows_the_password(sandbox, imap_account, logfile) -> None:
    imap_account.seed("INBOX", messages(3))
    sandbox.write_config(remote_section(imap_account))
    log = sandbox.root / "debug.log"
    args = ["-d", "imap,maildir,thread", *(["-l", str(log)] if logfile else [])]
    run = sandbox.run(*args)
    debug = log.read_text() if logfile else run.err
    assert "[imap]" in debug and "AUTHENTICATE" in debug, debug[:2000]  # the login is traced
    plain = base64.b64encode(f"\0{imap_account.user}\0{imap_account.password}".encode())
    for text in (run.out, run.err, debug):
        assert imap_account.password not in text and plain.decode() not in text
    if logfile:
        assert "[imap]" not in run.err  # with -l, debug goes to the file only
        stamped = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR): ")
        lines = debug.splitlines()
        assert len(lines) > 20 and any("Copy message UID 3" in line for line in lines)
        assert all(stamped.match(line) for line in lines), [
            line for line in lines if not stamped.match(line)][:5]


def test_syslog_option_and_ui_are_accepted(sandbox, imap_account) -> None:
    imap_account.seed("INBOX", messages(2))
    sandbox.write_config(remote_section(imap_account))
    run = sandbox.run("-s")
    assert SUMMARY.search(run.out).group(1) == "2"
    assert local_count(sandbox) == 2
    sandbox.run(ui="syslog")
    # what -s should become in the configuration, through the real process
    logged = sandbox.run("-k", "syslog=yes")
    expected = 0 if os.path.exists("/dev/log") else 1  # without syslogd: one warning
    assert logged.err.count("no syslog socket at /dev/log") == expected, logged.err
    assert "*** Summary" in logged.out


@pytest.mark.parametrize("ui", ["basic", "ttyui"])
def test_summary_counts_every_kind_of_change(sandbox, imap_account, ui) -> None:
    uids = imap_account.seed("INBOX", messages(6))
    sandbox.write_config(remote_section(imap_account))
    first = sandbox.run(ui=ui)
    assert SUMMARY.search(first.out).groups() == ("6", "0", "0", "0", "0", "0", "0")
    imap_account.delete("INBOX", [uids[0]])  # -> deleted locally
    imap_account.set_flags("INBOX", [uids[1]], ["\\Seen"])  # -> flags changed locally
    sandbox.deliver("INBOX", messages(1, start=50)[0])  # -> copied to remote
    victim = next(p for p in sandbox.local_files("INBOX") if f",U={uids[2]}," in p.name)
    victim.unlink()  # -> deleted remotely
    second = sandbox.run(ui=ui)
    assert second.out.rstrip().splitlines()[-2] == "*** Summary", second.out
    assert SUMMARY.search(second.out).groups() == ("0", "1", "1", "1", "1", "0", "0"), second.out


def test_blinkenlights_password_prompt_then_sync(sandbox, imap_account, terminal) -> None:
    imap_account.seed("INBOX", messages(5))
    sandbox.write_config(remote_section(imap_account, password=False),
                         account="autorefresh = 10\n")
    terminal.start("blinkenlights")
    terminal.wait_text(f"Enter password for user '{imap_account.user}':")
    terminal.keys(imap_account.password, "Enter")
    screen = terminal.wait_for(lambda s: "5 to local" in s and "last sync took" in s,
                               "the sync after the prompt")
    assert "q: quit" in screen and imap_account.password not in screen
    assert local_count(sandbox) == 5
    terminal.keys("q")
    assert terminal.exit_status() == "EXIT=0"
    terminal.assert_restored()


def test_digit_n_syncs_account_n_only(sandbox, imap_account, dovecot_server, terminal) -> None:
    other = dovecot_server.new_account()
    for account in (imap_account, other):
        account.seed("INBOX", messages(2))
    sandbox.write_config(
        remote_section(imap_account), account="autorefresh = 10\n",
        extra=(f"[Account Other]\nlocalrepository = LocalOther\nremoterepository = RemoteOther\n"
               f"autorefresh = 10\n[Repository LocalOther]\ntype = Maildir\n"
               f"localfolders = {sandbox.root / 'Other'}\n"
               f"[Repository RemoteOther]\n{remote_section(other)}"))
    terminal.start("blinkenlights", "-k", "accounts=Test,Other", "-k", "maxsyncaccounts=2")
    terminal.wait_for(lambda s: all("2 to local" in account_row(s, n) and "last sync took" in
                                    account_row(s, n) for n in (1, 2)),
                      "both accounts' first syncs")
    screen = terminal.screen()
    assert re.search(r"^1: \[.*\] Test ", screen, re.M) and re.search(r"^2: \[.*\] Other ",
                                                                        screen, re.M)
    for account in (imap_account, other):
        account.seed("INBOX", messages(1, start=10))
    terminal.keys("2")
    until(lambda: local_count(sandbox, root=sandbox.root / "Other") == 3, "Other's new mail")
    rows = terminal.wait_for(lambda s: re.search(r" 1 to local.*last sync took",
                                                 account_row(s, 2)), "the end of Other's sync")
    assert "sync now: Other" in rows
    test_row = account_row(rows, 1)
    assert "2 to local" in test_row and "last sync took" in test_row  # account 1 slept on
    assert local_count(sandbox) == 2
    terminal.keys("1")
    until(lambda: local_count(sandbox) == 3, "Test's new mail", timeout=5)
    terminal.keys("q")
    assert terminal.exit_status() == "EXIT=0"
