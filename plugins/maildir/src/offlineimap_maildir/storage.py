"""Durable file operations for Maildir folders: write, fsync, and clean up after a crash.

Every change a folder makes is a file written in ``tmp/`` and renamed, or a rename, or an
unlink: each atomic on its own. Durability then needs the file's data fsynced before its rename
and the changed directories fsynced before the engine is told; :class:`DirSync` gathers the
directories of one call so each is fsynced once, not once per message.

Storing many files, the fsyncs are the cost: one fsync is one journal commit and one disk cache
flush, and done one after another each waits for the last. :class:`FsyncPool` runs them from
several threads while the next files are written, so they overlap that work and the file
system commits them together.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

#: maildir(5): a file in tmp/ untouched for 36 hours is a leftover.
TMP_MAX_AGE = 36 * 3600
#: Bytes converted and written at a time: a message being stored costs this much extra memory
#: (twice: the slice and its converted copy), not a second copy of the whole message.
SLICE = 1 << 20
#: fsyncs in flight at once in an :class:`FsyncPool`. Measured on ext4 (2 shared cores, heavy
#: CPU steal), 2,000 files of a few KB, medians: fsync before each rename 7.3-8.4 s; all
#: written, then fsynced one by one 7.5 s (no gain: ext4 allocates a file's blocks at its
#: fsync, so each still commits alone); all written, then fsynced by 8-32 threads 2.9-5.5 s;
#: one syncfs() 3.0 s (but it waits for every dirty file of the file system, other programs'
#: too, and cannot say which file failed); fsynced by 16 threads as each is written 1.9 s;
#: no fsync at all 2.1 s. Thread counts from 4 to 32 were not told apart by the noise.
FSYNC_THREADS = 16
#: <fcntl.h> and <linux/fs.h>: "relative to the working directory", and renameat2's swap flag.
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


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


def write_lf(handle: BinaryIO, data: bytes, slice_size: int = SLICE) -> None:
    """Write ``data`` with every CRLF turned into LF (and nothing else changed), converting
    ``slice_size`` bytes at a time so a large message is never copied whole.

    A slice that ends in CR leaves it to the next slice, where an LF may follow it.
    """
    if slice_size < 2:
        raise ValueError("slice_size must leave room for a carried \\r")
    start, size = 0, len(data)
    while start < size:
        end = min(start + slice_size, size)
        if end < size and data[end - 1] == 0x0D:
            end -= 1
        # The whole of a small body is data itself (bytes slicing does not copy then).
        handle.write(data[start:end].replace(b"\r\n", b"\n"))
        start = end


def write_new_file(path: str | Path, data: bytes, *, fsync: bool, mtime: int | None = None,
                   crlf_to_lf: bool = False) -> None:
    """Create ``path`` (never overwriting: ``FileExistsError``) holding ``data``.

    With ``fsync`` the data is on disk when this returns, so a rename that follows cannot
    publish an empty or partial file after a crash; without it, an :class:`FsyncPool` must make
    it durable before any rename. ``crlf_to_lf`` writes the data as :func:`write_lf` does.
    A failed write leaves no file behind.
    """
    with open(path, "xb") as handle:
        try:
            if crlf_to_lf:
                write_lf(handle, data)
            else:
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


def replace_existing(new: Path, target: Path, inode: int) -> None:
    """Put the file ``new`` in the place of ``target``, which must still be the file with
    ``inode`` (the one the caller read). If a mail reader renamed or removed it meanwhile,
    raise ``FileNotFoundError`` and leave ``new`` and the reader's file as they are.

    A plain rename would create ``target`` afresh beside the file the reader renamed (to change
    its flags, say): two copies of one message. On Linux the two names are exchanged in one
    step (``renameat2`` with ``RENAME_EXCHANGE``, which fails if ``target`` is gone) and the
    old content, now under ``new``, is unlinked; elsewhere ``target`` is checked just before
    the rename, which leaves a window of microseconds instead of the whole rewrite.
    """
    if _exchange(new, target):
        if os.stat(new).st_ino == inode:
            os.unlink(new)
            return
        _exchange(new, target)  # another file took the name: give it back
        raise FileNotFoundError(errno.ENOENT, "replaced by another file", str(target))
    if os.stat(target).st_ino != inode:
        raise FileNotFoundError(errno.ENOENT, "replaced by another file", str(target))
    os.replace(new, target)


@functools.cache
def _renameat2() -> Callable[[Path, Path, int], int] | None:
    """``renameat2(old, new, flags)`` from the C library, answering 0 or the ``errno``; ``None``
    where there is none (not Linux, or a C library older than glibc 2.28)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: only a rewrite of existing messages needs it

    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]

    def rename(old: Path, new: Path, flags: int) -> int:
        failed = function(_AT_FDCWD, os.fsencode(old), _AT_FDCWD, os.fsencode(new), flags)
        return ctypes.get_errno() if failed else 0

    return rename


def _exchange(first: Path, second: Path) -> bool:
    """Swap the two names atomically; ``False`` where the system cannot (no ``renameat2``, or
    a kernel or file system without ``RENAME_EXCHANGE``), ``FileNotFoundError`` if one is
    gone."""
    rename = _renameat2()
    code = errno.ENOSYS if rename is None else rename(first, second, _RENAME_EXCHANGE)
    if code == 0:
        return True
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _fsync_path(path: str) -> OSError | None:
    """fsync the file at ``path``; the error instead of raising it, to be told per file.

    A descriptor opened now still reports a write-back error no one has seen yet (Linux 4.13
    and later keep it on the file, not the descriptor). Opened for writing because Windows
    cannot flush a read-only descriptor.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        return exc
    try:
        os.fsync(fd)
    except OSError as exc:
        return exc
    finally:
        os.close(fd)
    return None


class FsyncPool:
    """fsyncs of files written one after another, run by :data:`FSYNC_THREADS` threads as
    soon as each file is written (with fsync on; otherwise nothing is done).

    The fsyncs overlap the writing of the next files and the network they come from, and
    the file system commits the concurrent ones together (ext4's jbd2 and XFS batch waiting
    fsyncs into one journal commit and one cache flush). :meth:`wait` tells when given files
    are durable, so a caller renames nothing before its data is on disk.
    """

    def __init__(self, enabled: bool) -> None:
        self._pool = ThreadPoolExecutor(FSYNC_THREADS, "fsync") if enabled else None
        self._pending: dict[str, Future[OSError | None]] = {}

    def add(self, path: str) -> None:
        """Start making the written file ``path`` durable."""
        if self._pool is not None:
            self._pending[path] = self._pool.submit(_fsync_path, path)

    def wait(self, paths: Sequence[str]) -> list[OSError | None]:
        """Each file's fsync error, or ``None`` once it is durable (or fsync is off). Every
        path must have been added: a file never fsynced is never called durable."""
        if self._pool is None:
            return [None] * len(paths)
        return [self._pending.pop(path).result() for path in paths]

    def __enter__(self) -> FsyncPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


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
