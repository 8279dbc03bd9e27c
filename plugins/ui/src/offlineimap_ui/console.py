"""The line-oriented interfaces: Basic (cron), TTYUI (a console), Quiet (errors only) and
Syslog.

All four share :class:`~offlineimap_ui.logbase.LoggingUI`; they differ only in where lines go
and how they look. Status lines go to stdout, warnings, errors and (without ``-l``) debug lines
to stderr, so that ``offlineimap -u basic >/dev/null`` in cron mails only the problems.
"""

from __future__ import annotations

import getpass
import logging
import threading
from typing import TYPE_CHECKING

from offlineimap.hookspecs import hookimpl
from offlineimap_ui import formatting
from offlineimap_ui.logbase import LoggingUI, StdStream, open_syslog, syslog_warning

if TYPE_CHECKING:
    from offlineimap.passwords import PasswordRequest
    from offlineimap.stats import RunStats

#: ``[general] ui_timestamps = yes`` prefixes Basic's and TTYUI's lines with the time.
TIMESTAMPS_OPTION = "ui_timestamps"


def _not_info(record: logging.LogRecord) -> bool:
    return record.levelno != logging.INFO


def _only_info(record: logging.LogRecord) -> bool:
    return record.levelno == logging.INFO


class Basic(LoggingUI):
    """Plain lines for unattended runs; cannot ask for a password."""

    can_prompt = False

    def _formatter(self) -> logging.Formatter:
        general = self.config.section("general")
        if general.get_bool(TIMESTAMPS_OPTION, False):
            return logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        return logging.Formatter("%(message)s")

    def console_handlers(self) -> list[logging.Handler]:
        out, err = StdStream("stdout"), StdStream("stderr")
        out.addFilter(_only_info)
        err.addFilter(_not_info)
        for handler in (out, err):
            handler.setFormatter(self._formatter())
        return [out, err]


class _ThreadFormatter(logging.Formatter):
    """Groups consecutive lines of one thread under its name, as OfflineIMAP's TTYUI does.

    Called under the handlers' shared lock, so ``_last`` needs no lock of its own."""

    def __init__(self, base: logging.Formatter) -> None:
        super().__init__()
        self._base = base
        self._last: str | None = None

    def format(self, record: logging.LogRecord) -> str:
        text = self._base.format(record)
        name = record.threadName
        if name == "MainThread":
            self._last = None
            return text
        if name != self._last:
            self._last = name
            return f"{name}:\n {text}"
        return f" {text}"


class TTYUI(Basic):
    """Status lines for a console; asks for passwords on the terminal."""

    can_prompt = True

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        #: held while a line is written and while a password is typed, so no line lands
        #: in the middle of the prompt.
        self.console_lock = threading.RLock()
        self._announced: dict[str, int] = {}  # account -> minute last announced
        super().__init__(*args, **kwargs)

    def console_handlers(self) -> list[logging.Handler]:
        handlers = super().console_handlers()
        shared = _ThreadFormatter(self._formatter())
        for handler in handlers:
            handler.lock = self.console_lock
            handler.setFormatter(shared)
        return handlers

    @hookimpl
    def offlineimap_sleeping(self, account: str, seconds: float) -> None:
        """Announce the next refresh once per minute of the countdown."""
        minute = int(seconds) // 60
        with self._lock:
            if seconds <= 0:
                self._announced.pop(account, None)
                return
            if self._announced.get(account) == minute:
                return
            self._announced[account] = minute
        self.emit(logging.INFO, "sleeping",
                  f"Next refresh of {account} in {seconds / 60:.1f} minutes", account=account)

    @hookimpl
    def offlineimap_prompt_password(self, request: PasswordRequest) -> str | None:
        """Ask on the terminal (``getpass`` reads ``/dev/tty``, echo off)."""
        who = request.user or request.repository
        where = f" on {request.host}" if request.host else ""
        again = "Wrong password. " if request.retry else ""
        with self.console_lock:
            try:
                return getpass.getpass(f"{again}Enter password for user '{who}'{where}: ")
            except EOFError:
                return None


class Quiet(Basic):
    """Nothing but errors and warnings (and the summary when something failed)."""

    def console_handlers(self) -> list[logging.Handler]:
        err = StdStream("stderr")
        err.addFilter(_not_info)
        err.setFormatter(self._formatter())
        return [err]

    def print_summary(self, stats: RunStats) -> None:
        if formatting.run_failed(stats):
            for line in formatting.summary_lines(stats):
                self.emit(logging.WARNING, "summary", line)
        else:
            super().print_summary(stats)  # reaches only the log file


class Syslog(LoggingUI):
    """Lines to the system log; stderr (with one warning) where there is no syslog socket."""

    def console_handlers(self) -> list[logging.Handler]:
        try:
            return [open_syslog(self.syslog_address)]
        except OSError as exc:
            syslog_warning(self.syslog_address, exc, "logging to stderr")
        handler = StdStream("stderr")
        handler.setFormatter(logging.Formatter("offlineimap: %(message)s"))
        return [handler]

    def _add_syslog(self) -> None:
        """``-s`` with the Syslog UI: already there, never twice."""
