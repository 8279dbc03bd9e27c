"""Listing folders written by OfflineIMAP (hand-made fixtures) and by anything else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from offlineimap.errors import FolderError
from offlineimap.repository import FolderState


def put(path: Path, body: bytes = b"Subject: x\n\nbody\n", mtime: float | None = None) -> Path:
    path.write_bytes(body)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_offlineimap_names_are_listed_with_uid_flags_and_date(make_repo, inbox, md5) -> None:
    fmd5 = md5("INBOX")
    put(inbox / "cur" / f"1700000000_0.4242.oldhost,U=17,FMD5={fmd5}:2,RS")
    put(inbox / "cur" / f"1700000001_1.4242.oldhost,U=18,FMD5={fmd5}:2,FSab")
    put(inbox / "new" / f"1700000002_0.4242.oldhost,U=19,FMD5={fmd5}:2,")
    folder = make_repo().open_folder("INBOX")
    assert folder.state() == FolderState()
    listing = folder.list_messages()
    assert sorted(listing) == [17, 18, 19]
    assert listing[17].flags == {"R", "S"}
    assert listing[18].flags == {"F", "S"}  # keyword letters are not engine flags
    assert listing[19].flags == frozenset()
    assert listing[17].internaldate == 1700000000.0
    assert listing[17].size is None  # no stat needed


def test_foreign_fmd5_and_missing_uid_are_new_local_messages(make_repo, inbox, md5) -> None:
    put(inbox / "cur" / f"1600000000_0.1.h,U=17,FMD5={md5('Sent')}:2,S", mtime=1500000000)
    put(inbox / "cur" / "1600000001.M1P2.mutt:2,F", mtime=1500000001)
    put(inbox / "new" / "1600000002.M1P3.postfix", mtime=1500000002)
    put(inbox / "cur" / f"1600000003_0.1.h,FMD5={md5('INBOX')}:2,S", mtime=1500000003)
    folder = make_repo().open_folder("INBOX")
    listing = folder.list_messages()
    assert sorted(listing) == [-4, -3, -2, -1]
    assert sorted(info.internaldate for info in listing.values()) == [
        1500000000, 1500000001, 1500000002, 1500000003]  # the mtime, as OfflineIMAP uploads
    by_flags = sorted(sorted(info.flags) for info in listing.values())
    assert by_flags == [[], ["F"], ["S"], ["S"]]
    assert folder.list_messages() == listing  # stable


def test_negative_uids_stay_with_their_files_across_rescans(make_repo, inbox) -> None:
    put(inbox / "cur" / "b.mutt:2,S", b"B")
    folder = make_repo().open_folder("INBOX")
    assert list(folder.list_messages()) == [-1]
    put(inbox / "cur" / "a.mutt:2,S", b"A")  # sorts first, must not take -1
    os.rename(inbox / "cur" / "b.mutt:2,S", inbox / "cur" / "b.mutt:2,FS")  # a MUA's flag change
    assert dict(folder.fetch([-1])) == {-1: b"B"}
    assert sorted(folder.list_messages()) == [-2, -1]
    assert dict(folder.fetch([-2])) == {-2: b"A"}


def test_windows_compatible_names_from_account_or_repository(make_repo, inbox, md5) -> None:
    put(inbox / "cur" / f"1700000000_0.1.h,U=5,FMD5={md5('INBOX')}!2,S")
    for options in ({"account": "maildir-windows-compatible = yes"},
                    {"repository": "maildir-windows-compatible = yes"}):
        folder = make_repo(**options).open_folder("INBOX")
        assert folder.list_messages()[5].flags == {"S"}
    assert make_repo().open_folder("INBOX").list_messages()[5].flags == frozenset()


def test_odd_files_are_passed_over(make_repo, inbox, md5) -> None:
    put(inbox / "cur" / ".hidden")
    put(inbox / "cur" / ".nfs000123")
    (inbox / "cur" / "subdir").mkdir()
    put(inbox / "cur" / os.fsdecode(b"caf\xe9-not-utf8"))
    put(inbox / "cur" / ",U=,FMD5=:2,\u00e9")
    put(inbox / "cur" / f"junk,U=abc,FMD5={md5('INBOX')}")
    (inbox / "new" / "link").symlink_to(inbox / "nowhere")
    put(inbox / "cur" / f"1_0.1.h,U=3,FMD5={md5('INBOX')}:2,S")
    folder = make_repo().open_folder("INBOX")
    listing = folder.list_messages()
    assert 3 in listing
    assert len([uid for uid in listing if uid < 0]) == 3  # the two odd names and the junk one
    assert dict(folder.fetch(sorted(listing)))  # each of them reads


def test_duplicate_uid_keeps_one_and_warns(make_repo, inbox, md5) -> None:
    name = f"1_0.1.h,U=3,FMD5={md5('INBOX')}"
    put(inbox / "cur" / f"{name}:2,S", b"cur copy")
    put(inbox / "new" / f"{name}:2,", b"new copy")
    repo = make_repo()
    folder = repo.open_folder("INBOX")
    assert list(folder.list_messages()) == [3]
    assert dict(folder.fetch([3])) == {3: b"cur copy"}
    assert any("UID 3" in line for line in repo.ctx.events.warnings)


def test_min_uid_leaves_out_older_messages_only(make_repo, inbox, md5) -> None:
    for uid in (1, 5, 9):
        put(inbox / "cur" / f"1_{uid}.1.h,U={uid},FMD5={md5('INBOX')}:2,S")
    put(inbox / "new" / "local-new")
    folder = make_repo().open_folder("INBOX")
    assert sorted(folder.list_messages(min_uid=5)) == [-1, 5, 9]


def test_sizes_when_the_account_sets_maxsize(make_repo, inbox, md5) -> None:
    put(inbox / "cur" / f"1_0.1.h,U=1,FMD5={md5('INBOX')}:2,S", b"12345")
    folder = make_repo(account="maxsize = 100").open_folder("INBOX")
    assert folder.list_messages()[1].size == 5


def test_name_without_timestamp_uses_mtime(make_repo, inbox, md5) -> None:
    put(inbox / "cur" / f"host,U=1,FMD5={md5('INBOX')}:2,S", mtime=1234567890)
    assert make_repo().open_folder("INBOX").list_messages()[1].internaldate == 1234567890


def test_folder_that_lost_its_cur_is_a_folder_error(make_repo, inbox) -> None:
    folder = make_repo().open_folder("INBOX")
    (inbox / "cur").rmdir()
    with pytest.raises(FolderError, match="cur"):
        folder.list_messages()


def test_debug_lines_go_to_the_maildir_category(make_repo, inbox) -> None:
    repo = make_repo()
    repo.open_folder("INBOX").list_messages()
    assert repo.ctx.events.debugs and {cat for cat, _ in repo.ctx.events.debugs} == {"maildir"}
