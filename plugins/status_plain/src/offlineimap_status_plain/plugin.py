"""Entry point of the ``offlineimap-status-plain`` distribution: registers ``plain``."""

from __future__ import annotations

from collections.abc import Callable

from offlineimap.hookspecs import hookimpl
from offlineimap.status import StatusBackend
from offlineimap_status_plain.backend import PlainStatusBackend


@hookimpl
def offlineimap_status_backends(register: Callable[[str, type[StatusBackend]], None]) -> None:
    """Offer OfflineIMAP's plain LocalStatus files as ``status_backend = plain``."""
    register("plain", PlainStatusBackend)
