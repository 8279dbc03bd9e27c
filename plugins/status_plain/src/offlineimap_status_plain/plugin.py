"""Entry point of the ``offlineimap-status-plain`` distribution: registers ``plain``.

Every run imports every plugin's entry point, so the backend is registered by name and its
module imported only by a run whose configuration uses it.
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
    """Offer OfflineIMAP's plain LocalStatus files as ``status_backend = plain``."""
    register("plain", "offlineimap_status_plain.backend:PlainStatusBackend")
