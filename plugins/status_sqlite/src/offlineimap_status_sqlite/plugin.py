"""Entry point of the ``offlineimap-status-sqlite`` distribution: registers ``sqlite``.

Importing this module does not import SQLAlchemy: that happens when a folder is opened.
"""

from __future__ import annotations

from collections.abc import Callable

from offlineimap.hookspecs import hookimpl
from offlineimap.status import StatusBackend
from offlineimap_status_sqlite.backend import SqliteStatusBackend


@hookimpl
def offlineimap_status_backends(register: Callable[[str, type[StatusBackend]], None]) -> None:
    """Offer OfflineIMAP's per-folder SQLite databases as ``status_backend = sqlite``."""
    register("sqlite", SqliteStatusBackend)
