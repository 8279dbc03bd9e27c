"""Entry point of the ``offlineimap-imap`` distribution: registers ``type = IMAP``.

Importing this module must stay cheap (``offlineimap --help`` loads every plugin), so
imapclient is imported only when the first connection opens.
"""

from __future__ import annotations

from collections.abc import Callable

from offlineimap.hookspecs import hookimpl
from offlineimap.repository import Repository


@hookimpl
def offlineimap_repository_types(register: Callable[[str, type[Repository]], None]) -> None:
    from offlineimap_imap.repository import IMAPRepository

    register("IMAP", IMAPRepository)
