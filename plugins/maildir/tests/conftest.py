"""Real Maildirs under tmp_path, real configuration, real repository objects."""

from __future__ import annotations

import hashlib
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
