"""One account's sync: its two repositories, its lock, its folders in parallel.

Errors are contained by scope: a folder that fails is reported and the others go on; an
account that fails is reported and the other accounts go on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from offlineimap.config import (
    Config,
    Section,
    folderfilter,
    folderincludes,
    foldersort_key,
    nametrans,
)
from offlineimap.errors import (
    ConfigError,
    CorruptStatusError,
    LockedError,
    OfflineImapError,
    Scope,
    UIDValidityError,
)
from offlineimap.events import Events
from offlineimap.files import private_dir, write_private
from offlineimap.folder_map import FolderMap, FolderPair, SideNaming, map_folders
from offlineimap.journal import UploadJournal
from offlineimap.passwords import PasswordRequest, resolve_password
from offlineimap.plan import LOCAL, REMOTE, SidePolicy
from offlineimap.plugins import PluginHost
from offlineimap.quick import QuickGate, SyncStates
from offlineimap.repository import Folder, FolderState, MessageInfo, Repository, RepositoryContext
from offlineimap.revalidate import renumber_local
from offlineimap.stats import FolderStats
from offlineimap.status import (
    CachedStatusFolder,
    MemoryStatusFolder,
    StatusBackend,
    StatusFolder,
    status_file_name,
)
from offlineimap.uidmap import MappedFolder


class FolderTurns:
    """Folder pairs take connections in the order of the folder list (``foldersort``) even
    when several pairs run at once: a pair opens its folders only once the pair before it has
    opened both of its own, or has ended without. Taken in one order, pooled connections
    cannot deadlock (a later pair holding the local connection while an earlier one waits for
    it, say, with an IMAP repository on both sides)."""

    def __init__(self, pairs: list[FolderPair]) -> None:
        self._events = {pair: threading.Event() for pair in pairs}
        self._before = dict(zip(pairs[1:], pairs, strict=False))

    def wait(self, pair: FolderPair) -> None:
        before = self._before.get(pair)
        if before is not None:
            self._events[before].wait()

    def taken(self, pair: FolderPair) -> None:
        event = self._events.get(pair)
        if event is not None:
            event.set()


@dataclasses.dataclass
class AccountOptions:
    """Per-run choices from the command line."""

    folders: list[str] | None = None  #: -f
    dry_run: bool = False
    single_connection: bool = False  #: -1
    debug: frozenset[str] = frozenset()
    stop: threading.Event | None = None


@dataclasses.dataclass
class AccountResult:
    stats: FolderStats
    elapsed: float
    failed: bool = False
    uidvalidity_problem: bool = False
    #: The folder pairs this sync covered (for ``[mbnames]``).
    pairs: list[FolderPair] = dataclasses.field(default_factory=list)


class Account:
    """``[Account <name>]`` and the repositories it names."""

    def __init__(self, name: str, config: Config, host: PluginHost, events: Events,
                 options: AccountOptions) -> None:
        self.name = name
        self.config = config
        self.host = host
        self.events = events
        self.options = options
        self.section = config.section(f"Account {name}")
        if not config.has_section(self.section.name):
            raise ConfigError(f"account {name!r} is listed in accounts but there is no "
                              f"[Account {name}] section")
        self.metadata_dir = config.metadata_dir(create=True)
        self.account_dir = self.metadata_dir / f"Account-{name}"
        self.fsync = config.general.get_bool("fsync", True)
        self.remote = self._repository("remoterepository", "remote")
        self.local = self._repository("localrepository", "local")
        self.status_backend = self._status_backend()
        #: remote folder states from one LIST-STATUS, when the server offers it
        self._remote_states: dict[str, FolderState] = {}
        self._turns = FolderTurns([])
        self._sync_states = SyncStates(self.account_dir / "SyncStates")

    # -- construction ----------------------------------------------------------------------------

    def _repository(self, option: str, role: str) -> Repository:
        repo_name = self.section.get(option)
        section = self.config.section(f"Repository {repo_name}")
        if not self.config.has_section(section.name):
            raise ConfigError(f"[{self.section.name}] {option} = {repo_name}: there is no "
                              f"[Repository {repo_name}] section")
        cls = self.host.repository_types.resolve(section.get("type"), f"[{section.name}] type")
        ctx = RepositoryContext(
            name=repo_name, section=section, config=self.config, account=self.name,
            metadata_dir=self.metadata_dir, events=self.events,
            get_password=self._get_password, dry_run=self.options.dry_run,
            debug=self.options.debug, single_connection=self.options.single_connection,
            role=role,
        )
        return cls(ctx)

    def _get_password(self, request: PasswordRequest) -> str:
        return resolve_password(self.host.hook, request)

    def _status_backend(self) -> StatusBackend:
        name, where = self.config.status_backend_name(self.name)
        cls = self.host.status_backends.resolve(name, where)
        return cls(self.account_dir, fsync=self.fsync)

    # -- sync ------------------------------------------------------------------------------------

    def sync(self, *, only: list[str] | None = None, quick: bool = False) -> AccountResult:
        """Sync every folder once; never raises for folder-scoped problems.

        :param only: just these remote folders (an IDLE push), instead of every folder.
        :param quick: leave out folders unchanged since their last sync (:mod:`offlineimap.quick`).
        """
        start = time.monotonic()
        totals = FolderStats()
        result = AccountResult(totals, 0.0)
        self.events.account_start(self.name)
        try:
            with self._lock():
                self._sync_folders(totals, result, only, quick)
        except OfflineImapError as exc:
            if exc.scope >= Scope.FATAL:
                raise
            result.failed = True
            totals.errors += 1
            self.events.error(f"account {self.name}: {exc}", self.name, exc)
        finally:
            result.elapsed = time.monotonic() - start
            self.events.account_finish(self.name, totals, result.elapsed)
        return result

    def _sync_folders(self, totals: FolderStats, result: AccountResult, only: list[str] | None,
                      quick: bool) -> None:
        try:
            for repo in (self.remote, self.local):
                repo.connect()
            folder_map = self.folder_map(only)
            result.pairs = folder_map.pairs
            for problem in folder_map.problems:
                self.events.error(problem, self.name, None)
                totals.errors += 1
            if not self.options.dry_run:
                self._create_folders(folder_map.pairs)
            self._remote_states = self.remote.folder_states() or {}
            # One worker more than connections: a pair whose remote side is done (see
            # Folder.finish) hands its connection on while it still stores messages, and the
            # next pair lists and downloads meanwhile instead of waiting for the disk.
            workers = 1 if self.options.single_connection else 1 + max(
                1, min(self.remote.max_connections, self.local.max_connections))
            lock = threading.Lock()
            self._turns = FolderTurns(folder_map.pairs)

            def one(pair: FolderPair) -> None:
                try:
                    stats = self._sync_pair(pair, result, quick)
                finally:
                    self._turns.taken(pair)
                with lock:
                    totals.add(stats)

            if workers == 1:
                for pair in folder_map.pairs:
                    if self._stopping():
                        break
                    one(pair)
            else:
                with concurrent.futures.ThreadPoolExecutor(
                        workers, thread_name_prefix=f"{self.name}-folder") as pool:
                    for future in [pool.submit(one, pair) for pair in folder_map.pairs]:
                        future.result()
        finally:
            for repo in (self.remote, self.local):
                with contextlib.suppress(Exception):
                    repo.close()
            if not self.options.dry_run:
                self._sync_states.flush()

    def folder_map(self, only: list[str] | None = None) -> FolderMap:
        remote_section = self.remote.ctx.section
        return map_folders(
            self.remote.list_folders(), self.local.list_folders(),
            self._naming(self.remote), self._naming(self.local),
            includes=folderincludes(remote_section),
            only=only if only is not None else self.options.folders,
            sort_key=foldersort_key(remote_section),
        )

    def _naming(self, repo: Repository) -> SideNaming:
        section = repo.ctx.section
        user_filter = folderfilter(section)

        def folder_filter(name: str) -> bool:
            if not user_filter(name):
                return False
            votes = self.host.hook.offlineimap_filter_folder(
                account=self.name, repository=repo.name, folder=name)
            return all(vote is not False for vote in votes)

        return SideNaming(
            sep=repo.sep,
            nametrans=nametrans(section),
            folderfilter=folder_filter,
            can_create=repo.createfolders and not repo.readonly,
        )

    def _create_folders(self, pairs: list[FolderPair]) -> None:
        for pair in pairs:
            if pair.create_remote:
                self.events.info(f"creating folder {pair.remote!r} on {self.remote.name}",
                                 self.name)
                self.remote.create_folder(pair.remote)
            if pair.create_local:
                self.events.info(f"creating folder {pair.local!r} on {self.local.name}",
                                 self.name)
                self.local.create_folder(pair.local)

    def _sync_pair(self, pair: FolderPair, result: AccountResult, quick: bool = False
                   ) -> FolderStats:
        """Sync one folder pair; a problem stays with this folder and is reported."""
        stats = FolderStats()
        if self._stopping():
            return stats
        if self.options.dry_run and (pair.create_remote or pair.create_local):
            where = self.remote.name if pair.create_remote else self.local.name
            self.events.info(f"[dry-run] would create folder {pair.remote!r} on {where} and "
                             "copy all its messages", self.name)
            return stats
        try:
            try:
                stats = self._run_pair(pair, quick)
            except CorruptStatusError as exc:
                if self.options.dry_run:
                    raise
                self._set_status_aside(pair, exc)
                stats = self._run_pair(pair, quick=False)
        except UIDValidityError as exc:
            stats.skipped = True
            stats.errors += 1
            result.uidvalidity_problem = True
            self.events.error(str(exc), self.name, exc)
        except OfflineImapError as exc:
            if exc.scope > Scope.FOLDER:
                raise
            stats.errors += 1
            self.events.error(f"folder {pair.remote}: {exc}", self.name, exc)
        except OSError as exc:
            stats.errors += 1
            self.events.error(f"folder {pair.remote}: {exc}", self.name, exc)
        self.events.folder_finish(self.name, pair.remote, stats)
        return stats

    def _run_pair(self, pair: FolderPair, quick: bool) -> FolderStats:
        self._turns.wait(pair)
        with contextlib.ExitStack() as stack:
            local = stack.enter_context(self.local.open_folder(pair.local))
            if local.assigns_uids:
                local = MappedFolder(local, self.local.ctx.repository_metadata_dir
                                     / "UIDMapping" / status_file_name(local.name),
                                     fsync=self.fsync)
            opened: list[StatusFolder] = []

            def status() -> StatusFolder:
                if not opened:
                    opened.append(stack.enter_context(
                        CachedStatusFolder(self._open_status(pair.status))))
                return opened[0]

            saved = self._sync_states.get(pair.status)
            # Taken before anything is listed: a change made while this sync runs moves the
            # token, so the next sync looks instead of trusting what this one recorded.
            token = local.change_token()

            def gate_for(state: FolderState) -> QuickGate:
                return QuickGate(saved, state, local_token=token,
                                 records=lambda: status().records())

            # With LIST-STATUS an unchanged pair is left out before its remote folder is opened.
            listed_state = self._remote_states.get(pair.remote)
            gate = None if listed_state is None else gate_for(listed_state)
            if gate is not None and self._may_skip(gate, quick, pair, local):
                return FolderStats(skipped=True)
            remote = stack.enter_context(self.remote.open_folder(pair.remote))
            self._turns.taken(pair)
            states = {REMOTE: remote.state(), LOCAL: local.state()}
            try:
                self._check_validity(self.remote, remote, states[REMOTE], pair)
            except UIDValidityError as exc:
                if self.options.dry_run or isinstance(local, MappedFolder):
                    raise
                self._revalidate(remote, local, status(), states[REMOTE], exc)
            self._check_validity(self.local, local, states[LOCAL], pair)
            if gate is None:
                gate = gate_for(states[REMOTE])
                if self._may_skip(gate, quick, pair, local):
                    return FolderStats(skipped=True)
            full_every = self._fullsync_seconds()
            # A read-only local side keeps its own flags in the status (see plan.py), which
            # then no longer describes the remote side: list that in full.
            since = gate.since(states[REMOTE], full_every) if (
                full_every > 0 and not self.local.readonly) else None
            start_uid, copy_filter = self._start_window(pair, local)
            journal = UploadJournal(
                self.account_dir / "Journal" / status_file_name(pair.status), fsync=self.fsync)
            stack.callback(journal.close)
            # Here, not at the top: a run whose folders are all unchanged never needs the engine.
            from offlineimap.engine import FolderSync, SyncSettings

            sync = FolderSync(
                account=self.name, name=pair.remote,
                folders={REMOTE: remote, LOCAL: local},
                policies={REMOTE: _policy(self.remote), LOCAL: _policy(self.local)},
                status=status(), journal=journal, events=self.events,
                settings=SyncSettings(dry_run=self.options.dry_run,
                                      copy_allowed=copy_filter, min_uid=start_uid,
                                      mass_delete_guard=self._mass_delete_guard(),
                                      stop=self.options.stop, remote_since=since),
            )
            stats = sync.run(states)
            self._remember_start_uid(pair, local, status(), start_uid)
            if not (self.options.dry_run or stats.errors or self._stopping()):
                entry = gate.recorded(token, status().records(),
                                      listed_fully=not sync.incremental)
                if entry:
                    self._sync_states.put(pair.status, entry)
            return stats

    def _may_skip(self, gate: QuickGate, quick: bool, pair: FolderPair, local: Folder) -> bool:
        """Whether the pair can be left out: in a quick sync when the server's counters did
        not move; in any sync when they include HIGHESTMODSEQ (CONDSTORE, which moves with every
        flag change and expunge too) and the folder was fully listed within ``fullsync_every``
        hours. Either way the local side must be unchanged as well."""
        full_every = self._fullsync_seconds()
        exact = gate.exact and full_every > 0 and gate.listed_within(full_every)
        if not (quick or exact) or self.options.dry_run or not gate.unchanged(local):
            return False
        refreshed = gate.with_current_token()
        if refreshed is not None:
            self._sync_states.put(pair.status, refreshed)
        mode = "quick sync" if quick else "CONDSTORE: HIGHESTMODSEQ unchanged"
        self.events.debug("quick", f"{self.name}: {pair.remote}: unchanged since the last sync, "
                          f"skipped ({mode})")
        return True

    def _fullsync_seconds(self) -> float:
        """``fullsync_every`` (hours, default 24): how long a folder may go without a full
        listing of its remote side (0: list in full every time)."""
        return self.section.get_float("fullsync_every", 24.0) * 3600

    def _set_status_aside(self, pair: FolderPair, exc: CorruptStatusError) -> None:
        """Keep a corrupt status cache for inspection and let the folder start afresh.

        With no status, a message both sides have is recognised by its UID and recorded;
        nothing is deleted and nothing is copied twice (see :mod:`offlineimap.plan`).
        """
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = []
        for path in self.status_backend.files(pair.status):
            if path.exists():
                target = path.with_name(f"{path.name}.corrupt-{stamp}")
                path.rename(target)
                moved.append(str(target))
        if not moved:
            raise exc
        self.events.warning(f"folder {pair.remote}: {exc}; the damaged status cache was moved "
                            f"to {', '.join(moved)} and is rebuilt from both sides", self.name)

    def _open_status(self, name: str) -> StatusFolder:
        if self.options.dry_run and not self.status_backend.exists(name):
            return MemoryStatusFolder()
        return self.status_backend.open_folder(name)

    def _revalidate(self, remote: Folder, local: Folder, status: StatusFolder,
                    state: FolderState, problem: UIDValidityError) -> None:
        """The server renumbered the folder: re-pair messages by Message-ID, or give up."""
        matched = renumber_local(remote, local, problem)
        status.remove(list(status.records()))
        write_private(_validity_path(self.remote, remote), f"{state.uidvalidity}\n",
                      fsync=self.fsync)
        self.events.warning(f"{problem}; recovered: {matched} local messages were matched to "
                            "the server's new numbering by their Message-ID", self.name)

    def _check_validity(self, repo: Repository, folder: Folder, state: FolderState,
                        pair: FolderPair) -> None:
        """Compare UIDVALIDITY with OfflineIMAP's ``Repository-<name>/FolderValidity`` file."""
        if state.uidvalidity is None:
            return
        path = _validity_path(repo, folder)
        try:
            saved = int(path.read_text().split()[0])
        except FileNotFoundError:
            if not self.options.dry_run:
                write_private(path, f"{state.uidvalidity}\n", fsync=self.fsync)
            return
        except (ValueError, IndexError):
            raise UIDValidityError(f"folder {pair.remote}: the saved UIDVALIDITY in {path} is "
                                   "unreadable; delete that file to accept the server's") from None
        if saved != state.uidvalidity:
            raise UIDValidityError(
                f"folder {folder.name} on {repo.name}: UIDVALIDITY changed from {saved} to "
                f"{state.uidvalidity}: the server renumbered its messages, so this folder was "
                f"not synced. To start it afresh, move the local folder aside and delete "
                f"{path} and the folder's status cache")

    def _start_uid_path(self, local: Folder) -> Path:
        return (self.local.ctx.repository_metadata_dir / "StartUID"
                / status_file_name(local.name))

    def _start_window(self, pair: FolderPair, local: Folder
                      ) -> tuple[int | None, Callable[[MessageInfo], bool] | None]:
        """``startdate`` (local repository option, as OfflineIMAP reads it): the first sync of
        an empty local folder copies only messages dated on or after it; from then on the
        lowest UID it copied, kept in ``Repository-<local>/StartUID/<folder>``, bounds the sync.

        Returns the UID floor (or ``None``) and the copy filter to use."""
        copy_filter = self._copy_filter()
        startdate = _date_option(self.local.ctx.section, "startdate")
        if startdate is None:
            return None, copy_filter
        try:
            return int(self._start_uid_path(local).read_text().split()[0]), copy_filter
        except (FileNotFoundError, IndexError, ValueError):
            pass

        def dated(info: MessageInfo) -> bool:
            recent = info.internaldate is None or info.internaldate >= startdate
            return recent and (copy_filter is None or copy_filter(info))

        return None, dated

    def _remember_start_uid(self, pair: FolderPair, local: Folder, status: StatusFolder,
                            start_uid: int | None) -> None:
        if start_uid is not None or self.options.dry_run:
            return
        if _date_option(self.local.ctx.section, "startdate") is None:
            return
        synced = [uid for uid in status.records() if uid > 0]
        if synced:
            write_private(self._start_uid_path(local), f"{min(synced)}\n", fsync=self.fsync)

    def _mass_delete_guard(self) -> float:
        """``mass_delete_guard`` (percent) from the account, else ``[general]``; default 50."""
        option = "mass_delete_guard"
        if self.section.has(option):
            return self.section.get_float(option)
        return self.config.general.get_float(option, 50.0)

    def _copy_filter(self) -> Callable[[MessageInfo], bool] | None:
        cutoff = _maxage_cutoff(self.section)
        maxsize = self.section.get_int("maxsize", None)
        if cutoff is None and maxsize is None:
            return None

        def allowed(info: MessageInfo) -> bool:
            if cutoff is not None and info.internaldate is not None and (
                    info.internaldate < cutoff):
                return False
            return not (maxsize is not None and info.size is not None and info.size > maxsize)

        return allowed

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """OfflineIMAP's per-account lock file, held with ``flock`` for the whole sync."""
        private_dir(self.account_dir)
        path = self.account_dir / "lock"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockedError(f"account {self.name} is being synced by another offlineimap "
                                  f"process (lock {path}); not syncing it") from None
            yield
        finally:
            os.close(fd)

    def _stopping(self) -> bool:
        return self.options.stop is not None and self.options.stop.is_set()


def _validity_path(repo: Repository, folder: Folder) -> Path:
    return repo.ctx.repository_metadata_dir / "FolderValidity" / status_file_name(folder.name)


def _policy(repo: Repository) -> SidePolicy:
    return SidePolicy(writable=not repo.readonly, sync_deletes=repo.sync_deletes)


def _date_option(section: Section, option: str, expected: str = "a date YYYY-mm-dd"
                 ) -> float | None:
    """A ``YYYY-mm-dd`` option as seconds since the epoch (local midnight), or ``None``."""
    value = section.get(option, None)
    if value is None or not str(value).strip():
        return None
    try:
        return time.mktime(time.strptime(str(value).strip(), "%Y-%m-%d"))
    except ValueError:
        raise ConfigError(f"[{section.name}] {option} = {value!r}: expected {expected}"
                          ) from None


def _maxage_cutoff(section: Section) -> float | None:
    """``maxage``: a number of days, or a date ``YYYY-mm-dd``; returns seconds since the epoch."""
    text = str(section.get("maxage", "")).strip()
    if text.isdigit():
        days = int(text)
        if days < 1:
            raise ConfigError(f"[{section.name}] maxage = {text}: must be at least 1 day")
        return time.time() - days * 86400
    return _date_option(section, "maxage", "a number of days or a date YYYY-mm-dd")
