"""OfflineIMAP's plain-text status cache (``LocalStatus``, format 2) as a status backend."""

from offlineimap_status_plain.backend import PlainStatusBackend, PlainStatusFolder

__all__ = ["PlainStatusBackend", "PlainStatusFolder"]
