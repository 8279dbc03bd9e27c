"""One Maildir folder: list, read, store, flag, delete and re-number its message files.

A message is one file in ``cur/`` or ``new/``; its name carries its UID and flags (see
:mod:`offlineimap_maildir.names`). Every change is an atomic rename, unlink or a file created in
``tmp/`` and renamed, and nothing is reported done before it is durable: with ``[general] fsync``
on, each file is fsynced before its rename and each changed directory once per call. New messages
are stored in chunks whose fsyncs run together in the background (see :meth:`save_messages`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, TypeVar

from offlineimap.errors import FolderError, MessageError
from offlineimap.repository import FLAG_LETTERS, Flags, Folder, FolderState, MessageInfo, NewMessage
from offlineimap_maildir import names
from offlineimap_maildir.storage import DirSync, FsyncPool, clean_tmp, write_new_file

if TYPE_CHECKING:
    from offlineimap_maildir.repository import MaildirRepository

T = TypeVar("T")
#: Seconds a directory must have been left alone before its mtime is trusted as a change token
#: (file systems stamp with a coarse clock: two changes in one tick share an mtime).
SETTLE = 0.2
#: Where a message lives: ``("cur" or "new", file name)``.
Location = tuple[str, str]
#: Errors that concern the whole disk, not one message: stop storing instead of warning per file.
_DISK_ERRORS = {getattr(errno, name, -1) for name in ("ENOSPC", "EDQUOT", "EROFS", "EIO")}
#: A chunk of :meth:`MaildirFolder.save_messages`: this many messages (or bytes) are written to
#: tmp/ (their fsyncs running meanwhile), then renamed once all are durable. Each chunk drains
#: the fsync pipeline once; smaller ones put mail in place sooner and lose less work to an
#: interruption.
CHUNK_MESSAGES = 128
CHUNK_BYTES = 16 * 1024 * 1024
_NAME = attrgetter("name")
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _letters(flags: Iterable[str], uid: int) -> frozenset[str]:
    """The flags as Maildir letters; anything else is an engine bug, refused loudly."""
    result = frozenset(flags)
    if not result <= _ASCII_LETTERS:
        raise ValueError(f"message {uid}: Maildir flags are single letters, got {sorted(result)}")
    return result


class MaildirFolder(Folder):
    """A folder of a :class:`~offlineimap_maildir.repository.MaildirRepository`."""

    assigns_uids = False
    repository: MaildirRepository

    def __init__(self, repository: MaildirRepository, name: str) -> None:
        super().__init__(repository, name)
        self.path = repository.folder_path(name)
        self._path_text = os.fspath(self.path)
        self._sub_paths = {sub: self.path / sub for sub in ("cur", "new")}
        self.options = repository.options
        self.scheme = names.NameScheme(names.folder_md5(repository.visible_name(name)),
                                       self.options.infosep)
        self._events = repository.ctx.events
        #: the last reading of cur/ and new/ (kept up to date by this folder's own writes);
        #: ``None`` until this sync first reads them
        self._found: _Found | None = None
        #: new local messages (no UID of ours) keep their negative number for this folder
        #: object's life, keyed by the name without flags, even across rescans.
        self._negative: dict[str, int] = {}

    def debug(self, message: str) -> None:
        self._events.debug("maildir", f"{self!r}: {message}")

    # ---------------------------------------------------------------------------------------
    # Reading
    # ---------------------------------------------------------------------------------------

    def state(self) -> FolderState:
        """Maildir has no UIDVALIDITY: the UIDs in the names are the remote's."""
        return FolderState()

    def change_token(self) -> str | None:
        """The modification times of cur/ and new/: every message added, removed, or re-flagged
        (a rename) changes one of them. A directory changed less than :data:`SETTLE` seconds ago
        could change again within the same clock tick, so then the answer is "cannot tell"."""
        stamps = []
        now = time.time_ns()
        for sub in ("cur", "new"):
            try:
                mtime = os.stat(self.path / sub).st_mtime_ns
            except OSError:
                return None
            if now - mtime < SETTLE * 1_000_000_000:
                return None
            stamps.append(str(mtime))
        return "maildir:" + ":".join(stamps)

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        repository = self.repository
        if not (repository.ctx.dry_run or repository.readonly):
            removed = clean_tmp(self.path / "tmp", self.scheme.writer_of, self.scheme.host)
            if removed:
                self.debug(f"removed {len(removed)} leftover files from tmp/: {removed!r}")
        found = self._found = self._read_dirs(min_uid, want_infos=True)
        self.debug(f"listed {len(found.infos)} messages ({found.new_local} new local)")
        return found.infos

    @property
    def listed(self) -> bool:
        """Whether this sync has read the folder's files yet (a listing, or a look-up of where
        a message is). For drivers built on this one, like GmailMaildir."""
        return self._found is not None

    def locations(self, *, reread: bool = False) -> dict[int, Location]:
        """UID -> ``(sub, name)`` of each message file with a UID, as the last reading of the
        folder found them and this folder's own writes changed them since; read now when this
        sync has not read the folder yet, or when ``reread``. After a listing the mapping is
        only worked out when first asked for: a quick sync's listing that finds nothing changed
        never needs it."""
        if reread or self._found is None:
            self._found = self._read_dirs(None, want_infos=False)
        return self._found.index()

    def _read_dirs(self, min_uid: int | None, want_infos: bool) -> _Found:
        """Read cur/ and new/ by name only (no per-file stat unless a name lacks a timestamp,
        or ``maxsize`` needs sizes). Dotfiles, directories and the like are passed over."""
        listed = {sub: self._file_names(sub) for sub in ("cur", "new")}
        found = _Found(min_uid, want_infos)
        # Sizes (maxsize) take a stat per file: then reading the names one by one costs little.
        if not (want_infos and self.options.want_sizes) and found.add_usual(self.scheme, listed):
            return found
        for sub, names_ in listed.items():
            found.add_each(self, sub, names_)
        self._number_new_local(found)
        return found

    def _file_names(self, sub: str) -> list[str]:
        """The names of the files (or links to files) in ``sub``."""
        with self._open_dir(sub) as entries:
            try:
                return list(map(_NAME, filter(os.DirEntry.is_file, entries)))
            except OSError:
                # The type took a stat (a link, or a file system that leaves it to one) that
                # failed: read again, checking entry by entry.
                pass
        with self._open_dir(sub) as entries:
            return [entry.name for entry in entries if _is_file(entry)]

    def _open_dir(self, sub: str) -> AbstractContextManager[Iterator[os.DirEntry[str]]]:
        try:
            return os.scandir(self.path / sub)
        except FileNotFoundError:
            raise FolderError(f"{self!r}: {self.path / sub} is missing: this is no longer a "
                              f"Maildir folder") from None
        except OSError as exc:
            raise FolderError(f"{self!r}: cannot read {self.path / sub}: "
                              f"{exc.strerror}") from None

    def _with_stat(self, sub: str, name: str, flags: Flags, date: float | None
                   ) -> MessageInfo | None:
        """The listing entry with the file's size, and its mtime for a missing ``date``
        (``None`` if the file just vanished)."""
        try:
            stat = os.stat(f"{self._path_text}/{sub}/{name}")
        except FileNotFoundError:
            return None
        return MessageInfo(flags, stat.st_size, stat.st_mtime if date is None else date)

    def _number_new_local(self, found: _Found) -> None:
        """Give each file without our UID a negative UID, stable for this folder object.

        Its date is the file's mtime, what OfflineIMAP hands the server as INTERNALDATE.
        """
        found.unnumbered.sort(key=itemgetter(1))
        index, lowest = found.index(), min(self._negative.values(), default=0)
        for sub, name in found.unnumbered:
            key = self.scheme.base(name)
            uid = self._negative.get(key)
            if uid is None or uid in index:
                lowest -= 1
                uid = self._negative[key] = lowest
            index[uid] = (sub, name)
            if found.want_infos:
                info = self._with_stat(sub, name, found.flags(self.scheme.flag_chars(name)), None)
                if info is not None:
                    found.infos[uid] = info
                    found.new_local += 1

    def _warn_duplicate(self, uid: int, kept: Location, other: Location) -> None:
        self._events.warning(
            f"{self!r}: {other[0]}/{other[1]} has UID {uid} like {kept[0]}/{kept[1]}; "
            f"it is ignored until one of the two is removed or renamed",
            self.repository.ctx.account)

    def _each_file(self, uids: Iterable[int],
                   operation: Callable[[int, str, str], T]) -> Iterator[tuple[int, T]]:
        """Apply ``operation(uid, sub, name)`` to each message file. A file renamed behind
        our back is found again by at most one rescan per call; a message gone is skipped."""
        rescanned = False
        for uid in uids:
            while True:
                location = self.locations().get(uid)
                try:
                    if location is None:
                        raise FileNotFoundError(uid)
                    yield uid, operation(uid, *location)
                    break
                except FileNotFoundError:
                    if rescanned:
                        self.debug(f"message {uid} is gone; skipped")
                        break
                    # A mail reader renamed it (a flag change, new/ -> cur/): look again.
                    self.debug("a message file moved; reading the folder again")
                    self.locations(reread=True)
                    rescanned = True

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """Yield each message's bytes as stored (LF line endings)."""
        return self._each_file(uids, self._read)

    def _read(self, uid: int, sub: str, name: str) -> bytes:
        try:
            return (self.path / sub / name).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise MessageError(f"{self!r}: cannot read message {uid} ({sub}/{name}): "
                               f"{exc.strerror}") from None

    # ---------------------------------------------------------------------------------------
    # Writing
    # ---------------------------------------------------------------------------------------

    def _check_writable(self, what: str) -> None:
        if self.repository.readonly:
            raise FolderError(f"{self!r}: the repository is readonly: not {what}")

    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        """Store messages in chunks, each made durable before it is put in place, and return
        ``[(uid, uid)]``.

        Each body is written to tmp/ as it arrives (none is held: the engine's bodies come one
        by one from the network), and its fsync starts in the background (:class:`FsyncPool`).
        Every :data:`CHUNK_MESSAGES` messages or :data:`CHUNK_BYTES` bytes, and at the end,
        :meth:`_publish` waits until the chunk's files are durable and renames each into cur/
        (seen) or new/ (unseen); the directories are fsynced once before this returns. A kill
        -9 before a rename leaves a file in tmp/, never reported, which the next listing
        removes (:func:`clean_tmp`).

        A UID already present in the folder is not written twice: that is how a crash after
        the rename but before the status write costs nothing on the next run (its flags are
        set as given, as OfflineIMAP does)."""
        self._check_writable("storing messages")
        sync = DirSync(self.options.fsync)
        stored: list[tuple[int, int]] = []
        chunk: dict[int, Location] = {}  # uid -> its file in tmp/, still to be renamed
        size = 0
        with FsyncPool(self.options.fsync) as fsyncs:
            try:
                for message in messages:
                    uid = message.uid
                    if uid <= 0:
                        raise ValueError(f"{self!r}: cannot store message {uid}: a Maildir "
                                         f"keeps the UID it is given and cannot assign one")
                    flags = _letters(message.flags, uid)
                    # A full chunk is put in place; so is one holding this UID already, so
                    # that a UID given twice finds its first copy in place.
                    if uid in chunk or len(chunk) >= CHUNK_MESSAGES or size >= CHUNK_BYTES:
                        disk_full = self._publish(chunk, fsyncs, sync, stored)
                        chunk, size = {}, 0
                        if disk_full:
                            break
                    if uid in self.locations():
                        setter = self._flag_setter(lambda _old, wanted=flags: wanted, sync)
                        if any(True for _ in self._each_file([uid], setter)):
                            self.debug(f"message {uid} is already here; not stored twice")
                            stored.append((uid, uid))
                            continue
                    try:
                        location = chunk[uid] = self._write_tmp(uid, message.body, flags)
                    except OSError as exc:
                        if self._not_stored(uid, exc):
                            break
                        continue
                    fsyncs.add(f"{self._path_text}/tmp/{location[1]}")
                    size += len(message.body)
                self._publish(chunk, fsyncs, sync, stored)
            except BaseException:
                # Never reported, so never needed: leave no file of a live process in tmp/.
                for _sub, name in chunk.values():
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{self._path_text}/tmp/{name}")
                raise
        sync.flush()
        self.debug(f"stored {len(stored)} messages")
        return stored

    def _not_stored(self, uid: int, exc: OSError) -> bool:
        """Warn that ``uid`` was not stored; whether the error concerns the whole disk."""
        self._events.warning(f"{self!r}: message {uid} not stored: {exc.strerror}",
                             self.repository.ctx.account)
        return exc.errno in _DISK_ERRORS

    def _write_tmp(self, uid: int, body: bytes, flags: frozenset[str]) -> Location:
        """Write ``body`` (CRLF -> LF, slice by slice) to a new file in tmp/, not yet fsynced;
        return where it is to go: ``(cur or new, name)``."""
        date = None
        if self.options.filename_use_mail_timestamp:
            date = names.header_date(body, b"Date") or names.header_date(body, b"Delivery-date")
        mtime = names.header_date(body, b"Date") if self.options.utime_from_header else None
        letters = "".join(sorted(flags))
        # Plain strings, not Path objects: this runs once per message of an initial sync.
        tmp = f"{self._path_text}/tmp/"
        while True:
            name = self.scheme.new_name(uid, letters, date)
            try:
                write_new_file(tmp + name, body, fsync=False, mtime=mtime, crlf_to_lf=True)
                break
            except FileExistsError:
                continue  # a leftover of an earlier run with our pid: take the next number
        return ("cur" if "S" in flags else "new"), name

    def _publish(self, chunk: Mapping[int, Location], fsyncs: FsyncPool, sync: DirSync,
                 stored: list[tuple[int, int]]) -> bool:
        """Wait until the chunk's files in tmp/ are durable, then rename each into place and
        add it to ``stored``; a file that failed either step is removed with a warning.
        Returns whether an error concerned the whole disk (then storing stops).

        No file is renamed before its own fsync succeeded: a rename published before its data
        is on disk could leave an empty message in cur/ after a power cut.
        """
        base = self._path_text
        temps = [f"{base}/tmp/{name}" for _sub, name in chunk.values()]
        errors = fsyncs.wait(temps)
        index = self.locations()
        disk_full = False
        for (uid, (sub, name)), tmp, error in zip(chunk.items(), temps, errors, strict=True):
            if error is None:
                try:
                    os.rename(tmp, f"{base}/{sub}/{name}")
                except OSError as exc:
                    error = exc
                else:
                    index[uid] = (sub, name)
                    sync.add(self._sub_paths[sub])
                    stored.append((uid, uid))
                    continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            disk_full |= self._not_stored(uid, error)
        return disk_full

    def _flag_setter(self, new_flags: Callable[[frozenset[str]], frozenset[str]],
                     sync: DirSync) -> Callable[[int, str, str], None]:
        """An operation for :meth:`_each_file` that gives a file its new flags: unknown
        letters (keywords) stay, letters are sorted, and the file sits in cur/ when seen
        and in new/ when not, as OfflineIMAP keeps them."""
        def rename(uid: int, sub: str, name: str) -> None:
            old_chars = self.scheme.flag_chars(name)
            old = frozenset(old_chars)
            new = new_flags(old)
            new_name = name if new == old else self.scheme.with_flags(name, "".join(sorted(new)))
            new_sub = "cur" if "S" in new else "new"
            if (new_sub, new_name) != (sub, name):
                os.rename(self.path / sub / name, self.path / new_sub / new_name)
                sync.add(self.path / new_sub)
                sync.add(self.path / sub)
                self.locations()[uid] = (new_sub, new_name)
        return rename

    def change_flags(self, changes: Mapping[int, tuple[Flags, Flags]]) -> None:
        self._check_writable("changing flags")
        sync = DirSync(self.options.fsync)
        for uid, (add, remove) in changes.items():
            added, removed = _letters(add, uid), _letters(remove, uid)
            setter = self._flag_setter(lambda old, a=added, r=removed: (old - r) | a, sync)
            for _ in self._each_file([uid], setter):
                pass
        sync.flush()
        self.debug(f"changed flags of {len(changes)} messages")

    def delete_messages(self, uids: Sequence[int]) -> None:
        self._check_writable("deleting messages")
        sync = DirSync(self.options.fsync)

        def unlink(uid: int, sub: str, name: str) -> None:
            os.unlink(self.path / sub / name)
            sync.add(self.path / sub)
            del self.locations()[uid]

        for _ in self._each_file(uids, unlink):
            pass
        sync.flush()
        self.debug(f"deleted {len(uids)} messages")

    def change_uid(self, old_uid: int, new_uid: int) -> None:
        """Rename a new local message's file to carry ``U=<new_uid>`` and this folder's FMD5
        (keeping its unique prefix and flags), so it is known by that UID from now on."""
        self._check_writable("renumbering messages")
        if new_uid <= 0:
            raise ValueError(f"{self!r}: cannot give message {old_uid} the UID {new_uid}")
        if old_uid == new_uid:
            return
        taken = self.locations().get(new_uid)
        if taken is not None:
            raise MessageError(f"{self!r}: cannot give message {old_uid} the UID {new_uid}: "
                               f"{taken[0]}/{taken[1]} already has it")
        sync = DirSync(self.options.fsync)

        def rename(uid: int, sub: str, name: str) -> None:
            new_name = self.scheme.with_uid(name, new_uid)
            target = self.path / sub / new_name
            if target.exists():
                raise MessageError(f"{self!r}: cannot rename {sub}/{name}: {new_name} exists")
            os.rename(self.path / sub / name, target)
            sync.add(self.path / sub)
            index = self.locations()
            del index[uid]
            index[new_uid] = (sub, new_name)

        if not any(True for _ in self._each_file([old_uid], rename)):
            raise MessageError(f"{self!r}: cannot give message {old_uid} the UID {new_uid}: "
                               f"its file is gone")
        sync.flush()
        self.debug(f"message {old_uid} is now {new_uid}")


class _Found:
    """What one reading of a folder's cur/ and new/ found: where each message with a UID is,
    its listing entry when wanted, and the files still without a UID."""

    def __init__(self, min_uid: int | None, want_infos: bool) -> None:
        self.min_uid = min_uid
        self.want_infos = want_infos
        self.infos: dict[int, MessageInfo] = {}
        #: ``(sub, name)`` of each file without a UID of this folder
        self.unnumbered: list[Location] = []
        #: how many of the infos are of new local messages (negative UIDs)
        self.new_local = 0
        self._index: dict[int, Location] = {}
        #: ``(sub, uids, names)`` read by :meth:`add_usual` and not yet in ``_index``: a
        #: listing that finds nothing changed never needs to know where the files are.
        self._unplaced: list[tuple[str, list[int], list[str]]] = []
        self._flag_sets: dict[str, Flags] = {}
        #: equal entries are shared: messages stored in one second with the same flags
        self._shared: dict[tuple[str, float], MessageInfo] = {}

    def index(self) -> dict[int, Location]:
        """UID -> where its file is."""
        for sub, uids, listed in self._unplaced:
            self._index.update(zip(uids, zip(repeat(sub), listed), strict=False))
        self._unplaced.clear()
        return self._index

    def flags(self, chars: str) -> Flags:
        """The engine flags among ``chars`` (one set shared by equal strings)."""
        flags = self._flag_sets.get(chars)
        if flags is None:
            flags = self._flag_sets[chars] = frozenset(FLAG_LETTERS.intersection(chars))
        return flags

    def _info(self, chars: str, date: float) -> MessageInfo:
        info = self._shared.get((chars, date))
        if info is None:
            info = self._shared[chars, date] = MessageInfo(self.flags(chars), None, date)
        return info

    def add_usual(self, scheme: names.NameScheme, listed: Mapping[str, list[str]]) -> bool:
        """Add all the files if every name is in the usual form, as
        :meth:`~offlineimap_maildir.names.NameScheme.parse_usual` reads them: with operations
        on whole lists, not a step per file. Adds nothing and returns ``False`` when a name is
        not, or a UID comes twice (then :meth:`add_each` warns about each one in turn)."""
        parsed = {}
        for sub, names_ in listed.items():
            result = scheme.parse_usual(names_)
            if result is None:
                return False
            parsed[sub] = result
        uids = list(chain.from_iterable(sub_uids for sub_uids, _keys in parsed.values()))
        if self.want_infos:
            keys = list(chain.from_iterable(sub_keys for _uids, sub_keys in parsed.values()))
            by_key = {key: self._info(key[1], float(key[0])) for key in set(keys)}
            infos = dict(zip(uids, map(by_key.__getitem__, keys), strict=True))
            if len(infos) < len(uids):
                return False
            min_uid = self.min_uid
            self.infos = infos if min_uid is None else {
                uid: info for uid, info in infos.items() if uid >= min_uid}
        elif len(set(uids)) < len(uids):
            return False
        self._unplaced = [(sub, sub_uids, listed[sub]) for sub, (sub_uids, _keys) in parsed.items()]
        return True

    def add_each(self, folder: MaildirFolder, sub: str, listed: list[str]) -> None:
        """Add the files of ``sub`` one by one, whatever their names."""
        index, want_sizes = self.index(), self.want_infos and folder.options.want_sizes
        parse, min_uid = folder.scheme.parse_listed, self.min_uid
        for name in listed:
            if name.startswith("."):
                continue
            uid, chars, date = parse(name)
            if uid is None:
                self.unnumbered.append((sub, name))
                continue
            if uid in index:
                folder._warn_duplicate(uid, index[uid], (sub, name))
                continue
            index[uid] = (sub, name)
            if not self.want_infos or (min_uid is not None and uid < min_uid):
                continue
            if want_sizes or date is None:
                info = folder._with_stat(sub, name, self.flags(chars), date)
                if info is not None:
                    self.infos[uid] = info
            else:
                self.infos[uid] = self._info(chars, date)
