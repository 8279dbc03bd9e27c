"""Storing in chunks: written to tmp/, fsynced together, then renamed; bodies converted in slices.

The ordering checks spy on the real ``os.fsync`` and ``os.rename`` (both still run); the kills
are real SIGKILLs of a real writer process on a real Maildir.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offlineimap.repository import NewMessage
from offlineimap_maildir import folder as folder_module
from offlineimap_maildir import storage
from offlineimap_maildir.names import header_date
from offlineimap_maildir.storage import write_lf


def crlf(uid: int, size: int = 100) -> bytes:
    return b"Subject: %d\r\n\r\n" % uid + b"x" * size + b"\r\n"


def test_write_lf_carries_a_cr_across_the_slice_boundary() -> None:
    out = io.BytesIO()
    write_lf(out, b"abc\r\ndef\r\n", slice_size=4)  # the first slice would end in "\r"
    assert out.getvalue() == b"abc\ndef\n"
    out = io.BytesIO()
    write_lf(out, b"ab\r\r\n\r", slice_size=3)  # a lone CR stays, even at the very end
    assert out.getvalue() == b"ab\r\n\r"
    with pytest.raises(ValueError, match="slice_size"):
        write_lf(io.BytesIO(), b"x", slice_size=1)


@given(st.binary(max_size=64).map(lambda b: b.replace(b"a", b"\r").replace(b"b", b"\n")),
       st.integers(min_value=2, max_value=9))
def test_write_lf_in_slices_equals_one_replace(data: bytes, slice_size: int) -> None:
    out = io.BytesIO()
    write_lf(out, data, slice_size)
    assert out.getvalue() == data.replace(b"\r\n", b"\n")


@given(st.lists(st.sampled_from([b"Date: Fri, 13 Feb 2009", b" 23:31:30 +0000", b"",
                                 b"Subject: x", b"\tfolded", b"date: Mon, 1 Jan 2001 00:00 +0000",
                                 b"X: y\r"]), max_size=8),
       st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=8, max_size=8))
def test_header_date_of_crlf_body_is_that_of_its_lf_form(lines: list[bytes],
                                                          ends: list[bytes]) -> None:
    body = b"".join(line + end for line, end in zip(lines, ends, strict=False))
    assert header_date(body, b"Date") == header_date(body.replace(b"\r\n", b"\n"), b"Date")


@pytest.fixture
def journal(monkeypatch) -> list[tuple[str, str]]:
    """("fsync" | "rename", path) in the order they happened, from every thread."""
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        real_fsync(fd)
        with lock:  # recorded once durable
            events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    def rename(src: str, dst: str) -> None:
        with lock:
            events.append(("rename", os.fspath(src)))
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    return events


def test_chunk_is_fsynced_whole_before_its_first_rename(make_repo, inbox, journal,
                                                        monkeypatch) -> None:
    monkeypatch.setattr(folder_module, "CHUNK_MESSAGES", 40)
    folder = make_repo(general="fsync = yes").open_folder("INBOX")
    folder.list_messages()
    stored = folder.save_messages(NewMessage(uid, crlf(uid), frozenset("S" if uid % 2 else ""))
                                  for uid in range(1, 101))
    assert sorted(stored) == [(uid, uid) for uid in range(1, 101)]
    tmp = f"{inbox}/tmp/"
    kinds = "".join("f" if kind == "fsync" and path.startswith(tmp) else
                    "r" if kind == "rename" else "d" for kind, path in journal)
    # three chunks (40, 40, 20): all fsyncs of a chunk, then its renames; directories last
    assert kinds == "f" * 40 + "r" * 40 + "f" * 40 + "r" * 40 + "f" * 20 + "r" * 20 + "dd"
    fsynced = {path for kind, path in journal if kind == "fsync"}
    assert all(path in fsynced for kind, path in journal if kind == "rename")
    assert {path for kind, path in journal[-2:]} == {f"{inbox}/cur", f"{inbox}/new"}
    assert os.listdir(inbox / "tmp") == []


def test_fsync_off_renames_without_fsync(make_repo, inbox, journal) -> None:
    folder = make_repo(general="fsync = no").open_folder("INBOX")
    folder.list_messages()
    assert folder.save_messages([NewMessage(1, crlf(1), frozenset())]) == [(1, 1)]
    assert [kind for kind, _path in journal] == ["rename"]


def test_a_uid_given_twice_in_one_chunk_is_stored_once(make_repo, inbox) -> None:
    folder = make_repo().open_folder("INBOX")
    folder.list_messages()
    stored = folder.save_messages([NewMessage(1, crlf(1), frozenset()),
                                   NewMessage(2, crlf(2), frozenset()),
                                   NewMessage(1, crlf(1), frozenset("S"))])
    assert stored == [(1, 1), (2, 2), (1, 1)]
    assert len(os.listdir(inbox / "new")) == 1 and len(os.listdir(inbox / "cur")) == 1
    assert make_repo().open_folder("INBOX").list_messages()[1].flags == {"S"}


def test_an_interrupted_source_leaves_no_tmp_file_and_nothing_twice(make_repo, inbox,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr(folder_module, "CHUNK_MESSAGES", 10)
    folder = make_repo(general="fsync = yes").open_folder("INBOX")
    folder.list_messages()

    def network() -> object:
        for uid in range(1, 26):
            yield NewMessage(uid, crlf(uid), frozenset("S"))
        raise ConnectionError("server went away")

    with pytest.raises(ConnectionError):
        folder.save_messages(network())
    assert os.listdir(inbox / "tmp") == []  # the unfinished chunk (21-25) is gone
    assert sorted(make_repo().open_folder("INBOX").list_messages()) == list(range(1, 21))
    again = make_repo().open_folder("INBOX")  # the next run is handed all 25 again
    again.list_messages()
    assert len(again.save_messages(NewMessage(uid, crlf(uid), frozenset("S"))
                                   for uid in range(1, 26))) == 25
    assert len(os.listdir(inbox / "cur")) == 25
    assert dict(again.fetch([25])) == {25: b"Subject: 25\n\n" + b"x" * 100 + b"\n"}


def test_a_file_lost_from_tmp_before_its_fsync_is_not_reported(make_repo, inbox) -> None:
    repo = make_repo(general="fsync = yes")
    folder = repo.open_folder("INBOX")
    folder.list_messages()

    def network() -> object:
        yield NewMessage(1, crlf(1), frozenset("S"))
        for path in (inbox / "tmp").iterdir():  # someone cleans tmp/ behind our back
            path.unlink()
        yield NewMessage(2, crlf(2), frozenset("S"))

    assert folder.save_messages(network()) == [(2, 2)]
    assert any("message 1 not stored" in line for line in repo.ctx.events.warnings)
    assert sorted(make_repo().open_folder("INBOX").list_messages()) == [2]


def test_a_large_message_costs_slices_not_a_copy(make_repo, inbox) -> None:
    # CRLF lines that straddle slice boundaries all through a 24 MB body
    body = b"Subject: big\r\n\r\n" + b"0123456789abcde\r\n" * (24 * 1024 * 1024 // 17)
    folder = make_repo(general="fsync = yes").open_folder("INBOX")
    folder.list_messages()
    tracemalloc.start()
    try:
        assert folder.save_messages([NewMessage(1, body, frozenset("S"))]) == [(1, 1)]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * storage.SLICE  # a slice and its converted copy, plus change
    (name,) = os.listdir(inbox / "cur")
    assert (inbox / "cur" / name).read_bytes() == body.replace(b"\r\n", b"\n")


WRITER = """
    mode, count = sys.argv[2], int(sys.argv[3])
    folder_module.CHUNK_MESSAGES = count + 1  # one chunk, closed by the end of the messages
    folder_module.CHUNK_BYTES = 1 << 40

    def network():
        for uid in range(1, count + 1):
            yield NewMessage(uid, b"Subject: %d\\r\\n\\r\\n" % uid + b"x" * 20000, frozenset())
        if mode == "after-writes":  # every body is in tmp/, none fsynced or renamed yet
            os.kill(os.getpid(), signal.SIGKILL)

    folder.save_messages(network())
    print("reported", flush=True)
"""


def run_writer(writer_script, inbox: Path, mode: str, count: int) -> subprocess.Popen[bytes]:
    script = writer_script(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(inbox.parent), mode, str(count)],
                            stdout=subprocess.PIPE)


def recovers_whole_and_once(make_repo, inbox: Path, count: int) -> None:
    """The next run cleans tmp/, stores what is missing, and every message is there once."""
    folder = make_repo(general="fsync = yes").open_folder("INBOX")
    before = folder.list_messages()
    assert os.listdir(inbox / "tmp") == []
    stored = folder.save_messages(
        NewMessage(uid, b"Subject: %d\r\n\r\n" % uid + b"x" * 20000, frozenset())
        for uid in range(1, count + 1) if uid not in before)
    assert len(stored) == count - len(before)
    listing = make_repo().open_folder("INBOX").list_messages()
    assert sorted(listing) == list(range(1, count + 1))
    assert len(os.listdir(inbox / "new")) == count
    for uid, body in folder.fetch(sorted(listing)):
        assert body == b"Subject: %d\n\n" % uid + b"x" * 20000


def test_kill_after_the_writes_before_fsync_and_renames(make_repo, inbox,
                                                        writer_script) -> None:
    process = run_writer(writer_script, inbox, "after-writes", 200)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL and out == b""  # nothing was reported
    assert len(os.listdir(inbox / "tmp")) == 200
    assert os.listdir(inbox / "new") == []  # nothing published before it was durable
    recovers_whole_and_once(make_repo, inbox, 200)


@pytest.mark.slow
def test_kill_in_the_middle_of_the_renames(make_repo, inbox, writer_script) -> None:
    """SIGKILL while a chunk's files move from tmp/ to new/: some moved, some not."""
    count, landed, attempts = 800, 0, 0
    while landed < 2 and attempts < 8:
        attempts += 1
        process = run_writer(writer_script, inbox, "renames", count)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if os.listdir(inbox / "new"):  # the renames have begun
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=30)
        if process.returncode != -signal.SIGKILL:
            continue
        moved, left = len(os.listdir(inbox / "new")), len(os.listdir(inbox / "tmp"))
        assert moved + left == count  # every message is in exactly one of the two
        landed += 0 < moved < count
        recovers_whole_and_once(make_repo, inbox, count)
        for path in [*(inbox / "new").iterdir()]:
            path.unlink()
    assert landed >= 1, "no kill landed between the first and the last rename"
