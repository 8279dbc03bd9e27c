"""The long kill -9 run: hundreds of SIGKILLs at random points of real syncs, then the count of
messages lost and duplicated (the figures the README quotes).

``tests/test_crash.py`` kills a dozen syncs per case to stay fast in CI; this script does the
same at scale. For each status backend (sqlite, plain) and direction (IMAP to Maildir: new,
deleted and re-flagged server mail; Maildir to IMAP: new, deleted and re-flagged local mail) it
runs rounds: change mail on one side, start ``offlineimap`` again and again and SIGKILL it at a
random point (after a random number of message files were written or got their UID, or after
a random delay within the longest sync seen, so flag pushes and deletions are hit too), then
sync once cleanly and compare the server with the Maildir against what both must hold.

    .venv/bin/python scripts/crash_soak.py --kills 300

Prints one line per round and a total; exits 1 if any message was lost, duplicated, left with
the wrong flags, or brought back after its deletion. Everything runs on 127.0.0.1 (a private
Dovecot) in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test suite's Sandbox, as the crash test uses it

from conftest import Sandbox  # noqa: E402

from offlineimap_testing.convergence import LETTERS, digest  # noqa: E402
from offlineimap_testing.dovecot import Dovecot  # noqa: E402
from offlineimap_testing.messages import make_message  # noqa: E402

FOLDERS = ["INBOX", "Lists", "Archive"]
FLAG_SETS = [(), ("\\Seen",), ("\\Flagged",), ("\\Seen", "\\Answered")]


@dataclasses.dataclass
class Tally:
    kills: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_flags: int = 0
    resurrected: int = 0

    def add(self, other: Tally) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong_flags or self.resurrected)

    def line(self) -> str:
        return (f"kill points {self.kills}, lost {self.lost}, duplicated {self.duplicated}, "
                f"wrong flags {self.wrong_flags}, back after deletion {self.resurrected}")


class Soak:
    """One backend's sandbox and server account, and the mail both sides must end up with."""

    def __init__(self, root: Path, server: Dovecot, backend: str, rng: random.Random) -> None:
        root.mkdir()
        self.sandbox = Sandbox(root)
        self.account = server.new_account(f"soak{backend}")
        self.rng = rng
        self.serial = 0
        self.expected: set[str] = set()
        #: The longest a sync of this soak has taken: random-moment kills land within it.
        self.longest = 0.3
        self.sandbox.write_config(
            f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
            f"starttls = no\nallow_plaintext_login = yes\nremoteuser = {self.account.user}\n"
            f"remotepass = {self.account.password}\nmaxconnections = 2\n",
            account=f"status_backend = {backend}\n", general="fsync = yes\n")

    def messages(self, count: int) -> list[bytes]:
        bodies = [make_message(f"soak {self.serial + n}", size=1500 + 89 * (n % 40))
                  for n in range(count)]
        self.serial += count
        return bodies

    # -- changes on each side ------------------------------------------------------------------

    def change_server(self, new: int) -> None:
        existing = set(self.account.folders())
        for folder in FOLDERS:
            current = self.account.messages(folder) if folder in existing else {}
            uids = sorted(current)
            self.rng.shuffle(uids)
            gone, reflag = uids[:len(uids) // 20], uids[len(uids) // 20:len(uids) // 8]
            if gone:
                self.account.delete(folder, gone)
                self.expected -= {digest(current[uid][1]) for uid in gone}
            if reflag:
                self.account.set_flags(folder, reflag, ["\\Flagged", "\\Seen"])
            batch = [(body, self.rng.choice(FLAG_SETS)) for body in self.messages(new)]
            self.account.seed(folder, batch)
            self.expected |= {digest(body) for body, _ in batch}

    def change_local(self, new: int) -> None:
        for folder in FOLDERS:
            synced = [p for p in self.sandbox.local_files(folder) if ",U=" in p.name]
            self.rng.shuffle(synced)
            for path in synced[:len(synced) // 20]:
                self.expected.discard(digest(path.read_bytes()))
                path.unlink()
            for path in synced[len(synced) // 20:len(synced) // 8]:
                path.rename(path.with_name(path.name.split(":2,")[0] + ":2,RS"))
            for body in self.messages(new):
                self.sandbox.deliver(folder, body, self.rng.choice(["", "S", "F"]))
                self.expected.add(digest(body))

    # -- killing -------------------------------------------------------------------------------

    def files(self, numbered: bool | None = None) -> int:
        return sum(1 for folder in FOLDERS for path in self.sandbox.local_files(folder)
                   if numbered is None or (",U=" in path.name) == numbered)

    def written(self) -> int:
        """Message files so far, counting those still in tmp/: messages are renamed into place
        a chunk at a time, so only tmp/ moves with every message written."""
        return self.files() + sum(1 for folder in FOLDERS
                                  for _ in (self.sandbox.folder_dir(folder) / "tmp").iterdir())

    def kill_once(self, pulling: bool) -> bool:
        """Start a sync and SIGKILL it at a random point; True if it was still running."""
        started = time.monotonic()
        proc = self.sandbox.spawn()
        if self.rng.random() < 0.5:  # a random moment: flag pushes, deletions, listings
            # Within the time a whole sync took so far: a fixed range would mostly land after
            # short syncs ended, or always in the first part of long ones.
            time.sleep(self.rng.uniform(0.02, self.longest))
            reached = True
        else:  # a random message: so many more written, or so many fewer without a UID
            step = self.rng.randint(1, 60)
            target = self.written() + step if pulling else self.files(numbered=False) - step
            deadline = time.monotonic() + 60
            reached = False
            while proc.poll() is None and time.monotonic() < deadline:
                count = self.written() if pulling else self.files(numbered=False)
                if (count >= target) if pulling else (count <= target):
                    reached = True
                    break
                time.sleep(0.002)
        alive = reached and proc.poll() is None
        if alive:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stderr.close()
        if not alive:
            self.longest = max(self.longest, time.monotonic() - started)
        return alive

    # -- checking ------------------------------------------------------------------------------

    def check(self) -> Tally:
        """Compare both sides with :attr:`expected`: every expected message on both sides once
        with the same flags, nothing else."""
        tally = Tally()
        on_both_sides: set[str] = set()
        for folder in FOLDERS:
            server = self.account.messages(folder)
            local = self.sandbox.local_messages(folder)
            on_server = collections.Counter(digest(body) for _, body in server.values())
            on_disk = collections.Counter(digest(body) for _, body in local)
            tally.duplicated += sum(n - 1 for n in on_server.values())
            tally.duplicated += sum(n - 1 for n in on_disk.values())
            on_both_sides |= set(on_server) & set(on_disk)
            tally.resurrected += len((set(on_server) | set(on_disk)) - self.expected)
            flags = {digest(body): "".join(sorted(LETTERS[f] for f in fl if f in LETTERS))
                     for fl, body in server.values()}
            tally.wrong_flags += sum(1 for fl, body in local
                                     if digest(body) in flags and fl != flags[digest(body)])
        tally.lost = len(self.expected - on_both_sides)
        return tally

    def round(self, pulling: bool, kills: int) -> Tally:
        if pulling:
            self.change_server(new=self.rng.randint(60, 120))
        else:
            self.change_local(new=self.rng.randint(40, 80))
        killed = sum(self.kill_once(pulling) for _ in range(kills))
        self.sandbox.run(expect=None, timeout=300)
        run = self.sandbox.run(expect=None, timeout=300)  # a second run must find nothing new
        tally = self.check()
        tally.kills = killed
        if run.code != 0:
            print(f"    clean run exited {run.code}: {run.text.strip().splitlines()[-1:]}")
        return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=300,
                        help="kill attempts in all (default 300)")
    parser.add_argument("--per-round", type=int, default=12,
                        help="kill attempts before each clean run (default 12)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    cases = [(backend, pulling) for backend in ("sqlite", "plain") for pulling in (True, False)]
    rounds = max(1, args.kills // (args.per_round * len(cases)))
    total = Tally()
    work = Path(tempfile.mkdtemp(prefix="offlineimap-soak-"))
    start = time.monotonic()
    try:
        with Dovecot() as server:
            soaks = {backend: Soak(work / backend, server, backend, rng)
                     for backend in ("sqlite", "plain")}
            for soak in soaks.values():  # the first copy, unkilled
                soak.change_server(new=100)
                started = time.monotonic()
                soak.sandbox.run(timeout=300)
                soak.longest = time.monotonic() - started
            for number in range(rounds):
                for backend, pulling in cases:
                    tally = soaks[backend].round(pulling, args.per_round)
                    total.add(tally)
                    direction = "IMAP->Maildir" if pulling else "Maildir->IMAP"
                    print(f"round {number + 1}/{rounds} {backend:6} {direction}: {tally.line()}",
                          flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"TOTAL ({time.monotonic() - start:.0f} s): {total.line()}")
    return 0 if total.clean() else 1


if __name__ == "__main__":
    sys.exit(main())
