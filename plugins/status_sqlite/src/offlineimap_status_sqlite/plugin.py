"""Entry point of the ``offlineimap-status-sqlite`` distribution: registers ``sqlite``.

Every run imports every plugin's entry point, so the backend is registered by name: its
module, and SQLAlchemy with it, are imported only by a run whose configuration uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from offlineimap.hookspecs import hookimpl

if TYPE_CHECKING:
    from offlineimap.status import StatusBackend


@hookimpl
def offlineimap_status_backends(register: Callable[[str, type[StatusBackend] | str], None]
                                ) -> None:
    """Offer OfflineIMAP's per-folder SQLite databases as ``status_backend = sqlite``."""
    register("sqlite", "offlineimap_status_sqlite.backend:SqliteStatusBackend")
