"""Storing, reading, flagging, deleting and re-numbering messages on a real disk."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from offlineimap.errors import FolderError, MessageError
from offlineimap.repository import NewMessage

BODY = (b"From: a@example.org\r\nDate: Fri, 13 Feb 2009 23:31:30 +0000\r\nSubject: hi\r\n\r\n"
        b"line\r\nbare\rcr\n\x00\xff8bit\r\n")
LF_BODY = BODY.replace(b"\r\n", b"\n")


def files(folder: Path) -> dict[str, list[str]]:
    return {sub: sorted(os.listdir(folder / sub)) for sub in ("cur", "new", "tmp")}


def test_save_fetch_round_trip_converts_crlf_only(make_repo, inbox, md5) -> None:
    folder = make_repo().open_folder("INBOX")
    folder.list_messages()
    assert folder.save_messages([NewMessage(7, BODY, frozenset("S"))]) == [(7, 7)]
    assert dict(folder.fetch([7])) == {7: LF_BODY}
    (name,) = files(inbox)["cur"]
    assert re.fullmatch(rf"\d+_\d+\.{os.getpid()}\.[^,]+,U=7,FMD5={md5('INBOX')}:2,S", name)
    assert (inbox / "cur" / name).read_bytes() == LF_BODY
    assert files(inbox)["tmp"] == []
    fresh = make_repo().open_folder("INBOX")  # what the next run sees
    assert sorted(fresh.list_messages()) == [7]
    assert fresh.list_messages()[7].flags == {"S"}


def test_unseen_messages_go_to_new_with_offlineimap_info(make_repo, inbox) -> None:
    folder = make_repo().open_folder("INBOX")
    folder.list_messages()
    folder.save_messages([NewMessage(1, b"a\n", frozenset()),
                          NewMessage(2, b"b\n", frozenset("F"))])
    assert sorted(name.rsplit(":", 1)[1] for name in files(inbox)["new"]) == ["2,", "2,F"]
    assert files(inbox)["cur"] == []
    assert {uid: info.flags for uid, info in folder.list_messages().items()} == {
        1: frozenset(), 2: frozenset("F")}


def test_saving_again_is_idempotent_and_sets_flags(make_repo, inbox) -> None:
    folder = make_repo().open_folder("INBOX")
    folder.list_messages()
    folder.save_messages([NewMessage(3, b"x\n", frozenset())])
    again = make_repo().open_folder("INBOX")  # a new run after a crash before the status write
    again.list_messages()
    assert again.save_messages([NewMessage(3, b"x\n", frozenset("S"))]) == [(3, 3)]
    assert files(inbox)["new"] == [] and len(files(inbox)["cur"]) == 1
    assert again.list_messages()[3].flags == {"S"}
    assert again.save_messages([NewMessage(3, b"x\n", frozenset("S")),
                                NewMessage(3, b"x\n", frozenset("S"))]) == [(3, 3), (3, 3)]
    assert len(files(inbox)["cur"]) == 1


def test_saving_without_a_listing_still_finds_existing_copies(make_repo, inbox) -> None:
    make_repo().open_folder("INBOX").save_messages([NewMessage(4, b"x\n", frozenset("S"))])
    make_repo().open_folder("INBOX").save_messages([NewMessage(4, b"x\n", frozenset("S"))])
    assert len(files(inbox)["cur"]) == 1


def test_negative_or_zero_uid_is_refused(make_repo, inbox) -> None:
    folder = make_repo().open_folder("INBOX")
    for uid in (-1, 0):
        with pytest.raises(ValueError, match="cannot assign"):
            folder.save_messages([NewMessage(uid, b"x\n", frozenset())])
    assert files(inbox) == {"cur": [], "new": [], "tmp": []}


def test_flags_add_remove_and_move_between_new_and_cur(make_repo, inbox, md5) -> None:
    fmd5 = md5("INBOX")
    (inbox / "new" / f"1_0.1.h,U=1,FMD5={fmd5}:2,a").write_bytes(b"one\n")
    (inbox / "cur" / f"1_1.1.h,U=2,FMD5={fmd5}:2,FSb").write_bytes(b"two\n")
    (inbox / "new" / "1600000000.M1P2.mda").write_bytes(b"three\n")
    folder = make_repo().open_folder("INBOX")
    folder.list_messages()
    folder.change_flags({1: (frozenset("SR"), frozenset()), 2: (frozenset(), frozenset("S")),
                         -1: (frozenset("F"), frozenset())})
    assert files(inbox)["cur"] == [f"1_0.1.h,U=1,FMD5={fmd5}:2,RSa"]
    assert files(inbox)["new"] == ["1600000000.M1P2.mda:2,F", f"1_1.1.h,U=2,FMD5={fmd5}:2,Fb"]
    listing = make_repo().open_folder("INBOX").list_messages()
    assert listing[1].flags == {"R", "S"} and listing[2].flags == {"F"}


def test_flag_change_finds_a_file_a_mail_reader_renamed(make_repo, inbox, md5) -> None:
    fmd5 = md5("INBOX")
    (inbox / "new" / f"1_0.1.h,U=1,FMD5={fmd5}:2,").write_bytes(b"one\n")
    folder = make_repo().open_folder("INBOX")
    folder.list_messages()
    os.rename(inbox / "new" / f"1_0.1.h,U=1,FMD5={fmd5}:2,",
              inbox / "cur" / f"1_0.1.h,U=1,FMD5={fmd5}:2,S")
    folder.change_flags({1: (frozenset("F"), frozenset())})
    assert files(inbox)["cur"] == [f"1_0.1.h,U=1,FMD5={fmd5}:2,FS"]
    folder.change_flags({99: (frozenset("F"), frozenset())})  # unknown: nothing happens


def test_delete_removes_only_the_given_messages(make_repo, inbox) -> None:
    folder = make_repo().open_folder("INBOX")
    folder.list_messages()
    folder.save_messages([NewMessage(uid, b"%d\n" % uid, frozenset("S")) for uid in (1, 2, 3)])
    folder.delete_messages([2, 42])
    assert sorted(make_repo().open_folder("INBOX").list_messages()) == [1, 3]
    assert dict(folder.fetch([1, 2, 3])) == {1: b"1\n", 3: b"3\n"}


def test_change_uid_claims_a_new_local_message(make_repo, inbox, md5) -> None:
    (inbox / "cur" / f"1600000000.M1P2.mutt,U=9,FMD5={md5('Sent')}:2,RSx").write_bytes(b"m\n")
    folder = make_repo().open_folder("INBOX")
    assert list(folder.list_messages()) == [-1]
    folder.change_uid(-1, 77)
    assert files(inbox)["cur"] == [f"1600000000.M1P2.mutt,U=77,FMD5={md5('INBOX')}:2,RSx"]
    assert dict(folder.fetch([77])) == {77: b"m\n"}
    listing = make_repo().open_folder("INBOX").list_messages()
    assert list(listing) == [77] and listing[77].internaldate == 1600000000
    folder.save_messages([NewMessage(5, b"y\n", frozenset("S"))])
    with pytest.raises(MessageError, match="already has it"):
        folder.change_uid(5, 77)
    with pytest.raises(MessageError, match="gone"):
        folder.change_uid(-5, 78)


def test_readonly_repository_refuses_writes(make_repo, inbox) -> None:
    folder = make_repo(repository="readonly = yes").open_folder("INBOX")
    folder.list_messages()
    with pytest.raises(FolderError, match="readonly"):
        folder.save_messages([NewMessage(1, b"x\n", frozenset())])
    with pytest.raises(FolderError, match="readonly"):
        folder.delete_messages([1])


def test_filename_and_mtime_from_the_date_header(make_repo, inbox) -> None:
    folder = make_repo(repository="utime_from_header = yes",
                       general="fsync = no\nfilename_use_mail_timestamp = yes").open_folder("INBOX")
    folder.list_messages()
    folder.save_messages([NewMessage(1, BODY, frozenset("S")),
                          NewMessage(2, b"Subject: no date\n\nx\n", frozenset("S"))])
    names = files(inbox)["cur"]
    dated = next(name for name in names if ",U=1," in name)
    undated = next(name for name in names if ",U=2," in name)
    assert dated.startswith("1234567890_")
    assert (inbox / "cur" / dated).stat().st_mtime == 1234567890
    assert not undated.startswith("1234567890_")
    assert folder.list_messages()[1].internaldate == 1234567890


def test_disk_errors_are_warnings_and_the_rest_is_returned(make_repo, inbox) -> None:
    repo = make_repo()
    folder = repo.open_folder("INBOX")
    folder.list_messages()
    (inbox / "new").rename(inbox / "new-gone")  # renames into new/ now fail
    stored = folder.save_messages([NewMessage(1, b"a\n", frozenset()),
                                   NewMessage(2, b"b\n", frozenset("S"))])
    assert stored == [(2, 2)]
    assert any("message 1 not stored" in line for line in repo.ctx.events.warnings)
    assert os.listdir(inbox / "tmp") == []  # nothing left behind
