"""OfflineIMAP's SQLite status cache (``LocalStatus-sqlite``) as a status backend."""

from offlineimap_status_sqlite.backend import SqliteStatusBackend

__all__ = ["SqliteStatusBackend"]
