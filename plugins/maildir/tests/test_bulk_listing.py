"""Listing a folder whose names are all in the usual form with operations on whole lists
(:meth:`NameScheme.parse_usual`), and the quick sync digest of such a listing: the same
answers as reading the names one by one, on real Maildirs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from offlineimap.quick import DIGEST_KEY, QuickGate, flags_digest
from offlineimap.repository import FolderState
from offlineimap.status import StatusRecord
from offlineimap_maildir.names import NameScheme

FMD5 = "7e33429f656f1e6e9d79b29c3f82c57e"  # md5 of "INBOX"

#: Names as we write them: (timestamp, sequence, UID, flags).
usual_parts = st.tuples(st.integers(0, 2**34), st.integers(0, 99), st.integers(1, 2**40),
                        st.text(alphabet="DFPRSTab", max_size=4))
#: Anything a directory may hold, close enough to the usual form to trip a careless parser.
odd_names = st.text(alphabet="0123456789_.,:!U=FMD5abcdefSRT\u0663\u00e9" + FMD5[:6],
                    min_size=1, max_size=70)


def usual_name(parts: tuple[int, int, int, str], infosep: str = ":") -> str:
    stamp, seq, uid, flags = parts
    return f"{stamp}_{seq}.4242.host,U={uid},FMD5={FMD5}{infosep}2,{flags}"


def put(path: Path, body: bytes = b"Subject: x\n\nbody\n") -> Path:
    path.write_bytes(body)
    return path


@given(st.lists(usual_parts, max_size=8), st.sampled_from(":!"))
def test_names_in_the_usual_form_are_read_in_bulk(parts: list, infosep: str) -> None:
    scheme = NameScheme(FMD5, infosep)
    listed = [usual_name(part, infosep) for part in parts]
    assert scheme.parse_usual(listed) == (
        [uid for _stamp, _seq, uid, _flags in parts],
        [(str(stamp), flags) for stamp, _seq, _uid, flags in parts])


@given(st.lists(st.one_of(usual_parts.map(usual_name), odd_names,
                          odd_names.map(lambda tail: f"17_0.1.h,U=3,FMD5={FMD5}:2,{tail}"),
                          odd_names.map(lambda head: f"{head},U=3,FMD5={FMD5}:2,S")),
                max_size=6))
def test_bulk_reading_agrees_with_reading_one_by_one(listed: list[str]) -> None:
    scheme = NameScheme(FMD5, ":")
    read = scheme.parse_usual(listed)
    if read is None:  # some name is not in the usual form: each is read on its own
        return
    uids, keys = read
    assert [scheme.parse_listed(name) for name in listed] == [
        (uid, flags, float(stamp)) for uid, (stamp, flags) in zip(uids, keys, strict=True)]


def test_any_other_name_makes_the_folder_read_one_by_one() -> None:
    scheme = NameScheme(FMD5, ":")
    usual = usual_name((1700000000, 0, 5, "S"))
    for other in (f".{usual}",  # a dotfile
                  f"x{usual}",  # no timestamp: its date is the file's mtime
                  usual.replace("U=5", "U=0"), usual.replace("U=5", "U=\u0663"),
                  usual.replace("4242", "4,242"), usual.replace("4242", "42:42"),
                  usual.replace(FMD5, "d41d8cd98f00b204e9800998ecf8427e"),
                  usual + "\u00e9", usual + "_1", usual.removesuffix(":2,S"),
                  "1700000001.M1P2.mutt:2,S"):
        assert scheme.parse_usual([usual, other]) is None, other
    assert scheme.parse_usual([usual, usual.replace("U=5", "U=007")]) == (
        [5, 7], [("1700000000", "S"), ("1700000000", "S")])


def test_bulk_listing_gives_what_the_names_say(make_repo, inbox) -> None:
    written = {1: (1700000000, "S"), 2: (1700000000, "RS"), 3: (1700000001, "S"),
               4: (1700000001, "FSab"), 5: (1700000002, ""), 6: (1700000002, "F")}
    for uid, (stamp, flags) in written.items():
        put(inbox / ("cur" if "S" in flags else "new") / usual_name((stamp, uid, uid, flags)))
    folder = make_repo().open_folder("INBOX")
    assert folder.scheme.parse_usual(os.listdir(inbox / "cur")) is not None
    listing = folder.list_messages()
    assert {uid: (info.internaldate, "".join(sorted(info.flags)), info.size)
            for uid, info in listing.items()} == {
        uid: (stamp, "".join(sorted(set(flags) - {"a", "b"})), None)
        for uid, (stamp, flags) in written.items()}
    put(inbox / "new" / "1700000003.M1P2.mutt", b"local")  # now read one by one
    again = folder.list_messages()
    assert {uid: info for uid, info in again.items() if uid > 0} == listing
    assert dict(folder.fetch([-1])) == {-1: b"local"}


def test_files_are_found_after_a_bulk_listing(make_repo, inbox) -> None:
    for uid in (1, 5, 9):
        put(inbox / "cur" / usual_name((1700000000, uid, uid, "S")), b"body %d" % uid)
    folder = make_repo().open_folder("INBOX")
    assert sorted(folder.list_messages(min_uid=5)) == [5, 9]
    assert dict(folder.fetch([1, 9])) == {1: b"body 1", 9: b"body 9"}
    folder.list_messages()
    folder.change_flags({5: (frozenset("F"), frozenset("S"))})
    folder.delete_messages([9])
    assert sorted(os.listdir(inbox / "cur")) == [usual_name((1700000000, 1, 1, "S"))]
    assert os.listdir(inbox / "new") == [usual_name((1700000000, 5, 5, "F"))]
    assert {uid: info.flags for uid, info in folder.list_messages().items()} == {
        1: {"S"}, 5: {"F"}}


def test_a_uid_twice_in_one_directory_keeps_one_and_warns(make_repo, inbox) -> None:
    first, second = usual_name((1700000000, 0, 3, "S")), usual_name((1700000000, 1, 3, "FS"))
    put(inbox / "cur" / first, b"first")
    put(inbox / "cur" / second, b"second")
    repo = make_repo()
    folder = repo.open_folder("INBOX")
    assert list(folder.list_messages()) == [3]
    kept = os.listdir(inbox / "cur")[0]  # the one the directory lists first
    assert dict(folder.fetch([3])) == {3: (inbox / "cur" / kept).read_bytes()}
    assert len([line for line in repo.ctx.events.warnings if "UID 3" in line]) == 1


def test_what_is_not_a_file_is_passed_over_in_bulk_too(make_repo, inbox) -> None:
    put(inbox / "cur" / usual_name((1700000000, 0, 1, "S")))
    (inbox / "cur" / usual_name((1700000000, 1, 2, "S"))).mkdir()
    (inbox / "cur" / usual_name((1700000000, 2, 3, "S"))).symlink_to(
        inbox / "cur" / usual_name((1700000000, 2, 3, "S")))  # a loop: a stat fails
    (inbox / "new" / usual_name((1700000000, 3, 4, ""))).symlink_to(
        inbox / "cur" / usual_name((1700000000, 0, 1, "S")))  # a link to a file is one
    folder = make_repo().open_folder("INBOX")
    assert sorted(folder.list_messages()) == [1, 4]
    assert sorted(folder.list_messages(min_uid=2)) == [4]


def _status_of(folder) -> dict[int, StatusRecord]:
    """What a clean sync leaves in the status for this folder: its messages and flags, in UID
    order, each with flags of its own."""
    listing = folder.list_messages()
    return {uid: StatusRecord(frozenset(sorted(listing[uid].flags)))
            for uid in sorted(listing)}


def test_quick_gate_digest_of_a_maildir_listing(make_repo, inbox) -> None:
    for uid in range(1, 41):
        flags = "RS" if uid % 3 else "F"
        put(inbox / ("cur" if "S" in flags else "new")
            / usual_name((1700000000 + uid // 7, uid, uid, flags)))
    folder = make_repo().open_folder("INBOX")
    state = FolderState(uidvalidity=1, uidnext=41, exists=40)
    saved = QuickGate({}, state).recorded("", _status_of(folder))
    assert saved is not None

    def unchanged() -> bool:
        return QuickGate(saved, state, local_token="maildir:changed").unchanged(
            make_repo().open_folder("INBOX"))

    assert unchanged()
    folder.change_flags({7: (frozenset("F"), frozenset())})
    assert not unchanged()
    folder.change_flags({7: (frozenset(), frozenset("F"))})
    assert unchanged()
    folder.delete_messages([40])
    assert not unchanged()


def test_digest_tells_flag_sets_and_uids_apart() -> None:
    s, f, none = frozenset("S"), frozenset("F"), frozenset()
    assert flags_digest({1: s, 2: f}) == flags_digest({2: frozenset("F"), 1: frozenset("S")})
    assert flags_digest({1: s, 2: f}) != flags_digest({1: f, 2: s})
    assert flags_digest({1: s, 2: none}) != flags_digest({1: s})
    assert flags_digest({1: s}) != flags_digest({1: s, -1: none})
    assert flags_digest({}) != flags_digest({1: none})
    assert flags_digest({1: frozenset({"ab"})}) != flags_digest({1: frozenset("ab")})


def test_a_uid_too_large_to_pack_is_still_digested(make_repo, inbox) -> None:
    huge = 2**70
    put(inbox / "cur" / usual_name((1700000000, 0, 1, "S")))
    put(inbox / "cur" / usual_name((1700000000, 1, huge, "S")))
    listing = make_repo().open_folder("INBOX").list_messages()
    assert sorted(listing) == [1, huge]
    flags = {uid: info.flags for uid, info in listing.items()}
    assert flags_digest(flags) == flags_digest({huge: frozenset("S"), 1: frozenset("S")})
    assert flags_digest(flags) != flags_digest({1: frozenset("S"), 2: frozenset("S")})


def test_a_digest_recorded_by_an_older_version_means_one_full_comparison(make_repo,
                                                                       inbox) -> None:
    put(inbox / "cur" / usual_name((1700000000, 0, 1, "S")))
    put(inbox / "new" / usual_name((1700000000, 1, 2, "")))
    folder = make_repo().open_folder("INBOX")
    state = FolderState(uidvalidity=1, uidnext=3, exists=2)
    saved = QuickGate({}, state).recorded("", _status_of(folder))
    assert saved is not None
    assert QuickGate(saved, state).unchanged(folder)
    # What the previous version recorded for the same two messages.
    older = hashlib.blake2b(b"1 S\n2 ", digest_size=16).hexdigest()
    assert not QuickGate({**saved, DIGEST_KEY: older}, state).unchanged(folder)
