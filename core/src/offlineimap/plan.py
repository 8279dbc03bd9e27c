"""The three-way comparison at the heart of a sync, as pure data: no I/O here.

Given what the remote side, the local side and the status cache each hold for one folder,
:func:`make_plan` decides what to copy, delete and re-flag. The rules are OfflineIMAP's, made
symmetric (mbsync's far/near):

* A message on one side only and unknown to the status is new there: copy it over.
* A message on both sides but unknown to the status was copied before a crash let the status
  catch up: record it, nothing is copied (this is what makes a crash after a copy harmless).
* A message the status knows but one side lacks was deleted there: delete it on the other side
  if the deleting side's repository has ``sync_deletes`` on and the other side is writable;
  otherwise leave both as they are (and keep the status record, so it is not copied back).
* A message the status knows and neither side has is forgotten.
* Flags: each side's change against the status is merged (additions and removals from both);
  a read-only side receives nothing and the status then keeps that side's flags, so the
  writable side's own changes are neither lost nor pushed.

Copies are restricted by ``maxage``/``maxsize`` only; deletions and flags never look at them, so
a message outside the window is never mistaken for a deleted one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from offlineimap.repository import Flags, MessageInfo
from offlineimap.status import StatusRecord

REMOTE, LOCAL = "remote", "local"
SIDES = (REMOTE, LOCAL)


def other(side: str) -> str:
    return LOCAL if side == REMOTE else REMOTE


@dataclasses.dataclass(frozen=True)
class SidePolicy:
    """What the repository on one side allows."""

    writable: bool = True
    #: Whether deletions made on this side are propagated to the other.
    sync_deletes: bool = True


@dataclasses.dataclass
class Plan:
    """Everything one folder sync will do. Keys are per side (``remote``, ``local``)."""

    #: side -> UIDs (on the *other* side) to copy onto this side, in ascending order
    copy_to: dict[str, list[int]] = dataclasses.field(
        default_factory=lambda: {REMOTE: [], LOCAL: []})
    #: side -> UIDs to delete on this side
    delete_on: dict[str, list[int]] = dataclasses.field(
        default_factory=lambda: {REMOTE: [], LOCAL: []})
    #: side -> {uid: (flags to add, flags to remove)}
    flags_on: dict[str, dict[int, tuple[Flags, Flags]]] = dataclasses.field(
        default_factory=lambda: {REMOTE: {}, LOCAL: {}})
    #: status records to write once the flag changes are applied
    status_flags: dict[int, StatusRecord] = dataclasses.field(default_factory=dict)
    #: records for messages both sides already have (status catching up after a crash)
    status_adopt: dict[int, StatusRecord] = dataclasses.field(default_factory=dict)
    #: status records of messages gone from both sides
    status_forget: list[int] = dataclasses.field(default_factory=list)
    #: deletions not propagated (sync_deletes off or read-only): side -> count, for the log
    deletions_held: dict[str, int] = dataclasses.field(
        default_factory=lambda: {REMOTE: 0, LOCAL: 0})

    @property
    def empty(self) -> bool:
        return not (
            any(self.copy_to.values()) or any(self.delete_on.values())
            or any(self.flags_on.values()) or self.status_flags or self.status_adopt
            or self.status_forget
        )


def make_plan(
    listings: Mapping[str, Mapping[int, MessageInfo]],
    status: Mapping[int, StatusRecord],
    policy: Mapping[str, SidePolicy],
    copy_allowed: Callable[[MessageInfo], bool] = lambda _info: True,
) -> Plan:
    """Compare both sides with the status and return what to do.

    :param listings: ``{"remote": {uid: info}, "local": {uid: info}}``; local UIDs may be
        negative (new local messages without a remote UID yet).
    :param copy_allowed: ``maxage``/``maxsize`` filter applied to copies only.
    """
    plan = Plan()
    remote, local = listings[REMOTE], listings[LOCAL]

    for side in SIDES:
        mine, theirs = listings[side], listings[other(side)]
        if not policy[other(side)].writable:
            continue
        plan.copy_to[other(side)] = sorted(
            uid for uid, info in mine.items()
            if uid not in status and uid not in theirs and copy_allowed(info)
        )

    for uid in remote.keys() & local.keys() - status.keys():
        # Both have it and the status does not: a copy finished before the status was written.
        # Record the flags both agree on; the flag pass below gives each side the other's extras.
        common = remote[uid].flags & local[uid].flags
        plan.status_adopt[uid] = StatusRecord(flags=common)

    known = dict(status)
    known.update(plan.status_adopt)
    for uid, record in known.items():
        in_remote, in_local = uid in remote, uid in local
        if in_remote and in_local:
            remote_flags, local_flags = remote[uid].flags, local[uid].flags
            if remote_flags == record.flags == local_flags:
                continue  # most messages of a folder: nothing to merge, nothing to record
            _merge_flags(plan, uid, record, remote_flags, local_flags, policy)
        elif not in_remote and not in_local:
            plan.status_forget.append(uid)
        else:
            gone_from = LOCAL if in_remote else REMOTE
            target = other(gone_from)
            if policy[gone_from].sync_deletes and policy[target].writable:
                plan.delete_on[target].append(uid)
            else:
                plan.deletions_held[gone_from] += 1
    for side in SIDES:
        plan.delete_on[side].sort()
    plan.status_forget.sort()
    return plan


def _merge_flags(plan: Plan, uid: int, record: StatusRecord, remote_flags: Flags,
                 local_flags: Flags, policy: Mapping[str, SidePolicy]) -> None:
    base = record.flags
    current = {REMOTE: remote_flags, LOCAL: local_flags}
    added = (remote_flags - base) | (local_flags - base)
    removed = (base - remote_flags) | (base - local_flags)
    merged = (base | added) - removed
    final = dict(current)
    for side in SIDES:
        if not policy[side].writable:
            continue
        add, remove = merged - current[side], current[side] - merged
        if add or remove:
            plan.flags_on[side][uid] = (frozenset(add), frozenset(remove))
            final[side] = merged
    # The status records what both sides now share; a read-only side's flags win, so that the
    # writable side's own changes are retried next time instead of being reverted.
    new_status = final[REMOTE] if not policy[REMOTE].writable else final[LOCAL]
    if not policy[LOCAL].writable:
        new_status = final[LOCAL] if policy[REMOTE].writable else base
    if new_status != base:
        plan.status_flags[uid] = dataclasses.replace(record, flags=frozenset(new_status))
