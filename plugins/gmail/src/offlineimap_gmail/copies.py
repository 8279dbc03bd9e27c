"""Download once: a message in several Gmail label folders crosses the network once.

On Gmail's IMAP every label is a folder, so a message labelled ``\\Inbox`` and ``Work`` is in
``INBOX``, ``Work`` and ``[Gmail]/All Mail``, under another UID in each but with one
``X-GM-MSGID``. OfflineIMAP downloads it once per folder. Here a GmailMaildir folder records,
after storing a message, which file holds it; a Gmail folder asked for a message whose
X-GM-MSGID is recorded reads that file instead of fetching the body.

The registry is account-wide and outlives the run: a sqlite database (stdlib) in
``<metadata>/Account-<account>/GmailMessages``, one row per stored copy, keyed by the server
account (``user@host``), the X-GM-MSGID and the file. It is only ever a hint: every copy is
verified before use, so a stale row (file deleted, edited by a mail reader, or renamed because
its flags changed) costs a download, never a wrong body:

* the file must hold, apart from the labels header, exactly the bytes recorded when it was
  stored (length and SHA-256 of the file with that header emptied: :func:`fingerprint`); label
  changes written into the file later keep it usable, any other change makes it a stranger;
* it must have been stored with the labels header now configured (or both without one), and the
  server's RFC822.SIZE recorded then must equal the one listed now.

A body read from a copy becomes exactly what a download would have written: a Maildir stores
a downloaded message with its CRLF line endings turned into LF and, with ``synclabels``, the
labels header set to the message's labels; a copy already has LF endings, and setting the header
again on it gives the same bytes (:func:`~offlineimap_gmail.labels.set_header` replaces the one
line it wrote). Only files without any CRLF left are recorded, since converting twice would
change a ``\\r\\r\\n`` a download leaves as ``\\r\\n``.

Crash safety: a row is written after its file is durable (renamed and its directory fsynced), in
one sqlite transaction per stored batch; killed in between, the row is missing and the message
is downloaded next time. Deleting the database is harmless. A database that cannot be read or
written is reported once and the run continues with plain downloads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from offlineimap_gmail.labels import set_header

_SCHEMA = """
CREATE TABLE IF NOT EXISTS copies (
    server TEXT NOT NULL, msgid TEXT NOT NULL, path TEXT NOT NULL, base TEXT NOT NULL,
    header TEXT NOT NULL, wire_size INTEGER, size INTEGER NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (server, msgid, path))
"""
_QUERY_CHUNK = 500  # well under sqlite's limit of bound parameters


@dataclasses.dataclass(frozen=True)
class Copy:
    """A local file holding a message's body, and what it held when it was stored."""

    path: Path
    base: str  #: the Maildir name without its flags: finds the file again after a rename
    header: str  #: the labels header the file was written with (``""``: none)
    wire_size: int | None  #: the server's RFC822.SIZE
    size: int
    digest: str


def fingerprint(body: bytes, header: str) -> tuple[int, str]:
    """Length and SHA-256 of a stored message with its labels header emptied (``header``
    ``""``: of the message as it is)."""
    if header:
        body = set_header(body, header, ())
    return len(body), hashlib.sha256(body).hexdigest()


def recordable(stored: bytes) -> bool:
    """Whether a message stored as ``stored`` can be served again byte for byte."""
    return b"\r\n" not in stored


class CopyRegistry:
    """The account's X-GM-MSGID -> local copies map, shared by all folders (thread-safe)."""

    def __init__(self, path: Path, *, fsync: bool, warn: Callable[[str], None]) -> None:
        self.path = path
        self.fsync = fsync
        self._warn = warn
        self._lock = threading.Lock()
        self._broken = False
        #: Maildir folder directory -> {name without flags: file}, read once per run, for
        #: copies renamed since they were recorded
        self._names: dict[tuple[Path, int], dict[str, Path]] = {}

    @contextlib.contextmanager
    def _database(self) -> Iterator[sqlite3.Connection | None]:
        """A connection in a transaction (committed on success), or ``None`` once broken."""
        with self._lock:
            if self._broken:
                yield None
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                db = sqlite3.connect(self.path, timeout=30)
                try:
                    if not self.fsync:
                        db.execute("PRAGMA synchronous = OFF")
                    db.execute(_SCHEMA)
                    with db:
                        yield db
                finally:
                    db.close()
            except (sqlite3.Error, OSError) as exc:
                self._broken = True
                self._warn(f"{self.path}: {exc}: messages in several labels are downloaded "
                           "once per folder in this run (delete the file if it stays unusable)")
                yield None

    def find(self, server: str, msgids: Iterable[int]) -> dict[int, list[Copy]]:
        """The recorded copies of these messages (unverified)."""
        wanted = sorted({str(msgid) for msgid in msgids})
        found: dict[int, list[Copy]] = {}
        with self._database() as db:
            if db is None or not wanted:
                return found
            for start in range(0, len(wanted), _QUERY_CHUNK):
                chunk = wanted[start:start + _QUERY_CHUNK]
                rows = db.execute(
                    "SELECT msgid, path, base, header, wire_size, size, digest FROM copies "
                    f"WHERE server = ? AND msgid IN ({','.join('?' * len(chunk))})",
                    (server, *chunk))
                for msgid, path, base, header, wire_size, size, digest in rows:
                    found.setdefault(int(msgid), []).append(
                        Copy(Path(path), base, header, wire_size, size, digest))
        return found

    def record(self, server: str, copies: Iterable[tuple[int, Copy]]) -> None:
        """Remember stored files; call only once they are durable."""
        rows = [(server, str(msgid), str(copy.path), copy.base, copy.header, copy.wire_size,
                 copy.size, copy.digest) for msgid, copy in copies]
        with self._database() as db:
            if db is not None and rows:
                db.executemany("INSERT OR REPLACE INTO copies VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               rows)

    def forget(self, server: str, stale: Iterable[tuple[int, Path]]) -> None:
        """Drop rows whose file is gone or no longer holds the message."""
        rows = [(server, str(msgid), str(path)) for msgid, path in stale]
        with self._database() as db:
            if db is not None and rows:
                db.executemany("DELETE FROM copies WHERE server = ? AND msgid = ? AND path = ?",
                               rows)

    def read(self, copy: Copy, header: str, wire_size: int | None) -> bytes | None:
        """The file's bytes if it still holds the recorded message, else ``None``."""
        if copy.header != header or (
                wire_size is not None and copy.wire_size is not None
                and wire_size != copy.wire_size):
            return None
        for path in (copy.path, self._renamed(copy)):
            if path is None:
                continue
            try:
                body = path.read_bytes()
            except OSError:
                continue
            if recordable(body) and fingerprint(body, header) == (copy.size, copy.digest):
                return body
        return None

    def _renamed(self, copy: Copy) -> Path | None:
        """Where a Maildir file went when a mail reader changed its flags (cur/, new/)."""
        folder, length = copy.path.parent.parent, len(copy.base)
        with self._lock:
            names = self._names.get((folder, length))
            if names is None:
                names = self._names[folder, length] = _by_prefix(folder, length)
        path = names.get(copy.base)
        return None if path == copy.path else path


def _by_prefix(folder: Path, length: int) -> dict[str, Path]:
    """The message files of a Maildir folder by the first ``length`` characters of their
    name (the length of a name without flags, as the scheme writes them)."""
    names: dict[str, Path] = {}
    for sub in ("cur", "new"):
        with contextlib.suppress(OSError), os.scandir(folder / sub) as entries:
            for entry in entries:
                names[entry.name[:length]] = Path(entry.path)
    return names


def stored_bodies(registry: CopyRegistry, server: str,
                  wanted: Mapping[int, tuple[int, int | None]], header: str,
                  misses: list[int]) -> Iterator[tuple[int, bytes]]:
    """``(uid, stored bytes)`` for each message of ``wanted`` (uid -> X-GM-MSGID, listed
    RFC822.SIZE) with a verified local copy, read one at a time; the others are appended to
    ``misses``. Rows found stale are forgotten at the end."""
    found = registry.find(server, (msgid for msgid, _size in wanted.values()))
    stale: list[tuple[int, Path]] = []
    for uid, (msgid, wire_size) in wanted.items():
        body = None
        for copy in found.get(msgid, ()):
            body = registry.read(copy, header, wire_size)
            if body is not None:
                break
            stale.append((msgid, copy.path))
        if body is None:
            misses.append(uid)
        else:
            yield uid, body
    registry.forget(server, stale)
