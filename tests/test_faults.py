"""Network faults in the middle of a real sync: the run fails cleanly, the next one converges.

Between ``offlineimap`` and the real Dovecot sits :class:`~offlineimap_testing.faultproxy.
FaultProxy`, which cuts the connection, truncates a server answer inside a literal, or stalls,
at a chosen command: the listing, the body download, the upload, the flag push, the expunge.
Each scenario checks three things: the faulty run ends (within a bound) with a non-zero exit and
one readable error line, no traceback; the fault really fired; and the next run, without the
fault, leaves both sides with every message exactly once and the same flags (``converged``,
shared with the kill -9 test).
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from offlineimap_testing.convergence import converged, digest
from offlineimap_testing.faultproxy import Fault, FaultProxy

pytestmark = pytest.mark.dovecot

FOLDERS = ["INBOX", "Work"]
LISTING = rb"UID FETCH 1:\* \(UID FLAGS"
BODIES = rb"UID FETCH \S+ \(UID BODY\.PEEK\[\]\)"


def configure(sandbox, account, proxy: FaultProxy, *, general: str = "") -> None:
    sandbox.write_config(
        f"type = IMAP\nremotehost = {proxy.host}\nremoteport = {proxy.port}\nssl = no\n"
        f"starttls = no\nallow_plaintext_login = yes\nremoteuser = {account.user}\n"
        f"remotepass = {account.password}\nmaxconnections = 1\n",
        general=general)


def failed_cleanly(run, *words: str) -> None:
    """Non-zero exit, no traceback, and the reason on one ERROR line naming ``words``."""
    assert run.code != 0, run.text
    assert "Traceback" not in run.text, run.text
    errors = [line for line in run.text.splitlines() if "ERROR" in line]
    assert errors, run.text
    assert any(all(word in line for word in words) for line in errors), run.text


@pytest.fixture
def seeded(imap_account, make_messages):
    """Both folders on the server with 40 messages each, of mixed flags."""
    for n, folder in enumerate(FOLDERS):
        imap_account.seed(folder, make_messages(40, start=100 * n,
                                                flags=[(), ("\\Seen",), ("\\Flagged",)]))
    return imap_account


@pytest.fixture
def proxy(seeded):
    server = seeded.server
    with FaultProxy((server.host, server.port)) as running:
        yield running


def first_sync(sandbox, account, proxy) -> None:
    """A clean initial sync through the proxy, so the next run has work in both directions."""
    configure(sandbox, account, proxy)
    sandbox.run()
    converged(sandbox, account, FOLDERS)


def local_changes(sandbox, make_messages) -> set[str]:
    """New local mail, re-flagged and deleted files in INBOX; returns the new bodies' hashes."""
    new = make_messages(12, start=900)
    for body in new:
        sandbox.deliver("INBOX", body, "S")
    synced = [p for p in sandbox.local_files("INBOX") if ",U=" in p.name]
    for path in synced[:10]:
        path.rename(path.with_name(path.name.split(":2,")[0] + ":2,FRS"))
    for path in synced[10:16]:
        path.unlink()
    return {digest(body) for body in new}


@pytest.mark.parametrize("fault", [
    pytest.param(Fault(command=LISTING, keep=300), id="listing"),
    pytest.param(Fault(command=BODIES, keep=30_000), id="bodies"),
    pytest.param(Fault(command=BODIES, keep=90), id="truncated-literal"),
])
def test_cut_while_pulling(sandbox, seeded, proxy, fault) -> None:
    """Cut twice (the read and its one retry): Work fails with one line, INBOX is synced."""
    configure(sandbox, seeded, proxy)
    proxy.set_fault(dataclasses.replace(fault, skip=1, times=2))  # INBOX passes, Work is cut
    run = sandbox.run(expect=None)
    assert proxy.fired == 2
    failed_cleanly(run, "Work", "connection lost")
    assert len(sandbox.local_messages("INBOX")) == 40
    proxy.set_fault(None)
    sandbox.run()
    converged(sandbox, seeded, FOLDERS)


@pytest.mark.parametrize("command", [LISTING, BODIES], ids=["listing", "bodies"])
def test_a_lost_read_is_retried_on_a_new_connection(sandbox, seeded, proxy, command) -> None:
    """Reads change nothing on the server: one cut costs a reconnection, not the folder."""
    configure(sandbox, seeded, proxy)
    proxy.set_fault(Fault(command=command, keep=500))
    run = sandbox.run()
    assert proxy.fired == 1 and proxy.connections >= 2
    assert "reconnecting to try once more" in run.text and "Traceback" not in run.text
    converged(sandbox, seeded, FOLDERS)


@pytest.mark.parametrize("command", [
    pytest.param(rb"APPEND", id="append-server-did-it"),
    pytest.param(rb"UID STORE \S+ \+FLAGS\.SILENT \(\\Deleted\)", id="delete-store"),
    pytest.param(rb"UID STORE \S+ [+-]FLAGS\.SILENT \((?!\\Deleted)", id="flag-push"),
    pytest.param(rb"UID EXPUNGE", id="expunge"),
])
def test_cut_while_pushing(sandbox, seeded, proxy, make_messages, command) -> None:
    """The harshest cut: the server carries the command out and the answer never arrives.
    (The server never seeing the command is the easy case: nothing happened.)"""
    first_sync(sandbox, seeded, proxy)
    new = local_changes(sandbox, make_messages)
    proxy.set_fault(Fault(command=command))
    run = sandbox.run(expect=None)
    assert proxy.fired == 1
    failed_cleanly(run, "INBOX", "connection lost")
    proxy.set_fault(None)
    sandbox.run()
    converged(sandbox, seeded, FOLDERS)
    server = {digest(body) for _, body in seeded.messages("INBOX").values()}
    assert new <= server
    assert len(server) == 40 + 12 - 6


def test_stall_ends_with_a_timeout(sandbox, seeded, proxy) -> None:
    """A server that stops answering mid-listing (and on the retry): socktimeout ends the run."""
    configure(sandbox, seeded, proxy, general="socktimeout = 1\n")
    proxy.set_fault(Fault(action="stall", command=LISTING, keep=200, stall_for=60, times=2))
    start = time.monotonic()
    run = sandbox.run(expect=None, timeout=60)
    elapsed = time.monotonic() - start
    assert proxy.fired == 2  # the listing and its retry
    failed_cleanly(run, "timed out")
    assert elapsed < 20, f"took {elapsed:.1f}s with socktimeout = 1"
    proxy.set_fault(None)
    sandbox.run()
    converged(sandbox, seeded, FOLDERS)


def test_connection_refused_midway_then_recovered(sandbox, seeded, proxy) -> None:
    """A cut right after the greeting (server bytes, no command): the login fails cleanly."""
    configure(sandbox, seeded, proxy)
    proxy.set_fault(Fault(after_server_bytes=20))
    run = sandbox.run(expect=None)
    assert proxy.fired == 1
    failed_cleanly(run)
    assert not sandbox.mail.exists() or not sandbox.local_files("INBOX")
    proxy.set_fault(None)
    sandbox.run()
    converged(sandbox, seeded, FOLDERS)
