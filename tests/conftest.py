"""End-to-end helpers: a sandbox with a config file, a Maildir and the real ``offlineimap``."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MAILDIR_INFO = re.compile(r"[:!]2,([A-Za-z]*)$")


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


class Sandbox:
    """A HOME of its own, a config file, a local Maildir root and a metadata directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.mail = root / "Mail"
        self.metadata = root / "metadata"
        self.config = root / "offlineimaprc"
        self.home.mkdir()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_CACHE_HOME=str(self.root / "cache"))
        return env

    def write_config(self, remote: str, *, local: str | None = None, account: str = "",
                     general: str = "", extra: str = "") -> Path:
        """Write ``[general]``, ``[Account Test]`` and both repositories (bodies given as text)."""
        local = local if local is not None else f"type = Maildir\nlocalfolders = {self.mail}\n"
        text = (
            f"[general]\naccounts = Test\nmetadata = {self.metadata}\n"
            f"{textwrap.dedent(general)}\n"
            f"[Account Test]\nlocalrepository = Local\nremoterepository = Remote\n"
            f"{textwrap.dedent(account)}\n"
            f"[Repository Local]\n{textwrap.dedent(local)}\n"
            f"[Repository Remote]\n{textwrap.dedent(remote)}\n"
            f"{textwrap.dedent(extra)}"
        )
        self.config.write_text(text)
        return self.config

    def command(self, *args: str, ui: str = "basic") -> list[str]:
        return [sys.executable, "-m", "offlineimap", "-c", str(self.config), "-o", "-u", ui,
                *args]

    def run(self, *args: str, ui: str = "basic", expect: int | None = 0,
            timeout: float = 120) -> Run:
        """Run ``offlineimap`` to completion; check its exit status unless ``expect`` is None."""
        proc = subprocess.run(self.command(*args, ui=ui), capture_output=True, text=True,
                              env=self.env(), timeout=timeout, check=False)
        run = Run(proc.returncode, proc.stdout, proc.stderr)
        if expect is not None:
            assert run.code == expect, f"exit {run.code}, expected {expect}:\n{run.text}"
        return run

    def spawn(self, *args: str, ui: str = "basic") -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command(*args, ui=ui), env=self.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    # -- the local Maildir, as a mail reader sees it ----------------------------------------------

    def folder_dir(self, folder: str, root: Path | None = None) -> Path:
        return (root or self.mail) / folder

    def local_messages(self, folder: str, root: Path | None = None) -> list[tuple[str, bytes]]:
        """``[(flags, body)]`` of every message in a Maildir folder (by default under the local
        root), sorted by body."""
        found = []
        for sub in ("cur", "new"):
            directory = self.folder_dir(folder, root) / sub
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                match = MAILDIR_INFO.search(entry.name)
                found.append(("".join(sorted(match.group(1))) if match else "",
                              entry.read_bytes()))
        return sorted(found, key=lambda item: item[1])

    def local_files(self, folder: str, root: Path | None = None) -> list[Path]:
        return sorted(p for sub in ("cur", "new")
                      for p in (self.folder_dir(folder, root) / sub).glob("*"))

    def deliver(self, folder: str, body: bytes, flags: str = "", name: str | None = None,
                root: Path | None = None) -> Path:
        """Put a message into a Maildir folder the way a mail client would."""
        directory = self.folder_dir(folder, root)
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        base = name or f"1700000000.M{hashlib.sha1(body).hexdigest()[:12]}P1.client"
        target = directory / "cur" / f"{base}:2,{flags}"
        target.write_bytes(body.replace(b"\r\n", b"\n"))
        return target


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def run_in_process(sandbox, monkeypatch):
    """``run_in_process(plugin)``: one ``offlineimap -o -u quiet`` run of the sandbox's
    configuration in this process, with ``plugin`` registered; its exit code."""
    from offlineimap_testing.inprocess import run_offlineimap

    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)

    def run(plugin: object) -> int:
        return run_offlineimap(["-c", str(sandbox.config), "-o", "-u", "quiet"],
                               plugins=[("test-plugin", plugin)])

    return run


@pytest.fixture
def make_messages():
    """``make_messages(n, start=0, flags=None)``: distinct realistic messages (CRLF), optionally
    paired with flags cycling through ``flags`` (as ``ImapAccount.seed`` accepts them)."""
    from offlineimap_testing.messages import make_message

    def make(count: int, *, start: int = 0, flags: list[tuple[str, ...]] | None = None):
        bodies = [make_message(f"message {n}", size=1500 + 97 * n) for n in
                  range(start, start + count)]
        if flags is None:
            return bodies
        return [(body, flags[i % len(flags)]) for i, body in enumerate(bodies)]

    return make
