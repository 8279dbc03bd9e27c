"""A local folder that assigns UIDs of its own (IMAP to IMAP), seen by the engine under the
remote's UIDs.

The engine's model has one UID namespace per account, the remote's. When the local side is also
an IMAP server, its messages have other UIDs; :class:`MappedFolder` translates, keeping
OfflineIMAP's mapping file ``<metadata>/Repository-<local>/UIDMapping/<folder>`` (lines
``localuid:remoteuid``), so an OfflineIMAP installation continues as it was.

Crash safety: a message stored locally but not yet in the mapping would be downloaded again. So
before each store, the content hash and the local UIDNEXT are appended to a journal beside the
mapping (``<folder>.pending``); the next listing pairs unmapped local messages at or above that
UIDNEXT with the journal by content, exactly as the engine does for uploads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from offlineimap.errors import CorruptStatusError
from offlineimap.files import write_private
from offlineimap.journal import UploadJournal, content_hash
from offlineimap.repository import Flags, Folder, FolderState, MessageInfo, NewMessage


class MappedFolder(Folder):
    """Wraps a UID-assigning local folder; UIDs in and out are the remote's."""

    assigns_uids = False

    def __init__(self, inner: Folder, map_path: Path, *, fsync: bool) -> None:
        super().__init__(inner.repository, inner.name)
        self.inner = inner
        self.map_path = map_path
        self.fsync = fsync
        self.journal = UploadJournal(map_path.with_name(map_path.name + ".pending"), fsync=fsync)
        self.local_to_remote: dict[int, int] = self._load()
        self.remote_to_local = {r: loc for loc, r in self.local_to_remote.items()}
        self._uidnext: int | None = None
        #: new local messages (no mapping yet), by the negative UID shown to the engine
        self._negative: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"<MappedFolder {self.inner!r}>"

    # -- the mapping file ------------------------------------------------------------------------

    def _load(self) -> dict[int, int]:
        try:
            text = self.map_path.read_text(encoding="ascii")
        except FileNotFoundError:
            return {}
        mapping = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                local, remote = (int(part) for part in line.split(":"))
            except ValueError:
                raise CorruptStatusError(f"{self.map_path} line {number} is not "
                                         f"'localuid:remoteuid': {line[:40]!r}") from None
            mapping[local] = remote
        return mapping

    def _save(self) -> None:
        lines = "".join(f"{local}:{remote}\n" for local, remote in
                        sorted(self.local_to_remote.items()))
        write_private(self.map_path, lines, fsync=self.fsync)

    def _map(self, local: int, remote: int) -> None:
        self.local_to_remote[local] = remote
        self.remote_to_local[remote] = local

    # -- Folder ----------------------------------------------------------------------------------

    def state(self) -> FolderState:
        state = self.inner.state()
        self._uidnext = state.uidnext
        return state

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        listing = self.inner.list_messages()
        changed = False
        for local in [loc for loc in self.local_to_remote if loc not in listing]:
            del self.remote_to_local[self.local_to_remote.pop(local)]
            changed = True
        changed |= self._recover(listing)
        if changed:
            self._save()
        result: dict[int, MessageInfo] = {}
        next_new = -1
        self._negative = {}
        for local, info in sorted(listing.items()):
            remote = self.local_to_remote.get(local)
            if remote is None:
                remote, next_new = next_new, next_new - 1
                self._negative[remote] = local
            result[remote] = info
        return result

    def _recover(self, listing: Mapping[int, MessageInfo]) -> bool:
        """Map local copies stored before a crash let the mapping be written."""
        pending = self.journal.pending()
        if pending is None:
            return False
        watermark, entries = pending
        wanted = {digest: tag for digest, tag in entries if tag is not None}
        candidates = sorted(loc for loc in listing
                            if loc >= watermark and loc not in self.local_to_remote)
        found = False
        for local, body in self.inner.fetch(candidates):
            remote = wanted.pop(content_hash(body), None)
            if remote is not None and remote not in self.remote_to_local:
                self._map(local, remote)
                found = True
        self.journal.clear()
        return found

    def _local(self, uid: int) -> int | None:
        if uid < 0:
            return self._negative.get(uid)
        return self.remote_to_local.get(uid)

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        back = {}
        for uid in uids:
            local = self._local(uid)
            if local is not None:
                back[local] = uid
        for local, body in self.inner.fetch(sorted(back)):
            yield back[local], body

    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        already: list[tuple[int, int]] = []
        self.journal.begin(self._uidnext or 1)

        def outgoing() -> Iterator[NewMessage]:
            for message in messages:
                if message.uid in self.remote_to_local:
                    already.append((message.uid, message.uid))
                    continue
                self.journal.record(message.body, tag=message.uid)
                yield message

        stored = self.inner.save_messages(outgoing())
        for remote, local in stored:
            self._map(local, remote)
        self._save()
        self.journal.clear()
        return already + [(remote, remote) for remote, _ in stored]

    def change_flags(self, changes: Mapping[int, tuple[Flags, Flags]]) -> None:
        translated = {}
        for uid, change in changes.items():
            local = self._local(uid)
            if local is not None:
                translated[local] = change
        self.inner.change_flags(translated)

    def delete_messages(self, uids: Sequence[int]) -> None:
        locals_ = [loc for loc in (self._local(uid) for uid in uids) if loc is not None]
        self.inner.delete_messages(locals_)
        for local in locals_:
            remote = self.local_to_remote.pop(local, None)
            if remote is not None:
                self.remote_to_local.pop(remote, None)
        self._save()

    def change_uid(self, old_uid: int, new_uid: int) -> None:
        local = self._local(old_uid)
        if local is None:
            raise KeyError(f"{self!r}: no message {old_uid}")
        self._map(local, new_uid)
        self._save()

    def close(self) -> None:
        self.journal.close()
        self.inner.close()
