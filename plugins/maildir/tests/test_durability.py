"""fsync where it matters, once per call; and kill -9 at any moment loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from offlineimap.repository import NewMessage


@pytest.fixture
def fsynced(monkeypatch) -> list[str]:
    """Paths fsynced from now on: a spy around the real os.fsync, which still runs."""
    paths: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return paths


def test_fsync_on_files_then_each_directory_once(make_repo, inbox, fsynced) -> None:
    folder = make_repo(general="fsync = yes").open_folder("INBOX")
    folder.list_messages()
    folder.save_messages([NewMessage(uid, b"m\n", frozenset("S" if uid % 2 else ""))
                          for uid in range(1, 11)])
    files = [path for path in fsynced if "/tmp/" in path[len(str(inbox)):]]
    dirs = [path for path in fsynced if path not in files]
    assert len(files) == 10
    assert sorted(dirs) == [str(inbox / "cur"), str(inbox / "new")]
    fsynced.clear()
    folder.change_flags({uid: (frozenset("S"), frozenset()) for uid in range(1, 11)})
    assert sorted(fsynced) == [str(inbox / "cur"), str(inbox / "new")]
    fsynced.clear()
    folder.delete_messages(list(range(1, 11)))
    assert fsynced == [str(inbox / "cur")]


def test_fsync_off_never_fsyncs(make_repo, inbox, fsynced) -> None:
    folder = make_repo(general="fsync = no").open_folder("INBOX")
    folder.list_messages()
    folder.save_messages([NewMessage(1, b"m\n", frozenset())])
    folder.change_flags({1: (frozenset("S"), frozenset())})
    folder.delete_messages([1])
    assert fsynced == []


def test_fsync_defaults_to_on_like_offlineimap(make_repo, inbox, fsynced) -> None:
    folder = make_repo(general="").open_folder("INBOX")
    folder.save_messages([NewMessage(1, b"m\n", frozenset())])
    assert str(inbox / "new") in fsynced


WRITER = """
    log = sys.argv[2]
    with open(log, "a") as out:
        for start in range(1, 100000, 7):
            batch = [NewMessage(uid, b"Subject: %d\\r\\n\\r\\n" % uid + b"x" * 20000, frozenset())
                     for uid in range(start, start + 7)]
            for given, _ in folder.save_messages(batch):
                out.write(f"{given}\\n")
            out.flush()
            folder.change_flags({uid: (frozenset("S"), frozenset())
                                 for uid in range(start, start + 7)})
"""


@pytest.mark.slow
def test_kill_minus_nine_loses_and_duplicates_nothing(make_repo, inbox, tmp_path,
                                                      writer_script) -> None:
    log = tmp_path / "reported"
    script = writer_script(WRITER)
    for delay in (0.0, 0.03, 0.07, 0.15, 0.3):
        log.write_text("")
        process = subprocess.Popen([sys.executable, str(script), str(inbox.parent), str(log)])
        deadline = time.monotonic() + 30
        while not log.read_text() and time.monotonic() < deadline:  # started writing
            time.sleep(0.01)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        folder = make_repo().open_folder("INBOX")
        listing = folder.list_messages()
        assert all(uid > 0 for uid in listing)
        reported = {int(line) for line in log.read_text().split()}
        assert reported <= set(listing)  # everything reported stored is there
        for uid, body in folder.fetch(sorted(listing)):  # and whole, once each
            assert body == b"Subject: %d\n\n" % uid + b"x" * 20000
        names = os.listdir(inbox / "cur") + os.listdir(inbox / "new")
        assert len(names) == len(listing)
        assert os.listdir(inbox / "tmp") == []  # the dead writer's leftovers are gone
        folder.delete_messages(list(listing))
