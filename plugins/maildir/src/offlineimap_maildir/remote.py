"""A Maildir on the remote side of an account: the UID authority, as mbsync's Maildir driver is.

OfflineIMAP only ever syncs a Maildir as the local side, where UIDs come from the server. A
Maildir that *is* the other end (backing up one Maildir into another, or testing the engine
without a server) must hand out UIDs itself: it keeps ``UIDVALIDITY`` and the next free UID in
the file ``.offlineimap-uids`` inside the folder, numbers files that have no UID of its own when
it lists them, and numbers stored messages as it saves them.

UIDs are reserved durably *before* they are written into file names, a block at a time, so a
crash can waste a few numbers but can never hand one number to two messages.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from pathlib import Path

from offlineimap.errors import FolderError
from offlineimap.files import write_private
from offlineimap.repository import FolderState, MessageInfo, NewMessage
from offlineimap_maildir.folder import MaildirFolder

UIDS_FILE = ".offlineimap-uids"
_BLOCK = 64


class UidCounter:
    """``UIDVALIDITY`` and the next UID of one folder, in a two-line text file."""

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self.validity, self.next = self._load()
        self._reserved_until = self.next

    def _load(self) -> tuple[int, int]:
        try:
            fields = self.path.read_text(encoding="ascii").split()
        except FileNotFoundError:
            return int(time.time()), 1
        try:
            validity, next_uid = int(fields[0]), int(fields[1])
        except (IndexError, ValueError):
            raise FolderError(f"{self.path} is damaged (expected UIDVALIDITY and the next UID); "
                              "remove it only together with the account's status cache") from None
        return validity, next_uid

    def take(self) -> int:
        """The next UID, reserving a block on disk first when the reserved block is used up."""
        if self.next >= self._reserved_until:
            self._reserved_until = self.next + _BLOCK
            self._save(self._reserved_until)
        uid = self.next
        self.next += 1
        return uid

    def _save(self, next_uid: int) -> None:
        write_private(self.path, f"{self.validity}\n{next_uid}\n", fsync=self.fsync)


class RemoteMaildirFolder(MaildirFolder):
    """A Maildir folder that assigns UIDs (used when the repository is an account's remote)."""

    assigns_uids = True

    def _counter(self) -> UidCounter:
        counter = getattr(self, "_uids", None)
        if counter is None:
            counter = self._uids = UidCounter(self.path / UIDS_FILE, fsync=self.options.fsync)
        return counter

    def _may_write(self) -> bool:
        return not (self.repository.readonly or self.repository.ctx.dry_run)

    def state(self) -> FolderState:
        counter = self._counter()
        if not counter.path.exists() and self._may_write():
            counter.take()  # persists UIDVALIDITY with the first reserved block
            counter.next -= 1
        return FolderState(uidvalidity=counter.validity, uidnext=counter.next)

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        infos = super().list_messages(min_uid=min_uid)
        unnumbered = sorted((uid for uid in infos if uid < 0), reverse=True)
        if not unnumbered:
            return infos
        if not self._may_write():
            self.debug(f"{len(unnumbered)} messages without a UID are left out: the folder "
                       "cannot be written to number them")
            for uid in unnumbered:
                del infos[uid]
            return infos
        counter = self._counter()
        index = self.locations()
        for old in unnumbered:
            new = counter.take()
            self.change_uid(old, new)
            info = infos.pop(old)
            # Numbered now, the message is dated like any other: by its name's timestamp.
            named_date = self.scheme.parse_listed(index[new][1])[2]
            infos[new] = info if named_date is None else dataclasses.replace(
                info, internaldate=named_date)
        return infos

    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        given: dict[int, int] = {}
        counter = self._counter()

        def numbered() -> Iterable[NewMessage]:
            for message in messages:
                uid = counter.take()
                given[uid] = message.uid
                yield NewMessage(uid, message.body, message.flags, message.internaldate)

        return [(given[new], new) for _, new in super().save_messages(numbered())]
