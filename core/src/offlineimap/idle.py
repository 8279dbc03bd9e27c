"""IMAP IDLE for ``idlefolders``: the server pushes changes, the daemon syncs that folder.

``idlefolders`` (remote ``[Repository X]``, a Python list of remote folder names, as on the
server, before nametrans) names folders watched between syncs when the account has
``autorefresh``. Each holds a connection of its own (:meth:`Repository.idle_connection`) in one
thread; when the server reports new mail, an expunge or a flag change, :class:`IdleWatcher`
calls ``on_change(folder)`` and the account syncs just that folder (see :mod:`offlineimap.runner`).

* The wait is re-issued every ``idlerenew`` seconds (remote repository option, default and
  maximum 1740, i.e. 29 minutes, RFC 2177's advice), so servers never drop it as inactive.
* A broken connection (a server restart, a network change) is re-opened with back-off from 1
  second up to 60; once it is back the folder is synced, since mail may have come meanwhile.
  Nothing here blocks longer than a second at a time, so a stop request is seen promptly.
* Watchers run for the whole life of the daemon, across syncs: no push is lost while a sync runs.

OfflineIMAP's ``keepalive`` and ``holdconnectionopen`` are accepted; IDLE connections are held
open anyway, and sync connections are opened afresh for every sync.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from offlineimap.errors import ConfigError, OfflineImapError

if TYPE_CHECKING:
    from offlineimap.config import Section
    from offlineimap.events import Events
    from offlineimap.repository import IdleHandle, Repository

#: RFC 2177: clients should re-issue IDLE at least every 29 minutes.
MAX_RENEW = 29 * 60
#: Longest single wait, so stop requests are noticed within this many seconds.
SLICE = 0.5
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0


def idle_folders(section: Section) -> list[str]:
    """``idlefolders`` of a repository section (``[]`` when unset)."""
    if not section.has("idlefolders"):
        return []
    value = section.get_eval("idlefolders")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[{section.name}] idlefolders: expected a list of folder names, "
                          f"got {value!r}")
    return list(dict.fromkeys(value))


def renew_interval(section: Section) -> float:
    """``idlerenew`` in seconds, at most :data:`MAX_RENEW`."""
    value = section.get_float("idlerenew", float(MAX_RENEW))
    if value <= 0:
        raise ConfigError(f"[{section.name}] idlerenew = {value}: expected a number of seconds "
                          "above 0")
    return min(value, float(MAX_RENEW))


class IdleWatcher:
    """One thread per watched folder, each keeping a connection in IDLE until :meth:`stop`."""

    def __init__(self, *, account: str, repository: Repository, folders: list[str],
                 events: Events, on_change: Callable[[str], None], renew: float) -> None:
        self.account = account
        self.repository = repository
        self.folders = folders
        self.events = events
        self.on_change = on_change
        self.renew = renew
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for folder in self.folders:
            thread = threading.Thread(target=self._watch, args=(folder,), daemon=True,
                                      name=f"{self.account}-idle-{folder}")
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask every thread to end and wait for them (bounded: the daemon must exit promptly)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    # -- one folder ------------------------------------------------------------------------------

    def _watch(self, folder: str) -> None:
        delay = BACKOFF_FIRST
        failed = False
        while not self._stop.is_set():
            try:
                handle = self.repository.idle_connection(folder)
            except OfflineImapError as exc:
                if not failed:
                    self.events.warning(f"IDLE on {folder}: {exc}; retrying", self.account)
                failed = True
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            if handle is None:
                self.events.warning(f"[Repository {self.repository.name}] cannot IDLE: "
                                    f"idlefolders ignored", self.account)
                return
            if failed:
                self.events.info(f"IDLE on {folder} re-established", self.account)
                self.on_change(folder)  # mail may have arrived while we were away
            failed, delay = False, BACKOFF_FIRST
            self.events.debug("idle", f"{self.account}: IDLE on {folder}")
            try:
                self._loop(handle, folder)
            except OfflineImapError as exc:
                self.events.warning(f"IDLE on {folder}: {exc}; reconnecting", self.account)
                failed = True
            finally:
                handle.close()

    def _loop(self, handle: IdleHandle, folder: str) -> None:
        renew_at = time.monotonic() + self.renew
        while not self._stop.is_set():
            left = renew_at - time.monotonic()
            if left <= 0:
                changed = handle.renew()
                renew_at = time.monotonic() + self.renew
                self.events.debug("idle", f"{self.account}: IDLE on {folder} renewed")
            else:
                changed = handle.wait(min(SLICE, left))
            if changed:
                self.events.debug("idle", f"{self.account}: {folder} changed")
                self.on_change(folder)
