"""The user's own commands around a sync: ``presynchook``, ``postsynchook``, ``newmail_hook``.

``presynchook`` and ``postsynchook`` (``[Account X]``) are shell commands run before and after
every sync of the account, as in OfflineIMAP; the sync waits for them. Their environment adds:

* ``OFFLINEIMAP_ACCOUNT``: the account's name;
* ``OFFLINEIMAP_SYNC_MODE``: ``full``, ``quick`` (see :mod:`offlineimap.quick`) or ``idle``
  (a sync of the folders an IMAP IDLE push named);
* ``OFFLINEIMAP_HOOK``: ``presynchook`` or ``postsynchook``;
* ``OFFLINEIMAP_FOLDERS``: for ``idle`` syncs, the remote folder names, one per line;
* ``OFFLINEIMAP_SYNC_ERRORS`` (``postsynchook`` only): how many errors the sync had.

A hook that fails or exits non-zero is reported and the sync goes on, as in OfflineIMAP. A stop
signal ends a running hook (its whole process group), so the daemon still exits promptly.

``newmail_hook`` (``[Repository X]`` of the remote side) is a Python expression giving a
function that is called without arguments once a sync has copied new mail from the remote
``INBOX`` to the local side, OfflineIMAP's rule.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from offlineimap.errors import ConfigError
from offlineimap.hookspecs import hookimpl
from offlineimap.plan import REMOTE

if TYPE_CHECKING:
    from offlineimap.config import Section
    from offlineimap.events import Events

#: How often a running hook is checked for a stop request (seconds).
_POLL = 0.2
#: Hook output shown to the user is cut after this many characters.
_SHOWN = 2000


def run_command_hook(section: Section, option: str, env: Mapping[str, str], *, account: str,
                     events: Events, stop: threading.Event | None = None,
                     dry_run: bool = False) -> int | None:
    """Run the shell command of ``option`` if set; return its exit status (``None``: not run).

    :param env: variables added to the process environment (``OFFLINEIMAP_*``).
    """
    command = section.get(option, "").strip()
    if not command or (stop is not None and stop.is_set()):
        return None
    if dry_run:
        events.info(f"[dry-run] would call {option}: {command}", account)
        return None
    events.info(f"calling {option}: {command}", account)
    try:
        process = subprocess.Popen(
            command, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True)
    except OSError as exc:
        events.error(f"{option} could not be started: {exc.strerror or exc}", account, exc)
        return None
    output = _communicate(process, stop)
    text = output.decode("utf-8", "replace").strip()
    if text:
        shown = text if len(text) <= _SHOWN else text[:_SHOWN] + " ..."
        events.info(f"{option} output: {shown}", account)
    if process.returncode != 0:
        events.warning(f"{option} exited with status {process.returncode}: {command}", account)
    return process.returncode


def _communicate(process: subprocess.Popen[bytes], stop: threading.Event | None) -> bytes:
    """Wait for the hook, collecting its output; end its process group when asked to stop."""
    chunks: list[bytes] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: chunks.append(process.stdout.read()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    while True:
        try:
            process.wait(_POLL)
            break
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
    reader.join(_POLL * 5)
    return b"".join(chunks)


def sync_environment(account: str, mode: str, folders: list[str] | None = None,
                     errors: int | None = None) -> dict[str, str]:
    """The ``OFFLINEIMAP_*`` variables of a pre- or postsynchook (see the module docstring)."""
    env = {"OFFLINEIMAP_ACCOUNT": account, "OFFLINEIMAP_SYNC_MODE": mode}
    if folders is not None:
        env["OFFLINEIMAP_FOLDERS"] = "\n".join(folders)
    if errors is not None:
        env["OFFLINEIMAP_SYNC_ERRORS"] = str(errors)
    return env


class NewMailHooks:
    """An event listener calling each account's ``newmail_hook`` after new remote INBOX mail.

    Registered with the plugin host like a UI, so it sees the engine's copy events. One
    instance serves every account of the run.
    """

    FOLDER = "INBOX"

    def __init__(self, events: Events) -> None:
        self.events = events
        self._hooks: dict[str, Callable[[], object]] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def add(self, account: str, remote_section: Section) -> None:
        """Read ``newmail_hook`` from the account's remote repository section, if set."""
        if not remote_section.has("newmail_hook"):
            return
        function = remote_section.get_eval("newmail_hook")
        if not callable(function):
            raise ConfigError(f"[{remote_section.name}] newmail_hook: expected a function such "
                              f"as a lambda, got {type(function).__name__}")
        self._hooks[account] = function

    def __bool__(self) -> bool:
        return bool(self._hooks)

    @hookimpl
    def offlineimap_message_copied(self, account: str, folder: str, source: str) -> None:
        if source == REMOTE and folder == self.FOLDER and account in self._hooks:
            with self._lock:
                self._pending.add(account)

    @hookimpl
    def offlineimap_folder_finish(self, account: str, folder: str) -> None:
        if folder != self.FOLDER:
            return
        with self._lock:
            if account not in self._pending:
                return
            self._pending.discard(account)
        try:
            self._hooks[account]()
        except Exception as exc:  # the user's code: report it in one line, keep syncing
            self.events.error(f"newmail_hook failed: {type(exc).__name__}: {exc}", account, exc)
