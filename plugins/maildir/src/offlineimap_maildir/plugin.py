"""Entry point of the ``offlineimap-maildir`` distribution: registers ``type = Maildir``."""

from __future__ import annotations

from collections.abc import Callable

from offlineimap.hookspecs import hookimpl
from offlineimap.repository import Repository
from offlineimap_maildir.repository import MaildirRepository


@hookimpl
def offlineimap_repository_types(register: Callable[[str, type[Repository]], None]) -> None:
    """Provide the ``Maildir`` repository type."""
    register("Maildir", MaildirRepository)
