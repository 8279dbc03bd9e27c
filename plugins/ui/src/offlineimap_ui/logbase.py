"""The shared engine of every UI: turns event hooks into log records.

Each event becomes one :class:`logging.LogRecord` carrying the human text and, for MachineUI,
a ``command`` and a ``payload``. Subclasses only choose handlers (console, syslog, curses pane)
and formatters. The ``-l`` log file, ``-d`` debug routing, password masking, the run summary
and ``-s`` (a copy of every line to the system log, whatever the UI) live here once.

Thread safety: the engine calls these hooks from many threads at once. Handlers serialise
their own output (``logging.Handler`` holds a lock around ``emit``); the few counters kept here
are guarded by ``self._lock``.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, TextIO

from offlineimap.errors import ConfigError
from offlineimap.hookspecs import hookimpl
from offlineimap.ui import UI
from offlineimap_ui import formatting

if TYPE_CHECKING:
    from offlineimap.config import Config
    from offlineimap.stats import FolderStats, RunStats

LOGFILE_FORMAT = "%(asctime)s %(levelname)s: %(message)s"
LOGFILE_DATEFMT = "%Y-%m-%d %H:%M:%S"
#: ``-s`` (core records it as ``[general] syslog``): every UI also logs to the system log.
SYSLOG_OPTION = "syslog"
#: The event sent once per message copied: the engine's hottest event, so the cheapest.
PROGRESS_COMMAND = "copyingmessage"
#: A person cannot read more than a few progress lines a second, and writing (and flushing)
#: one per message cost a tenth of an initial sync: the console shows a folder's first and last
#: copy and, in between, at most one line per this many seconds; the log file gets them all,
#: flushed at most this often.
PROGRESS_INTERVAL = 0.25


class _FolderProgress:
    """How far one folder's copying is, and when a progress line was last shown for it."""

    __slots__ = ("done", "shown_at", "total")

    def __init__(self, total: int) -> None:
        self.done, self.total, self.shown_at = 0, total, 0.0

    def advance(self, now: float, interval: float) -> bool:
        """Count one copy; whether its line is shown (the first, the last, or one is due)."""
        self.done += 1
        if self.done == 1 or self.done == self.total or now - self.shown_at >= interval:
            self.shown_at = now
            return True
        return False


class _BatchedFlush(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that does not flush after each progress line.

    Other lines are flushed at once, as :class:`logging.StreamHandler` does; a progress line
    waits for the next flush, which comes with the next other line, with the first progress
    line :data:`PROGRESS_INTERVAL` after the last flush, at folder end and on close. ``emit``
    runs under the handler's lock, which ``flush`` takes again (an ``RLock``).
    """

    _holding = False
    _flushed_at = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self._holding = (record.__dict__.get("command") == PROGRESS_COMMAND
                         and time.monotonic() - self._flushed_at < PROGRESS_INTERVAL)
        try:
            super().emit(record)
        finally:
            self._holding = False

    def flush(self) -> None:
        if not self._holding:
            self._flushed_at = time.monotonic()
            super().flush()


class StdStream(_BatchedFlush):
    """A handler writing to ``sys.stdout`` or ``sys.stderr`` as they are *when it writes*.

    Looking the stream up late keeps output correct when the process (or a test) swaps the
    standard streams after the UI was built.
    """

    def __init__(self, name: str) -> None:
        self._stream_name = name
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.<name>``."""


def open_syslog(address: str) -> logging.Handler:
    """A handler for the system log listening at ``address`` (facility user, as OfflineIMAP).

    Raises :class:`OSError` when nothing listens there, so callers choose their fallback."""
    import logging.handlers  # with pickle and socketserver: only for the few who log to syslog

    if not stat.S_ISSOCK(os.stat(address).st_mode):
        raise OSError(f"{address} is not a socket")
    handler = logging.handlers.SysLogHandler(address=address)
    handler.setFormatter(logging.Formatter("offlineimap[%(process)d]: %(message)s"))
    return handler


def syslog_warning(address: str, exc: OSError, fallback: str) -> None:
    """Say once, on stderr (the UI may not be up yet), that the system log is unreachable."""
    print(f"offlineimap: WARNING: no syslog socket at {address} ({exc.strerror or exc}); "
          f"{fallback}", file=sys.stderr)


class _Levels(logging.Filter):
    """Let through records whose level is within ``[low, high]``."""

    def __init__(self, low: int, high: int = logging.CRITICAL) -> None:
        super().__init__()
        self.low, self.high = low, high

    def filter(self, record: logging.LogRecord) -> bool:
        return self.low <= record.levelno <= self.high


class LogFile(_BatchedFlush, logging.FileHandler):
    """The ``-l`` log file: every line, progress lines flushed in batches."""


class LoggingUI(UI):
    """Base of all offlineimap-ui interfaces: events in, log records out."""

    #: Routine per-folder events (listing, folder finished) are shown only with ``-d`` ...
    verbose_events = False  # ... unless the UI wants every event (MachineUI).
    #: Seconds between two progress lines of one folder on the console (0: one per message).
    progress_interval = PROGRESS_INTERVAL
    #: Where syslogd listens; a class attribute so tests can point it at their own socket.
    syslog_address = "/dev/log"

    def __init__(self, config: Config, *, logfile: str | None = None,
                 debug: frozenset[str] = frozenset()) -> None:
        super().__init__(config, logfile=logfile, debug=debug)
        self._lock = threading.Lock()
        self._copied: dict[tuple[str, str], _FolderProgress] = {}  # by (account, folder)
        self._account_started: dict[str, float] = {}
        # An unregistered logger: no global state, so two UIs (or two tests) never share it.
        self.logger = logging.Logger(f"offlineimap.ui.{type(self).__name__}", logging.DEBUG)
        self.logger.propagate = False
        self._file_handler: logging.Handler | None = None
        if logfile:
            self._file_handler = self._open_logfile(logfile)
            self.logger.addHandler(self._file_handler)
        for handler in self.console_handlers():
            if logfile:  # manual: with -l, debug output goes to the log file only
                handler.addFilter(_Levels(logging.INFO))
            self.logger.addHandler(handler)
        if self.config.section("general").get_bool(SYSLOG_OPTION, False):
            self._add_syslog()

    # -- what subclasses provide ----------------------------------------------------------------

    def console_handlers(self) -> list[logging.Handler]:
        """The handlers that show this UI's output (besides the log file)."""
        return []

    # -- plumbing -------------------------------------------------------------------------------

    def _add_syslog(self) -> None:
        """``-s``: status lines, warnings and errors (no debug) also go to the system log."""
        try:
            handler = open_syslog(self.syslog_address)
        except OSError as exc:
            syslog_warning(self.syslog_address, exc, "-s ignored")
            return
        handler.addFilter(_Levels(logging.INFO))
        self.logger.addHandler(handler)

    @staticmethod
    def _open_logfile(path: str) -> logging.Handler:
        try:
            handler = LogFile(path, mode="a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"-l {path}: cannot open the log file: {exc.strerror}") from None
        handler.setFormatter(logging.Formatter(LOGFILE_FORMAT, LOGFILE_DATEFMT))
        return handler

    def flush(self) -> None:
        """Write out what the handlers hold back (progress lines)."""
        for handler in self.logger.handlers:
            handler.flush()

    def close(self) -> None:
        """Flush and close every handler (the log file above all)."""
        self.flush()
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
            handler.close()

    def debugging(self, category: str) -> bool:
        """Whether ``-d`` asked for this category (``""`` is any debugging at all)."""
        if not self.debug_types:
            return False
        return category == "" or category in self.debug_types or "all" in self.debug_types

    def emit(self, level: int, command: str, text: str, payload: str | None = None,
             account: str | None = None) -> None:
        """Log one event: ``text`` for people, ``command``/``payload`` for MachineUI."""
        self.logger.handle(self._record(level, command, text, payload, account))

    def _record(self, level: int, command: str, text: str, payload: str | None,
                account: str | None) -> logging.LogRecord:
        """A record without ``Logger.log``'s search of the stack for the caller's source line,
        which no format here shows and which was a good part of an event's cost."""
        return self.logger.makeRecord(
            self.logger.name, level, "", 0, text, None, None,
            extra={"command": command, "payload": text if payload is None else payload,
                   "account": account})

    def _routine(self, command: str, text: str, payload: str, account: str | None) -> None:
        """An event only MachineUI and ``-d`` users want to see."""
        if self.verbose_events:
            self.emit(logging.INFO, command, text, payload, account)
        elif self.debugging(""):
            self.emit(logging.DEBUG, command, text, payload, account)

    def print_summary(self, stats: RunStats) -> None:
        for line in formatting.summary_lines(stats):
            self.emit(logging.INFO, "summary", line)

    # -- event hooks ------------------------------------------------------------------------------

    @hookimpl
    def offlineimap_run_start(self, accounts: list[str]) -> None:
        self.emit(logging.INFO, "initbanner", formatting.banner())

    @hookimpl
    def offlineimap_run_finish(self, stats: RunStats) -> None:
        self.print_summary(stats)

    @hookimpl
    def offlineimap_account_start(self, account: str) -> None:
        with self._lock:
            self._account_started[account] = time.monotonic()
        self.emit(logging.INFO, "acct", f"*** Processing account {account}", account,
                  account)

    @hookimpl
    def offlineimap_account_finish(self, account: str, stats: FolderStats,
                                   elapsed: float) -> None:
        with self._lock:
            self._account_started.pop(account, None)
        self.emit(logging.INFO, "acctdone",
                  f"*** Finished account '{account}' in {formatting.duration(elapsed)}",
                  account, account)

    @hookimpl
    def offlineimap_connecting(self, account: str, repository: str, host: str,
                               port: int) -> None:
        where = f" to {host}:{port}" if host else ""
        self.emit(logging.INFO, "connecting", f"Establishing connection{where} ({repository})",
                  f"{host}\n{port}\n{repository}", account)

    @hookimpl
    def offlineimap_listing(self, account: str, folder: str, side: str) -> None:
        self._routine("loadmessagelist", f"Loading message list for {side}[{folder}]",
                      f"{side}\n{folder}", account)

    @hookimpl
    def offlineimap_folder_start(self, account: str, folder: str, total: int,
                                 total_bytes: int) -> None:
        with self._lock:
            self._copied[(account, folder)] = _FolderProgress(total)
        size = f", {formatting.human_size(total_bytes)}" if total_bytes else ""
        self.emit(logging.INFO, "syncingfolder",
                  f"Syncing {folder}: {total} message{'' if total == 1 else 's'} to copy{size}",
                  f"{account}\n{folder}\n{total}\n{total_bytes}", account)

    @hookimpl
    def offlineimap_folder_finish(self, account: str, folder: str, stats: FolderStats) -> None:
        with self._lock:
            self._copied.pop((account, folder), None)
        self.flush()
        self._routine("folderdone", f"Finished {folder}: {stats.changes} changes, "
                      f"{stats.errors} errors", f"{account}\n{folder}\n{stats.changes}\n"
                      f"{stats.errors}", account)

    @hookimpl
    def offlineimap_message_copied(self, account: str, folder: str, uid: int, source: str,
                                   destination: str, size: int) -> None:
        """One line per message in the log file; on the console, throttled per folder (see
        :data:`PROGRESS_INTERVAL`); the skipped lines cost no more than a counter."""
        now = time.monotonic()
        with self._lock:
            progress = self._copied.get((account, folder))
            if progress is None:  # no folder_start: no total to show
                progress = self._copied[(account, folder)] = _FolderProgress(0)
            shown = progress.advance(now, self.progress_interval)
            done, total = progress.done, max(progress.done, progress.total)
        if not shown and self._file_handler is None:
            return
        text = (f"Copy message UID {uid} ({done}/{total}) {source}:{folder} -> "
                f"{destination}:{folder}")
        payload = f"{uid}\n{source}\n{folder}\n{destination}[{folder}]"
        if shown:
            self.emit(logging.INFO, PROGRESS_COMMAND, text, payload, account)
        elif self._file_handler is not None:
            self._file_handler.handle(self._record(logging.INFO, PROGRESS_COMMAND, text,
                                                   payload, account))

    @hookimpl
    def offlineimap_flags_changed(self, account: str, folder: str, side: str,
                                  added: dict[str, list[int]],
                                  removed: dict[str, list[int]]) -> None:
        for command, verb, changes in (("addingflags", "Adding flag {} to", added),
                                       ("deletingflags", "Deleting flag {} from", removed)):
            for flag, uids in sorted(changes.items()):
                if uids:
                    self.emit(logging.INFO, command,
                              f"{verb.format(flag)} {len(uids)} messages on {side}[{folder}]",
                              "\f".join(map(str, uids)) + f"\n{flag}\n{side}[{folder}]",
                              account)

    @hookimpl
    def offlineimap_messages_deleted(self, account: str, folder: str, side: str,
                                     uids: list[int]) -> None:
        self.emit(logging.INFO, "deletingmessages",
                  f"Deleting {len(uids)} messages ({formatting.uid_sequence(uids)}) in "
                  f"{side}[{folder}]", "\f".join(map(str, uids)) + f"\n{side}\t{folder}",
                  account)

    @hookimpl
    def offlineimap_sleeping(self, account: str, seconds: float) -> None:
        """Basic and Quiet stay silent during the countdown; TTYUI and others override."""

    @hookimpl
    def offlineimap_info(self, message: str, account: str | None) -> None:
        self.emit(logging.INFO, "", message, account=account)

    @hookimpl
    def offlineimap_warning(self, message: str, account: str | None) -> None:
        self.emit(logging.WARNING, "", f"WARNING: {message}", message, account)

    @hookimpl
    def offlineimap_error(self, message: str, account: str | None,
                          exc: BaseException | None) -> None:
        self.emit(logging.ERROR, "", f"ERROR: {message}", account=account)
        if exc is not None and self.debugging(""):
            trace = "".join(traceback.format_exception(exc)).rstrip()
            self.emit(logging.DEBUG, "traceback", formatting.mask_secrets(trace),
                      account=account)

    @hookimpl
    def offlineimap_debug(self, category: str, message: str) -> None:
        if self.debugging(category):
            self.emit(logging.DEBUG, "", f"[{category}]: {formatting.mask_secrets(message)}")

