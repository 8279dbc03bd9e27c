"""Folders of the Gmail and GmailMaildir repositories: labels on top of IMAP and Maildir.

With ``synclabels = yes`` in the account, as in OfflineIMAP 8:

* a Gmail folder lists ``X-GM-LABELS`` with the messages, and every message it hands out carries
  them in the ``labelsheader`` line (one header line set in the raw bytes, ignored labels left
  out), so a message arrives in any local Maildir with its labels;
* a message uploaded to Gmail gets the labels of its header with ``STORE +X-GM-LABELS``;
* once the engine has synced a folder pair, a GmailMaildir folder merges label changes made on
  either side since the last sync (:mod:`offlineimap_gmail.labelsync`) and writes them to both.

Each folder of a pair finds the other through :mod:`offlineimap_gmail.pairing`. A Gmail folder
lists ``X-GM-MSGID`` with its messages and, paired with a GmailMaildir folder, reads a body from
a file the account already stored for another label instead of downloading it again
(:mod:`offlineimap_gmail.copies`); the GmailMaildir folder records the files it stores.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from offlineimap.repository import NewMessage
from offlineimap.status import status_file_name
from offlineimap_gmail import copies, labelsync
from offlineimap_gmail.labels import from_wire, read_labels, set_header, wire_list
from offlineimap_gmail.pairing import pairing
from offlineimap_imap import protocol, uidset
from offlineimap_imap.folder import LISTING_ITEMS, IMAPFolder
from offlineimap_maildir.folder import MaildirFolder
from offlineimap_maildir.storage import DirSync, replace_existing, write_new_file

if TYPE_CHECKING:
    from offlineimap.repository import FolderChanges, FolderState, MessageInfo
    from offlineimap_gmail.repository import GmailMaildirRepository, GmailRepository

LabelSet = frozenset[str]


#: The listing also asks for each message's Gmail id (a number: never a literal).
GMAIL_LISTING_ITEMS = LISTING_ITEMS[:-1] + " X-GM-MSGID)"
_UID = re.compile(rb"[( ]UID (\d+)")
_MSGID = re.compile(rb"X-GM-MSGID (\d+)")


def listed_msgids(data: Iterable[object], start: int) -> dict[int, int]:
    """``{uid: X-GM-MSGID}`` from the untagged FETCH lines of a listing (items in any order)."""
    msgids: dict[int, int] = {}
    for line in data:
        if isinstance(line, bytes):
            uid, msgid = _UID.search(line), _MSGID.search(line)
            if uid and msgid and int(uid[1]) >= start:
                msgids[int(uid[1])] = int(msgid[1])
    return msgids


class GmailFolder(IMAPFolder):
    """A Gmail label (or ``[Gmail]/...`` system folder) as an IMAP mailbox."""

    repository: GmailRepository
    listing_items = GMAIL_LISTING_ITEMS
    is_remote = True

    def __init__(self, repository: GmailRepository, name: str, connection: Any) -> None:
        super().__init__(repository, name, connection)
        self.options = repository.labels
        #: uid -> labels (ignored labels left out), from the last listing
        self.labels: dict[int, LabelSet] = {}
        #: uid -> X-GM-MSGID, from the last listing
        self.msgids: dict[int, int] = {}
        #: the GmailMaildir folder this one is synced with, once paired
        self.partner: GmailMaildirFolder | None = None
        #: bodies served from local copies instead of downloaded (for -d and tests)
        self.served_locally = 0

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """Closing first after a folder sync that went through (core closes the folder it
        opened last first), sync the labels while both folders are open; then close."""
        try:
            if exc_type is None and self.partner is not None:
                self.partner.after_sync()
        finally:
            self.close()

    def finish(self, *, after_fetch: bool = False) -> None:
        """Keep the connection: the labels are synced over it when the pair closes."""

    @property
    def server(self) -> str:
        """The Gmail account, as the registry of local copies knows it."""
        settings = self.repository.settings
        return f"{settings.user}@{settings.host}"

    @property
    def copy_header(self) -> str:
        """The header set in every message handed out (``""``: none)."""
        return self.options.labelsheader if self.options.synclabels else ""

    def _read_listing(self, data: list[Any], start: int) -> dict[int, MessageInfo]:
        self.msgids = listed_msgids(data, start)
        return super()._read_listing(data, start)

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        listing = super().list_messages(min_uid=min_uid)
        if self.options.synclabels:
            self.labels = self.current_labels(max(min_uid or 1, 1))
        return listing

    def list_changes(self, since: FolderState) -> FolderChanges | None:
        """Always listed in full: the labels and Gmail ids of every message come with the
        listing (Gmail offers CONDSTORE but not QRESYNC anyway)."""
        return None

    def current_labels(self, start: int = 1) -> dict[int, LabelSet]:
        """``{uid: labels}`` of the messages from UID ``start`` on, asked of the server now."""
        from imapclient.response_parser import parse_fetch_response

        self._select()
        with protocol.guard(self.connection, f"{self.where}: UID FETCH X-GM-LABELS"):
            data = protocol.uid_fetch(self.connection, f"{start}:*", "(UID X-GM-LABELS)")
            lines = [line for line in data if line is not None]
            parsed = parse_fetch_response(lines, normalise_times=False, uid_is_key=True)
        ignore = self.options.ignorelabels
        return {uid: from_wire(item.get(b"X-GM-LABELS", ())) - ignore
                for uid, item in parsed.items() if isinstance(uid, int) and uid >= start}

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """Each message with its labels header set (``synclabels``); read from a verified
        local copy when the account already stored it for another label, else downloaded."""
        header = self.copy_header
        registry = self.partner.repository.copies if self.partner is not None else None
        wanted = {uid: (self.msgids[uid], self.listed_size(uid)) for uid in uids
                  if uid in self.msgids}
        downloads = [uid for uid in uids if uid not in wanted]
        if registry is not None and wanted:
            for uid, body in copies.stored_bodies(registry, self.server, wanted, header,
                                                  downloads):
                self.served_locally += 1
                yield uid, self._labelled(uid, body)
        else:
            downloads = list(uids)
        for uid, body in super().fetch(downloads):
            yield uid, self._labelled(uid, body)

    def listed_size(self, uid: int) -> int | None:
        """The RFC822.SIZE of the last listing."""
        return self._sizes.get(uid)

    def _labelled(self, uid: int, body: bytes) -> bytes:
        if not self.options.synclabels:
            return body
        return set_header(body, self.options.labelsheader, self.labels.get(uid, frozenset()))

    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        """Upload as IMAP does (the bytes unchanged), then give each stored message the
        labels of its header."""
        if not self.options.synclabels:
            return super().save_messages(messages)
        header, ignore = self.options.labelsheader, self.options.ignorelabels
        wanted: dict[int, LabelSet] = {}

        def noting() -> Iterator[NewMessage]:
            for message in messages:
                wanted[message.uid] = read_labels(message.body, header) - ignore
                yield message

        stored = super().save_messages(noting())
        additions: dict[str, set[int]] = {}
        for old, new in stored:
            for label in wanted.get(old, ()):
                additions.setdefault(label, set()).add(new)
        self.store_labels(additions, {})
        return stored

    def close(self) -> None:
        pairing.withdraw(self)
        super().close()

    def store_labels(self, add: Mapping[str, Iterable[int]],
                     remove: Mapping[str, Iterable[int]]) -> None:
        """``UID STORE +X-GM-LABELS`` / ``-X-GM-LABELS``: one command per label and direction
        (and sequence set); ignored labels are never touched."""
        ignore = self.options.ignorelabels
        commands = [(b"+X-GM-LABELS", add), (b"-X-GM-LABELS", remove)]
        if not any(add.values()) and not any(remove.values()):
            return
        connection = self._writable("change labels")
        for operation, by_label in commands:
            for label, uids in sorted(by_label.items()):
                if label in ignore:
                    continue
                for sequence_set in uidset.chunks(uids):
                    with protocol.guard(connection, f"{self.where}: UID STORE X-GM-LABELS"):
                        connection.client._command_and_check(
                            "store", sequence_set, operation, wire_list([label]), uid=True)


class GmailMaildirFolder(MaildirFolder):
    """A Maildir folder whose messages carry their Gmail labels in ``labelsheader``."""

    repository: GmailMaildirRepository
    is_remote = False

    def __init__(self, repository: GmailMaildirRepository, name: str) -> None:
        super().__init__(repository, name)
        #: the Gmail folder this one is synced with, once paired
        self.partner: GmailFolder | None = None
        self._after_sync_done = False

    @property
    def remote(self) -> GmailFolder | None:
        return self.partner

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """After a folder sync that went through, sync the labels (unless the remote folder
        did when it closed); then close."""
        try:
            if exc_type is None:
                self.after_sync()
        finally:
            self.close()

    def close(self) -> None:
        pairing.withdraw(self)
        super().close()

    def after_sync(self) -> None:
        """Sync labels once the engine is done with the pair (once, from whichever folder
        closes first)."""
        if self._after_sync_done:
            return
        self._after_sync_done = True
        labels, ctx = self.repository.labels, self.repository.ctx
        if not labels.synclabels or not self.listed or ctx.dry_run:
            return
        if self.remote is None:
            ctx.events.warning(f"{self!r}: cannot sync labels: synclabels needs a remote "
                               "repository of type Gmail", ctx.account)
            return
        if self.repository.readonly or self.remote.repository.readonly:
            self.debug("a side is readonly: labels not synced")
            return
        self.sync_labels(self.remote)

    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        """Store as Maildir does; then, the files being durable, record in the account's
        registry which file holds which X-GM-MSGID, for the other label folders."""
        remote = self.partner
        if remote is None:
            return super().save_messages(messages)
        header = remote.copy_header
        #: uid -> (X-GM-MSGID, RFC822.SIZE, length and digest of the stored form)
        noted: dict[int, tuple[int, int | None, tuple[int, str]]] = {}

        def noting() -> Iterator[NewMessage]:
            for message in messages:
                msgid = remote.msgids.get(message.uid)
                stored_form = message.body.replace(b"\r\n", b"\n")  # what Maildir writes
                if msgid is not None and copies.recordable(stored_form):
                    noted[message.uid] = (msgid, remote.listed_size(message.uid),
                                          copies.fingerprint(stored_form, header))
                del stored_form
                yield message

        stored = super().save_messages(noting())
        index = self.locations()
        records = []
        for uid, _same in stored:
            if uid in noted and uid in index:
                msgid, wire_size, (size, digest) = noted[uid]
                sub, name = index[uid]
                records.append((msgid, copies.Copy(self.path / sub / name, self.scheme.base(name),
                                                   header, wire_size, size, digest)))
        self.repository.copies.record(remote.server, records)
        return stored

    def sync_labels(self, remote: GmailFolder) -> labelsync.LabelPlan:
        """Merge label changes of both sides since the last pass; return what was done."""
        options = self.repository.labels
        state = labelsync.LabelState(
            self.repository.label_state_dir / status_file_name(remote.name),
            fsync=self.options.fsync)
        base = state.load()
        remote_labels = remote.current_labels()
        local: dict[int, LabelSet] = {}
        mtimes: dict[int, int] = {}
        for uid, (sub, name) in self.locations(reread=True).items():
            if uid not in remote_labels:
                continue
            path = self.path / sub / name
            try:
                mtime = path.stat().st_mtime_ns
                entry = base.get(uid)
                if entry is not None and entry.mtime_ns == mtime:
                    local[uid] = entry.labels
                else:
                    local[uid] = read_labels(path.read_bytes(), options.labelsheader) - (
                        options.ignorelabels)
            except FileNotFoundError:
                continue  # deleted by a mail reader just now: next time
            mtimes[uid] = mtime
        plan = labelsync.plan(base, remote_labels, local)
        remote.store_labels(plan.remote_add, plan.remote_remove)
        mtimes.update(self._write_labels(plan.local_set))
        state.save({uid: labelsync.Entry(labels, mtimes[uid])
                    for uid, labels in plan.agreed.items() if uid in mtimes})
        if plan.remote_changes or plan.local_set:
            ctx = self.repository.ctx
            ctx.events.info(f"{remote.name}: labels changed on {plan.remote_changes} remote and "
                            f"{len(plan.local_set)} local message(s)", ctx.account)
        return plan

    def _write_labels(self, wanted: Mapping[int, LabelSet]) -> dict[int, int]:
        """Give each message's header these labels (ignored labels already there stay), each
        file replaced atomically under its own name; return the new modification times."""
        options = self.repository.labels
        header, ignore = options.labelsheader, options.ignorelabels
        sync = DirSync(self.options.fsync)

        def rewrite(uid: int, sub: str, name: str) -> int:
            path = self.path / sub / name
            with path.open("rb") as file:
                before = os.fstat(file.fileno())  # the very file read: see replace_existing
                body = file.read()
            kept = read_labels(body, header) & ignore
            new_body = set_header(body, header, wanted[uid] | kept)
            while True:
                tmp = self.path / "tmp" / self.scheme.new_name(uid, "")
                try:
                    write_new_file(tmp, new_body, fsync=self.options.fsync)
                    break
                except FileExistsError:
                    continue
            try:
                replace_existing(tmp, path, before.st_ino)
            except FileNotFoundError:
                tmp.unlink(missing_ok=True)
                raise  # renamed by a mail reader: found again and rewritten from its content
            sync.add(self.path / sub)
            if self.options.utime_from_header:
                os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
            return path.stat().st_mtime_ns

        mtimes = dict(self._each_file(sorted(wanted), rewrite))
        sync.flush()
        return mtimes
