"""The sync of one folder pair: remote, local and their status, in an order that never loses mail.

This module is the only place that moves messages. It talks to the two :class:`Folder` drivers
and the :class:`StatusFolder` through their interfaces and never names a driver.

Order of writes (each step safe to interrupt with kill -9):

1. Recover unfinished uploads from the journal (see :mod:`offlineimap.journal`).
2. Record messages both sides already have (a previous run stopped before its status write).
3. Copy new messages, in batches: store on the destination (durable on return), give the source
   copy its new UID if the destination assigned one, then record the batch in the status.
   A crash before the status write leaves a message on both sides, which step 2 records.
4. Delete what the other side deleted, then forget it in the status.
5. Apply flag changes to both sides, then record the merged flags.

Status writes trail the changes they record and are gathered (:class:`StatusWrites`): one
transaction per ``batch_messages`` records and one at the end, so a folder with a few changes
costs one. A crash in between leaves both sides agreeing where the status lags behind: a
message both have is recorded, one neither has forgotten, flags both changed alike recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from offlineimap.errors import FolderError
from offlineimap.events import Events
from offlineimap.journal import UploadJournal, content_hash
from offlineimap.plan import LOCAL, REMOTE, SIDES, Plan, SidePolicy, make_plan, other
from offlineimap.repository import Folder, FolderChanges, FolderState, MessageInfo, NewMessage
from offlineimap.stats import FolderStats
from offlineimap.status import StatusFolder, StatusRecord

T = TypeVar("T")


class MassDeletionError(FolderError):
    """A sync would delete more of a folder than ``mass_delete_guard`` allows."""


@dataclasses.dataclass
class SyncSettings:
    dry_run: bool = False
    #: maxage/maxsize: which messages may be copied (deletions and flags ignore it)
    copy_allowed: Callable[[MessageInfo], bool] | None = None
    #: a status write per this many copied messages (or bytes): the unit of lost work on a crash
    batch_messages: int = 500
    batch_bytes: int = 32 * 1024 * 1024
    #: set by a signal handler: finish the current batch, then stop
    stop: threading.Event | None = None
    #: ``startdate``: UIDs below this are outside the sync on every side (never copied,
    #: flagged or deleted); new local messages (negative UIDs) are not affected
    min_uid: int | None = None
    #: refuse a folder whose sync would delete more than this share (percent) of one side
    mass_delete_guard: float = 50.0
    #: deletions this small are never refused (a folder of 3 emptied on purpose is normal)
    mass_delete_floor: int = 5
    #: the remote state at the start of the last clean sync: list the remote side by its changes
    #: since then (:meth:`Folder.list_changes`) instead of in full; ``None``: list in full
    remote_since: FolderState | None = None


class FolderSync:
    """One sync of one folder pair."""

    def __init__(
        self,
        *,
        account: str,
        name: str,
        folders: Mapping[str, Folder],
        policies: Mapping[str, SidePolicy],
        status: StatusFolder,
        journal: UploadJournal,
        events: Events,
        settings: SyncSettings,
    ) -> None:
        self.account = account
        self.name = name
        self.folders = folders
        self.policies = policies
        self.status = status
        self.journal = journal
        self.events = events
        self.settings = settings
        self.stats = FolderStats()
        self.listings: dict[str, dict[int, MessageInfo]] = {}
        #: whether the remote side was listed by its changes rather than in full
        self.incremental = False
        self.writes = StatusWrites(status, settings.batch_messages)

    def run(self, states: Mapping[str, FolderState]) -> FolderStats:
        """Sync; ``states`` are the sides' :meth:`Folder.state` results (validity checked)."""
        floor = self.settings.min_uid
        records = _in_window(self.status.records(), floor)
        for side in SIDES:
            self.events.listing(self.account, self.name, side)
            listing = self._list_changes(records, states[REMOTE]) if side == REMOTE else None
            if listing is None:
                listing = _in_window(self.folders[side].list_messages(
                    min_uid=floor if side == REMOTE else None), floor)
            self.listings[side] = listing
        if not self.settings.dry_run:
            self._recover_uploads(records)
        plan = make_plan(self.listings, records, self.policies,
                         self.settings.copy_allowed or (lambda _info: True))
        self._guard_mass_deletion(plan)
        if self.settings.dry_run:
            self._report_dry_run(plan)
            return self.stats
        self._announce(plan)
        try:
            self._apply(plan, states)
        except BaseException:
            with contextlib.suppress(Exception):  # record what was done; the error stands
                self.writes.flush()
            raise
        self.writes.flush()
        return self.stats

    def _apply(self, plan: Plan, states: Mapping[str, FolderState]) -> None:
        self.writes.put(plan.status_adopt)
        watermark = states[REMOTE].uidnext or 1
        # Once the download is fetched, a plan that writes nothing remotely is local work only.
        remote_done = not (plan.copy_to[REMOTE] or plan.delete_on[REMOTE]
                           or plan.flags_on[REMOTE])
        for dst in (LOCAL, REMOTE):
            self._copy(other(dst), dst, plan.copy_to[dst], watermark,
                       finish_source=remote_done and dst == LOCAL)
            if self._stopping():
                return
        self._delete(plan)
        self._flags(plan)
        self.writes.remove(plan.status_forget)

    # -- steps -----------------------------------------------------------------------------------

    def _list_changes(self, records: Mapping[int, StatusRecord], state: FolderState
                      ) -> dict[int, MessageInfo] | None:
        """The remote listing rebuilt from the status and the changes since the last clean
        sync, or ``None`` when it must be listed in full.

        Sound because every record's flags are what the remote side had when this account last
        looked (a listing, or flags it stored there itself), after ``remote_since`` was taken:
        a message the server reports neither changed nor vanished since still has them. The
        count check catches a status that does not describe the remote side (set aside,
        deleted by hand, messages left out by ``maxsize``): the full listing then decides.
        """
        since = self.settings.remote_since
        if since is None or self.settings.min_uid is not None or state.exists is None:
            return None
        changes = self.folders[REMOTE].list_changes(since)
        if changes is None:
            return None
        listing = merge_changes(records, changes)
        exists = state.exists if changes.exists is None else changes.exists
        if len(listing) != exists:
            self.events.debug("quick", f"{self.account}: {self.name}: {len(listing)} messages "
                              f"after the changes since the last sync, the server counts "
                              f"{exists}: listing in full")
            return None
        self.incremental = True
        return listing

    def _guard_mass_deletion(self, plan: Plan) -> None:
        """Refuse the folder when one run would delete most of one side.

        An unmounted or emptied Maildir, or a nametrans that suddenly points elsewhere, looks
        exactly like a person deleting everything; propagating it would empty the server.
        """
        for side in SIDES:
            count = len(plan.delete_on[side])
            size = len(self.listings[side])
            share = 100.0 * count / size if size else 0.0
            if count > self.settings.mass_delete_floor and share > (
                    self.settings.mass_delete_guard):
                raise MassDeletionError(
                    f"folder {self.name}: this sync would delete {count} of {size} messages on "
                    f"the {side} side ({share:.0f}%, because they are gone from the "
                    f"{other(side)} side); nothing was changed. If that is what you want, run "
                    f"once with -k Account_{self.account.replace(' ', '_')}:"
                    f"mass_delete_guard=100")

    def _recover_uploads(self, records: Mapping[int, StatusRecord]) -> None:
        """Pair messages stored remotely before a crash with their local originals."""
        pending = self.journal.pending()
        if pending is None:
            return
        watermark, entries = pending
        remote, local = self.listings[REMOTE], self.listings[LOCAL]
        candidates = [uid for uid in remote
                      if uid >= watermark and uid not in records and uid not in local]
        originals = [uid for uid in local if uid not in records and uid not in remote]
        if candidates and originals:
            wanted = {digest for digest, _tag in entries}
            by_hash: dict[str, list[int]] = {}
            for uid, body in self.folders[REMOTE].fetch(sorted(candidates)):
                digest = content_hash(body)
                if digest in wanted:
                    by_hash.setdefault(digest, []).append(uid)
            for old, body in self.folders[LOCAL].fetch(sorted(originals, reverse=True)):
                matches = by_hash.get(content_hash(body))
                if matches:
                    new = matches.pop(0)
                    self.folders[LOCAL].change_uid(old, new)
                    local[new] = local.pop(old)
                    self.events.info(f"{self.name}: recovered upload of message {new} "
                                     "interrupted by an earlier run", self.account)
        self.journal.clear()

    def _copy(self, src: str, dst: str, uids: list[int], watermark: int, *,
              finish_source: bool = False) -> None:
        """Copy ``uids`` in batches; with ``finish_source``, tell the source (see
        :meth:`Folder.finish`) that the last batch's fetch is its last call."""
        source, target = self.folders[src], self.folders[dst]
        listing = self.listings[src]
        batches = list(_batches(uids, listing, self.settings.batch_messages,
                                self.settings.batch_bytes))
        if finish_source and not batches:
            source.finish()
        for number, batch in enumerate(batches, 1):
            if finish_source and number == len(batches):
                source.finish(after_fetch=True)
            journal = self.journal if target.assigns_uids else None
            if journal is not None:
                journal.begin(watermark)
            saved = target.save_messages(self._outgoing(source, batch, src, dst, journal))
            records: dict[int, StatusRecord] = {}
            for old, new in saved:
                if new != old:
                    source.change_uid(old, new)
                records[new] = StatusRecord(flags=listing[old].flags)
            self.writes.put(records)
            if journal is not None:
                journal.clear()
            missing = len(batch) - len(saved)
            if missing:
                self.stats.errors += missing
            if self._stopping():
                return

    def _outgoing(self, source: Folder, batch: list[int], src: str, dst: str,
                  journal: UploadJournal | None) -> Iterator[NewMessage]:
        listing = self.listings[src]
        for uid, body in source.fetch(batch):
            info = listing[uid]
            if journal is not None:
                journal.record(body)
            yield NewMessage(uid=uid, body=body, flags=info.flags,
                             internaldate=info.internaldate)
            if dst == LOCAL:
                self.stats.copied_to_local += 1
            else:
                self.stats.copied_to_remote += 1
            self.stats.bytes_copied += len(body)
            self.events.message_copied(self.account, self.name, uid, src, dst, len(body))

    def _delete(self, plan: Plan) -> None:
        for side in SIDES:
            uids = plan.delete_on[side]
            if not uids:
                continue
            self.folders[side].delete_messages(uids)
            self.writes.remove(uids)
            self.events.messages_deleted(self.account, self.name, side, uids)
            if side == LOCAL:
                self.stats.deleted_local += len(uids)
            else:
                self.stats.deleted_remote += len(uids)

    def _flags(self, plan: Plan) -> None:
        for side in SIDES:
            changes = plan.flags_on[side]
            if not changes:
                continue
            self.folders[side].change_flags(changes)
            added: dict[str, list[int]] = {}
            removed: dict[str, list[int]] = {}
            for uid, (add, remove) in sorted(changes.items()):
                for flag in add:
                    added.setdefault(flag, []).append(uid)
                for flag in remove:
                    removed.setdefault(flag, []).append(uid)
            self.events.flags_changed(self.account, self.name, side, added, removed)
            if side == LOCAL:
                self.stats.flags_changed_local += len(changes)
            else:
                self.stats.flags_changed_remote += len(changes)
        self.writes.put(plan.status_flags)

    # -- reporting -------------------------------------------------------------------------------

    def _announce(self, plan: Plan) -> None:
        total = sum(len(plan.copy_to[side]) for side in SIDES)
        size = sum(self.listings[other(side)][uid].size or 0
                   for side in SIDES for uid in plan.copy_to[side])
        self.events.folder_start(self.account, self.name, total, size)
        for side in SIDES:
            if plan.deletions_held[side]:
                self.events.info(
                    f"{self.name}: {plan.deletions_held[side]} message(s) deleted on the {side} "
                    f"side are kept on the {other(side)} side (sync_deletes or readonly)",
                    self.account)

    def _report_dry_run(self, plan: Plan) -> None:
        parts = []
        for side in SIDES:
            if plan.copy_to[side]:
                parts.append(f"copy {len(plan.copy_to[side])} to {side}")
            if plan.delete_on[side]:
                parts.append(f"delete {len(plan.delete_on[side])} on {side}")
            if plan.flags_on[side]:
                parts.append(f"change flags of {len(plan.flags_on[side])} on {side}")
        summary = ", ".join(parts) or "nothing to do"
        self.events.info(f"[dry-run] {self.name}: would {summary}", self.account)

    def _stopping(self) -> bool:
        return self.settings.stop is not None and self.settings.stop.is_set()


class StatusWrites:
    """Status changes gathered into few transactions (see the module docstring)."""

    def __init__(self, status: StatusFolder, limit: int) -> None:
        self.status = status
        self.limit = limit
        self._put: dict[int, StatusRecord] = {}
        self._remove: set[int] = set()

    def put(self, records: Mapping[int, StatusRecord]) -> None:
        for uid, record in records.items():
            self._remove.discard(uid)
            self._put[uid] = record
        self._flush_when_full()

    def remove(self, uids: Iterable[int]) -> None:
        for uid in uids:
            self._put.pop(uid, None)
            self._remove.add(uid)
        self._flush_when_full()

    def _flush_when_full(self) -> None:
        if len(self._put) + len(self._remove) >= self.limit:
            self.flush()

    def flush(self) -> None:
        """Write what is gathered: removals, then records (one transaction each)."""
        removed, self._remove = self._remove, set()
        records, self._put = self._put, {}
        if removed:
            self.status.remove(sorted(removed))
        if records:
            self.status.put(records)


def merge_changes(records: Mapping[int, StatusRecord], changes: FolderChanges
                  ) -> dict[int, MessageInfo]:
    """The remote listing implied by the status and a :class:`FolderChanges`: every recorded
    message with its recorded flags, less the vanished ones, updated with the changed ones."""
    # An empty ``VANISHED`` (the usual answer) as a set: one C-level test per record.
    vanished = changes.vanished or frozenset()
    # A folder has few distinct flag sets: one (frozen) MessageInfo each, not one per message.
    shared = {flags: MessageInfo(flags=flags)
              for flags in {record.flags for record in records.values()}}
    listing = {uid: shared[record.flags] for uid, record in records.items()
               if uid > 0 and uid not in vanished}
    listing.update((uid, info) for uid, info in changes.changed.items() if uid not in vanished)
    return listing


def _in_window(items: dict[int, T], floor: int | None) -> dict[int, T]:
    """Leave out UIDs below ``floor`` (``startdate``); new local messages always stay."""
    if floor is None:
        return items
    return {uid: item for uid, item in items.items() if uid < 0 or uid >= floor}


def _batches(uids: list[int], listing: Mapping[int, MessageInfo], max_count: int,
             max_bytes: int) -> Iterator[list[int]]:
    batch: list[int] = []
    size = 0
    for uid in uids:
        batch.append(uid)
        size += listing[uid].size or 0
        if len(batch) >= max_count or size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch

