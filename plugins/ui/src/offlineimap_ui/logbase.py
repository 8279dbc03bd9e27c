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
import logging.handlers
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


class StdStream(logging.StreamHandler):  # type: ignore[type-arg]
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


class LoggingUI(UI):
    """Base of all offlineimap-ui interfaces: events in, log records out."""

    #: Routine per-folder events (listing, folder finished) are shown only with ``-d`` ...
    verbose_events = False  # ... unless the UI wants every event (MachineUI).
    #: Where syslogd listens; a class attribute so tests can point it at their own socket.
    syslog_address = "/dev/log"

    def __init__(self, config: Config, *, logfile: str | None = None,
                 debug: frozenset[str] = frozenset()) -> None:
        super().__init__(config, logfile=logfile, debug=debug)
        self._lock = threading.Lock()
        self._copied: dict[tuple[str, str], list[int]] = {}  # (account, folder) -> [done, total]
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
            handler = logging.FileHandler(path, mode="a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"-l {path}: cannot open the log file: {exc.strerror}") from None
        handler.setFormatter(logging.Formatter(LOGFILE_FORMAT, LOGFILE_DATEFMT))
        return handler

    def close(self) -> None:
        """Flush and close every handler (the log file above all)."""
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
        extra = {"command": command, "payload": text if payload is None else payload,
                 "account": account}
        self.logger.log(level, text, extra=extra)

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
            self._copied[(account, folder)] = [0, total]
        size = f", {formatting.human_size(total_bytes)}" if total_bytes else ""
        self.emit(logging.INFO, "syncingfolder",
                  f"Syncing {folder}: {total} message{'' if total == 1 else 's'} to copy{size}",
                  f"{account}\n{folder}\n{total}\n{total_bytes}", account)

    @hookimpl
    def offlineimap_folder_finish(self, account: str, folder: str, stats: FolderStats) -> None:
        with self._lock:
            self._copied.pop((account, folder), None)
        self._routine("folderdone", f"Finished {folder}: {stats.changes} changes, "
                      f"{stats.errors} errors", f"{account}\n{folder}\n{stats.changes}\n"
                      f"{stats.errors}", account)

    @hookimpl
    def offlineimap_message_copied(self, account: str, folder: str, uid: int, source: str,
                                   destination: str, size: int) -> None:
        with self._lock:
            counter = self._copied.setdefault((account, folder), [0, 0])
            counter[0] += 1
            done, total = counter[0], max(counter)
        self.emit(logging.INFO, "copyingmessage",
                  f"Copy message UID {uid} ({done}/{total}) {source}:{folder} -> "
                  f"{destination}:{folder}",
                  f"{uid}\n{source}\n{folder}\n{destination}[{folder}]", account)

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

