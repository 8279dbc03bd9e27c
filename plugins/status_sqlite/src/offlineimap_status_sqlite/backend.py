"""The ``sqlite`` status backend: OfflineIMAP's ``LocalStatus-sqlite/<folder>`` databases.

This module is what the plugin entry point imports, so it must stay cheap: SQLAlchemy is only
imported (through :mod:`offlineimap_status_sqlite.database`) when a folder is first opened, and
``offlineimap --help`` never pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from offlineimap.errors import FolderError
from offlineimap.status import StatusBackend, status_file_name
from offlineimap_status_plain.files import fsync_directory

if TYPE_CHECKING:
    from offlineimap_status_sqlite.database import SqliteStatusFolder

#: Files SQLite may keep beside a database: a rollback journal, or a write-ahead log and its
#: shared-memory index (when some other program switched the database to WAL mode).
SIDE_FILES = ("-journal", "-wal", "-shm")


class SqliteStatusBackend(StatusBackend):
    """Status caches of one account as OfflineIMAP's per-folder SQLite databases."""

    def __init__(self, account_dir: Path, *, fsync: bool) -> None:
        super().__init__(account_dir, fsync=fsync)
        self.root = account_dir / "LocalStatus-sqlite"

    def database_path(self, folder_name: str) -> Path:
        """The SQLite database of ``folder_name``."""
        return self.root / status_file_name(folder_name)

    def files(self, folder_name: str) -> list[Path]:
        path = self.database_path(folder_name)
        return [path, *(path.with_name(path.name + suffix)
                        for suffix in ("-journal", "-wal", "-shm"))]

    def exists(self, folder_name: str) -> bool:
        # SQLite creates a 0-byte file before the first transaction commits: that is no status.
        path = self.database_path(folder_name)
        return path.is_file() and path.stat().st_size > 0

    def open_folder(self, folder_name: str) -> SqliteStatusFolder:
        from offlineimap_status_sqlite.database import SqliteStatusFolder

        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise FolderError(f"cannot create status directory {self.root}: {exc}") from exc
        return SqliteStatusFolder(self, folder_name)

    def delete_folder(self, folder_name: str) -> None:
        # The database goes first: journals left without their database are harmless, since
        # open_folder removes them before it creates a new database, whereas a database left
        # without its hot journal would lose the rollback of an interrupted transaction.
        path = self.database_path(folder_name)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise FolderError(f"cannot delete status database {path}: {exc}") from exc
        remove_side_files(path)
        if self.fsync and self.root.is_dir():
            fsync_directory(self.root)


def remove_side_files(path: Path) -> None:
    """Delete the journals of a database that is gone, so none is replayed into a new one."""
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        try:
            side.unlink(missing_ok=True)
        except OSError as exc:
            raise FolderError(f"cannot delete {side}: {exc.strerror or exc}") from exc
