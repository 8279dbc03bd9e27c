"""The driver contract: what a repository type and its folders must do for the engine.

A plugin registers a :class:`Repository` subclass under the name users write as ``type = ...``.
The engine never names a driver: it calls these methods and nothing else (mbsync's
``drv[t]->fn(ctx[t])``). Both sides of a sync, remote and local, are the same interface.

Identity of messages. As in OfflineIMAP, one UID namespace is shared by both sides of an account:
the remote server's UIDs. A folder that *assigns* UIDs (an IMAP server) returns the UID it gave a
stored message; a folder that does not (a Maildir) stores the UID it is handed in the message
itself (``,U=<uid>`` in the file name) and lists messages that have none under negative numbers,
unique within one listing. After a message new on the local side is stored remotely, the engine
calls :meth:`Folder.change_uid` so that the local copy carries the remote UID from then on.

Messages are bytes end to end. :meth:`Folder.fetch` returns them in the folder's own line endings;
:meth:`Folder.save_messages` converts to its own (IMAP: CRLF, Maildir: LF) and changes nothing
else: no parsing, no re-serialising.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offlineimap.config import Config, Section
    from offlineimap.events import Events
    from offlineimap.passwords import PasswordRequest

#: Maildir flag letters the engine understands (draft, flagged, passed, replied, seen, trashed).
FLAG_LETTERS = frozenset("DFPRST")

Flags = frozenset[str]


@dataclasses.dataclass(frozen=True, slots=True)
class MessageInfo:
    """What a listing knows about one message without reading its body."""

    flags: Flags
    size: int | None = None
    #: Seconds since the epoch: the IMAP INTERNALDATE, or a Maildir file's delivery time.
    internaldate: float | None = None


@dataclasses.dataclass(slots=True)
class NewMessage:
    """A message handed to :meth:`Folder.save_messages`."""

    #: The UID the source side knows the message by (negative for a new local message).
    uid: int
    body: bytes
    flags: Flags
    internaldate: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FolderState:
    """A cheap summary of a folder, for quick syncs and CONDSTORE: ``None`` where unknown."""

    uidvalidity: int | None = None
    uidnext: int | None = None
    exists: int | None = None
    highestmodseq: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FolderChanges:
    """What changed in a folder since a state an earlier sync recorded: the answer of
    :meth:`Folder.list_changes` (IMAP: CONDSTORE's ``CHANGEDSINCE`` with QRESYNC's ``VANISHED``).
    """

    #: Messages added, or whose flags changed, since then: ``{uid: MessageInfo}``.
    changed: dict[int, MessageInfo]
    #: UIDs expunged since then. It may name more (UIDs expunged earlier, or never known to
    #: the caller), never fewer. Best false when empty (the engine then skips the test).
    vanished: Container[int]
    #: How many messages the folder held when it was listed, where the driver learned it then
    #: (``None``: the count of :meth:`Folder.state` stands).
    exists: int | None = None


@dataclasses.dataclass
class RepositoryContext:
    """Everything core hands a repository driver when it builds one for an account."""

    name: str  #: the repository's name, ``[Repository <name>]``
    section: Section  #: typed view of the repository's config section
    config: Config  #: the whole configuration, for ``[general]`` options such as ``fsync``
    account: str  #: the account this instance serves
    metadata_dir: Path  #: OfflineIMAP's ``metadata`` directory (``~/.offlineimap``)
    events: Events  #: where the driver reports connections, progress and warnings
    get_password: Callable[[PasswordRequest], str]  #: asks the password providers, then the UI
    dry_run: bool = False
    debug: frozenset[str] = frozenset()  #: the ``-d`` debug types
    single_connection: bool = False  #: ``-1``: use one connection, no threads
    #: ``remote`` or ``local``: which side of the account this instance serves. The remote side
    #: is the UID authority; a driver that can serve as remote must then assign UIDs.
    role: str = "local"

    @property
    def repository_metadata_dir(self) -> Path:
        """``<metadata>/Repository-<name>``, where OfflineIMAP keeps per-repository state."""
        return self.metadata_dir / f"Repository-{self.name}"


class Folder(abc.ABC):
    """One mailbox of a repository, opened for one sync.

    A folder object is used by one thread at a time. It may hold a connection from its opening
    until :meth:`close` (or :meth:`finish`).
    """

    #: Whether :meth:`save_messages` decides the UIDs (IMAP) or keeps the ones given (Maildir).
    assigns_uids: bool = False

    def __init__(self, repository: Repository, name: str) -> None:
        self.repository = repository
        #: The folder's name in its own repository, with that repository's separator.
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.repository.name}:{self.name}>"

    @abc.abstractmethod
    def state(self) -> FolderState:
        """Return UIDVALIDITY, UIDNEXT and what else is cheap to learn. Called once per sync,
        before :meth:`list_messages`. A folder without UIDVALIDITY returns ``FolderState()``."""

    @abc.abstractmethod
    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        """List every message of the folder: ``{uid: MessageInfo}``.

        With ``min_uid``, a folder may leave out messages whose UID is lower (``startdate``).
        Called once per sync, after :meth:`state`.
        """

    @abc.abstractmethod
    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """Yield ``(uid, body)`` for each UID, in any order, bodies in the folder's line endings.

        Implementations fetch in batches but yield one message at a time, so the engine can
        stream a folder without holding it in memory. A UID that vanished is skipped.
        """

    @abc.abstractmethod
    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        """Store messages and return ``[(given uid, uid in this folder)]``.

        Everything returned must be *durable* when this returns (written, and fsynced when
        ``[general] fsync`` asks for it): the engine records these UIDs as synced right after.
        A message that could not be stored is left out of the result and reported with
        ``events.warning``. A folder that does not assign UIDs returns each given uid unchanged.
        """

    @abc.abstractmethod
    def change_flags(self, changes: Mapping[int, tuple[Flags, Flags]]) -> None:
        """Apply ``{uid: (flags to add, flags to remove)}``; durable when this returns."""

    @abc.abstractmethod
    def delete_messages(self, uids: Sequence[int]) -> None:
        """Delete these messages (and only these); durable when this returns."""

    def list_changes(self, since: FolderState) -> FolderChanges | None:
        """List only what changed since ``since``, the state :meth:`state` returned at the start
        of the last sync that finished cleanly, or return ``None`` (the default): "cannot tell,
        list me in full".

        Asked by the engine, after :meth:`state` and instead of :meth:`list_messages`, for the
        remote side when the account recorded such a state and the folder was listed in full
        within ``fullsync_every`` hours. The engine rebuilds the full listing from the status
        cache and these changes, and lists in full after all when the result does not count
        :attr:`FolderState.exists` messages. A folder must return ``None`` when ``since`` has a
        different UIDVALIDITY or no HIGHESTMODSEQ.
        """
        return None

    def finish(self, *, after_fetch: bool = False) -> None:  # noqa: B027  (optional hook)
        """The engine will make no more calls on this folder in this sync, except, with
        ``after_fetch``, the one :meth:`fetch` it makes next.

        Said at most once per sync, for the remote side, when the rest of the pair's sync is
        local work: storing what that fetch brings, writing the status. A folder holding
        something the next folder pair needs (a pooled IMAP connection) may give it back now,
        or as soon as that fetch has read its last answer, so that the next pair's listing and
        download overlap this pair's writes. :meth:`close` still follows. The default does
        nothing.
        """

    def change_token(self) -> str | None:
        """A cheap token that differs whenever the folder's messages or flags may have changed.

        Asked by the account before listing, to leave a folder out of a sync when neither side
        changed since its last clean sync. ``None`` (the default) means "cannot tell": the folder
        is then listed. A token must never stay equal across a change: when in doubt, return
        ``None``.
        """
        return None

    def change_uid(self, old_uid: int, new_uid: int) -> None:
        """Give a message the UID the other side assigned it (see the module docstring).

        Only folders that do not assign UIDs are asked; the default refuses.
        """
        raise NotImplementedError(f"{self!r} cannot change message UIDs")

    def close(self) -> None:  # noqa: B027  (optional hook for drivers holding resources)
        """Release the folder's connection or files. Called once, also after errors."""

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class IdleHandle(abc.ABC):
    """A connection of its own watching one folder for changes pushed by the server (IMAP IDLE).

    Returned by :meth:`Repository.idle_connection`; core's :mod:`offlineimap.idle` drives it from
    one thread, in short waits, so that a signal is never left waiting behind it.
    """

    @abc.abstractmethod
    def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds; return whether the server reported a change to the
        folder (new mail, an expunge, a flag change). Raise ``ConnectionFailed`` when the
        connection broke or the server closed it."""

    @abc.abstractmethod
    def renew(self) -> bool:
        """End and re-issue the wait before the server's inactivity timeout (RFC 2177 asks for
        at most 29 minutes); return whether changes were reported meanwhile."""

    @abc.abstractmethod
    def close(self) -> None:
        """End the wait and log out, within a few seconds, never raising."""


class Repository(abc.ABC):
    """A store of folders: one ``[Repository X]`` section, instantiated per account.

    Subclasses set :attr:`sep` (hierarchy separator) once known, which may be after
    :meth:`connect`. Option parsing happens in ``__init__`` so that config errors surface
    before anything connects.
    """

    sep: str = "."

    def __init__(self, ctx: RepositoryContext) -> None:
        self.ctx = ctx
        self.name = ctx.name
        self.readonly = ctx.section.get_bool("readonly", False)
        #: Whether deletions on this side are propagated to the other (``sync_deletes``).
        self.sync_deletes = ctx.section.get_bool("sync_deletes", True)
        #: Whether folders missing on this side may be created here (``createfolders``).
        self.createfolders = ctx.section.get_bool("createfolders", True)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def connect(self) -> None:  # noqa: B027  (drivers without a connection need nothing)
        """Connect and authenticate, raising on failure. Called once before anything else."""

    def close(self) -> None:  # noqa: B027
        """Close every connection. Called once at the end of an account's sync."""

    @property
    def max_connections(self) -> int:
        """How many folders of this repository may be synced at once."""
        return 1

    @abc.abstractmethod
    def list_folders(self) -> list[str]:
        """Return the names of all folders, in this repository's own naming."""

    @abc.abstractmethod
    def open_folder(self, name: str) -> Folder:
        """Return the folder ``name`` ready for one sync (may take a connection)."""

    @abc.abstractmethod
    def create_folder(self, name: str) -> None:
        """Create folder ``name`` (and any parents it needs)."""

    def idle_connection(self, folder: str) -> IdleHandle | None:
        """Open a connection watching ``folder`` (this repository's own name) for pushed changes.

        Optional: the default returns ``None``, "this repository cannot push", and core then
        ignores ``idlefolders`` with a warning. Raises ``ConnectionFailed`` or
        ``AuthenticationError`` like :meth:`connect`; the caller retries with back-off.
        Called from a thread of its own, alongside syncs of the same repository.
        """
        return None

    def folder_states(self) -> dict[str, FolderState] | None:
        """Every folder's :class:`FolderState` at once, without opening the folders (IMAP's
        LIST-STATUS), or ``None`` (the default) when that is not cheaper than opening each.

        Called by the account once per sync, after :meth:`list_folders`. With CONDSTORE a state
        includes ``highestmodseq``, which changes with every flag change and expunge.
        """
        return None

    def delete_folder(self, name: str) -> None:
        """Delete folder ``name`` and its messages (``--delete-folder``). Called only on an
        explicit request; the sync itself never deletes folders. Default: not supported."""
        from offlineimap.errors import FolderError

        raise FolderError(f"the repository {self.name} ({type(self).__name__}) cannot delete "
                          "folders")

    def info(self) -> dict[str, Any]:
        """Facts shown by ``offlineimap --info``: server greeting, capabilities and the like."""
        return {}
