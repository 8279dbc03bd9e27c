"""Small files in the metadata directory, written privately and atomically.

The metadata directory holds state that says what mail exists where; other users have no
business reading it. Every directory created here is 0700 (each missing parent too, not only
the last one), every file 0600, and a file is replaced with a rename so that a crash leaves
either the old or the new content.
"""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            pass


def write_private(path: Path, text: str, *, fsync: bool) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically; the file is 0600."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if fsync:  # the rename itself must survive a power loss too
        dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
