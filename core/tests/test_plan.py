"""The three-way comparison, case by case (pure logic, no I/O)."""

from __future__ import annotations

from offlineimap.plan import LOCAL, REMOTE, SidePolicy, make_plan
from offlineimap.repository import MessageInfo
from offlineimap.status import StatusRecord

RW = {REMOTE: SidePolicy(), LOCAL: SidePolicy()}


def side(**uids: str) -> dict[int, MessageInfo]:
    return {int(k[1:]) * (-1 if k[0] == "n" else 1): MessageInfo(frozenset(v))
            for k, v in uids.items()}


def status(**uids: str) -> dict[int, StatusRecord]:
    return {int(k[1:]): StatusRecord(frozenset(v)) for k, v in uids.items()}


def test_new_messages_are_copied_each_way() -> None:
    plan = make_plan({REMOTE: side(u1="S", u2=""), LOCAL: side(n1="")}, {}, RW)
    assert plan.copy_to[LOCAL] == [1, 2]
    assert plan.copy_to[REMOTE] == [-1]
    assert not any(plan.delete_on.values())


def test_message_on_both_sides_without_status_is_adopted_not_copied() -> None:
    plan = make_plan({REMOTE: side(u5="SF"), LOCAL: side(u5="S")}, {}, RW)
    assert plan.copy_to == {REMOTE: [], LOCAL: []}
    assert plan.status_adopt[5].flags == frozenset("S")
    # the remote's extra flag reaches the local side: flags are merged, never dropped
    assert plan.flags_on[LOCAL] == {5: (frozenset("F"), frozenset())}
    assert plan.status_flags[5].flags == frozenset("SF")


def test_deletions_propagate_both_ways() -> None:
    plan = make_plan({REMOTE: side(u1="", u2=""), LOCAL: side(u2="", u3="")},
                     status(u1="", u2="", u3=""), RW)
    assert plan.delete_on[REMOTE] == [1]
    assert plan.delete_on[LOCAL] == [3]


def test_sync_deletes_off_keeps_the_other_copy_and_its_status() -> None:
    policy = {REMOTE: SidePolicy(sync_deletes=False), LOCAL: SidePolicy()}
    plan = make_plan({REMOTE: side(), LOCAL: side(u3="")}, status(u3=""), policy)
    assert plan.delete_on[LOCAL] == []
    assert plan.deletions_held[REMOTE] == 1
    assert plan.copy_to[REMOTE] == []  # not copied back either
    assert plan.status_forget == []


def test_gone_from_both_sides_is_forgotten() -> None:
    plan = make_plan({REMOTE: side(), LOCAL: side()}, status(u9="S"), RW)
    assert plan.status_forget == [9]


def test_flags_both_sides_changed_are_merged() -> None:
    plan = make_plan({REMOTE: side(u1="SR"), LOCAL: side(u1="F")}, status(u1="S"), RW)
    # remote added R; local removed S and added F
    assert plan.flags_on[REMOTE][1] == (frozenset("F"), frozenset("S"))
    assert plan.flags_on[LOCAL][1] == (frozenset("R"), frozenset())
    assert plan.status_flags[1].flags == frozenset("RF")


def test_readonly_remote_receives_nothing_and_local_changes_are_kept() -> None:
    policy = {REMOTE: SidePolicy(writable=False), LOCAL: SidePolicy()}
    plan = make_plan({REMOTE: side(u1="S", u2=""), LOCAL: side(u1="SF", n4="")},
                     status(u1="S"), policy)
    assert plan.copy_to[REMOTE] == []
    assert plan.copy_to[LOCAL] == [2]
    assert plan.flags_on[REMOTE] == {}
    assert 1 not in plan.status_flags  # status keeps the remote's flags: F is retried later
    again = make_plan({REMOTE: side(u1="S"), LOCAL: side(u1="SF")}, status(u1="S"), policy)
    assert again.flags_on == {REMOTE: {}, LOCAL: {}}


def test_readonly_local_receives_nothing() -> None:
    policy = {REMOTE: SidePolicy(), LOCAL: SidePolicy(writable=False)}
    plan = make_plan({REMOTE: side(u1="S", u2=""), LOCAL: side(u1="")}, status(u1="S", u3=""),
                     policy)
    assert plan.copy_to[LOCAL] == []
    assert plan.flags_on[LOCAL] == {}
    assert plan.delete_on[LOCAL] == []
    assert plan.flags_on[REMOTE] == {1: (frozenset(), frozenset("S"))}


def test_copy_filter_restricts_copies_but_never_causes_deletions() -> None:
    old = MessageInfo(frozenset(), size=10, internaldate=100.0)
    new = MessageInfo(frozenset(), size=10, internaldate=10_000.0)
    listings = {REMOTE: {1: old, 2: new, 3: old}, LOCAL: {3: old}}
    plan = make_plan(listings, status(u3=""), RW,
                     copy_allowed=lambda info: (info.internaldate or 0) > 1000)
    assert plan.copy_to[LOCAL] == [2]
    assert plan.delete_on == {REMOTE: [], LOCAL: []}


def test_no_change_gives_an_empty_plan() -> None:
    plan = make_plan({REMOTE: side(u1="S", u2="FS"), LOCAL: side(u1="S", u2="SF")},
                     status(u1="S", u2="FS"), RW)
    assert plan.empty


def test_changes_merged_into_the_status_give_the_full_remote_listing() -> None:
    """The listing the engine rebuilds from QRESYNC's changes, fed to the same plan as a full
    listing would be."""
    from offlineimap.engine import merge_changes
    from offlineimap.repository import FolderChanges

    records = status(u1="S", u2="", u3="F", u4="")
    changes = FolderChanges(changed={2: MessageInfo(frozenset("S"), size=9), 7: MessageInfo(
        frozenset(), size=5), 8: MessageInfo(frozenset("F"))}, vanished={3, 8, 99})
    listing = merge_changes(records, changes)
    assert listing == {1: MessageInfo(frozenset("S")), 2: MessageInfo(frozenset("S"), size=9),
                       4: MessageInfo(frozenset()), 7: MessageInfo(frozenset(), size=5)}
    plan = make_plan({REMOTE: listing, LOCAL: side(u1="S", u2="", u3="F", u4="R")}, records, RW)
    assert plan.copy_to == {REMOTE: [], LOCAL: [7]}
    assert plan.delete_on == {REMOTE: [], LOCAL: [3]}
    assert plan.flags_on[LOCAL] == {2: (frozenset("S"), frozenset())}
    assert plan.flags_on[REMOTE] == {4: (frozenset("R"), frozenset())}
