"""Folders of a Maildir repository: discovery, creation, options and the plugin hook."""

from __future__ import annotations

import os
import stat
import time

import pluggy
import pytest

from offlineimap import hookspecs
from offlineimap.errors import ConfigError, FolderError
from offlineimap.repository import NewMessage
from offlineimap_maildir import plugin
from offlineimap_maildir.repository import MaildirRepository
from offlineimap_maildir.storage import clean_tmp


def test_plugin_registers_maildir() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin)
    manager.check_pending()
    registered: dict[str, type] = {}
    manager.hook.offlineimap_repository_types(register=registered.__setitem__)
    assert registered == {"Maildir": MaildirRepository}


def test_dot_separator_lists_top_level_directories(make_repo, root, make_maildir) -> None:
    for name in ("INBOX", "INBOX.Sent", ".Trash", "a/b"):
        make_maildir(root / name)
    (root / "notes").mkdir()
    (root / "file").write_text("x")
    assert make_repo().list_folders() == [".Trash", "INBOX", "INBOX.Sent"]
    make_maildir(root)
    assert make_repo().list_folders() == ["", ".Trash", "INBOX", "INBOX.Sent"]


def test_slash_separator_nests_and_searches_the_tree(make_repo, root, make_maildir) -> None:
    for name in ("INBOX", "INBOX/Sent", "Lists/python/dev"):
        make_maildir(root / name)
    (root / "INBOX" / "cur" / "x").mkdir()  # inside cur/: never a folder
    (root / "loop").mkdir()
    (root / "loop" / "self").symlink_to(root / "loop")
    repo = make_repo(repository="sep = /")
    assert repo.list_folders() == ["INBOX", "INBOX/Sent", "Lists/python/dev"]
    repo.open_folder("INBOX/Sent").save_messages([NewMessage(1, b"x\n", frozenset("S"))])
    assert len(os.listdir(root / "INBOX" / "Sent" / "cur")) == 1


def test_missing_root_is_created_on_connect(make_repo, root) -> None:
    assert make_repo().list_folders() == []
    assert root.is_dir()


def test_create_folder_makes_parents_and_subdirs_0700(make_repo, root) -> None:
    repo = make_repo(repository="sep = /", general="fsync = yes")
    repo.create_folder("Lists/python/dev")
    repo.create_folder("Lists/python/dev")  # again: fine
    for path in (root / "Lists", root / "Lists/python/dev", root / "Lists/python/dev/tmp"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert repo.list_folders() == ["Lists/python/dev"]
    dot = make_repo()
    dot.create_folder("INBOX.Sent")
    dot.create_folder(".")  # the root itself
    assert dot.list_folders() == ["", "INBOX.Sent"]


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/../b", "a/cur/b", "tmp", "a//b"])
def test_bad_folder_names_are_refused(make_repo, name) -> None:
    with pytest.raises(FolderError):
        make_repo(repository="sep = /").create_folder(name)


def test_slash_in_a_name_needs_sep_slash(make_repo) -> None:
    with pytest.raises(FolderError, match="sep = /"):
        make_repo().create_folder("INBOX/Sent")


def test_open_missing_folder_is_a_folder_error(make_repo) -> None:
    with pytest.raises(FolderError, match="not a Maildir"):
        make_repo().open_folder("Nope")


def test_dry_run_creates_nothing(make_repo, root) -> None:
    repo = make_repo(dry_run=True)
    repo.create_folder("INBOX")
    assert not root.exists()


def test_fmd5_follows_the_repositorys_nametrans(make_repo, root, make_maildir, md5) -> None:
    make_maildir(root / "Inbox")
    (root / "Inbox" / "cur" / f"1_0.1.h,U=4,FMD5={md5('INBOX')}:2,S").write_bytes(b"x\n")
    plain = make_repo().open_folder("Inbox")
    assert list(plain.list_messages()) == [-1]
    translated = make_repo(repository="nametrans = lambda f: f.upper()").open_folder("Inbox")
    assert list(translated.list_messages()) == [4]


def test_root_folder_fmd5_is_of_the_empty_name(make_repo, root, make_maildir, md5) -> None:
    make_maildir(root)
    (root / "cur" / f"1_0.1.h,U=4,FMD5={md5('')}:2,S").write_bytes(b"x\n")
    assert list(make_repo().open_folder("").list_messages()) == [4]


@pytest.mark.parametrize(("options", "message"), [
    ("localfolders =", None), ("sep =", "sep"), ("nametrans = 42", "function"),
    ("nametrans = lambda f: (", "syntax"),
])
def test_config_errors_are_one_line(make_repo, options, message) -> None:
    with pytest.raises(ConfigError) as error:
        make_repo(repository=options).open_folder("x")
    assert "\n" not in str(error.value)
    assert message is None or message in str(error.value).lower()


def test_restoreatime_puts_back_atimes(make_repo, root, make_maildir) -> None:
    folder_path = make_maildir(root / "INBOX")
    for sub in ("cur", "new"):
        os.utime(folder_path / sub, (1000000000, 1500000000))
    repo = make_repo(repository="restoreatime = yes")
    repo.list_folders()
    folder = repo.open_folder("INBOX")
    folder.save_messages([NewMessage(1, b"x\n", frozenset("S"))])
    folder.list_messages()
    os.utime(folder_path / "new", (1600000000, 1600000000))
    repo.close()
    assert (folder_path / "new").stat().st_atime == 1000000000
    assert (folder_path / "new").stat().st_mtime == 1600000000  # mtimes are left alone
    assert (folder_path / "cur").stat().st_atime == 1000000000


def test_tmp_cleanup_removes_only_leftovers_of_ours(make_repo, inbox, md5) -> None:
    fmd5 = md5("INBOX")
    folder = make_repo().open_folder("INBOX")
    host = folder.scheme.host
    dead = inbox / "tmp" / f"1_0.999999999.{host},U=1,FMD5={fmd5}:2,S"
    alive = inbox / "tmp" / f"1_0.{os.getppid()}.{host},U=2,FMD5={fmd5}:2,S"
    elsewhere = inbox / "tmp" / f"1_0.5.otherhost,U=3,FMD5={fmd5}:2,S"
    foreign = inbox / "tmp" / "1600000000.M1P999999999.mda"
    other_folder = inbox / "tmp" / f"1_0.999999999.{host},U=5,FMD5={md5('Sent')}:2,S"
    paths = (dead, alive, elsewhere, foreign, other_folder)
    for path in paths:
        path.write_bytes(b"partial")
    folder.list_messages()
    assert [path.exists() for path in paths] == [False, True, True, True, True]
    later = time.time() + 37 * 3600  # maildir(5): 36 hours make any leftover of ours stale
    removed = clean_tmp(inbox / "tmp", folder.scheme.writer_of, host, now=later)
    assert sorted(removed) == sorted([alive.name, elsewhere.name])
    assert [path.exists() for path in paths] == [False, False, False, True, True]


def test_tmp_is_left_alone_when_readonly(make_repo, inbox, md5) -> None:
    folder = make_repo(repository="readonly = yes").open_folder("INBOX")
    leftover = inbox / "tmp" / f"1_0.999999999.{folder.scheme.host},U=1,FMD5={md5('INBOX')}:2,"
    leftover.write_bytes(b"partial")
    folder.list_messages()
    assert leftover.exists()
