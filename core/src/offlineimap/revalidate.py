"""Recovering a folder whose UIDVALIDITY changed, by matching messages on their Message-ID.

A server that renumbers a folder (a restore, a migration, a rebuilt index) invalidates every UID
the local side and the status cache know. OfflineIMAP stops there for good; mbsync matches
messages by Message-ID. So do we, but only when it is unambiguous: every local message that was
synced under the old numbering must match exactly one remote message by a Message-ID that no
other message on either side has. Otherwise the folder is left alone with an explanation.

Recovery renames local messages to their new remote UIDs in two passes (through temporary UIDs,
because old and new numbers overlap), then the caller forgets the folder's status and records the
new UIDVALIDITY; the next sync recognises every message by its UID. Matching looks only at
content, so a run interrupted half-way is redone from scratch by the next one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from offlineimap.errors import UIDValidityError
from offlineimap.repository import Folder

#: Temporary UIDs used between the two renaming passes: far above any real IMAP UID (< 2**32).
_TEMPORARY = 10**12
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def message_id(body: bytes) -> bytes | None:
    """The Message-ID of a raw message (header section only), or ``None``."""
    end = body.find(b"\n\n")
    if end < 0:
        end = body.find(b"\r\n\r\n")
    head = body if end < 0 else body[:end + 1]
    match = _MESSAGE_ID.search(head)
    if not match:
        return None
    value = b"".join(match.group(1).split())
    return value or None


def _unique_ids(messages: Iterable[tuple[int, bytes]]) -> dict[bytes, int]:
    """Message-ID -> UID, leaving out IDs that occur more than once."""
    seen: dict[bytes, int] = {}
    duplicated: set[bytes] = set()
    for uid, body in messages:
        mid = message_id(body)
        if mid is None:
            continue
        if mid in seen:
            duplicated.add(mid)
        seen[mid] = uid
    return {mid: uid for mid, uid in seen.items() if mid not in duplicated}


def renumber_local(remote: Folder, local: Folder, problem: UIDValidityError) -> int:
    """Give local messages the remote's new UIDs; return how many were matched.

    Raises ``problem`` (with the reason added) when the old numbering cannot be mapped safely.
    """
    remote_uids = sorted(remote.list_messages())
    local_listing = local.list_messages()
    remote_ids = _unique_ids(remote.fetch(remote_uids))
    local_ids = _unique_ids(local.fetch(sorted(local_listing)))
    by_local = {uid: remote_ids[mid] for mid, uid in local_ids.items() if mid in remote_ids}
    unmatched = [uid for uid in local_listing if uid > 0 and uid not in by_local]
    if unmatched:
        raise type(problem)(
            f"{problem} ({len(unmatched)} of {len(local_listing)} local messages could not be "
            "matched to the server's by a unique Message-ID, so they were not renumbered)")
    moves = {old: new for old, new in by_local.items() if old != new}
    for old, new in _two_passes(moves):
        local.change_uid(old, new)
    return len(by_local)


def _two_passes(moves: dict[int, int]) -> Iterator[tuple[int, int]]:
    """Renames that never collide: everything to a temporary UID first, then to its target."""
    for old, new in moves.items():
        if old < _TEMPORARY:
            yield old, _TEMPORARY + new
    for old, new in moves.items():
        yield (old if old >= _TEMPORARY else _TEMPORARY + new), new
