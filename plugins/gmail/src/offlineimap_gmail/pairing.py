"""How a Gmail folder and its GmailMaildir counterpart find each other during one folder sync.

The engine hands a folder no reference to the other side of its pair, but the two need each
other: the local folder syncs labels with the remote one once the engine is done, and the remote
folder serves bodies already stored locally (:mod:`offlineimap_gmail.copies`). Core opens both
folders of a pair in the same worker thread, one right after the other, in either order (it
opens the local one first today, so that a quick sync can skip the remote). So per thread and
account, the first folder opened waits here and the second one of the other kind links them.

A folder whose counterpart is of another type (a plain ``Maildir`` local, an ``IMAP`` remote)
waits in vain and is withdrawn when it closes.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol


class Pairable(Protocol):
    """A folder of either side; ``partner`` is the other side's folder once they met."""

    is_remote: bool
    partner: Any


class _Pairing(threading.local):
    """Per thread: for each account, the folder opened first and not yet linked."""

    def __init__(self) -> None:
        self.waiting: dict[str, Pairable] = {}

    def meet(self, account: str, folder: Pairable) -> None:
        """Link ``folder`` with the waiting folder of the other side, or wait for it."""
        other = self.waiting.pop(account, None)
        if other is None or other.is_remote == folder.is_remote:
            self.waiting[account] = folder  # a newer pair started: the old one had no partner
            return
        folder.partner, other.partner = other, folder

    def withdraw(self, folder: Pairable) -> None:
        """Forget ``folder`` if it is still waiting (it is closing without a partner)."""
        for account, waiting in list(self.waiting.items()):
            if waiting is folder:
                del self.waiting[account]


pairing = _Pairing()
