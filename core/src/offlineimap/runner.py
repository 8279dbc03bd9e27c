"""A run: every selected account, once or on autorefresh, until done or told to stop.

Running unattended (``autorefresh``, minutes, fractions allowed; ``-o`` runs once):

* each account syncs, then sleeps until its next refresh; ``quick = N`` makes N of every N+1
  syncs quick ones (:mod:`offlineimap.quick`), ``-q`` makes all of them quick;
* during the sleep, the remote ``idlefolders`` are watched with IMAP IDLE (:mod:`offlineimap.idle`)
  and a folder the server reports changed is synced at once, alone (sync mode ``idle``);
* ``presynchook``/``postsynchook`` run around every sync, ``newmail_hook`` after new INBOX
  mail (:mod:`offlineimap.hooks`); ``[mbnames]`` is written as OfflineIMAP does
  (:mod:`offlineimap.mbnames`);
* a failing account is reported and tried again at its next refresh: network errors never end
  a daemon (a one-shot run reports them through its exit status).

Signals (man page, UNIX SIGNALS): SIGUSR1 ends every account's current (or next) sleep so it
syncs now, in full; SIGUSR2 ends autorefresh after the running sync; SIGTERM, SIGINT and SIGHUP
finish the folder in progress, close connections, release the locks and exit; a second SIGINT
exits at once (every write is crash-safe, so this loses nothing). Handlers only write the signal
number to a pipe: a thread of the controller acts on it, so no lock is ever taken inside a
signal handler.

Interactive UIs (Blinkenlights) get two callbacks: ``ui.sync_now(n)`` ends account ``n``'s
sleep (SIGUSR1 for one account) and ``ui.quit_now()`` stops like SIGTERM but exits 0, since
the user asked for it.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from offlineimap.account import Account, AccountOptions, AccountResult
from offlineimap.errors import ConfigError, ExitCode, OfflineImapError
from offlineimap.events import Events
from offlineimap.hooks import NewMailHooks, run_command_hook, sync_environment
from offlineimap.idle import IdleWatcher, idle_folders, renew_interval
from offlineimap.mbnames import Mbnames, local_root
from offlineimap.quick import QuickSchedule
from offlineimap.stats import FolderStats, RunStats

if TYPE_CHECKING:
    from offlineimap.config import Config
    from offlineimap.options import Options
    from offlineimap.plugins import PluginHost
    from offlineimap.ui import UI

_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
#: The sleep countdown is reported (and re-checked) this often, in seconds.
_TICK = 1.0


class Controller:
    """What signals, IDLE pushes and the UI can ask of a running sync.

    One condition variable serves every waiter: account loops sleep on it and everything that
    may end a sleep (a signal, a push) changes state under it and notifies.
    """

    def __init__(self, events: Events | None = None) -> None:
        self.stop = threading.Event()  #: finish the current folder, then exit
        self.no_refresh = threading.Event()  #: exit after the running sync
        self.user_quit = False  #: the stop came from the UI's quit key: not an interruption
        #: Accounts asked (by the UI) to sync now: their current or next sleep ends.
        self.woken: set[str] = set()
        #: How many SIGUSR1 have arrived: a sleeper that saw an older count wakes up.
        self.generation = 0
        self._cond = threading.Condition()
        self._events = events
        self._interrupts = 0
        self._pipe: tuple[int, int] | None = None
        self._previous: dict[int, Any] = {}

    # -- signals ---------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._pipe is not None:
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._pipe = (read_fd, write_fd)

        def handler(signum: int, _frame: object) -> None:
            if signum == signal.SIGINT:
                self._interrupts += 1
                if self._interrupts > 1:
                    os._exit(ExitCode.INTERRUPTED)
            try:
                os.write(write_fd, bytes([signum]))
            except OSError:  # a full pipe already holds enough wake-ups
                pass

        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, handler)
        threading.Thread(target=self._dispatch, args=(read_fd,), daemon=True,
                         name="signals").start()

    def restore_signal_handlers(self) -> None:
        """Put back the handlers found at install (matters when embedded, as in tests)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}
        if self._pipe is not None:
            os.close(self._pipe[1])  # ends the dispatcher, which closes the read end
            self._pipe = None

    def _dispatch(self, read_fd: int) -> None:
        try:
            while data := os.read(read_fd, 64):
                for signum in data:
                    self.handle(signum)
        finally:
            os.close(read_fd)

    def handle(self, signum: int) -> None:
        """Act on a signal (called from the dispatcher thread, never from a handler)."""
        name = signal.Signals(signum).name
        if signum == signal.SIGUSR1:
            self._say(f"{name}: syncing every account now")
            self.wake_all()
        elif signum == signal.SIGUSR2:
            self._say(f"{name}: exiting after the running sync")
            self.end_refresh()
        else:
            self._say(f"{name}: finishing the current folder, then exiting")
            self.request_stop()

    def _say(self, message: str) -> None:
        if self._events is not None:
            self._events.info(message)

    # -- requests --------------------------------------------------------------------------------

    def wake_all(self) -> None:
        self.notify(self._next_generation)

    def wake(self, account: str) -> None:
        """End one account's current (or next) sleep: the UI's "sync now" key."""
        self.notify(lambda: self.woken.add(account))

    def quit(self) -> None:
        """The user asked to quit: stop as for SIGTERM, but the run's status stays 0 (unless a
        signal had already interrupted the run)."""
        if not self.stop.is_set():
            self.user_quit = True
        self.request_stop()

    def _next_generation(self) -> None:
        self.generation += 1

    def request_stop(self) -> None:
        self.stop.set()
        self.end_refresh()

    def end_refresh(self) -> None:
        self.no_refresh.set()
        self.notify()

    def notify(self, change: Callable[[], None] | None = None) -> None:
        """Apply ``change`` (if any) under the lock and wake every waiter."""
        with self._cond:
            if change is not None:
                change()
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Wait until ``predicate()`` holds (checked under the lock) or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)


class AccountLoop:
    """One account for the whole run: syncs, sleeps, IDLE pushes, hooks and mbnames."""

    def __init__(self, account: Account, options: Options, controller: Controller,
                 events: Events, stats: RunStats, mbnames: Mbnames) -> None:
        self.account = account
        self.name = account.name
        self.options = options
        self.controller = controller
        self.events = events
        self.stats = stats
        self.mbnames = mbnames
        section = account.section
        refresh = section.get_float("autorefresh", None)
        if refresh is not None and refresh <= 0:
            raise ConfigError(f"[{section.name}] autorefresh = {refresh}: expected minutes "
                              "above 0")
        self.refresh = None if options.once else refresh
        self.schedule = QuickSchedule(0 if self._quick_ignored() else section.get_int("quick", 0))
        remote_section = account.remote.ctx.section
        folders = idle_folders(remote_section) if self.refresh is not None else []
        if options.folders is not None:
            folders = [folder for folder in folders if folder in options.folders]
        self.idle_folders = folders
        self.idle_renew = renew_interval(remote_section)
        self.results: list[AccountResult] = []
        self._pushed: set[str] = set()
        self._seen = controller.generation

    def _quick_ignored(self) -> bool:
        """OfflineIMAP ignores ``quick`` when ``maxage`` or ``startdate`` is used."""
        return self.account.section.has("maxage") or any(
            repo.ctx.section.has("startdate") for repo in (self.account.remote, self.account.local))

    @property
    def daemon(self) -> bool:
        return self.refresh is not None

    def run(self) -> list[AccountResult]:
        watcher: IdleWatcher | None = None
        try:
            while True:
                self._sync("quick" if self.schedule.next_is_quick() else "full")
                if self.refresh is None or self.controller.no_refresh.is_set():
                    return self.results
                if watcher is None and self.idle_folders:
                    watcher = IdleWatcher(account=self.name, repository=self.account.remote,
                                          folders=self.idle_folders, events=self.events,
                                          on_change=self._push, renew=self.idle_renew)
                    watcher.start()
                if not self._sleep(self.refresh * 60):
                    return self.results
        finally:
            if watcher is not None:
                watcher.stop()

    # -- sleeping --------------------------------------------------------------------------------

    def _push(self, folder: str) -> None:
        """An IDLE watcher saw ``folder`` change (called from its thread)."""
        self.controller.notify(lambda: self._pushed.add(folder))

    def _take_pushed(self) -> list[str]:
        pushed: list[str] = []

        def take() -> None:
            pushed.extend(sorted(self._pushed))
            self._pushed.clear()

        self.controller.notify(take)
        return pushed

    def _awake(self) -> bool:
        return bool(self._pushed) or self.controller.generation != self._seen or (
            self.controller.no_refresh.is_set()) or self.name in self.controller.woken

    def _sleep(self, seconds: float) -> bool:
        """Sleep until the next refresh, syncing pushed folders meanwhile; False: end the run."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            self.events.sleeping(self.name, remaining)
            self.controller.wait_for(self._awake, min(_TICK, remaining))
            if self.controller.no_refresh.is_set():
                return False
            if self.controller.generation != self._seen:  # SIGUSR1: a full sync, now
                self._seen = self.controller.generation
                self.schedule.reset()
                return True
            if self.name in self.controller.woken:  # the UI's sync-now key, likewise
                self.controller.notify(lambda: self.controller.woken.discard(self.name))
                self.schedule.reset()
                return True
            pushed = self._take_pushed()
            if pushed:
                self._sync("idle", pushed)

    # -- one sync --------------------------------------------------------------------------------

    def _sync(self, mode: str, only: list[str] | None = None) -> None:
        if only is None:
            self._take_pushed()  # a whole-account sync covers what was pushed before it
        section = self.account.section
        hook_options: dict[str, Any] = {"stop": self.controller.stop, "account": self.name,
                                        "dry_run": self.options.dry_run, "events": self.events}
        env = sync_environment(self.name, mode, only)
        run_command_hook(section, "presynchook", {**env, "OFFLINEIMAP_HOOK": "presynchook"},
                         **hook_options)
        result = self._account_sync(only, quick=mode == "quick")
        self.results.append(result)
        self.stats.record(self.name, result.stats, result.elapsed, result.failed)
        if only is None and result.pairs:
            self.mbnames.account_synced(
                self.name, [pair.local for pair in result.pairs],
                local_root(self.account.local.ctx.section.get("localfolders", None)))
        env = sync_environment(self.name, mode, only, errors=result.stats.errors)
        run_command_hook(section, "postsynchook", {**env, "OFFLINEIMAP_HOOK": "postsynchook"},
                         **hook_options)

    def _account_sync(self, only: list[str] | None, *, quick: bool) -> AccountResult:
        """:meth:`Account.sync`; a daemon survives even unexpected errors and retries later.

        Fatal errors (a broken configuration) end the run in any case.
        """
        try:
            return self.account.sync(only=only, quick=quick)
        except OfflineImapError:
            raise
        except Exception as exc:
            if not self.daemon:
                raise
            self.events.error(f"account {self.name}: internal error: {type(exc).__name__}: "
                              f"{exc} (trying again at the next refresh)", self.name, exc)
        return AccountResult(stats=FolderStats(errors=1), elapsed=0.0, failed=True)


def run(options: Options, config: Config, host: PluginHost, ui: UI) -> ExitCode:
    """Sync the selected accounts; return the process exit status."""
    names = options.accounts or config.account_names()
    if not names:
        raise ConfigError("no accounts to sync: set accounts in [general] or use -a")
    events = Events(host.hook)
    controller = Controller(events)
    _wire_ui(ui, controller, names)
    account_options = AccountOptions(
        folders=options.folders, dry_run=options.dry_run, single_connection=options.single,
        debug=options.debug, stop=controller.stop,
    )
    accounts = [Account(name, config, host, events, account_options) for name in names]
    if options.info:
        return show_info(accounts)
    mbnames = Mbnames(config, events, dry_run=options.dry_run)
    newmail = NewMailHooks(events)
    for account in accounts:
        newmail.add(account.name, account.remote.ctx.section)
    if newmail:
        host.register_listener(newmail, "newmail-hooks")
    stats = RunStats()
    loops = [AccountLoop(account, options, controller, events, stats, mbnames)
             for account in accounts]
    ui.account_keys(names)
    controller.install_signal_handlers()
    host.hook.offlineimap_run_start(accounts=names)
    results: list[AccountResult] = []
    try:
        mbnames.prune(config.account_names())
        parallel = 1 if options.single else max(
            1, config.general.get_int("maxsyncaccounts", 1))
        if parallel == 1 or len(loops) == 1:
            for loop in loops:
                if controller.stop.is_set():
                    break
                results.extend(loop.run())
        else:
            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                for future in [pool.submit(loop.run) for loop in loops]:
                    results.extend(future.result())
        mbnames.finish()
    finally:
        host.hook.offlineimap_run_finish(stats=stats)
        controller.restore_signal_handlers()
    return _exit_code(results, controller)


def _wire_ui(ui: UI, controller: Controller, names: list[str]) -> None:
    """Give an interactive UI its keys: sync account ``n`` (1-based) now, and quit."""
    if hasattr(ui, "sync_now"):
        def sync_now(number: int) -> None:
            if 1 <= number <= len(names):
                controller.wake(names[number - 1])

        ui.sync_now = sync_now  # type: ignore[attr-defined]
    if hasattr(ui, "quit_now"):
        ui.quit_now = controller.quit  # type: ignore[attr-defined]


def _exit_code(results: list[AccountResult], controller: Controller) -> ExitCode:
    if any(result.uidvalidity_problem for result in results):
        return ExitCode.UIDVALIDITY
    if any(result.failed or result.stats.errors for result in results):
        return ExitCode.ERRORS
    if controller.stop.is_set() and not controller.user_quit:
        return ExitCode.INTERRUPTED
    return ExitCode.OK


def show_info(accounts: list[Account]) -> ExitCode:
    """``--info``: what each repository says about itself and how folders translate."""
    for account in accounts:
        print(f"Account {account.name}")
        try:
            for repo in (account.remote, account.local):
                repo.connect()
                print(f"  Repository {repo.name} ({type(repo).__name__}), separator {repo.sep!r}")
                for key, value in repo.info().items():
                    print(f"    {key}: {value}")
            folder_map = account.folder_map()
            print("  Folders (remote -> local [status]):")
            for pair in folder_map.pairs:
                notes = [note for note, flag in (("create remotely", pair.create_remote),
                                                  ("create locally", pair.create_local)) if flag]
                suffix = f"  ({', '.join(notes)})" if notes else ""
                print(f"    {pair.remote} -> {pair.local} [{pair.status}]{suffix}")
            for problem in folder_map.problems:
                print(f"    problem: {problem}")
        finally:
            for repo in (account.remote, account.local):
                repo.close()
    return ExitCode.OK
