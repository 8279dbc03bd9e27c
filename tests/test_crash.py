"""kill -9 at many points of a real sync, then a clean run: nothing lost, nothing duplicated.

Bounded for CI (a dozen kill points per direction and status backend); the long version with
hundreds of kill points is ``scripts/crash_soak.py``.
"""

from __future__ import annotations

import collections
import random
import signal
import time

import pytest

from offlineimap_testing.convergence import converged, digest

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

KILLS = 10


def kill_when(sandbox, reached, timeout: float = 60) -> bool:
    """Start a sync and SIGKILL it as soon as ``reached()``; True if it was killed."""
    proc = sandbox.spawn()
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if reached():
                proc.send_signal(signal.SIGKILL)
                return True
            time.sleep(0.003)
        return False
    finally:
        proc.wait(timeout=30)


def count_files(sandbox, folders, *, numbered: bool | None = None) -> int:
    """Message files in the local folders (only with/without a UID when ``numbered`` is set)."""
    total = 0
    for folder in folders:
        for path in sandbox.local_files(folder):
            if numbered is None or (",U=" in path.name) == numbered:
                total += 1
    return total


def count_written(sandbox, folders) -> int:
    """Message files written so far, in tmp/ (not yet durable or renamed) as well: progress
    that moves with every message, not only when a chunk of them is renamed into place."""
    return count_files(sandbox, folders) + sum(
        1 for folder in folders for _ in (sandbox.folder_dir(folder) / "tmp").glob("*"))


def config(sandbox, account, backend: str) -> None:
    server = account.server
    sandbox.write_config(
        f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
        f"starttls = no\nallow_plaintext_login = yes\nremoteuser = {account.user}\n"
        f"remotepass = {account.password}\n"
        "maxconnections = 2\n",
        account=f"status_backend = {backend}\n", general="fsync = yes\n")


@pytest.mark.parametrize("backend", ["sqlite", "plain"])
def test_kill_during_pull_and_push(sandbox, imap_account, make_messages, backend) -> None:
    rng = random.Random(backend)
    folders = ["INBOX", "Lists", "Archive"]
    originals = set()
    for n, folder in enumerate(folders):
        batch = make_messages(150, start=n * 1000, flags=[(), ("\\Seen",), ("\\Flagged",)])
        imap_account.seed(folder, batch)
        originals |= {digest(body) for body, _ in batch}
    config(sandbox, imap_account, backend)

    # Pull: the server's mail into an empty Maildir, killed after a different number of
    # messages each time (each kill lands somewhere in fetch, write, rename or status write).
    killed = 0
    for _ in range(KILLS):
        target = count_files(sandbox, folders) + rng.randint(1, 40)
        killed += kill_when(sandbox, lambda t=target: count_written(sandbox, folders) >= t)
    sandbox.run()
    converged(sandbox, imap_account, folders)
    assert killed >= KILLS // 2, "the sync finished before most kills"

    # Push: new local mail, local flag changes and deletions, killed again and again.
    new = make_messages(60, start=5000)
    for i, body in enumerate(new):
        sandbox.deliver(folders[i % 3], body, "S" if i % 2 else "")
    files = sandbox.local_files("INBOX")
    synced = [p for p in files if ",U=" in p.name]
    for path in synced[:20]:
        path.rename(path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,FRS"))
    for path in synced[20:35]:
        path.unlink()
    deleted = 15
    # Each upload ends with the local file renamed to carry its new UID: kill after a few more.
    killed = 0
    for _ in range(KILLS):
        target = count_files(sandbox, folders, numbered=False) - rng.randint(0, 8)
        killed += kill_when(
            sandbox, lambda t=target: count_files(sandbox, folders, numbered=False) <= t)
    sandbox.run()
    converged(sandbox, imap_account, folders)
    total = sum(len(imap_account.messages(folder)) for folder in folders)
    assert total == len(originals) + len(new) - deleted
    assert killed >= 1


def test_kill_during_imap_to_imap(sandbox, imap_account, dovecot_server, make_messages) -> None:
    """Local side IMAP too: a kill between a local APPEND and the UID mapping write must not
    make the next run store the message a second time."""
    rng = random.Random(3)
    target = dovecot_server.new_account("mirror")
    imap_account.seed("INBOX", make_messages(600, flags=[(), ("\\Seen",)]))
    server = target.server
    config(sandbox, imap_account, "sqlite")
    text = sandbox.config.read_text().replace(
        f"[Repository Local]\ntype = Maildir\nlocalfolders = {sandbox.mail}\n",
        f"[Repository Local]\ntype = IMAP\nremotehost = {server.host}\nremoteport = "
        f"{server.port}\nssl = no\nstarttls = no\nallow_plaintext_login = yes\n"
        f"remoteuser = {target.user}\n"
        f"remotepass = {target.password}\n")
    sandbox.config.write_text(text)
    inbox = target.mail_dir  # Maildir++: INBOX is the root

    def mirrored() -> int:
        """Messages the mirror server has stored (straight from its Maildir: cheap to poll)."""
        return sum(1 for sub in ("cur", "new") for _ in (inbox / sub).glob("*"))

    killed = 0
    for _ in range(KILLS):
        # MULTIAPPEND stores 100 at a time: each kill lands just after a batch was stored,
        # somewhere between the APPEND's answer and the UID mapping write.
        goal = mirrored() + rng.randint(1, 60)
        killed += kill_when(sandbox, lambda goal=goal: mirrored() >= goal)
    sandbox.run()
    mirror = collections.Counter(digest(b) for _, b in target.messages("INBOX").values())
    origin = collections.Counter(digest(b) for _, b in imap_account.messages("INBOX").values())
    assert set(mirror.values()) == {1} and set(origin.values()) == {1}, "duplicates"
    assert mirror == origin and len(origin) == 600
    assert killed >= 3
