"""Quick syncs: leave out folders that changed on neither side since their last sync.

OfflineIMAP's ``quick = N`` (account option; ``-q`` writes ``quick = -1``): a full sync lists
every message and flag of every folder; a quick sync first asks each folder whether anything
happened and syncs only those that say yes.

* **Remote side**: the folder's :class:`~offlineimap.repository.FolderState` (UIDVALIDITY,
  UIDNEXT, EXISTS and, with CONDSTORE, HIGHESTMODSEQ), learned with the SELECT every sync does
  anyway (or, cheaper, with one LIST-STATUS for all folders), is compared with the state
  recorded in :class:`SyncStates` after the last sync that finished without errors. New mail
  raises UIDNEXT, an expunge lowers EXISTS, and HIGHESTMODSEQ (where the server has it) catches
  flag changes too; without CONDSTORE, flag changes made on the server wait for the next full
  sync, as in OfflineIMAP.
* **Local side**: the folder's change token (a Maildir: its directories' mtimes, trusted only
  once they have settled) is compared with the recorded one; without a match the local listing is
  compared with the status cache, message by message and flag by flag, which is how OfflineIMAP's
  Maildir notices local changes.

With CONDSTORE, HIGHESTMODSEQ makes the remote comparison exact, so every sync (not only quick
ones) leaves out unchanged pairs; a full listing still happens at least every ``fullsync_every``
hours (default 24) so that nothing can drift.

The recorded state is the one seen *before* the sync: a sync that itself changed the remote
folder (an upload) makes the next quick sync look at that folder once more, which costs a
listing and never misses a change.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from array import array
from collections.abc import Callable, Mapping
from pathlib import Path

from offlineimap.files import write_private
from offlineimap.repository import Flags, Folder, FolderState
from offlineimap.status import StatusRecord

#: Keys of a pair's entry: the remote state and the local change token after the last clean
#: sync, when the remote side was last listed in full, and a digest of the status that sync
#: left (:func:`flags_digest`).
META_KEY = "remote"
LOCAL_KEY = "local"
LISTED_KEY = "listed"
DIGEST_KEY = "status"


def flags_digest(flags: Mapping[int, Flags]) -> str:
    """A digest of ``{uid: flags}``: equal for a local listing and a status exactly when both
    hold the same messages with the same flags.

    Made with operations on whole lists, in C: a listing has an entry per message, and a
    Python step per message costs more than reading a Maildir. Each distinct set of flags gets
    its number in a fixed order; the sorted UIDs and their numbers are hashed as packed
    integers after the sets themselves. The ``2:`` in front keeps a digest of the former kind,
    which hashed text, from ever being taken for one of these (it costs one full comparison).
    """
    kinds = sorted(set(flags.values()), key=sorted)
    number = {kind: index for index, kind in enumerate(kinds)}
    uids = sorted(flags)
    digest = hashlib.blake2b(json.dumps([sorted(kind) for kind in kinds]).encode(),
                             digest_size=16)
    try:
        digest.update(b"q" + array("q", uids).tobytes())
    except OverflowError:  # a Maildir file name may claim any number as its UID
        digest.update(b"t" + str(uids).encode())
    digest.update(array("I", map(number.__getitem__, map(flags.__getitem__, uids))))
    return "2:" + digest.hexdigest()


def remote_fingerprint(state: FolderState) -> str | None:
    """The remote state as one comparable string; ``None`` when the server told too little."""
    if state.uidnext is None or state.exists is None:
        return None
    return (f"uidvalidity={state.uidvalidity} uidnext={state.uidnext} exists={state.exists} "
            f"highestmodseq={state.highestmodseq}")


def parse_fingerprint(text: str) -> FolderState:
    """The :class:`FolderState` a :func:`remote_fingerprint` was made of (unknown parts
    ``None``, a damaged text an empty state)."""
    values: dict[str, int | None] = {}
    for part in text.split():
        key, _, value = part.partition("=")
        if key in _STATE_FIELDS:
            values[key] = int(value) if value.isdigit() else None
    return FolderState(**values)


_STATE_FIELDS = ("uidvalidity", "uidnext", "exists", "highestmodseq")


class SyncStates:
    """Each folder pair's entry, for one account, in one small JSON file
    (``<metadata>/Account-<name>/SyncStates``).

    Kept apart from the status caches on purpose: deciding that nothing changed must not cost
    opening every folder's status database. Written once per account sync (:meth:`flush`),
    atomically but without fsync: a lost or stale file only costs listings. A stale entry
    cannot skip a change, because the remote state it holds (HIGHESTMODSEQ, UIDNEXT) never
    comes back once the folder changed, and listing by changes from an older HIGHESTMODSEQ
    only reports more.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._dirty = False
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        self._entries: dict[str, dict[str, str]] = loaded if isinstance(loaded, dict) else {}

    def get(self, name: str) -> dict[str, str]:
        with self._lock:
            entry = self._entries.get(name)
            return dict(entry) if isinstance(entry, dict) else {}

    def put(self, name: str, values: Mapping[str, str]) -> None:
        with self._lock:
            self._entries[name] = dict(values)
            self._dirty = True

    def flush(self) -> None:
        """Write the entries changed since the last flush (called at the end of a sync)."""
        with self._lock:
            if self._dirty:
                write_private(self.path, json.dumps(self._entries, sort_keys=True),
                              fsync=False)
                self._dirty = False


class QuickGate:
    """Decides whether one folder pair may be left out of a sync, and what to record."""

    def __init__(self, saved: Mapping[str, str], remote_state: FolderState, *,
                 local_token: str | None = None,
                 records: Callable[[], dict[int, StatusRecord]] | None = None) -> None:
        self.saved = saved
        self.fingerprint = remote_fingerprint(remote_state)
        #: whether the remote state catches flag changes too (CONDSTORE's HIGHESTMODSEQ)
        self.exact = remote_state.highestmodseq is not None
        self.local_token = local_token
        self._records = records

    def listed_within(self, seconds: float) -> bool:
        """Whether the pair was last fully listed (synced) less than ``seconds`` ago."""
        try:
            return time.time() - float(self.saved.get(LISTED_KEY, "0")) < seconds
        except ValueError:
            return False

    def since(self, current: FolderState, seconds: float) -> FolderState | None:
        """The remote state recorded at the start of the last clean sync, from which the
        remote side may be listed by its changes (CONDSTORE), or ``None``: no such state, a
        different UIDVALIDITY, or no full listing for ``seconds`` (so that nothing drifts)."""
        saved = parse_fingerprint(self.saved.get(META_KEY, ""))
        if (saved.highestmodseq is None or current.highestmodseq is None
                or saved.uidvalidity != current.uidvalidity
                or not self.listed_within(seconds)):
            return None
        return saved

    def unchanged(self, local: Folder) -> bool:
        """Whether neither side changed since the last clean sync.

        The local side is asked for its change token first (a Maildir: two ``stat`` calls);
        only without a matching token is it listed and compared with the status as that sync
        left it: by the recorded digest (no need to open the status cache), else record by
        record."""
        if self.fingerprint is None or self.saved.get(META_KEY) != self.fingerprint:
            return False
        if self.local_token is not None and self.saved.get(LOCAL_KEY) == self.local_token:
            return True
        digest, records = self.saved.get(DIGEST_KEY), self._records
        if digest is None and records is None:
            return False
        listing = {uid: info.flags for uid, info in local.list_messages().items()}
        if digest is not None:
            return flags_digest(listing) == digest
        return records is not None and listing == {
            uid: record.flags for uid, record in records().items()}

    def with_current_token(self) -> dict[str, str] | None:
        """After :meth:`unchanged` said yes by listing, the entry with today's local token (so
        the next sync need not list), or ``None`` when there is nothing new to keep."""
        if self.local_token is None or self.saved.get(LOCAL_KEY) == self.local_token:
            return None
        return {**self.saved, LOCAL_KEY: self.local_token}

    def recorded(self, local_token: str | None, status: Mapping[int, StatusRecord], *,
                 listed_fully: bool = True) -> dict[str, str] | None:
        """The entry to keep after a clean sync of the pair (``None``: nothing worth keeping),
        with the local folder's change token taken *before* that sync listed anything (a token
        taken afterwards could hide a change made while the sync ran) and the digest of the
        ``status`` it left, which the next sync compares a local listing with instead. A sync
        that listed the remote side by its changes keeps the time of the last full listing."""
        if self.fingerprint is None:
            return None
        listed = str(time.time()) if listed_fully else self.saved.get(LISTED_KEY, "0")
        digest = flags_digest({uid: record.flags for uid, record in status.items()})
        return {META_KEY: self.fingerprint, LOCAL_KEY: local_token or "", LISTED_KEY: listed,
                DIGEST_KEY: digest}


class QuickSchedule:
    """Which of an account's syncs are quick, following OfflineIMAP's ``quick`` counter.

    ``quick = 0``: never; ``quick = -1``: always; ``quick = N``: a full sync, then N quick ones,
    then a full one again. A sync asked for with SIGUSR1 is full (:meth:`reset`).
    """

    def __init__(self, quick: int) -> None:
        self.quick = quick
        self._count = 0

    def next_is_quick(self) -> bool:
        """Advance the counter and say whether the coming sync is quick."""
        if self.quick < 0:
            return True
        if self.quick == 0:
            return False
        if self._count == 0 or self._count > self.quick:
            self._count = 1
            return False
        self._count += 1
        return True

    def reset(self) -> None:
        """Make the next sync a full one."""
        self._count = 0
