"""Folders of the Gmail and GmailMaildir repositories: labels on top of IMAP and Maildir.

With ``synclabels = yes`` in the account, as in OfflineIMAP 8:

* a Gmail folder lists ``X-GM-LABELS`` with the messages, and every message it hands out carries
  them in the ``labelsheader`` line (one header line set in the raw bytes, ignored labels left
  out), so a message arrives in any local Maildir with its labels;
* a message uploaded to Gmail gets the labels of its header with ``STORE +X-GM-LABELS``;
* once the engine has synced a folder pair, a GmailMaildir folder merges label changes made on
  either side since the last sync (:mod:`offlineimap_gmail.labelsync`) and writes them to both.

The engine hands folders no reference to their counterpart, so the two meet through
:data:`pairing`: core opens the remote folder and then the local one of a pair in the same
thread, and the Gmail repository leaves its folder there for the GmailMaildir repository to take.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from offlineimap.repository import NewMessage
from offlineimap.status import status_file_name
from offlineimap_imap import protocol, uidset
from offlineimap_imap.folder import IMAPFolder
from offlineimap_maildir.folder import MaildirFolder
from offlineimap_maildir.storage import DirSync, write_new_file

from offlineimap_gmail import labelsync
from offlineimap_gmail.labels import from_wire, read_labels, set_header, wire_list

if TYPE_CHECKING:
    from offlineimap.repository import MessageInfo

    from offlineimap_gmail.repository import GmailMaildirRepository, GmailRepository

LabelSet = frozenset[str]


class _Pairing(threading.local):
    """Per thread: the Gmail folder opened last for each account, until its pair takes it."""

    def __init__(self) -> None:
        self.offered: dict[str, GmailFolder] = {}

    def offer(self, account: str, folder: GmailFolder) -> None:
        self.offered[account] = folder

    def take(self, account: str) -> GmailFolder | None:
        return self.offered.pop(account, None)

    def withdraw(self, folder: GmailFolder) -> None:
        """Forget ``folder`` if nobody took it (its local side is not a GmailMaildir)."""
        for account, offered in list(self.offered.items()):
            if offered is folder:
                del self.offered[account]


pairing = _Pairing()


class GmailFolder(IMAPFolder):
    """A Gmail label (or ``[Gmail]/...`` system folder) as an IMAP mailbox."""

    repository: GmailRepository

    def __init__(self, repository: GmailRepository, name: str, connection: Any) -> None:
        super().__init__(repository, name, connection)
        self.options = repository.labels
        #: uid -> labels (ignored labels left out), from the last listing
        self.labels: dict[int, LabelSet] = {}

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        listing = super().list_messages(min_uid=min_uid)
        if self.options.synclabels:
            self.labels = self.current_labels(max(min_uid or 1, 1))
        return listing

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
        if not self.options.synclabels:
            yield from super().fetch(uids)
            return
        header = self.options.labelsheader
        for uid, body in super().fetch(uids):
            yield uid, set_header(body, header, self.labels.get(uid, frozenset()))

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

    def __init__(self, repository: GmailMaildirRepository, name: str) -> None:
        super().__init__(repository, name)
        #: the Gmail folder this one is synced with (set by the repository), if any
        self.remote: GmailFolder | None = None

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """After a folder sync that went through, sync the labels; then close."""
        try:
            if exc_type is None:
                self._after_sync()
        finally:
            self.close()

    def _after_sync(self) -> None:
        labels, ctx = self.repository.labels, self.repository.ctx
        if not labels.synclabels or self._index is None or ctx.dry_run:
            return
        if self.remote is None:
            ctx.events.warning(f"{self!r}: cannot sync labels: synclabels needs a remote "
                               "repository of type Gmail", ctx.account)
            return
        if self.repository.readonly or self.remote.repository.readonly:
            self.debug("a side is readonly: labels not synced")
            return
        self.sync_labels(self.remote)

    def sync_labels(self, remote: GmailFolder) -> labelsync.LabelPlan:
        """Merge label changes of both sides since the last pass; return what was done."""
        options = self.repository.labels
        state = labelsync.LabelState(
            self.repository.label_state_dir / status_file_name(remote.name),
            fsync=self.options.fsync)
        base = state.load()
        remote_labels = remote.current_labels()
        self._index = self._scan(None, want_infos=False)[0]
        local: dict[int, LabelSet] = {}
        mtimes: dict[int, int] = {}
        for uid, (sub, name) in self._index.items():
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
            body = path.read_bytes()
            kept = read_labels(body, header) & ignore
            new_body = set_header(body, header, wanted[uid] | kept)
            before = path.stat()
            while True:
                tmp = self.path / "tmp" / self.scheme.new_name(uid, "")
                try:
                    write_new_file(tmp, new_body, fsync=self.options.fsync)
                    break
                except FileExistsError:
                    continue
            os.replace(tmp, path)
            sync.add(self.path / sub)
            if self.options.utime_from_header:
                os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
            return path.stat().st_mtime_ns

        mtimes = dict(self._each_file(sorted(wanted), rewrite))
        sync.flush()
        return mtimes
