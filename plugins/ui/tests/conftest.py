"""Shared helpers: a real configuration and realistic event sequences fed from many threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from offlineimap.config import Config
from offlineimap.stats import FolderStats, RunStats


@pytest.fixture
def config() -> Config:
    return Config.from_string("[general]\n")


def _sync_sequence(ui: object, account: str, folders: tuple[str, ...] = ("INBOX", "Sent"),
                  fail: bool = False) -> tuple[FolderStats, float]:
    """The events of one account's sync, in the order the engine sends them."""
    totals = FolderStats()
    ui.offlineimap_account_start(account=account)
    ui.offlineimap_connecting(account=account, repository=f"{account}Remote",
                              host="imap.example.org", port=993)
    for folder in folders:
        for side in ("remote", "local"):
            ui.offlineimap_listing(account=account, folder=folder, side=side)
        ui.offlineimap_folder_start(account=account, folder=folder, total=3, total_bytes=3000)
        stats = FolderStats()
        for uid in (1, 2, 3):
            ui.offlineimap_message_copied(account=account, folder=folder, uid=uid,
                                          source="remote", destination="local", size=1000)
            stats.copied_to_local += 1
            stats.bytes_copied += 1000
        ui.offlineimap_flags_changed(account=account, folder=folder, side="remote",
                                     added={"S": [7, 8]}, removed={"F": [9]})
        stats.flags_changed_remote += 3
        ui.offlineimap_messages_deleted(account=account, folder=folder, side="local",
                                        uids=[4, 5])
        stats.deleted_local += 2
        if fail and folder == folders[-1]:
            ui.offlineimap_error(message=f"folder {folder}: connection reset by peer",
                                 account=account, exc=ConnectionResetError("reset"))
            stats.errors += 1
        ui.offlineimap_folder_finish(account=account, folder=folder, stats=stats)
        totals.add(stats)
    ui.offlineimap_account_finish(account=account, stats=totals, elapsed=1.5)
    return totals, 1.5


def _run_accounts(ui: object, accounts: dict[str, bool]) -> RunStats:
    """Sync each account (name -> fails?) on its own thread, as core does; return the stats."""
    stats = RunStats()
    ui.offlineimap_run_start(accounts=list(accounts))

    def worker(name: str, fail: bool) -> None:
        totals, elapsed = _sync_sequence(ui, name, fail=fail)
        stats.record(name, totals, elapsed, failed=fail)

    threads = [threading.Thread(target=worker, args=item, name=f"Account sync {item[0]}")
               for item in accounts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ui.offlineimap_run_finish(stats=stats)
    return stats


@pytest.fixture
def sync_sequence() -> Callable[..., tuple[FolderStats, float]]:
    return _sync_sequence


@pytest.fixture
def run_accounts() -> Callable[..., RunStats]:
    return _run_accounts


@pytest.fixture
def make_ui(config: Config) -> Iterator[Callable[..., object]]:
    """Build a UI with the real config; closes its handlers (the log file) afterwards."""
    built: list[object] = []

    def make(cls: type, **kwargs: object) -> object:
        ui = cls(config, **kwargs)
        built.append(ui)
        return ui

    yield make
    for ui in built:
        ui.close()
