"""The ``plain`` status backend: one OfflineIMAP LocalStatus text file per folder.

Layout under the account's metadata directory (``~/.offlineimap/Account-<name>``)::

    LocalStatus/<folder>               OfflineIMAP's own file, byte-compatible (format 2)
    LocalStatus-extra/meta/<folder>    our per-folder metadata (UIDNEXT, HIGHESTMODSEQ...), JSON
    LocalStatus-extra/tmp/<folder>     where a new version is written before it is renamed

Why a sibling directory: every name a folder can map to (anything without ``/``) is a possible
status file name inside ``LocalStatus/``, so a sidecar or temporary file there (``.meta``,
``<folder>.tmp``) could collide with another folder's status. OfflineIMAP itself uses
``<folder>.tmp``, which collides with a folder named ``<folder>/tmp``. Nothing OfflineIMAP reads
lives under ``LocalStatus-extra``, and a rename from there into ``LocalStatus`` stays on one
file system, so it is atomic.

Metadata only describes the status file it was written beside: when a folder's status file is
gone (deleted by the user to force a rebuild, or by :meth:`delete_folder`), the next open
discards the stale metadata before it creates a fresh status.

The whole folder is held in memory while open (a sync reads every record anyway), keyed by
UID together with its line as written, so a rewrite after :meth:`put` or :meth:`remove` is one
join and one write.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from offlineimap.errors import CorruptStatusError, FolderError
from offlineimap.status import StatusBackend, StatusFolder, StatusRecord, status_file_name
from offlineimap_status_plain import files
from offlineimap_status_plain.format import HEADER, RecordEncoder, parse


class PlainStatusBackend(StatusBackend):
    """Status caches of one account as OfflineIMAP's plain LocalStatus files."""

    def __init__(self, account_dir: Path, *, fsync: bool) -> None:
        super().__init__(account_dir, fsync=fsync)
        self.root = account_dir / "LocalStatus"
        self.extra = account_dir / "LocalStatus-extra"

    def status_path(self, folder_name: str) -> Path:
        """The OfflineIMAP status file of ``folder_name``."""
        return self.root / status_file_name(folder_name)

    def meta_path(self, folder_name: str) -> Path:
        """The sidecar holding ``folder_name``'s metadata."""
        return self.extra / "meta" / status_file_name(folder_name)

    def files(self, folder_name: str) -> list[Path]:
        return [self.status_path(folder_name), self.meta_path(folder_name)]

    def exists(self, folder_name: str) -> bool:
        return self.status_path(folder_name).is_file()

    def open_folder(self, folder_name: str) -> PlainStatusFolder:
        return PlainStatusFolder(self, folder_name)

    def delete_folder(self, folder_name: str) -> None:
        # Status first: a crash in between leaves metadata without status, which open discards.
        files.remove_file(self.status_path(folder_name), fsync=self.fsync)
        files.remove_file(self.meta_path(folder_name), fsync=self.fsync)

    def _make_dirs(self) -> None:
        try:
            for directory in (self.root, self.extra, self.extra / "meta", self.extra / "tmp"):
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise FolderError(f"cannot create status directory: {exc}") from exc


class PlainStatusFolder(StatusFolder):
    """One folder's plain status file, loaded whole when opened."""

    def __init__(self, backend: PlainStatusBackend, folder_name: str) -> None:
        self._fsync = backend.fsync
        self.path = backend.status_path(folder_name)
        self.meta_path = backend.meta_path(folder_name)
        self._tmp = backend.extra / "tmp" / self.path.name
        self._backend: PlainStatusBackend | None = backend  # until its directories exist
        self._encoder = RecordEncoder()
        data = files.read_file(self.path)
        if data is None:
            files.remove_file(self.meta_path, fsync=self._fsync)
            self._records: dict[int, StatusRecord] = {}
            self._lines: dict[int, str] = {}
            self._meta: dict[str, str] = {}
            self._write_status(self._lines)
        else:  # opening an existing status changes nothing on disk (the sqlite upgrade reads it)
            self._records, self._lines = parse(data, self.path)
            self._meta = self._read_meta()

    def records(self) -> dict[int, StatusRecord]:
        return dict(self._records)

    def put(self, records: Mapping[int, StatusRecord]) -> None:
        if not records:
            return
        tail = self._encoder.tail
        changed = {uid: f"{uid}|{tail(uid, record)}\n" for uid, record in records.items()}
        lines = self._lines.copy()
        lines.update(changed)
        self._write_status(lines)
        self._lines = lines
        self._records.update(records)

    def remove(self, uids: Iterable[int]) -> None:
        gone = {uid for uid in uids if uid in self._lines}
        if not gone:
            return
        lines = {uid: line for uid, line in self._lines.items() if uid not in gone}
        self._write_status(lines)
        self._lines = lines
        for uid in gone:
            del self._records[uid]

    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    def set_meta(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise FolderError(f"status metadata must be text: {key!r} = {value!r}")
        merged = {**self._meta, **values}
        if merged == self._meta:
            return
        data = json.dumps(merged, ensure_ascii=False, sort_keys=True).encode() + b"\n"
        self._replace(self.meta_path, data)
        self._meta = merged

    def _write_status(self, lines: dict[int, str]) -> None:
        self._replace(self.path, (HEADER + "".join(lines.values())).encode())

    def _replace(self, path: Path, data: bytes) -> None:
        if self._backend is not None:
            self._backend._make_dirs()
            self._backend = None
        files.replace_file(path, data, self._tmp, fsync=self._fsync)

    def _read_meta(self) -> dict[str, str]:
        data = files.read_file(self.meta_path)
        if not data:
            return {}
        try:
            meta = json.loads(data)
        except ValueError:
            meta = None
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise CorruptStatusError(f"corrupt status metadata {self.meta_path}: not JSON text")
        return meta
