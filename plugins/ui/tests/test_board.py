"""The Blinkenlights model: lights per thread, progress, totals, account numbers."""

from __future__ import annotations

import threading

from offlineimap.stats import FolderStats
from offlineimap_ui.blinkenlights import Blinkenlights
from offlineimap_ui.board import ENDED_KEPT, Activity, Board


def in_thread(target, name="worker"):
    thread = threading.Thread(target=target, name=name)
    thread.start()
    thread.join()


def test_a_light_per_thread_follows_the_events(config):
    ui = Blinkenlights(config)
    ui.account_keys(["Personal", "Work"])
    seen: dict[str, list[Activity]] = {}
    gate = threading.Barrier(2)

    def account(name: str) -> None:
        def light() -> Activity:
            return ui.board.activity_of(threading.get_ident())

        steps = seen.setdefault(name, [])
        ui.offlineimap_account_start(account=name)
        steps.append(light())
        ui.offlineimap_connecting(account=name, repository="R", host="h", port=993)
        steps.append(light())
        ui.offlineimap_listing(account=name, folder="INBOX", side="remote")
        steps.append(light())
        ui.offlineimap_folder_start(account=name, folder="INBOX", total=2, total_bytes=200)
        steps.append(light())
        ui.offlineimap_message_copied(account=name, folder="INBOX", uid=1, source="remote",
                                      destination="local", size=100)
        steps.append(light())
        ui.offlineimap_flags_changed(account=name, folder="INBOX", side="local",
                                     added={"S": [1]}, removed={})
        steps.append(light())
        ui.offlineimap_flags_changed(account=name, folder="INBOX", side="local", added={},
                                     removed={"F": [1]})
        steps.append(light())
        ui.offlineimap_messages_deleted(account=name, folder="INBOX", side="local", uids=[2])
        steps.append(light())
        gate.wait()  # both threads alive at once: two lights
        snap = ui.board.snapshot()
        assert sum(1 for lt in snap.lights if lt.activity is Activity.DELETING) == 2
        gate.wait()
        ui.offlineimap_folder_finish(account=name, folder="INBOX", stats=FolderStats())
        steps.append(light())
        ui.offlineimap_sleeping(account=name, seconds=10)
        steps.append(light())
        ui.offlineimap_account_finish(account=name, stats=FolderStats(), elapsed=1.0)
        steps.append(light())

    threads = [threading.Thread(target=account, args=(name,)) for name in ("Personal", "Work")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [Activity.ACCOUNT, Activity.CONNECTING, Activity.LISTING, Activity.FOLDER,
                Activity.COPYING, Activity.FLAGS_ADDING, Activity.FLAGS_REMOVING,
                Activity.DELETING, Activity.CONTROLLER, Activity.SLEEPING, Activity.ENDED]
    assert seen == {"Personal": expected, "Work": expected}
    snap = ui.board.snapshot()
    assert [row.name for row in snap.accounts] == ["Personal", "Work"]
    assert all(row.status == "done" for row in snap.accounts)
    assert [(r.copied_to_local, r.deleted, r.flags) for r in snap.accounts] == [(1, 1, 2)] * 2
    assert {"orange", "cyan", "purple", "gray", "red", "yellow", "pink"} <= {c for c, _ in snap.log}
    assert any(text == "Personal: Copy message UID 1 (1/2) remote:INBOX -> local:INBOX"
               for _, text in snap.log)


def test_colours_match_the_manual():
    assert {a: a.colour for a in Activity} == {
        Activity.MAIN: "red", Activity.CONNECTING: "gray", Activity.ACCOUNT: "purple",
        Activity.FOLDER: "cyan", Activity.LISTING: "green", Activity.CONTROLLER: "blue",
        Activity.COPYING: "orange", Activity.DELETING: "red", Activity.FLAGS_ADDING: "yellow",
        Activity.FLAGS_REMOVING: "pink", Activity.SLEEPING: "countdown",
        Activity.ENDED: "black"}


def test_finished_threads_turn_black_and_old_ones_are_dropped():
    board = Board()
    for n in range(ENDED_KEPT + 3):
        in_thread(lambda: board.set_activity(Activity.COPYING, "A"), name=f"w{n}")
    snap = board.snapshot()
    assert len(snap.lights) == ENDED_KEPT
    assert {light.activity for light in snap.lights} == {Activity.ENDED}


def test_folder_progress_and_rate():
    board = Board()
    board.folder_started("A", "INBOX", total=4, total_bytes=4000)
    board.message_copied("A", "INBOX", 1000)
    board.message_copied("A", "INBOX", 1000)
    (progress,) = board.snapshot().folders
    assert (progress.copied, progress.bytes_copied, progress.fraction()) == (2, 2000, 0.5)
    text = progress.describe(progress.started + 2.0)
    assert text == "A/INBOX: 2/4 msgs, 2.0 KiB/3.9 KiB, 1000 B/s"
    board.folder_finished("A", "INBOX")
    assert board.snapshot().folders == []


def test_account_numbers_and_keys(config):
    ui = Blinkenlights(config)
    ui.account_keys(["Personal", "Work"])
    asked: list[int] = []
    assert ui._on_key(ord("2")) == "sync now is not available in this run"
    ui.sync_now = asked.append
    assert ui._on_key(ord("2")) == "sync now: Work"
    assert ui._on_key(ord("7")) == "no account number 7"
    assert asked == [2]
    assert not ui.stop_requested.is_set()
    assert ui._on_key(ord("q")) == "quitting..."
    assert ui.stop_requested.is_set()
    assert ui.board.account_name(1) == "Personal"


def test_session_refuses_a_non_terminal(config):
    import pytest

    from offlineimap.errors import ConfigError

    ui = Blinkenlights(config)
    with pytest.raises(ConfigError, match="needs a terminal"), ui.session():
        pass


def test_account_row_becomes_the_account_summary_when_the_sync_ends():
    board = Board()
    board.account_started("A")
    board.message_copied("A", "INBOX", 1536)
    board.count("A", copied_to_local=1, deleted=2)
    (row,) = board.snapshot().accounts
    assert row.totals() == "1 to local, 0 to remote (1.5 KiB), 2 deleted, 0 flags, 0 errors"
    board.account_finished("A", 75.2)
    board.sleeping("A", 600)
    (row,) = board.snapshot().accounts
    assert row.totals().endswith("0 errors; last sync took 1:15")
    assert row.lead(0.0) == "[  10:00]"
    board.account_started("A")  # the next sync starts from zero
    (row,) = board.snapshot().accounts
    assert row.totals() == "0 to local, 0 to remote (0 B), 0 deleted, 0 flags, 0 errors"
