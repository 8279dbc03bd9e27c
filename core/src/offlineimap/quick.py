"""Quick syncs: leave out folders that changed on neither side since their last sync.

OfflineIMAP's ``quick = N`` (account option; ``-q`` writes ``quick = -1``): a full sync lists
every message and flag of every folder; a quick sync first asks each folder whether anything
happened and syncs only those that say yes.

* **Remote side**: the folder's :class:`~offlineimap.repository.FolderState` (UIDVALIDITY,
  UIDNEXT, EXISTS and, with CONDSTORE, HIGHESTMODSEQ), learned with the SELECT every sync does
  anyway, is compared with the state recorded in the status cache's metadata after the last
  sync that finished without errors. New mail raises UIDNEXT, an expunge lowers EXISTS, and
  HIGHESTMODSEQ (where the server has it) catches flag changes too; without CONDSTORE, flag
  changes made on the server wait for the next full sync, as in OfflineIMAP.
* **Local side**: the local listing (a directory scan for a Maildir) is compared with the status
  cache, message by message and flag by flag, which is how OfflineIMAP's Maildir notices local
  changes. It needs no timestamps, so a change made in the same clock tick as a sync is never
  missed.

The recorded state is the one seen *before* the sync: a sync that itself changed the remote
folder (an upload) makes the next quick sync look at that folder once more, which costs a
listing and never misses a change.
"""

from __future__ import annotations

import time

from offlineimap.repository import Folder, FolderState
from offlineimap.status import StatusFolder

#: Status metadata keys: the remote state and the local change token after the last clean sync,
#: and when that sync listed the folder.
META_KEY = "quick_remote_state"
LOCAL_KEY = "quick_local_token"
LISTED_KEY = "full_listing_time"


def remote_fingerprint(state: FolderState) -> str | None:
    """The remote state as one comparable string; ``None`` when the server told too little."""
    if state.uidnext is None or state.exists is None:
        return None
    return (f"uidvalidity={state.uidvalidity} uidnext={state.uidnext} exists={state.exists} "
            f"highestmodseq={state.highestmodseq}")


class QuickGate:
    """Decides whether one folder pair may be left out of a sync, and records states."""

    def __init__(self, status: StatusFolder, remote_state: FolderState, *,
                 local_token: str | None = None) -> None:
        self.status = status
        self.fingerprint = remote_fingerprint(remote_state)
        #: whether the remote state catches flag changes too (CONDSTORE's HIGHESTMODSEQ)
        self.exact = remote_state.highestmodseq is not None
        self.local_token = local_token
        self._meta = status.meta()

    def listed_within(self, seconds: float) -> bool:
        """Whether the pair was last fully listed (synced) less than ``seconds`` ago."""
        try:
            return time.time() - float(self._meta.get(LISTED_KEY, "0")) < seconds
        except ValueError:
            return False

    def unchanged(self, local: Folder) -> bool:
        """Whether neither side changed since the last clean sync.

        The local side is asked for its change token first (a Maildir: two ``stat`` calls);
        only without a matching token is it listed and compared with the status."""
        if self.fingerprint is None or self._meta.get(META_KEY) != self.fingerprint:
            return False
        if self.local_token is not None and self._meta.get(LOCAL_KEY) == self.local_token:
            return True
        records = self.status.records()
        listing = local.list_messages()
        if listing.keys() != records.keys():
            return False
        return all(info.flags == records[uid].flags for uid, info in listing.items())

    def record(self, local_token: str | None) -> None:
        """Remember both sides' states: call only after a sync of the pair finished cleanly,
        with the local folder's change token taken after that sync."""
        if self.fingerprint is not None:
            self.status.set_meta({META_KEY: self.fingerprint, LOCAL_KEY: local_token or "",
                                  LISTED_KEY: str(time.time())})


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
