"""Entry point of the ``offlineimap-gmail`` distribution: ``type = Gmail`` and ``GmailMaildir``.

Importing this module stays cheap (``offlineimap --help`` loads every plugin): the repository
classes, and with them imapclient, are imported when the types are registered.
"""

from __future__ import annotations

from collections.abc import Callable

from offlineimap.hookspecs import hookimpl
from offlineimap.repository import Repository


@hookimpl
def offlineimap_repository_types(register: Callable[[str, type[Repository]], None]) -> None:
    """Provide the ``Gmail`` (remote) and ``GmailMaildir`` (local) repository types."""
    from offlineimap_gmail.repository import GmailMaildirRepository, GmailRepository

    register("Gmail", GmailRepository)
    register("GmailMaildir", GmailMaildirRepository)
