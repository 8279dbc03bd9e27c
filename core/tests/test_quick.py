"""Quick syncs: the full/quick schedule and the per-folder gate, with in-memory fakes."""

from __future__ import annotations

from offlineimap.quick import (
    QuickGate,
    QuickSchedule,
    SyncStates,
    flags_digest,
    parse_fingerprint,
    remote_fingerprint,
)
from offlineimap.repository import Folder, FolderState, MessageInfo
from offlineimap.status import StatusRecord


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


RECORDS = {1: StatusRecord(frozenset("S")), 2: StatusRecord(frozenset())}


def synced(token: str | None = None) -> tuple[dict[str, str], ListingOnly]:
    """The entry recorded after a clean sync, and a local folder listing what the status has."""
    entry = QuickGate({}, STATE).recorded(token, RECORDS)
    assert entry is not None
    local = ListingOnly({1: MessageInfo(frozenset("S")), 2: MessageInfo(frozenset())})
    return entry, local


def gate(saved: dict[str, str], state: FolderState = STATE, token: str | None = None
         ) -> QuickGate:
    return QuickGate(saved, state, local_token=token, records=lambda: dict(RECORDS))


def test_schedule_follows_offlineimaps_counter() -> None:
    schedule = QuickSchedule(2)
    assert [schedule.next_is_quick() for _ in range(7)] == [
        False, True, True, False, True, True, False]
    schedule.reset()
    assert schedule.next_is_quick() is False
    assert all(QuickSchedule(-1).next_is_quick() for _ in range(3))
    assert not any(QuickSchedule(0).next_is_quick() for _ in range(3))


def test_a_folder_unchanged_on_both_sides_is_skipped() -> None:
    saved, local = synced()
    assert gate(saved).unchanged(local)


def test_any_remote_state_change_means_a_sync() -> None:
    saved, local = synced()
    for changed in (FolderState(7, 12, 3, 40), FolderState(7, 11, 2, 40),
                    FolderState(7, 11, 3, 41), FolderState(8, 11, 3, 40)):
        assert not gate(saved, changed).unchanged(local), changed


def test_local_new_deleted_and_reflagged_messages_mean_a_sync() -> None:
    saved, local = synced()
    for listing in ({**local.listing, -1: MessageInfo(frozenset())},
                    {1: local.listing[1]},
                    {1: MessageInfo(frozenset("SF")), 2: local.listing[2]}):
        assert not gate(saved).unchanged(ListingOnly(listing)), listing


def test_without_a_recorded_or_usable_state_nothing_is_skipped() -> None:
    local = ListingOnly({})
    assert not gate({}).unchanged(local)
    assert remote_fingerprint(FolderState(uidvalidity=7)) is None
    assert QuickGate({}, FolderState(uidvalidity=7)).recorded(None, RECORDS) is None
    saved, listing = synced()
    del saved["status"]  # an entry from before digests were recorded
    assert not QuickGate(saved, STATE).unchanged(listing)  # no token, no status: cannot tell


def test_the_recorded_digest_decides_without_opening_the_status() -> None:
    saved, local = synced("maildir:1:2")

    def unreadable() -> dict[int, StatusRecord]:
        raise AssertionError("the status cache was read")

    moved = QuickGate(saved, STATE, local_token="maildir:3:4", records=unreadable)
    assert moved.unchanged(local)
    reflagged = ListingOnly({**local.listing, 2: MessageInfo(frozenset("R"))})
    assert not QuickGate(saved, STATE, local_token="maildir:3:4",
                         records=unreadable).unchanged(reflagged)
    assert flags_digest({1: frozenset("SF")}) == flags_digest({1: frozenset("FS")})
    assert flags_digest({1: frozenset("S")}) != flags_digest({2: frozenset("S")})


def test_a_matching_local_token_skips_the_listing() -> None:
    saved, _local = synced("maildir:1:2")
    nothing = ListingOnly({})  # would look changed if it were listed
    assert gate(saved, token="maildir:1:2").unchanged(nothing)
    assert not gate(saved, token="maildir:1:3").unchanged(nothing)
    assert not gate(saved, token=None).unchanged(nothing)


def test_exactness_and_listing_age() -> None:
    saved, _local = synced()
    assert gate(saved).exact and gate(saved).listed_within(60)
    assert not gate(saved, FolderState(uidvalidity=7, uidnext=11, exists=3)).exact
    assert not gate({**saved, "listed": "0"}).listed_within(3600)


def test_sync_states_survive_a_restart_and_ignore_damage(tmp_path) -> None:
    path = tmp_path / "SyncStates"
    states = SyncStates(path)
    states.put("INBOX", {"remote": "x"})
    assert not path.exists()  # written once per sync, not once per folder
    states.flush()
    assert SyncStates(path).get("INBOX") == {"remote": "x"}
    path.write_text("{not json")
    assert SyncStates(path).get("INBOX") == {}


def test_a_skip_by_listing_keeps_the_settled_token() -> None:
    saved, local = synced(None)
    settled = gate(saved, token="maildir:5:6")
    assert settled.unchanged(local)
    assert settled.with_current_token() == {**saved, "local": "maildir:5:6"}
    again = gate(settled.with_current_token() or {}, token="maildir:5:6")
    assert again.with_current_token() is None


def test_the_recorded_state_allows_listing_by_changes_until_a_full_listing_is_due() -> None:
    saved, _local = synced()
    moved = FolderState(uidvalidity=7, uidnext=15, exists=5, highestmodseq=52)
    assert gate(saved, moved).since(moved, 3600) == STATE
    assert gate(saved, moved).since(moved, 0) is None
    assert gate({**saved, "listed": "0"}, moved).since(moved, 3600) is None
    renumbered = FolderState(uidvalidity=8, uidnext=15, exists=5, highestmodseq=52)
    assert gate(saved, renumbered).since(renumbered, 3600) is None
    plain = FolderState(uidvalidity=7, uidnext=15, exists=5)
    assert gate(saved, plain).since(plain, 3600) is None
    assert gate({}, moved).since(moved, 3600) is None
    assert parse_fingerprint("uidvalidity=x highestmodseq") == FolderState()


def test_a_sync_by_changes_keeps_the_time_of_the_last_full_listing() -> None:
    saved, _local = synced()
    saved = {**saved, "listed": "1000"}
    moved = FolderState(uidvalidity=7, uidnext=15, exists=5, highestmodseq=52)
    by_changes = gate(saved, moved).recorded("t", RECORDS, listed_fully=False)
    full = gate(saved, moved).recorded("t", RECORDS)
    assert by_changes is not None and full is not None
    assert by_changes["listed"] == "1000" and float(full["listed"]) > 1000
    assert by_changes["remote"] == full["remote"] == remote_fingerprint(moved)
