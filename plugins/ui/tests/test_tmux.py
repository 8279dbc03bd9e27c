"""Blinkenlights and the password prompts in a real terminal: tmux runs ui_driver.py, we read
the screen with ``capture-pane`` and type with ``send-keys``."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from offlineimap_testing.tmux import TmuxTerminal

DRIVER = Path(__file__).with_name("ui_driver.py")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|38;5;\d+)m")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[TmuxTerminal]:
    """ui_driver.py in tmux; it runs in ``tmp_path``, its state directory (``sync_now``)."""
    with TmuxTerminal(tmp_path, [sys.executable, str(DRIVER)], timeout=15) as term:
        yield term


def test_blinkenlights_lights_log_progress_keys_resize_and_quit(terminal: TmuxTerminal) -> None:
    terminal.start("lights")
    screen = terminal.wait_text("Copy message UID 6 (6/6)")  # a folder's last is always shown
    assert "OfflineIMAP" in screen and "q: quit" in screen
    lines = screen.splitlines()
    personal = next(line for line in lines if line.startswith("1: [") and "Personal" in line)
    assert "to local" in personal and "errors" in personal
    assert any(line.startswith("2: [") and "Work" in line for line in lines)
    # per-folder progress: messages and bytes of the total, rate, bar
    terminal.wait_for(lambda s: re.search(r"Personal/\w+: \d/6 msgs, [\d.]+ KiB/24\.0 KiB, "
                                          r"[\d.]+ \w?i?B/s \[#*\.*\]", s) is not None,
                      "a progress line")
    # the lights are coloured cells; the copying light is orange (256 colours: 208)
    terminal.wait_for(lambda s: "\x1b[7m\x1b[38;5;208mc" in s or
                      re.search(r"38;5;208m.*c", s) is not None, "an orange copying light",
                      escapes=True)
    # a digit asks core to sync that account now
    terminal.keys("2")
    terminal.wait_text("sync now: Work")
    assert (terminal.workdir / "sync_now").read_text() == "2"
    # resizing redraws within the new width
    terminal.resize(70, 20)
    resized = terminal.wait_for(lambda s: len(s.splitlines()) == 20 and "q: quit" in s,
                                "the resized screen")
    assert max(len(line) for line in resized.splitlines()) <= 70
    assert "sync now: Work" in resized.splitlines()[0]  # the title gives way, not the answer
    terminal.wait_text("Copy message UID")
    # the key's answer leaves the title bar after a few seconds
    terminal.wait_for(lambda s: "q: quit" in s and "sync now: Work" not in s,
                      "the notice to expire", timeout=10)
    # q ends the process cleanly and gives the terminal back
    terminal.keys("q")
    assert terminal.exit_status() == "EXIT=0"
    terminal.assert_restored()
    after = terminal.wait_text("EXIT=0")
    assert "*** Summary" in after
    assert "q: quit" not in after  # the curses screen is gone


def test_blinkenlights_without_colour(terminal: TmuxTerminal) -> None:
    terminal.start("lights", term="vt100", width=100, height=30)
    terminal.wait_text("Copy message UID 6 (6/6)")
    screen = terminal.screen(escapes=True)
    assert not COLOUR.search(screen), screen
    plain = terminal.screen()
    row = next(line for line in plain.splitlines() if line.startswith("1: ["))
    lights = re.match(r"1: \[[ \d:a-z]+\] Personal +(\S+)  ", row)
    assert lights and set(lights.group(1)) <= set("MCAFLScd+-z."), row
    terminal.keys("q")
    assert terminal.exit_status() == "EXIT=0"
    terminal.assert_restored()


def test_ttyui_prompts_without_echo(terminal: TmuxTerminal) -> None:
    terminal.start("ttyprompt")
    terminal.wait_text("Enter password for user 'joe' on imap.example.org:")
    terminal.keys("s3cret", "Enter")
    screen = terminal.wait_text("password ok: True")
    assert "s3cret" not in screen
    assert terminal.exit_status() == "EXIT=0"


def test_blinkenlights_prompts_then_resumes(terminal: TmuxTerminal) -> None:
    terminal.start("lightsprompt")
    terminal.wait_text("Enter password for user 'joe':")
    terminal.keys("s3cret", "Enter")
    screen = terminal.wait_text("password ok: True")
    assert "q: quit" in screen and "s3cret" not in screen
    terminal.wait_text("Copy message UID")
    terminal.keys("q")
    assert terminal.exit_status() == "EXIT=0"
    terminal.assert_restored()


def test_blinkenlights_restores_the_terminal_after_an_exception(terminal: TmuxTerminal) -> None:
    terminal.start("lightscrash")
    terminal.wait_text("q: quit")
    assert terminal.exit_status() == "EXIT=1"
    terminal.assert_restored()
    after = terminal.wait_text("EXIT=1")
    assert "RuntimeError: engine crashed" in after
    assert "ERROR: about to crash" in after  # repeated once the screen is gone
    assert "q: quit" not in after
