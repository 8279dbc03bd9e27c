"""Label sync between a Gmail folder and a GmailMaildir folder: a three-way merge per message.

The engine of core syncs flags only, so labels get their own pass, run by the GmailMaildir folder
when the engine has finished with the folder pair (see :mod:`offlineimap_gmail.folder`). Its
base is what both sides agreed on after the last pass, kept per folder in
``<metadata>/Account-<account>/GmailLabels/<folder>`` (:class:`LabelState`) until the engine
can keep labels in the status cache (``StatusRecord.labels``/``mtime``; see the README).

Per message on both sides, with ``B`` the base, ``R`` the remote labels and ``L`` the labels in
the local header (ignored labels left out of all three): additions from either side are added,
removals from either side removed, and both sides are given the result. A local file whose
modification time equals the one recorded with the base is not read: its labels are the base.
Without a base (first pass for a message) the base is what both sides share, so nothing is lost.

Order, for kill -9 at any point: remote STOREs, then local rewrites (each an atomic rename),
then the base. Interrupted, the next pass sees each side's change again and merges it the same way.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

LabelSet = frozenset[str]
FORMAT = "offlineimap-gmail labels 1"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    labels: LabelSet
    mtime_ns: int  #: the local file's modification time when ``labels`` were agreed


class LabelState:
    """The label base of one folder pair, read once and written atomically."""

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync

    def load(self) -> dict[int, Entry]:
        """The saved base; an unreadable file counts as none (the merge then keeps every
        label either side has, so nothing is lost)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}
        entries = {}
        for uid, (mtime, labels) in data.get("messages", {}).items():
            entries[int(uid)] = Entry(frozenset(labels), int(mtime))
        return entries

    def save(self, entries: Mapping[int, Entry]) -> None:
        """Replace the base with ``entries`` (write to a temporary file, fsync, rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {"format": FORMAT, "messages": {
            str(uid): [entry.mtime_ns, sorted(entry.labels)]
            for uid, entry in sorted(entries.items())}}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
            if self.fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def merge(base: LabelSet | None, remote: LabelSet, local: LabelSet) -> LabelSet:
    """The labels both sides should have: each side's additions and removals applied."""
    if base is None:
        base = remote & local
    added = (remote - base) | (local - base)
    removed = (base - remote) | (base - local)
    return frozenset((base | added) - removed)


@dataclasses.dataclass
class LabelPlan:
    """What one pass changes."""

    #: label -> UIDs to give it on the remote side / to take it from
    remote_add: dict[str, set[int]] = dataclasses.field(default_factory=dict)
    remote_remove: dict[str, set[int]] = dataclasses.field(default_factory=dict)
    #: uid -> the labels its local header must hold
    local_set: dict[int, LabelSet] = dataclasses.field(default_factory=dict)
    #: uid -> the agreed labels, for the new base
    agreed: dict[int, LabelSet] = dataclasses.field(default_factory=dict)

    @property
    def remote_changes(self) -> int:
        return len(set().union(*self.remote_add.values(), *self.remote_remove.values()))


def plan(base: Mapping[int, Entry], remote: Mapping[int, LabelSet],
         local: Mapping[int, LabelSet]) -> LabelPlan:
    """Compare the labels of messages present on both sides with the base."""
    result = LabelPlan()
    for uid in sorted(remote.keys() & local.keys()):
        entry = base.get(uid)
        agreed = merge(entry.labels if entry else None, remote[uid], local[uid])
        result.agreed[uid] = agreed
        for label in agreed - remote[uid]:
            result.remote_add.setdefault(label, set()).add(uid)
        for label in remote[uid] - agreed:
            result.remote_remove.setdefault(label, set()).add(uid)
        if agreed != local[uid]:
            result.local_set[uid] = agreed
    return result
