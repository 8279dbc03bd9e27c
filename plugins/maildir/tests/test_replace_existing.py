"""replace_existing: rewritten content takes a message file's place only while that file is
still there, so a mail reader renaming it meanwhile cannot end up with two copies.

Real files in a temporary Maildir; each case runs through the atomic exchange (Linux's
``renameat2``) and through the portable fallback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from offlineimap_maildir import storage
from offlineimap_maildir.storage import replace_existing


@pytest.fixture(params=["exchange", "fallback"])
def maildir(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path) -> Iterator[Path]:
    """A Maildir whose replacements go through the exchange (checked never to fall back on
    this Linux system) or through the fallback."""
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    real = storage._exchange
    exchanged: list[bool] = []
    if request.param == "fallback":
        monkeypatch.setattr(storage, "_exchange", lambda first, second: False)
    else:
        def spy(first: Path, second: Path) -> bool:
            exchanged.append(real(first, second))
            return exchanged[-1]

        monkeypatch.setattr(storage, "_exchange", spy)
    yield tmp_path
    assert False not in exchanged, "renameat2 could not exchange: the fallback ran instead"


def write(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    return path.stat().st_ino


def test_new_content_takes_the_place_of_the_file_read(maildir: Path) -> None:
    target = maildir / "cur" / "1.M1,U=7:2,S"
    inode = write(target, b"old")
    new = maildir / "tmp" / "1.M2"
    new_inode = write(new, b"new")
    replace_existing(new, target, inode)
    assert target.read_bytes() == b"new"
    assert target.stat().st_ino == new_inode
    assert os.listdir(maildir / "tmp") == []  # the old content is not left behind
    assert os.listdir(maildir / "cur") == [target.name]


def test_a_file_renamed_meanwhile_is_not_written_again_beside_it(maildir: Path) -> None:
    target = maildir / "cur" / "1.M1,U=7:2,S"
    inode = write(target, b"old")
    renamed = target.with_name("1.M1,U=7:2,FS")  # a mail reader flags it
    target.rename(renamed)
    new = maildir / "tmp" / "1.M2"
    write(new, b"new")
    with pytest.raises(FileNotFoundError):
        replace_existing(new, target, inode)
    assert os.listdir(maildir / "cur") == [renamed.name]
    assert renamed.read_bytes() == b"old"
    assert new.read_bytes() == b"new"  # the caller removes it


def test_another_file_under_the_name_is_left_in_place(maildir: Path) -> None:
    target = maildir / "cur" / "1.M1,U=7:2,S"
    inode = write(target, b"old")
    other = maildir / "tmp" / "other"
    write(other, b"other")
    other.rename(target)  # a different file (its own inode) now has the name
    new = maildir / "tmp" / "1.M2"
    write(new, b"new")
    with pytest.raises(FileNotFoundError):
        replace_existing(new, target, inode)
    assert target.read_bytes() == b"other"
    assert new.read_bytes() == b"new"
    assert sorted(os.listdir(maildir / "tmp")) == ["1.M2"]
