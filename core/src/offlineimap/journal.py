"""The upload journal: closes the one gap a status cache cannot close by itself.

When a message new on the local side is stored on a side that assigns UIDs (an IMAP server), the
server's copy has a new UID while the local copy does not carry it until the engine renames it.
A crash between the two would make the next run see two unrelated new messages and copy each one
over: a duplicate on both sides. Before each such message is stored, its content hash is appended
here together with the destination's UIDNEXT from before the sync (the "watermark"). The next run
finds unfinished entries, looks only at destination messages at or above the watermark, and
pairs them with local messages by content (line endings aside), so no duplicate is made.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from offlineimap.files import private_dir


def content_hash(body: bytes) -> str:
    """Hash of a message that is the same for its CRLF (IMAP) and LF (Maildir) forms."""
    return hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


class UploadJournal:
    """Append-only file of pending uploads for one folder pair."""

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self._fd: int | None = None

    def pending(self) -> tuple[int, list[tuple[str, int | None]]] | None:
        """Return ``(lowest watermark, [(hash, tag)])`` left by an interrupted run, or ``None``."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None
        watermarks: list[int] = []
        entries: list[tuple[str, int | None]] = []
        for line in text.splitlines():
            kind, _, value = line.partition(" ")
            digest, _, tag = value.partition(" ")
            if kind == "W" and value.isdigit():
                watermarks.append(int(value))
            elif kind == "H" and len(digest) == 64:
                entries.append((digest, int(tag) if tag.isdigit() else None))
        if not entries:
            return None
        # A torn last line is ignored; with no usable watermark, consider every UID.
        return (min(watermarks) if watermarks else 1), entries

    def begin(self, watermark: int) -> None:
        """Start a batch of uploads whose destination UIDs will be ``>= watermark``."""
        self._write(f"W {watermark}\n")

    def record(self, body: bytes, tag: int | None = None) -> None:
        """Note one message about to be stored: written before the store command is sent.

        ``tag`` (a UID) is given back by :meth:`pending` with the message's hash."""
        suffix = f" {tag}" if tag is not None else ""
        self._write(f"H {content_hash(body)}{suffix}\n")

    def clear(self) -> None:
        """Forget every entry: call once the uploads are in the status cache."""
        self.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, line: str) -> None:
        if self._fd is None:
            private_dir(self.path.parent)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, line.encode("ascii"))
        if self.fsync:
            os.fsync(self._fd)
