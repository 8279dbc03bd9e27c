"""Quick syncs: the full/quick schedule and the per-folder gate, with in-memory fakes."""

from __future__ import annotations

from offlineimap.quick import META_KEY, QuickGate, QuickSchedule, remote_fingerprint
from offlineimap.repository import Folder, FolderState, MessageInfo
from offlineimap.status import MemoryStatusFolder, StatusRecord


class ListingOnly(Folder):
    """A local folder that can only list (all the gate may ask of it)."""

    def __init__(self, listing: dict[int, MessageInfo]) -> None:
        self.listing = listing
        self.name = "INBOX"

    def state(self) -> FolderState:
        return FolderState()

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        return dict(self.listing)

    fetch = save_messages = change_flags = delete_messages = None  # type: ignore[assignment]


STATE = FolderState(uidvalidity=7, uidnext=11, exists=3, highestmodseq=40)


def synced() -> tuple[MemoryStatusFolder, ListingOnly]:
    status = MemoryStatusFolder()
    status.put({1: StatusRecord(frozenset("S")), 2: StatusRecord(frozenset())})
    local = ListingOnly({1: MessageInfo(frozenset("S")), 2: MessageInfo(frozenset())})
    QuickGate(status, STATE).record(None)
    return status, local


def test_schedule_follows_offlineimaps_counter() -> None:
    schedule = QuickSchedule(2)
    assert [schedule.next_is_quick() for _ in range(7)] == [
        False, True, True, False, True, True, False]
    schedule.reset()
    assert schedule.next_is_quick() is False
    assert all(QuickSchedule(-1).next_is_quick() for _ in range(3))
    assert not any(QuickSchedule(0).next_is_quick() for _ in range(3))


def test_a_folder_unchanged_on_both_sides_is_skipped() -> None:
    status, local = synced()
    assert QuickGate(status, STATE).unchanged(local)


def test_any_remote_state_change_means_a_sync() -> None:
    status, local = synced()
    for changed in (FolderState(7, 12, 3, 40), FolderState(7, 11, 2, 40),
                    FolderState(7, 11, 3, 41), FolderState(8, 11, 3, 40)):
        assert not QuickGate(status, changed).unchanged(local), changed


def test_local_new_deleted_and_reflagged_messages_mean_a_sync() -> None:
    status, local = synced()
    for listing in ({**local.listing, -1: MessageInfo(frozenset())},
                    {1: local.listing[1]},
                    {1: MessageInfo(frozenset("SF")), 2: local.listing[2]}):
        assert not QuickGate(status, STATE).unchanged(ListingOnly(listing)), listing


def test_without_a_recorded_or_usable_state_nothing_is_skipped() -> None:
    status = MemoryStatusFolder()
    local = ListingOnly({})
    assert not QuickGate(status, STATE).unchanged(local)
    assert remote_fingerprint(FolderState(uidvalidity=7)) is None
    gate = QuickGate(status, FolderState(uidvalidity=7))
    gate.record(None)
    assert META_KEY not in status.meta()
    assert not gate.unchanged(local)


def test_a_matching_local_token_skips_the_listing() -> None:
    status, _local = synced()
    QuickGate(status, STATE).record("maildir:1:2")
    nothing = ListingOnly({})  # would look changed if it were listed
    assert QuickGate(status, STATE, local_token="maildir:1:2").unchanged(nothing)
    assert not QuickGate(status, STATE, local_token="maildir:1:3").unchanged(nothing)
    assert not QuickGate(status, STATE, local_token=None).unchanged(nothing)


def test_exactness_and_listing_age() -> None:
    status, _local = synced()
    gate = QuickGate(status, STATE)
    assert gate.exact and gate.listed_within(60)
    assert not QuickGate(status, FolderState(uidvalidity=7, uidnext=11, exists=3)).exact
    status.set_meta({"full_listing_time": "0"})
    assert not QuickGate(status, STATE).listed_within(3600)
