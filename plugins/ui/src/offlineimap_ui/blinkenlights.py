"""Blinkenlights: a curses screen with a light per thread, folder progress and a coloured log.

Events arrive on the engine's threads and only update the :class:`~offlineimap_ui.board.Board`;
a screen thread started by :meth:`Blinkenlights.session` owns curses, draws ~10 frames a
second and reads the keyboard:

* ``q`` sets :attr:`Blinkenlights.stop_requested` and calls :attr:`Blinkenlights.quit_now`,
  which core sets to finish the running folders and end the run (exit status 0);
* a digit ``N`` calls :attr:`Blinkenlights.sync_now` with ``N`` (1-based, in the order given
  to :meth:`~offlineimap.ui.UI.account_keys`), which core sets to end that account's sleep.

Leaving the session (normally or by an exception) stops the screen thread and restores the
terminal; warnings, errors and the run summary are then printed again on the plain terminal so
they survive the screen.
"""

from __future__ import annotations

import contextlib
import curses
import getpass
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from offlineimap.errors import ConfigError
from offlineimap.hookspecs import hookimpl
from offlineimap_ui import formatting
from offlineimap_ui.board import Activity, Board
from offlineimap_ui.logbase import LoggingUI
from offlineimap_ui.screen import Screen

if TYPE_CHECKING:
    from offlineimap.passwords import PasswordRequest
    from offlineimap.stats import FolderStats, RunStats

FRAME_MS = 100  #: the screen thread waits this long for a key between frames
KEPT_PROBLEMS = 50  #: warnings and errors repeated on the terminal after the screen closes
NOTICE_SECONDS = 5.0  #: how long a key's answer ("sync now: Work") stays in the title bar


class BoardHandler(logging.Handler):
    """Puts log records in the board's log pane, coloured like the emitting thread's light."""

    def __init__(self, board: Board) -> None:
        super().__init__()
        self.board = board
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        account = getattr(record, "account", None)
        if account and not text.startswith("***"):
            text = f"{account}: {text}"
        if record.levelno >= logging.ERROR:
            colour = "red"
        elif record.levelno >= logging.WARNING:
            colour = "yellow"
        elif record.levelno < logging.INFO:
            colour = "gray"
        else:
            activity = self.board.activity_of(record.thread)
            colour = activity.colour if activity else "gray"
        self.board.log(colour, text)
        if record.levelno >= logging.WARNING and len(self.problems) < KEPT_PROBLEMS:
            self.problems.append(text)


class Blinkenlights(LoggingUI):
    """The curses interface (see the module docstring for keys and threads)."""

    can_prompt = True

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.board = Board()
        self._pane = BoardHandler(self.board)
        #: set when the user pressed ``q`` (also when core has not wired :attr:`quit_now`).
        self.stop_requested = threading.Event()
        #: set by core: ``quit_now()`` finishes the running folders and ends the run.
        self.quit_now: Callable[[], None] | None = None
        #: set by core: ``sync_now(n)`` ends the sleep of account number ``n`` (1-based).
        self.sync_now: Callable[[int], None] | None = None
        self._screen_lock = threading.RLock()  # held by the screen thread around curses calls
        self._closing = threading.Event()
        self._stdscr: curses.window | None = None
        self._summary: list[str] = []
        super().__init__(*args, **kwargs)

    def console_handlers(self) -> list[logging.Handler]:
        return [self._pane]

    def account_keys(self, accounts: list[str]) -> None:
        self.board.set_accounts(accounts)

    # -- the session: terminal setup, screen thread, restore ------------------------------------

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ConfigError("the Blinkenlights interface needs a terminal; "
                              "use -u basic or -u ttyui")
        thread = None
        try:
            self._stdscr = curses.initscr()
            curses.noecho()
            curses.cbreak()
            self._stdscr.keypad(True)
            self._stdscr.timeout(FRAME_MS)
            with contextlib.suppress(curses.error):
                curses.curs_set(0)
            screen = Screen(self._stdscr, f"{formatting.banner()} - Blinkenlights")
            self._closing.clear()
            thread = threading.Thread(target=self._screen_loop, args=(screen,),
                                      name="Blinkenlights screen", daemon=True)
            thread.start()
            yield
        finally:
            self._closing.set()
            if thread is not None:
                thread.join()
            self._restore_terminal()
            self._replay()

    def _restore_terminal(self) -> None:
        if self._stdscr is None:
            return
        with contextlib.suppress(curses.error):
            self._stdscr.keypad(False)
            curses.nocbreak()
            curses.echo()
            curses.curs_set(1)
        with contextlib.suppress(curses.error):
            curses.endwin()
        self._stdscr = None

    def _replay(self) -> None:
        """Repeat what must outlive the screen: problems on stderr, the summary on stdout."""
        for line in self._pane.problems:
            print(line, file=sys.stderr)
        self._pane.problems.clear()
        for line in self._summary:
            print(line)
        self._summary.clear()

    def _screen_loop(self, screen: Screen) -> None:
        notice, shown_until = "", 0.0
        while not self._closing.is_set():
            with self._screen_lock:
                try:
                    key = screen.stdscr.getch()
                    if key == curses.KEY_RESIZE:
                        screen.resized()
                    elif key != -1 and (answer := self._on_key(key)):
                        notice, shown_until = answer, time.monotonic() + NOTICE_SECONDS
                    if notice and time.monotonic() > shown_until and (
                            not self.stop_requested.is_set()):
                        notice = ""
                    screen.draw(self.board.snapshot(), notice)
                except curses.error as exc:  # never let drawing take the sync down
                    self._pane.problems.append(f"Blinkenlights: screen error: {exc}")
                    return

    def _on_key(self, key: int) -> str | None:
        """Act on a key press; returns a notice for the title bar."""
        char = chr(key) if 0 <= key < 256 else ""
        if char in ("q", "Q"):
            if not self.stop_requested.is_set():
                self.stop_requested.set()
                self.emit(logging.INFO, "", "Quitting at user request: finishing running syncs")
                if self.quit_now is not None:
                    self.quit_now()
            return "quitting..."
        if char.isdigit() and char != "0":
            number = int(char)
            name = self.board.account_name(number)
            if name is None:
                return f"no account number {number}"
            if self.sync_now is None:
                return "sync now is not available in this run"
            self.sync_now(number)
            self.emit(logging.INFO, "", f"Requested synchronization for account {name}")
            return f"sync now: {name}"
        return None

    # -- password prompt ---------------------------------------------------------------------------

    @hookimpl
    def offlineimap_prompt_password(self, request: PasswordRequest) -> str | None:
        """Leave the screen, ask with ``getpass`` on the terminal, and come back."""
        who = request.user or request.repository
        again = "Wrong password. " if request.retry else ""
        with self._screen_lock:
            screen = self._stdscr
            if screen is not None:
                curses.def_prog_mode()
                curses.endwin()
            try:
                return getpass.getpass(f"{again}Enter password for user '{who}': ")
            except EOFError:
                return None
            finally:
                if screen is not None:
                    curses.reset_prog_mode()
                    screen.clear()
                    screen.refresh()

    # -- events: colour the light, update the board, then log -------------------------------

    def print_summary(self, stats: RunStats) -> None:
        super().print_summary(stats)
        lines = formatting.summary_lines(stats)
        if self._stdscr is None:
            print("\n".join(lines))
        else:
            self._summary = lines

    @hookimpl
    def offlineimap_run_start(self, accounts: list[str]) -> None:
        self.board.set_accounts(accounts)
        self.board.set_activity(Activity.MAIN)
        super().offlineimap_run_start(accounts)

    @hookimpl
    def offlineimap_account_start(self, account: str) -> None:
        self.board.account_started(account)
        self.board.set_activity(Activity.ACCOUNT, account)
        super().offlineimap_account_start(account)

    @hookimpl
    def offlineimap_account_finish(self, account: str, stats: FolderStats,
                                   elapsed: float) -> None:
        self.board.account_finished(account, elapsed)
        self.board.set_activity(Activity.ENDED, account)
        super().offlineimap_account_finish(account, stats, elapsed)

    @hookimpl
    def offlineimap_connecting(self, account: str, repository: str, host: str,
                               port: int) -> None:
        self.board.set_activity(Activity.CONNECTING, account)
        super().offlineimap_connecting(account, repository, host, port)

    @hookimpl
    def offlineimap_listing(self, account: str, folder: str, side: str) -> None:
        self.board.set_activity(Activity.LISTING, account)
        super().offlineimap_listing(account, folder, side)

    @hookimpl
    def offlineimap_folder_start(self, account: str, folder: str, total: int,
                                 total_bytes: int) -> None:
        self.board.set_activity(Activity.FOLDER, account)
        self.board.folder_started(account, folder, total, total_bytes)
        super().offlineimap_folder_start(account, folder, total, total_bytes)

    @hookimpl
    def offlineimap_folder_finish(self, account: str, folder: str, stats: FolderStats) -> None:
        self.board.set_activity(Activity.CONTROLLER, account)
        self.board.folder_finished(account, folder)
        super().offlineimap_folder_finish(account, folder, stats)

    @hookimpl
    def offlineimap_message_copied(self, account: str, folder: str, uid: int, source: str,
                                   destination: str, size: int) -> None:
        self.board.set_activity(Activity.COPYING, account)
        self.board.message_copied(account, folder, size)
        direction = "copied_to_local" if destination == "local" else "copied_to_remote"
        self.board.count(account, **{direction: 1})
        super().offlineimap_message_copied(account, folder, uid, source, destination, size)

    @hookimpl
    def offlineimap_flags_changed(self, account: str, folder: str, side: str,
                                  added: dict[str, list[int]],
                                  removed: dict[str, list[int]]) -> None:
        adding = any(added.values())
        self.board.set_activity(Activity.FLAGS_ADDING if adding else Activity.FLAGS_REMOVING,
                                account)
        changed = {uid for uids in (*added.values(), *removed.values()) for uid in uids}
        self.board.count(account, flags=len(changed))
        super().offlineimap_flags_changed(account, folder, side, added, removed)

    @hookimpl
    def offlineimap_messages_deleted(self, account: str, folder: str, side: str,
                                     uids: list[int]) -> None:
        self.board.set_activity(Activity.DELETING, account)
        self.board.count(account, deleted=len(uids))
        super().offlineimap_messages_deleted(account, folder, side, uids)

    @hookimpl
    def offlineimap_sleeping(self, account: str, seconds: float) -> None:
        self.board.set_activity(Activity.SLEEPING if seconds > 0 else Activity.ENDED, account)
        self.board.sleeping(account, seconds)

    @hookimpl
    def offlineimap_error(self, message: str, account: str | None,
                          exc: BaseException | None) -> None:
        if account is not None:
            self.board.count(account, errors=1)
        super().offlineimap_error(message, account, exc)
