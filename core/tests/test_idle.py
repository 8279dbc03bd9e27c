"""The IDLE watcher's loop: pushes, renewals and reconnection with back-off.

The IMAP side is tested against Dovecot in tests/test_unattended.py; here a scripted handle
stands in for the server so that timing-free properties can be checked exactly.
"""

from __future__ import annotations

import threading

import pytest

from offlineimap import idle
from offlineimap.config import Config
from offlineimap.errors import ConfigError, ConnectionFailed
from offlineimap.events import Events
from offlineimap.repository import IdleHandle


class Script(IdleHandle):
    """Answers wait() from a list: True (a change), False (nothing), or an exception."""

    def __init__(self, answers: list[object], log: list[str]) -> None:
        self.answers = answers
        self.log = log

    def wait(self, timeout: float) -> bool:
        answer = self.answers.pop(0) if self.answers else False
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)

    def renew(self) -> bool:
        self.log.append("renew")
        return False

    def close(self) -> None:
        self.log.append("close")


class Server:
    """``idle_connection``: first a refusal, then scripted handles."""

    name = "Remote"

    def __init__(self, handles: list[object]) -> None:
        self.handles = handles

    def idle_connection(self, folder: str) -> IdleHandle:
        handle = self.handles.pop(0)
        if isinstance(handle, Exception):
            raise handle
        return handle  # type: ignore[return-value]


def watch(server: Server, renew: float = 60.0) -> tuple[list[str], threading.Event]:
    changes: list[str] = []
    done = threading.Event()

    def on_change(folder: str) -> None:
        changes.append(folder)
        if len(changes) == 3:
            done.set()

    watcher = idle.IdleWatcher(account="A", repository=server, folders=["INBOX"],  # type: ignore[arg-type]
                               events=Events(None), on_change=on_change, renew=renew)
    watcher.start()
    done.wait(10)
    watcher.stop()
    return changes, done


def test_changes_are_pushed_and_a_lost_connection_is_reopened(monkeypatch) -> None:
    monkeypatch.setattr(idle, "BACKOFF_FIRST", 0.01)
    log: list[str] = []
    first = Script([False, True, ConnectionFailed("gone")], log)
    second = Script([True], log)
    server = Server([first, ConnectionFailed("refused"), second])
    changes, done = watch(server)
    assert done.is_set()
    # one push, one catch-up sync after reconnecting, one push on the new connection
    assert changes == ["INBOX", "INBOX", "INBOX"]
    assert log.count("close") == 2


def test_idle_is_renewed(monkeypatch) -> None:
    log: list[str] = []
    server = Server([Script([], log)])
    watcher = idle.IdleWatcher(account="A", repository=server,  # type: ignore[arg-type]
                               folders=["INBOX"], events=Events(None),
                               on_change=lambda _folder: None, renew=0.05)
    watcher.start()
    for _ in range(100):
        if log.count("renew") >= 2:
            break
        threading.Event().wait(0.02)
    watcher.stop()
    assert log.count("renew") >= 2 and log[-1] == "close"


def test_options() -> None:
    config = Config.from_string("[Repository R]\nidlefolders = ['INBOX', 'INBOX']\n"
                                "idlerenew = 5000\n[Repository S]\nidlefolders = 'INBOX'\n"
                                "idlerenew = 0\n")
    r, s = config.section("Repository R"), config.section("Repository S")
    assert idle.idle_folders(r) == ["INBOX"]
    assert idle.renew_interval(r) == idle.MAX_RENEW
    with pytest.raises(ConfigError, match="idlefolders: expected a list"):
        idle.idle_folders(s)
    with pytest.raises(ConfigError, match="idlerenew"):
        idle.renew_interval(s)
