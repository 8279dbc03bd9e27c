"""Sync hooks run as real shell commands; newmail_hook reacts to real engine events."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from offlineimap.config import Config
from offlineimap.errors import ConfigError
from offlineimap.events import Events
from offlineimap.hooks import NewMailHooks, run_command_hook, sync_environment


class Said(Events):
    """Events that keep what they were told."""

    def __init__(self) -> None:
        super().__init__(None)
        self.lines: list[str] = []

    def info(self, message: str, account: str | None = None) -> None:
        self.lines.append(f"info: {message}")

    def warning(self, message: str, account: str | None = None) -> None:
        self.lines.append(f"warning: {message}")

    def error(self, message: str, account: str | None = None, exc: object = None) -> None:
        self.lines.append(f"error: {message}")


def section(text: str):
    return Config.from_string(f"[Account A]\n{text}").section("Account A")


def test_hook_gets_the_environment_and_its_output_is_shown(tmp_path: Path) -> None:
    events = Said()
    env = sync_environment("A", "idle", ["INBOX", "Lists.a b"], errors=2)
    code = run_command_hook(
        section(f"postsynchook = env > {tmp_path}/env; echo done"), "postsynchook", env,
        account="A", events=events)
    assert code == 0
    seen = (tmp_path / "env").read_text()
    assert "OFFLINEIMAP_SYNC_MODE=idle\n" in seen
    assert "OFFLINEIMAP_FOLDERS=INBOX\nLists.a b\n" in seen
    assert "OFFLINEIMAP_SYNC_ERRORS=2\n" in seen
    assert "info: postsynchook output: done" in events.lines


def test_unset_dry_run_and_failing_hooks(tmp_path: Path) -> None:
    events = Said()
    assert run_command_hook(section(""), "presynchook", {}, account="A", events=events) is None
    assert run_command_hook(section(f"presynchook = touch {tmp_path}/x"), "presynchook", {},
                            account="A", events=events, dry_run=True) is None
    assert not (tmp_path / "x").exists()
    assert run_command_hook(section("presynchook = exit 4"), "presynchook", {},
                            account="A", events=events) == 4
    assert events.lines[-1] == "warning: presynchook exited with status 4: exit 4"


def test_a_stop_request_ends_a_running_hook() -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    start = time.monotonic()
    run_command_hook(section("presynchook = sleep 30"), "presynchook", {}, account="A",
                     events=Said(), stop=stop)
    assert time.monotonic() - start < 5


def test_newmail_hook_fires_once_per_inbox_sync_with_remote_mail() -> None:
    calls: list[str] = []
    config = Config.from_string("[Repository R]\nnewmail_hook = lambda: calls.append('x')\n")
    config.namespace["calls"] = calls
    hooks = NewMailHooks(Said())
    hooks.add("A", config.section("Repository R"))
    for source, folder in (("local", "INBOX"), ("remote", "Archive")):
        hooks.offlineimap_message_copied("A", folder, source)
        hooks.offlineimap_folder_finish("A", folder)
    assert calls == []
    hooks.offlineimap_message_copied("A", "INBOX", "remote")
    hooks.offlineimap_message_copied("A", "INBOX", "remote")
    hooks.offlineimap_folder_finish("A", "INBOX")
    hooks.offlineimap_folder_finish("A", "INBOX")
    assert calls == ["x"]


def test_newmail_hook_must_be_callable_and_its_failures_are_reported() -> None:
    config = Config.from_string("[Repository R]\nnewmail_hook = 42\n"
                                "[Repository S]\nnewmail_hook = lambda: 1 / 0\n")
    events = Said()
    hooks = NewMailHooks(events)
    with pytest.raises(ConfigError, match="newmail_hook: expected a function"):
        hooks.add("A", config.section("Repository R"))
    hooks.add("B", config.section("Repository S"))
    hooks.offlineimap_message_copied("B", "INBOX", "remote")
    hooks.offlineimap_folder_finish("B", "INBOX")
    assert events.lines == ["error: newmail_hook failed: ZeroDivisionError: division by zero"]
