"""Whether a server folder and a local Maildir hold the same mail: the end state every failure
test (kill -9, network faults, the long crash soak) must reach after one clean run.

Messages are compared by content hash (line endings aside, since Maildir stores LF and IMAP
CRLF), so a lost message, a duplicate on either side and a flag that did not travel are all
told apart in the assertion message.
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Iterable
from typing import Any

__all__ = ["LETTERS", "converged", "differences", "digest"]

#: IMAP system flags and their Maildir letters, as the sync maps them.
LETTERS = {"\\Seen": "S", "\\Answered": "R", "\\Flagged": "F", "\\Draft": "D"}


def digest(body: bytes) -> str:
    """Content hash of a message, equal for its CRLF and LF forms."""
    return hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


def differences(sandbox: Any, account: Any, folder: str) -> tuple[int, int, int]:
    """``(lost, duplicated, flag mismatches)`` between the server folder and the local one.

    Lost counts messages on one side only; duplicated counts extra copies on either side.
    ``sandbox`` needs ``local_messages(folder)`` and ``account`` ``messages(folder)``.
    """
    server = account.messages(folder)
    local = sandbox.local_messages(folder)
    server_bodies = collections.Counter(digest(body) for _, body in server.values())
    local_bodies = collections.Counter(digest(body) for _, body in local)
    duplicated = sum(n - 1 for n in server_bodies.values()) + sum(
        n - 1 for n in local_bodies.values())
    lost = len(set(server_bodies) ^ set(local_bodies))
    server_flags = {digest(body): "".join(sorted(LETTERS[f] for f in flags if f in LETTERS))
                    for flags, body in server.values()}
    mismatched = sum(1 for flags, body in local
                     if digest(body) in server_flags and flags != server_flags[digest(body)])
    return lost, duplicated, mismatched


def converged(sandbox: Any, account: Any, folders: Iterable[str]) -> None:
    """Assert every message is exactly once on each side, with the same flags on both."""
    for folder in folders:
        lost, duplicated, mismatched = differences(sandbox, account, folder)
        assert (lost, duplicated, mismatched) == (0, 0, 0), (
            f"{folder}: {lost} on one side only, {duplicated} duplicated, "
            f"{mismatched} with different flags")
