"""Fixtures: the Gmail double, and a sandbox that runs the real ``offlineimap`` against it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gmail_double import GmailDouble

USER, PASSWORD = "me@gmail.com", "app-password"


@dataclasses.dataclass
class Run:
    code: int
    out: str


class Sandbox:
    """A HOME, a metadata directory and a local Maildir root of their own."""

    def __init__(self, root: Path, gmail: GmailDouble) -> None:
        self.root = root
        self.gmail = gmail
        self.mail = root / "Mail"
        self.config = root / "offlineimaprc"
        (root / "home").mkdir()

    def remote(self, extra: str = "") -> str:
        """A ``type = Gmail`` section body pointed at the double."""
        return (f"type = Gmail\nremotehost = {self.gmail.host}\nremoteport = {self.gmail.port}\n"
                f"ssl = no\nstarttls = no\nallow_plaintext_login = yes\n"
                f"remoteuser = {USER}\n" + textwrap.dedent(extra))

    def write_config(self, *, remote: str | None = None, local: str | None = None,
                     account: str = "synclabels = yes\n", extra: str = "") -> None:
        remote = remote if remote is not None else self.remote(f"remotepass = {PASSWORD}\n")
        local = local if local is not None else (
            f"type = GmailMaildir\nlocalfolders = {self.mail}\nsep = /\n")
        self.config.write_text(
            f"[general]\naccounts = Test\nmetadata = {self.root / 'metadata'}\n\n"
            f"[Account Test]\nlocalrepository = Local\nremoterepository = Remote\n"
            f"{textwrap.dedent(account)}\n"
            f"[Repository Local]\n{textwrap.dedent(local)}\n"
            f"[Repository Remote]\n{remote}\n{textwrap.dedent(extra)}")

    def command(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of one ``offlineimap`` run in the sandbox."""
        env = dict(os.environ, HOME=str(self.root / "home"),
                   XDG_CONFIG_HOME=str(self.root / "home" / ".config"),
                   XDG_CACHE_HOME=str(self.root / "cache"))
        return [sys.executable, "-m", "offlineimap", "-c", str(self.config), "-o", "-u", "basic",
                *args], env

    def run(self, *args: str, check: bool = True) -> Run:
        argv, env = self.command(*args)
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        run = Run(proc.returncode, proc.stdout + proc.stderr)
        if check:
            assert proc.returncode == 0, run.out
            assert "Traceback" not in run.out, run.out
        return run

    def files(self, folder: str) -> list[Path]:
        base = self.mail / folder
        return sorted(p for sub in ("cur", "new") for p in (base / sub).iterdir())

    def file_with(self, folder: str, needle: bytes) -> Path:
        hits = [p for p in self.files(folder) if needle in p.read_bytes()]
        assert len(hits) == 1, (folder, needle, hits)
        return hits[0]


@pytest.fixture
def gmail() -> Iterator[GmailDouble]:
    with GmailDouble({USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def sandbox(tmp_path: Path, gmail: GmailDouble) -> Sandbox:
    return Sandbox(tmp_path, gmail)

