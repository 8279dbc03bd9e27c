"""A stand-in for core's run loop, driving a real UI in a real terminal (tmux) for the tests.

Usage: ``python ui_driver.py MODE [STATE_DIR]``

* ``lights``: Blinkenlights with two accounts synced by worker threads until ``q``;
  each digit key press is written to ``STATE_DIR/sync_now``.
* ``ttyprompt``: TTYUI asks for a password; prints whether it was ``s3cret``.
* ``lightsprompt``: Blinkenlights asks for a password inside its session, then waits for ``q``.
* ``lightscrash``: an exception escapes the Blinkenlights session (the terminal must recover).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from offlineimap.config import Config
from offlineimap.passwords import PasswordRequest
from offlineimap.stats import FolderStats, RunStats
from offlineimap_ui.blinkenlights import Blinkenlights
from offlineimap_ui.console import TTYUI

ACCOUNTS = ["Personal", "Work"]
STEP = 0.15


def sync_account(ui: Blinkenlights, account: str, stats: RunStats, folders: list[str]) -> None:
    """One realistic sync pass, then autorefresh countdowns, until the user quits."""
    while not ui.stop_requested.is_set():
        started = time.monotonic()
        totals = FolderStats()
        ui.offlineimap_account_start(account=account)
        ui.offlineimap_connecting(account=account, repository=f"{account}-remote",
                                  host="imap.example.org", port=993)
        time.sleep(STEP)
        for folder in folders:
            for side in ("remote", "local"):
                ui.offlineimap_listing(account=account, folder=folder, side=side)
                time.sleep(STEP)
            ui.offlineimap_folder_start(account=account, folder=folder, total=6,
                                        total_bytes=6 * 4096)
            folder_stats = FolderStats()
            for uid in range(1, 7):
                ui.offlineimap_message_copied(account=account, folder=folder, uid=uid,
                                              source="remote", destination="local", size=4096)
                folder_stats.copied_to_local += 1
                time.sleep(STEP)
            ui.offlineimap_flags_changed(account=account, folder=folder, side="local",
                                         added={"S": [1, 2]}, removed={"F": [3]})
            folder_stats.flags_changed_local += 3
            ui.offlineimap_messages_deleted(account=account, folder=folder, side="remote",
                                            uids=[4])
            folder_stats.deleted_remote += 1
            time.sleep(STEP)
            ui.offlineimap_folder_finish(account=account, folder=folder, stats=folder_stats)
            totals.add(folder_stats)
        if account == "Work":
            ui.offlineimap_warning(message="folder Junk skipped: read-only", account=account)
        elapsed = time.monotonic() - started
        ui.offlineimap_account_finish(account=account, stats=totals, elapsed=elapsed)
        stats.record(account, totals, elapsed, failed=False)
        for remaining in range(30, -1, -1):
            if ui.stop_requested.is_set():
                break
            ui.offlineimap_sleeping(account=account, seconds=remaining)
            time.sleep(0.2)


def lights(state: Path, prompt: bool = False) -> int:
    ui = Blinkenlights(Config.from_string("[general]\n"))
    ui.account_keys(ACCOUNTS)
    ui.sync_now = lambda number: (state / "sync_now").write_text(str(number))
    stats = RunStats()
    with ui.session():
        ui.offlineimap_run_start(accounts=ACCOUNTS)
        if prompt:
            request = PasswordRequest("Personal-remote", Config.from_string("[general]\n")
                                      .section("general"), user="joe")
            answer = ui.offlineimap_prompt_password(request=request)
            ui.offlineimap_info(message=f"password ok: {answer == 's3cret'}", account=None)
        workers = [threading.Thread(target=sync_account, name=f"Account sync {name}",
                                    args=(ui, name, stats, folders))
                   for name, folders in zip(ACCOUNTS, (["INBOX", "Sent"], ["INBOX"]),
                                            strict=True)]
        for worker in workers:
            worker.start()
        ui.stop_requested.wait()
        for worker in workers:
            worker.join()
        ui.offlineimap_run_finish(stats=stats)
    return 0


def lightscrash() -> int:
    ui = Blinkenlights(Config.from_string("[general]\n"))
    with ui.session():
        ui.offlineimap_error(message="about to crash", account=None, exc=None)
        time.sleep(1)
        raise RuntimeError("engine crashed")


def ttyprompt() -> int:
    ui = TTYUI(Config.from_string("[general]\n"))
    request = PasswordRequest("R", Config.from_string("[general]\n").section("general"),
                              user="joe", host="imap.example.org")
    answer = ui.offlineimap_prompt_password(request=request)
    print(f"password ok: {answer == 's3cret'}")
    return 0


def main(argv: list[str]) -> int:
    mode = argv[1]
    state = Path(argv[2]) if len(argv) > 2 else Path(".")
    if mode == "lights":
        return lights(state)
    if mode == "lightsprompt":
        return lights(state, prompt=True)
    if mode == "lightscrash":
        return lightscrash()
    if mode == "ttyprompt":
        return ttyprompt()
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
