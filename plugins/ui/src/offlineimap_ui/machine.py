"""MachineUI: one event per line for programs that drive offlineimap.

Line format, as OfflineIMAP's MachineUI (protocol 7.2.0)::

    severity:command:thread:message

``severity`` is ``msg`` (info), ``warn``, ``error`` or ``debug``; ``command`` names the event
(``acct``, ``connecting``, ``copyingmessage``, ... or empty for plain messages); ``thread`` and
``message`` are percent-encoded so that no field holds a colon or a newline. Fields inside a
message are separated by ``\\n`` (and lists by ``\\f``) before encoding. The first line of every
run is ``msg:protocol:<thread>:7.2.0``, the second ``msg:initbanner:<thread>:<banner>``.

Encoding: every byte but ``A-Z a-z 0-9 _ . - ~`` is written as ``%XX``, spaces included
(OfflineIMAP wrote ``+`` for a space). Both ``urllib.parse.unquote`` and ``unquote_plus``
therefore read every line back exactly, so parsers written for OfflineIMAP keep working.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from offlineimap.hookspecs import hookimpl
from offlineimap_ui import formatting
from offlineimap_ui.logbase import LoggingUI, StdStream

if TYPE_CHECKING:
    from offlineimap.stats import RunStats

PROTOCOL = "7.2.0"
_SEVERITY = {"INFO": "msg", "WARNING": "warn", "ERROR": "error", "DEBUG": "debug",
             "CRITICAL": "critical"}


#: ``quote(text, safe="")`` for ASCII text as one ``str.translate``: the same output at a
#: fraction of the cost, which counts on a line written per message copied.
_ASCII_QUOTES = {code: f"%{code:02X}" for code in range(128)
                 if not (chr(code).isalnum() or chr(code) in "_.-~")}


def encode(text: str) -> str:
    """Percent-encode a field so the line stays one line of four colon-separated fields."""
    if text.isascii():
        return text.translate(_ASCII_QUOTES)
    return quote(text, safe="")


class MachineFormatter(logging.Formatter):
    """Formats a record as ``severity:command:thread:message``."""

    def format(self, record: logging.LogRecord) -> str:
        severity = _SEVERITY.get(record.levelname, record.levelname.lower())
        command = getattr(record, "command", "")
        payload = getattr(record, "payload", record.getMessage())
        return f"{severity}:{command}:{encode(record.threadName or '')}:{encode(payload)}"


class MachineUI(LoggingUI):
    """Machine-parsable output on stdout; never prompts."""

    verbose_events = True
    #: Programs read every copy, so every one is written (its flush batched, see logbase).
    progress_interval = 0.0

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self._greeted = False
        self._greet_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def console_handlers(self) -> list[logging.Handler]:
        out = StdStream("stdout")
        out.setFormatter(MachineFormatter())
        return [out]

    def _greet(self) -> None:
        """Print the protocol and banner lines once, before anything else."""
        if self._greeted:  # set only after both lines are out: other threads wait below
            return
        with self._greet_lock:
            if not self._greeted:
                super().emit(logging.INFO, "protocol", PROTOCOL)
                super().emit(logging.INFO, "initbanner", formatting.banner())
                self._greeted = True

    def emit(self, level: int, command: str, text: str, payload: str | None = None,
             account: str | None = None) -> None:
        self._greet()
        super().emit(level, command, text, payload, account)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        self._greet()
        yield

    @hookimpl
    def offlineimap_run_start(self, accounts: list[str]) -> None:
        self._greet()

    @hookimpl
    def offlineimap_run_finish(self, stats: RunStats) -> None:
        status = 1 if formatting.run_failed(stats) else 0
        self.emit(logging.INFO, "terminate", f"terminate {status}", f"{status}\n\n")

    @hookimpl
    def offlineimap_sleeping(self, account: str, seconds: float) -> None:
        remaining = max(0, int(seconds))
        self.emit(logging.INFO, "sleeping", f"sleeping {remaining}",
                  f"{1 if remaining else 0}\n{remaining}", account)
