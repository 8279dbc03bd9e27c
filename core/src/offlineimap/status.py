"""The status cache contract: what both sides looked like after the last sync.

The engine's third party in a three-way sync. A plugin registers a :class:`StatusBackend`
subclass under the name users write as ``status_backend = ...``. Formats on disk are
OfflineIMAP's, so that an existing installation continues without downloading anything:

* ``plain``: ``<metadata>/Account-<account>/LocalStatus/<folder>``
* ``sqlite``: ``<metadata>/Account-<account>/LocalStatus-sqlite/<folder>``

where ``<folder>`` is the remote folder's nametrans'd name with ``/`` replaced by ``.``
(:func:`status_file_name`).

Every write method is *durable on return* when ``fsync`` is on and at least atomic otherwise:
a crash leaves either the old or the new content, never a torn one. The engine calls them once per
batch of messages, never once per message.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from offlineimap.repository import Flags


@dataclasses.dataclass(frozen=True, slots=True)
class StatusRecord:
    """What the last sync left a message as, on both sides."""

    flags: Flags = frozenset()
    #: Gmail label sync: when labels last changed (seconds), and the labels themselves.
    mtime: int = 0
    labels: frozenset[str] = frozenset()


def status_file_name(folder_name: str) -> str:
    """OfflineIMAP's file name for a folder's status: ``/`` becomes ``.``, ``.`` becomes ``dot``."""
    basename = folder_name.replace("/", ".") if folder_name else "."
    return re.sub(r"(^|/)\.$", r"\1dot", basename)


class StatusFolder(abc.ABC):
    """The status of one folder pair, opened for one sync."""

    @abc.abstractmethod
    def records(self) -> dict[int, StatusRecord]:
        """Return every record: ``{uid: StatusRecord}``. Called once per sync."""

    @abc.abstractmethod
    def put(self, records: Mapping[int, StatusRecord]) -> None:
        """Insert or replace these records in one transaction."""

    @abc.abstractmethod
    def remove(self, uids: Iterable[int]) -> None:
        """Delete the records of these UIDs (unknown ones are ignored) in one transaction."""

    @abc.abstractmethod
    def meta(self) -> dict[str, str]:
        """Return the folder's key/value metadata (last UIDNEXT, HIGHESTMODSEQ, ...)."""

    @abc.abstractmethod
    def set_meta(self, values: Mapping[str, str]) -> None:
        """Merge these keys into the metadata in one transaction."""

    def close(self) -> None:  # noqa: B027  (backends without open handles need nothing)
        """Release files or connections. Called once, also after errors."""

    def __enter__(self) -> StatusFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StatusBackend(abc.ABC):
    """The status caches of one account."""

    def __init__(self, account_dir: Path, *, fsync: bool) -> None:
        #: ``<metadata>/Account-<account>``
        self.account_dir = account_dir
        self.fsync = fsync

    @abc.abstractmethod
    def exists(self, folder_name: str) -> bool:
        """Whether this backend has a status for the folder (used for upgrades)."""

    @abc.abstractmethod
    def open_folder(self, folder_name: str) -> StatusFolder:
        """Open (creating if needed) the status of ``folder_name`` (remote nametrans'd name)."""

    def delete_folder(self, folder_name: str) -> None:  # noqa: B027
        """Forget a folder's status (``--delete-folder``, or a folder reset by the user)."""

    def files(self, folder_name: str) -> list[Path]:
        """The files holding a folder's status, for setting a damaged one aside.

        Called by the account when :class:`~offlineimap.errors.CorruptStatusError` was raised;
        core renames the ones that exist and opens the folder afresh. Default: none known, so
        the error is reported instead.
        """
        return []


class MemoryStatusFolder(StatusFolder):
    """A status that lives only in memory: for ``--dry-run`` on a folder never synced, where
    opening the real backend would create its file."""

    def __init__(self) -> None:
        self._records: dict[int, StatusRecord] = {}
        self._meta: dict[str, str] = {}

    def records(self) -> dict[int, StatusRecord]:
        return dict(self._records)

    def put(self, records: Mapping[int, StatusRecord]) -> None:
        self._records.update(records)

    def remove(self, uids: Iterable[int]) -> None:
        for uid in uids:
            self._records.pop(uid, None)

    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    def set_meta(self, values: Mapping[str, str]) -> None:
        self._meta.update(values)


class CachedStatusFolder(StatusFolder):
    """A status folder read at most once per sync: the records are kept in memory and every
    write goes through to the backend and to that copy.

    The quick gate, the engine and the account each need the records; with this they share
    one read, and the account can fingerprint the status as a sync left it without reading it
    back.
    """

    def __init__(self, inner: StatusFolder) -> None:
        self.inner = inner
        self._records: dict[int, StatusRecord] | None = None

    def records(self) -> dict[int, StatusRecord]:
        if self._records is None:
            self._records = self.inner.records()
        return dict(self._records)

    def put(self, records: Mapping[int, StatusRecord]) -> None:
        self.inner.put(records)
        if self._records is not None:
            self._records.update(records)

    def remove(self, uids: Iterable[int]) -> None:
        uids = list(uids)
        self.inner.remove(uids)
        if self._records is not None:
            for uid in uids:
                self._records.pop(uid, None)

    def meta(self) -> dict[str, str]:
        return self.inner.meta()

    def set_meta(self, values: Mapping[str, str]) -> None:
        self.inner.set_meta(values)

    def close(self) -> None:
        self.inner.close()
