"""Real Maildirs under tmp_path, real configuration, real repository objects."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from offlineimap.config import Config
from offlineimap.events import Events
from offlineimap.repository import RepositoryContext
from offlineimap_maildir.repository import MaildirRepository


class RecordingEvents(Events):
    """Events that keep warnings and debug lines so tests can read them."""

    def __init__(self) -> None:
        super().__init__(None)
        self.warnings: list[str] = []
        self.debugs: list[tuple[str, str]] = []

    def warning(self, message: str, account: str | None = None) -> None:
        self.warnings.append(message)

    def debug(self, category: str, message: str) -> None:
        self.debugs.append((category, message))


def _make_maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def md5() -> Callable[[str], str]:
    """The FMD5 OfflineIMAP computes for a folder name (written out independently here)."""
    return lambda name: hashlib.md5(name.encode()).hexdigest()


@pytest.fixture
def make_maildir() -> Callable[[Path], Path]:
    return _make_maildir


MakeRepo = Callable[..., MaildirRepository]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def make_repo(tmp_path: Path, root: Path) -> MakeRepo:
    def make(repository: str = "", general: str = "fsync = no", account: str = "",
             dry_run: bool = False) -> MaildirRepository:
        text = (f"[general]\naccounts = Test\n{general}\n"
                f"[Account Test]\nlocalrepository = Local\nremoterepository = Remote\n{account}\n"
                f"[Repository Local]\ntype = Maildir\nlocalfolders = {root}\n{repository}\n")
        config = Config.from_string(text)
        ctx = RepositoryContext(name="Local", section=config.section("Repository Local"),
                                config=config, account="Test", metadata_dir=tmp_path / "meta",
                                events=RecordingEvents(), get_password=lambda request: "",
                                dry_run=dry_run)
        repo = MaildirRepository(ctx)
        repo.connect()
        return repo
    return make


@pytest.fixture
def inbox(make_repo: MakeRepo, root: Path) -> Path:
    """An empty folder INBOX on disk."""
    return _make_maildir(root / "INBOX")


#: The start of a script run in a child process by the kill -9 tests: ``folder`` is the
#: ``INBOX`` of the Maildir root ``sys.argv[1]``, with fsync on, listed once.
_WRITER_PRELUDE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from offlineimap.config import Config
    from offlineimap.events import Events
    from offlineimap.repository import NewMessage, RepositoryContext
    from offlineimap_maildir import folder as folder_module
    from offlineimap_maildir.repository import MaildirRepository

    root = sys.argv[1]
    config = Config.from_string(
        f"[general]\\nfsync = yes\\n[Repository L]\\nlocalfolders = {root}\\n")
    ctx = RepositoryContext("L", config.section("Repository L"), config, "A", Path(root),
                            Events(None), lambda request: "")
    folder = MaildirRepository(ctx).open_folder("INBOX")
    folder.list_messages()
""")


@pytest.fixture
def writer_script(tmp_path: Path) -> Callable[[str], Path]:
    """Write a script for a child process to kill: the shared start, then ``body``."""
    def write(body: str) -> Path:
        script = tmp_path / "writer.py"
        script.write_text(_WRITER_PRELUDE + textwrap.dedent(body))
        return script

    return write
