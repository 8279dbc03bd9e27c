"""Is a tool's result right? Compare the server's and the tool's Maildirs with the model.

A benchmark of a sync tool means nothing unless the sync was complete and exact, so after every
step both sides are read from disk (the server's Maildir++ store directly, which is faster than
fetching 200 MB over IMAP, and cross-checked against IMAP STATUS counts) and compared with the
model: the same folders, every message exactly once (by Message-ID), the same bytes (ignoring
CRLF versus LF, and the ``X-TUID`` header mbsync adds to every message it stores) and the same
flags. The server side is checked too: a tool must not have
uploaded duplicates back or changed flags it was not asked to change.

Reading 2 GB twice after every step would dominate a 100,000-message run, so what each file
holds is remembered by (device, inode, size, modification time): a rename (a flag change) keeps
all four, and no tool rewrites a message file in place; a new or rewritten file is read again.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from bench_server import Model, digest, message_id

_MBSYNC_TUID = re.compile(rb"^X-TUID: [^\n]*\n", re.MULTILINE)
_INFO = re.compile(r"[:!]2,([A-Za-z]*)$")
_STANDARD_FLAGS = frozenset("DFPRST")
_MAX_PROBLEMS = 8

Observed = dict[str, list[tuple[str, str, str]]]  #: folder -> [(message id, digest, flags)]
#: (device, inode, size, mtime in ns) -> (Message-ID, digest) of files already read
_seen: dict[tuple[int, int, int, int], tuple[str, str]] = {}


def _flags(name: str) -> str:
    match = _INFO.search(name)
    letters = match.group(1) if match else ""
    return "".join(sorted(set(letters) & _STANDARD_FLAGS))


def _read_folder(directory: Path) -> list[tuple[str, str, str]]:
    found = []
    for sub in ("cur", "new"):
        with os.scandir(directory / sub) as entries:
            for entry in entries:
                if not entry.is_file():
                    continue
                key = _key(entry.stat())
                known = _seen.get(key)
                if known is None:
                    known = _seen[key] = _identify(Path(entry.path).read_bytes())
                found.append((*known, _flags(entry.name)))
    return found


def _key(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def remember(path: Path, mid: str, body_digest: str) -> None:
    """Record what the file at *path* (just written by the benchmark) holds, so it is not read
    again: the seeding already knows each server file's Message-ID and digest."""
    _seen[_key(path.stat())] = (mid, body_digest)


def _identify(data: bytes) -> tuple[str, str]:
    """A message file's Message-ID and body digest, without mbsync's ``X-TUID`` header."""
    header_end = data.find(b"\n\n") + 1
    if header_end > 0 and b"X-TUID: " in data[:header_end]:
        data = _MBSYNC_TUID.sub(b"", data[:header_end], count=1) + data[header_end:]
    return message_id(data), digest(data)


def read_server(mail_dir: Path) -> Observed:
    """A Dovecot Maildir++ store: the root is INBOX, ``.A.B`` is folder ``A.B``."""
    observed = {"INBOX": _read_folder(mail_dir)}
    for entry in mail_dir.iterdir():
        if entry.name.startswith(".") and (entry / "cur").is_dir():
            observed[entry.name[1:]] = _read_folder(entry)
    return observed


def read_local(root: Path) -> Observed:
    """Every Maildir below *root*, named by its path with ``/`` read as the separator ``.``.

    OfflineIMAP stores ``Lists.python`` as one directory, mbsync (``SubFolders Verbatim``) as
    ``Lists/python``: both read back as ``Lists.python``.
    """
    observed: Observed = {}
    for directory, subdirs, _files in os.walk(root):
        if "cur" in subdirs and "new" in subdirs:
            name = os.path.relpath(directory, root).replace(os.sep, ".")
            observed[name] = _read_folder(Path(directory))
    return observed


def compare(model: Model, observed: Observed, side: str) -> list[str]:
    """Everything in which *observed* differs from *model*; empty when they agree."""
    problems: list[str] = []
    missing = sorted(set(model) - set(observed))
    extra = sorted(name for name in set(observed) - set(model) if observed[name])
    if missing:
        problems.append(f"{side}: folders missing: {missing}")
    if extra:
        problems.append(f"{side}: unexpected non-empty folders: {extra}")
    for folder in sorted(set(model) & set(observed)):
        expected = model[folder]
        found = observed[folder]
        ids = Counter(mid for mid, _digest, _flags in found)
        duplicates = sum(count - 1 for count in ids.values() if count > 1)
        absent = sum(1 for mid in expected if mid not in ids)
        unknown = sum(1 for mid in ids if mid not in expected)
        wrong_body = sum(1 for mid, body, _flags in found
                         if mid in expected and expected[mid].digest != body)
        wrong_flags = [(mid, flags, expected[mid].flags) for mid, _body, flags in found
                       if mid in expected and expected[mid].flags != flags]
        if len(found) != len(expected):
            problems.append(f"{side}: {folder}: {len(found)} messages, expected {len(expected)}")
        for count, what in ((duplicates, "duplicated"), (absent, "missing"),
                            (unknown, "unknown"), (wrong_body, "with different bytes")):
            if count:
                problems.append(f"{side}: {folder}: {count} messages {what}")
        if wrong_flags:
            mid, flags, want = wrong_flags[0]
            problems.append(f"{side}: {folder}: {len(wrong_flags)} messages with wrong flags "
                            f"(e.g. {mid}: {flags!r}, expected {want!r})")
    return problems[:_MAX_PROBLEMS]


def check_counts(model: Model, counts: dict[str, int]) -> list[str]:
    """Dovecot's own message counts (IMAP STATUS) against the model."""
    return [f"server: {folder}: IMAP STATUS says {counts[folder]}, expected {len(entries)}"
            for folder, entries in sorted(model.items()) if counts[folder] != len(entries)]


def verify(model: Model, server_mail_dir: Path, local_root: Path,
           counts: dict[str, int]) -> list[str]:
    """All problems with one step's outcome: server and local side against the model."""
    return (check_counts(model, counts)
            + compare(model, read_server(server_mail_dir), "server")
            + compare(model, read_local(local_root), "local"))
