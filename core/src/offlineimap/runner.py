"""A run: every selected account, once or on autorefresh, until done or told to stop.

Signals (man page, UNIX SIGNALS): SIGUSR1 ends every account's sleep so it syncs now; SIGUSR2
ends autorefresh after the running sync; SIGTERM, SIGINT and SIGHUP finish the folder in progress
and exit; a second SIGINT exits at once (every write is crash-safe, so this loses nothing).
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
from typing import TYPE_CHECKING

from offlineimap.account import Account, AccountOptions, AccountResult
from offlineimap.errors import ConfigError, ExitCode, LockedError
from offlineimap.events import Events
from offlineimap.stats import FolderStats, RunStats

if TYPE_CHECKING:
    from offlineimap.config import Config
    from offlineimap.options import Options
    from offlineimap.plugins import PluginHost
    from offlineimap.ui import UI


class Controller:
    """What signals and the UI can ask of a running sync."""

    def __init__(self) -> None:
        self.stop = threading.Event()  #: finish the current folder, then exit
        self.no_refresh = threading.Event()  #: exit after the running sync
        self.wake = threading.Event()  #: end the current sleep now
        self._interrupts = 0

    def install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGUSR1, lambda *_: self.wake.set())
        signal.signal(signal.SIGUSR2, lambda *_: self._end_refresh())
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self._interrupt())

    def request_stop(self) -> None:
        self.stop.set()
        self._end_refresh()

    def _end_refresh(self) -> None:
        self.no_refresh.set()
        self.wake.set()

    def _interrupt(self) -> None:
        self._interrupts += 1
        if self._interrupts > 1:
            os._exit(ExitCode.INTERRUPTED)
        self.request_stop()


def run(options: Options, config: Config, host: PluginHost, ui: UI) -> ExitCode:
    """Sync the selected accounts; return the process exit status."""
    names = options.accounts or config.account_names()
    if not names:
        raise ConfigError("no accounts to sync: set accounts in [general] or use -a")
    events = Events(host.hook)
    controller = Controller()
    controller.install_signal_handlers()
    if hasattr(ui, "stop_requested"):
        ui.stop_requested = controller.stop  # type: ignore[attr-defined]
    account_options = AccountOptions(
        folders=options.folders, dry_run=options.dry_run, single_connection=options.single,
        debug=options.debug, stop=controller.stop,
    )
    accounts = [Account(name, config, host, events, account_options) for name in names]
    if options.info:
        return show_info(accounts)
    ui.account_keys(names)
    stats = RunStats()
    host.hook.offlineimap_run_start(accounts=names)
    results: list[AccountResult] = []
    try:
        parallel = 1 if options.single else max(
            1, config.general.get_int("maxsyncaccounts", 1))
        if parallel == 1 or len(accounts) == 1:
            for account in accounts:
                results.extend(_account_loop(account, options, controller, events, stats))
        else:
            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                futures = [pool.submit(_account_loop, account, options, controller, events,
                                       stats) for account in accounts]
                for future in futures:
                    results.extend(future.result())
    finally:
        host.hook.offlineimap_run_finish(stats=stats)
    return _exit_code(results, controller)


def _account_loop(account: Account, options: Options, controller: Controller, events: Events,
                  stats: RunStats) -> list[AccountResult]:
    """Sync an account once, or again every ``autorefresh`` minutes until told to stop."""
    results = []
    refresh = account.section.get_float("autorefresh", None)
    while True:
        try:
            result = account.sync()
        except LockedError as exc:
            events.error(str(exc), account.name, exc)
            result = AccountResult(stats=FolderStats(errors=1), elapsed=0.0, failed=True)
        results.append(result)
        stats.record(account.name, result.stats, result.elapsed, result.failed)
        if options.once or refresh is None or controller.no_refresh.is_set():
            return results
        if not _sleep(account.name, refresh * 60, controller, events):
            return results


def _sleep(account: str, seconds: float, controller: Controller, events: Events) -> bool:
    """Count down to the next sync; return False if the run should end instead."""
    remaining = seconds
    while remaining > 0:
        events.sleeping(account, remaining)
        step = min(1.0, remaining)
        if controller.wake.wait(step):
            break
        remaining -= step
    controller.wake.clear()
    return not controller.no_refresh.is_set()


def _exit_code(results: list[AccountResult], controller: Controller) -> ExitCode:
    if any(result.uidvalidity_problem for result in results):
        return ExitCode.UIDVALIDITY
    if any(result.failed or result.stats.errors for result in results):
        return ExitCode.ERRORS
    if controller.stop.is_set():
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
