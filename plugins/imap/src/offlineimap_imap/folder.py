"""An IMAP mailbox opened for one sync, on a connection borrowed from the repository's pool.

Round trips are the cost that matters on a network, so each operation is a handful of commands
whatever the number of messages: one ``UID FETCH`` lists the folder, bodies come in batches
bounded by count and bytes, uploads are pipelined, flag changes are one ``UID STORE`` per
distinct flag set, and deletions one ``UID STORE`` plus one ``UID EXPUNGE`` per sequence set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from offlineimap.errors import ConnectionFailed, FolderError, UIDValidityError
from offlineimap.repository import (
    Flags,
    Folder,
    FolderChanges,
    FolderState,
    MessageInfo,
    NewMessage,
)
from offlineimap_imap import flags as flagmap
from offlineimap_imap import protocol, responses, uidset

if TYPE_CHECKING:
    from offlineimap_imap.connection import Connection
    from offlineimap_imap.repository import IMAPRepository

#: Body download batches: at most this many messages or (by listed size) bytes per UID FETCH.
FETCH_BATCH_MESSAGES = 500
FETCH_BATCH_BYTES = 16 * 1024 * 1024
_T = TypeVar("_T")
LISTING_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE)"


class IMAPFolder(Folder):
    """One mailbox; holds its connection from :meth:`IMAPRepository.open_folder` to close()."""

    assigns_uids = True
    #: The items of the listing's ``UID FETCH``; a subclass asking for more reads them from the
    #: answer in :meth:`_read_listing`, still in one round trip.
    listing_items = LISTING_ITEMS

    def __init__(self, repository: IMAPRepository, name: str, connection: Connection) -> None:
        super().__init__(repository, name)
        self.repository: IMAPRepository = repository
        self._connection: Connection | None = connection
        self._uidvalidity: int | None = None
        self._sizes: dict[int, int] = {}
        #: the folder's state from the repository's LIST-STATUS of this sync, used once by
        #: :meth:`state` instead of a SELECT of its own (which then rides with the listing)
        self.listed_state: FolderState | None = None
        #: :meth:`finish` said the next fetch is the last call: give the connection back as soon
        #: as its last answer is read
        self._release_after_fetch = False

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise FolderError(f"{self.where}: folder already closed")
        return self._connection

    @property
    def where(self) -> str:
        return f"[Repository {self.repository.name}] folder {self.name}"

    def _select(self, *, force: bool = False) -> dict[bytes, object]:
        connection = self.connection
        readonly = self.repository.readonly
        if not force and connection.selected == (self.name, readonly):
            return {}
        connection.selected = None
        with protocol.guard(connection, f"{self.where}: SELECT"):
            answer = connection.client.select_folder(self.name, readonly=readonly)
        connection.selected = (self.name, readonly)
        return answer

    def _writable(self, what: str) -> Connection:
        if self.repository.readonly:
            raise FolderError(f"{self.where}: cannot {what}: the repository is readonly")
        self._select()
        return self.connection

    def _warn(self, message: str) -> None:
        ctx = self.repository.ctx
        ctx.events.warning(message, account=ctx.account)

    def _reading(self, read: Callable[[], _T]) -> _T:
        """Run a read-only command; after a lost connection, once more on a fresh one.

        A read changes nothing on the server, so repeating it is safe. Writes are never
        repeated here: the next sync finishes them (the engine's journal and status decide).
        """
        try:
            return read()
        except ConnectionFailed as exc:
            if self._connection is None or not self._connection.broken:
                raise
            self._warn(f"{exc}; reconnecting to try once more")
            self._reconnect()
            return read()

    def _reconnect(self) -> None:
        """Swap the broken connection for a fresh one and select this folder again."""
        broken, self._connection = self._connection, None
        self._connection = (self.repository.pool.acquire() if broken is None
                            else self.repository.pool.replace(broken))
        answer = self._select(force=True)
        uidvalidity = answer.get(b"UIDVALIDITY")
        if self._uidvalidity is not None and isinstance(uidvalidity, int):
            self._check_uidvalidity(uidvalidity)

    # -- the driver contract ----------------------------------------------------------------

    def state(self) -> FolderState:
        listed, self.listed_state = self.listed_state, None
        if listed is not None and listed.uidvalidity is not None:
            self._uidvalidity = listed.uidvalidity
            self.connection.selected = None  # the listing SELECTs, in the same round trip
            return listed
        answer = self._reading(lambda: self._select(force=True))

        def number(key: bytes) -> int | None:
            value = answer.get(key)
            return value if isinstance(value, int) else None

        self._uidvalidity = number(b"UIDVALIDITY")
        return FolderState(uidvalidity=self._uidvalidity, uidnext=number(b"UIDNEXT"),
                           exists=number(b"EXISTS"), highestmodseq=number(b"HIGHESTMODSEQ"))

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        start = max(min_uid or 1, 1)

        def read() -> protocol.ListingAnswer:
            with protocol.guard(self.connection, f"{self.where}: UID FETCH"):
                return self._fetch_listing(start=start)

        return self._listed(self._reading(read).data, start)

    def _fetch_listing(self, **options: Any) -> protocol.ListingAnswer:
        """The listing command, with the SELECT in the same round trip when still needed."""
        connection = self.connection
        wanted = (self.name, self.repository.readonly)
        select = connection.selected != wanted
        if select:
            connection.selected = None  # until the SELECT is known to have worked
        answer = protocol.fetch_listing(connection, self.listing_items,
                                        select=wanted if select else None, **options)
        if select:
            connection.selected = wanted
            uidvalidity = answer.selected.get("UIDVALIDITY")
            if uidvalidity is not None:
                self._check_uidvalidity(uidvalidity)
        return answer

    def list_changes(self, since: FolderState) -> FolderChanges | None:
        """One ``UID FETCH 1:* (...) (CHANGEDSINCE m VANISHED)``: the lines of messages new or
        re-flagged since HIGHESTMODSEQ ``m`` and the UIDs expunged since, instead of a line for
        every message. Needs QRESYNC; a server refusing the command is listed in full."""
        from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

        connection = self.connection
        if (since.highestmodseq is None or since.uidvalidity != self._uidvalidity
                or not connection.has("QRESYNC")):
            return None

        def read() -> protocol.ListingAnswer | None:
            with protocol.guard(self.connection, f"{self.where}: UID FETCH CHANGEDSINCE"):
                try:
                    return self._fetch_listing(changedsince=since.highestmodseq)
                except IMAPClientAbortError:
                    raise
                except IMAPClientError as exc:
                    self.repository.ctx.events.debug(
                        "imap", f"{self.where}: {protocol.first_line(exc)}: listing in full")
                    return None

        answer = self._reading(read)
        if answer is None:
            return None
        try:
            vanished = uidset.UIDRanges.parse(answer.vanished)
        except ValueError as exc:
            raise FolderError(f"{self.where}: malformed VANISHED answer from the server: "
                              f"{exc}") from None
        return FolderChanges(changed=self._listed(answer.data, 1), vanished=vanished,
                             exists=answer.exists)

    def _listed(self, data: list[Any], start: int) -> dict[int, MessageInfo]:
        """:meth:`_read_listing`, keeping the sizes that bound the download batches."""
        listing = self._read_listing(data, start)
        self._sizes = {uid: info.size for uid, info in listing.items() if info.size is not None}
        return listing

    def _read_listing(self, data: list[Any], start: int) -> dict[int, MessageInfo]:
        """The listing from the untagged FETCH data of :attr:`listing_items`."""
        return responses.parse_listing(data, min_uid=start)

    def _batches(self, uids: Sequence[int]) -> Iterator[list[int]]:
        batch: list[int] = []
        size = 0
        for uid in sorted(set(uids)):
            message_size = self._sizes.get(uid, 0)
            if batch and (len(batch) >= FETCH_BATCH_MESSAGES
                          or size + message_size > FETCH_BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(uid)
            size += message_size
        if batch:
            yield batch

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        self._select()
        release = self._release_after_fetch
        # (UIDs still wanted from the batch, one of its sequence sets): a batch can need several.
        requests: list[tuple[set[int], str]] = []
        for batch in self._batches(uids):
            wanted = set(batch)
            requests += [(wanted, sequence_set) for sequence_set in uidset.chunks(batch)]
        for number, (wanted, sequence_set) in enumerate(requests, 1):
            def read(sequence_set: str = sequence_set) -> list[tuple[int, bytes | None]]:
                with protocol.guard(self.connection, f"{self.where}: UID FETCH BODY"):
                    data = protocol.uid_fetch(self.connection, sequence_set,
                                              "(UID BODY.PEEK[])")
                bodies = responses.parse_bodies(data)
                if bodies is None:  # an unusual answer: the general parser reads it
                    return responses.parse_fetch_generally(data)
                return bodies

            bodies = self._reading(read)
            if release and number == len(requests):
                self.close()  # the last answer is in: the next folder may have the connection
            for uid, body in sorted(bodies, key=lambda pair: pair[0]):
                if uid in wanted and isinstance(body, bytes):
                    wanted.discard(uid)
                    yield uid, body
            del bodies

    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        connection = self._writable("store messages")
        # Without UIDPLUS the new UIDs are found afterwards, among those from UIDNEXT on.
        floor = None if connection.has("UIDPLUS") else self._uidnext()
        uploads = (
            protocol.Upload(message, protocol.to_crlf(message.body),
                            flagmap.flag_list(message.flags),
                            None if message.internaldate is None
                            else responses.format_internaldate(message.internaldate))
            for message in messages
        )
        stored: list[tuple[int, int]] = []
        unresolved: list[NewMessage] = []
        with protocol.guard(connection, f"{self.where}: APPEND"):
            for answer in protocol.append_messages(connection, self.name, uploads):
                message = answer.key
                if not answer.stored:
                    self._warn(f"{self.where}: message {message.uid} not stored: {answer.text}")
                elif answer.uid is None:
                    unresolved.append(message)
                else:
                    self._check_uidvalidity(answer.uidvalidity)
                    stored.append((message.uid, answer.uid))
        if unresolved:
            stored.extend(self._search_appended(unresolved, floor or 1))
        return stored

    def _check_uidvalidity(self, uidvalidity: int | None) -> None:
        if self._uidvalidity is not None and uidvalidity != self._uidvalidity:
            raise UIDValidityError(f"{self.where}: UIDVALIDITY changed from {self._uidvalidity} "
                                   f"to {uidvalidity} during the sync")

    def _uidnext(self) -> int:
        uidnext = self.state().uidnext
        if uidnext is None:
            raise FolderError(f"{self.where}: the server announces neither UIDPLUS nor UIDNEXT: "
                              "cannot learn the UIDs of uploaded messages")
        return uidnext

    def _search_appended(self, messages: list[NewMessage], floor: int) -> list[tuple[int, int]]:
        """UIDs of messages just appended to a server without UIDPLUS, by Message-ID.

        Like OfflineIMAP's header search, but with the message's own Message-ID among UIDs
        from the pre-upload UIDNEXT on, so the bytes stay untouched. A message whose UID stays
        ambiguous is reported and left out (the next sync will see it as new on this side).
        """
        self._select(force=True)
        client = self.connection.client
        found: list[tuple[int, int]] = []
        claimed: set[int] = set()
        for message in messages:
            message_id = responses.message_id(message.body)
            criteria: list[object] = ["UID", f"{floor}:*"]
            if message_id:
                criteria += ["HEADER", "Message-ID", message_id]
            with protocol.guard(self.connection, f"{self.where}: UID SEARCH"):
                hits = [uid for uid in client.search(criteria)
                        if uid >= floor and uid not in claimed]
            if len(hits) == 1:
                claimed.add(hits[0])
                found.append((message.uid, hits[0]))
            else:
                self._warn(f"{self.where}: message {message.uid} was stored but its UID is "
                           "ambiguous without UIDPLUS; it may be copied back once")
        return found

    def change_flags(self, changes: Mapping[int, tuple[Flags, Flags]]) -> None:
        connection = self._writable("change flags")
        for operation, flag_set, uids in _flag_commands(changes):
            flag_list = flagmap.flag_list(flag_set)
            if flag_list == b"()":
                continue
            for sequence_set in uidset.chunks(uids):
                with protocol.guard(connection, f"{self.where}: UID STORE"):
                    connection.client._command_and_check(
                        "store", sequence_set, operation, flag_list, uid=True)

    def delete_messages(self, uids: Sequence[int]) -> None:
        if not uids:
            return
        connection = self._writable("delete messages")
        client = connection.client
        for sequence_set in uidset.chunks(uids):
            with protocol.guard(connection, f"{self.where}: UID STORE \\Deleted"):
                client._command_and_check(
                    "store", sequence_set, b"+FLAGS.SILENT", b"(\\Deleted)", uid=True)
            if connection.has("UIDPLUS"):
                with protocol.guard(connection, f"{self.where}: UID EXPUNGE"):
                    client._command_and_check("expunge", sequence_set, uid=True)
        if not connection.has("UIDPLUS") and self.repository.expunge:
            # Without UID EXPUNGE this also removes other clients' \Deleted messages; the
            # user allowed it with expunge = yes, as in OfflineIMAP.
            with protocol.guard(connection, f"{self.where}: EXPUNGE"):
                client.expunge()

    def finish(self, *, after_fetch: bool = False) -> None:
        if after_fetch:
            self._release_after_fetch = True
        else:
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self.repository.release_connection(connection)


def _flag_commands(changes: Mapping[int, tuple[Flags, Flags]],
                   ) -> list[tuple[bytes, frozenset[str], list[int]]]:
    """``(+FLAGS.SILENT or -FLAGS.SILENT, flags, uids)``, as few commands as possible.

    UIDs are grouped per flag, then flags that apply to exactly the same UIDs share a command:
    at most one command per flag and direction, usually one per distinct change.
    """
    commands = []
    for operation, index in ((b"+FLAGS.SILENT", 0), (b"-FLAGS.SILENT", 1)):
        by_flag: dict[str, set[int]] = {}
        for uid, change in changes.items():
            for letter in change[index]:
                by_flag.setdefault(letter, set()).add(uid)
        by_uids: dict[frozenset[int], set[str]] = {}
        for letter, uids in by_flag.items():
            by_uids.setdefault(frozenset(uids), set()).add(letter)
        for uids, letters in sorted(by_uids.items(), key=lambda item: sorted(item[1])):
            commands.append((operation, frozenset(letters), sorted(uids)))
    return commands
