"""Folder pairing: nametrans both ways, filters, -f, creation and the round-trip check."""

from __future__ import annotations

import functools

from offlineimap.folder_map import SideNaming, map_folders


def test_identity_mapping_with_separator_swap() -> None:
    result = map_folders(["INBOX", "a/b"], ["INBOX"], SideNaming("/"), SideNaming("."))
    pairs = {(p.remote, p.local, p.status, p.create_local) for p in result.pairs}
    assert pairs == {("INBOX", "INBOX", "INBOX", False), ("a/b", "a.b", "a.b", True)}


def test_local_only_folder_is_created_remotely() -> None:
    result = map_folders(["INBOX"], ["INBOX", "Drafts.x"], SideNaming("/"), SideNaming("."))
    created = [p for p in result.pairs if p.create_remote]
    assert [(p.remote, p.local) for p in created] == [("Drafts/x", "Drafts.x")]


def test_nametrans_round_trip_both_ways() -> None:
    remote = SideNaming("/", nametrans=lambda n: "acc1" if n == "INBOX" else "acc1." + n)
    local = SideNaming(".", nametrans=lambda n: "INBOX" if n == "acc1" else n[len("acc1."):])
    result = map_folders(["INBOX", "Sent"], ["acc1", "acc1.Sent", "acc1.New"], remote, local)
    assert not result.problems
    assert {(p.remote, p.local, p.create_remote) for p in result.pairs} == {
        ("INBOX", "acc1", False), ("Sent", "acc1.Sent", False), ("New", "acc1.New", True)}


def test_nametrans_that_does_not_round_trip_is_refused() -> None:
    remote = SideNaming(".", nametrans=lambda n: "INBOX." + n)
    result = map_folders(["foo"], ["INBOX.foo", "other"], remote, SideNaming("."))
    assert [p.local for p in result.pairs] == ["INBOX.foo"]
    assert len(result.problems) == 1 and "'other'" in result.problems[0]


def test_folderfilter_and_includes_and_only() -> None:
    remote = SideNaming(".", folderfilter=lambda n: n.startswith("Keep"))
    result = map_folders(["Keep1", "Drop"], [], remote, SideNaming("."), includes=["Hidden"])
    assert sorted(p.remote for p in result.pairs) == ["Hidden", "Keep1"]
    only = map_folders(["Keep1", "Drop"], ["Local"], remote, SideNaming("."), only=["Drop"])
    assert [p.remote for p in only.pairs] == ["Drop"]


def test_local_folders_are_not_created_when_local_cannot_create() -> None:
    result = map_folders(["A", "B"], ["A"], SideNaming("."), SideNaming(".", can_create=False))
    assert [p.remote for p in result.pairs] == ["A"]


def test_foldersort() -> None:
    result = map_folders(["a", "c", "b"], [], SideNaming("."), SideNaming("."),
                         sort_key=functools.cmp_to_key(lambda x, y: (x < y) - (x > y)))
    assert [p.remote for p in result.pairs] == ["c", "b", "a"]
