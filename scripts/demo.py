"""Demo: a throwaway local Dovecot with sample mail, synced into a Maildir by offlineimap.

Run through ``scripts/demo`` (which installs everything first). Options are passed on to
``offlineimap`` (for example ``-u blinkenlights``).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

from offlineimap_testing.dovecot import Dovecot
from offlineimap_testing.messages import make_message

FOLDERS = {"INBOX": 120, "Archive": 150, "Lists.python": 60, "Sent": 40, "Drafts": 5}
FLAG_CHOICES = [(), ("\\Seen",), ("\\Seen",), ("\\Seen", "\\Answered"), ("\\Flagged",)]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="offlineimap-demo-"))
    rng = random.Random(7)
    with Dovecot() as server:
        account = server.new_account("demo")
        for folder, count in FOLDERS.items():
            account.seed(folder, [
                (make_message(f"{folder} message {n}", size=rng.choice([2_000, 8_000, 30_000])),
                 rng.choice(FLAG_CHOICES))
                for n in range(count)
            ])
        config = work / "offlineimaprc"
        config.write_text(f"""[general]
accounts = Demo
metadata = {work}/metadata

[Account Demo]
localrepository = DemoLocal
remoterepository = DemoRemote

[Repository DemoLocal]
type = Maildir
localfolders = {work}/Mail

[Repository DemoRemote]
type = IMAP
remotehost = {server.host}
remoteport = {server.ssl_port}
remoteuser = {account.user}
remotepass = {account.password}
sslcacertfile = {server.ca_cert}
maxconnections = 2
""")
        total = sum(FOLDERS.values())
        print(f"Dovecot on {server.host}:{server.ssl_port} (IMAPS) with {total} messages in "
              f"{len(FOLDERS)} folders; syncing into {work}/Mail\n", flush=True)
        command = [str(Path(sys.executable).with_name("offlineimap")), "-c", str(config), "-o",
                   *sys.argv[1:]]
        code = subprocess.call(command)
        print(f"\nofflineimap exited with status {code}. Now the same sync again: nothing "
              "left to copy.\n", flush=True)
        code = code or subprocess.call([*command, "-u", "basic"])
        print(f"\nYour config: {config}\nYour mail: {work}/Mail\n(the demo server is gone "
              "now; point the config at your own server to keep syncing)")
        return code


if __name__ == "__main__":
    sys.exit(main())
