"""Durable file operations for Maildir folders: write, fsync, and clean up after a crash.

Every change a folder makes is a file written in ``tmp/`` and renamed, or a rename, or an
unlink: each atomic on its own. Durability then needs the file's data fsynced before its rename
and the changed directories fsynced before the engine is told; :class:`DirSync` gathers the
directories of one call so each is fsynced once, not once per message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: maildir(5): a file in tmp/ untouched for 36 hours is a leftover.
TMP_MAX_AGE = 36 * 3600


def fsync_dir(path: Path) -> None:
    """Make the entries of ``path`` (files created, renamed or removed) durable."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirSync:
    """The directories one call changed; :meth:`flush` fsyncs each once (if fsync is on)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._dirs: set[Path] = set()

    def add(self, path: Path) -> None:
        if self.enabled:
            self._dirs.add(path)

    def flush(self) -> None:
        for path in sorted(self._dirs):
            fsync_dir(path)
        self._dirs.clear()


def write_new_file(path: str | Path, data: bytes, *, fsync: bool, mtime: int | None = None
                   ) -> None:
    """Create ``path`` (never overwriting: ``FileExistsError``) holding ``data``.

    With ``fsync`` the data is on disk when this returns, so a rename that follows cannot
    publish an empty or partial file after a crash. A failed write leaves no file behind.
    """
    with open(path, "xb") as handle:
        try:
            handle.write(data)
            handle.flush()
            if mtime is not None:
                os.utime(handle.fileno() if os.utime in os.supports_fd else path, (mtime, mtime))
            if fsync:
                os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            Path(path).unlink(missing_ok=True)
            raise


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this machine (``True`` when we cannot tell: the safe answer)."""
    if os.name != "posix" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_tmp(tmp: Path, writer_of: Callable[[str], tuple[int, str] | None], host: str,
              now: float | None = None) -> list[str]:
    """Remove what an interrupted save of ours left in ``tmp`` and return the names removed.

    Only files this folder's name scheme recognises (``writer_of`` gives their writer) are
    touched: written by a process of this host that no longer runs, or not changed for 36
    hours (written on another host sharing the disk, or a process id used again since). A
    file in ``tmp/`` was never renamed into ``cur/`` or ``new/``, so it was never reported as
    stored: removing it loses nothing.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(tmp))
    except FileNotFoundError:
        return removed
    for entry in entries:
        writer = writer_of(entry.name)
        if writer is None or not entry.is_file(follow_symlinks=False):
            continue
        pid, writer_host = writer
        dead_writer = writer_host == host and pid != os.getpid() and not _process_alive(pid)
        if not dead_writer:
            try:
                changed = entry.stat(follow_symlinks=False).st_ctime
            except FileNotFoundError:
                continue
            if now - changed < TMP_MAX_AGE:
                continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(entry.name)
    return removed
