"""Crash-safe file replacement: the only way the plain backend ever changes a file.

A status file is rewritten whole: the new content goes to a temporary file, which is renamed
over the old one. ``rename`` is atomic, so a crash leaves the old or the new file, never a torn
one. With ``fsync`` on, the data is flushed before the rename and the directory after it, so the
new content also survives a power cut once the call returns (what OfflineIMAP's ``fsync``
option promises).
"""

from __future__ import annotations

import os
from pathlib import Path

from offlineimap.errors import FolderError


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename or an unlink) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, tmp: Path, *, fsync: bool) -> None:
    """Atomically make ``path`` hold ``data``, writing through ``tmp`` (same file system).

    ``tmp`` belongs to this one target: a leftover from a crash is simply overwritten.
    """
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if fsync:
            fsync_directory(path.parent)
    except OSError as exc:
        raise FolderError(f"cannot write status file {path}: {exc.strerror or exc}") from exc


def remove_file(path: Path, *, fsync: bool) -> None:
    """Delete ``path`` if it exists (durably when ``fsync``)."""
    try:
        path.unlink(missing_ok=True)
        if fsync and path.parent.is_dir():
            fsync_directory(path.parent)
    except OSError as exc:
        raise FolderError(f"cannot delete status file {path}: {exc.strerror or exc}") from exc


def read_file(path: Path) -> bytes | None:
    """Return the bytes of ``path``, or ``None`` when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FolderError(f"cannot read status file {path}: {exc.strerror or exc}") from exc
