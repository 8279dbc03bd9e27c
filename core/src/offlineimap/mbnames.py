"""``[mbnames]``: write the list of synced mailboxes for a mail reader (mutt's ``mailboxes``).

OfflineIMAP's behaviour and files:

* after each sync of an account, its folders go into ``<metadata>/mbnames/<account>.json``, a
  JSON list of ``{"accountname", "foldername", "localfolders"}`` (the local folder name and the
  local repository's ``localfolders``), keeping only folders ``folderfilter(account, folder)``
  accepts;
* the file ``filename`` is ``header`` + ``sep``.join(``peritem % item`` for every item of every
  account's JSON file, sorted by ``sort_keyfunc``) + ``footer``. ``header``, ``sep``, ``footer``,
  ``folderfilter`` and ``sort_keyfunc`` are Python expressions; ``peritem`` is taken as written
  (``+%(accountname)s/%(foldername)s``: no ``%%`` needed);
* with ``incremental = yes`` the file is rewritten after each account's sync, otherwise once at
  the end of the run (for a daemon: when it exits);
* JSON files of accounts no longer in ``[general] accounts`` are removed at the start, and all
  of them when mbnames is disabled.

Unlike OfflineIMAP, both files are replaced atomically, so a mail reader never sees half a list.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from offlineimap.config import Config, expand_path
from offlineimap.errors import ConfigError
from offlineimap.events import Events

SECTION = "mbnames"
_REQUIRED = ("filename", "header", "peritem", "sep", "footer")


class Mbnames:
    """The mailbox list of one run; thread-safe (accounts may sync in parallel)."""

    def __init__(self, config: Config, events: Events, *, dry_run: bool = False) -> None:
        self.events = events
        self.dry_run = dry_run
        self.directory = config.metadata_dir() / "mbnames"
        section = config.section(SECTION)
        self.enabled = config.has_section(SECTION) and section.get_bool("enabled", False)
        self._lock = threading.Lock()
        if not self.enabled:
            return
        missing = [option for option in _REQUIRED if not section.has(option)]
        if missing:
            raise ConfigError(f"[{SECTION}] enabled = yes needs {', '.join(missing)} (an empty "
                              'string "" is fine for header, sep and footer)')
        self.incremental: bool = section.get_bool("incremental", False)
        self.path = section.get_path("filename")
        self.peritem: str = config.parser.get(SECTION, "peritem", raw=True)
        self.header = self._text(section.get_eval("header"), "header")
        self.sep = self._text(section.get_eval("sep"), "sep")
        self.footer = self._text(section.get_eval("footer"), "footer")
        self.folderfilter: Callable[[str, str], Any] = (
            section.get_eval("folderfilter") if section.has("folderfilter")
            else lambda _account, _folder: True)
        self.sort_key: Callable[[dict[str, str]], Any] = (
            section.get_eval("sort_keyfunc") if section.has("sort_keyfunc")
            else lambda item: (item["accountname"], item["foldername"]))

    @staticmethod
    def _text(value: Any, option: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"[{SECTION}] {option}: expected a string such as \"\\n\", got "
                              f"{type(value).__name__}")
        return value

    def prune(self, configured_accounts: list[str]) -> None:
        """Drop the files of accounts no longer configured (all of them when disabled)."""
        keep = set(configured_accounts) if self.enabled else set()
        for path in self._account_files():
            if path.stem not in keep:
                self._remove(path)

    def account_synced(self, account: str, folders: list[str], local_root: str) -> None:
        """Record the (local) folder names an account's sync covered; write if incremental."""
        if not self.enabled:
            return
        items = [{"accountname": account, "foldername": folder, "localfolders": local_root}
                 for folder in folders if self._wanted(account, folder)]
        with self._lock:
            if self.dry_run:
                self.events.info(f"[dry-run] mbnames would write {self._account_path(account)}")
            else:
                _write_atomic(self._account_path(account), json.dumps(items))
            if self.incremental:
                self._write()

    def finish(self) -> None:
        """The end of the run: write the mailbox list unless incremental already did."""
        if self.enabled and not self.incremental:
            with self._lock:
                self._write()

    # -- helpers ---------------------------------------------------------------------------------

    def _wanted(self, account: str, folder: str) -> bool:
        try:
            return bool(self.folderfilter(account, folder))
        except Exception as exc:  # the user's function
            raise ConfigError(f"[{SECTION}] folderfilter failed for {account!r}, {folder!r}: "
                              f"{type(exc).__name__}: {exc}") from None

    def _write(self) -> None:
        items: list[dict[str, str]] = []
        for path in self._account_files():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.events.error(f"mbnames: cannot read {path}: {exc}")
                continue
            items.extend(item for item in loaded if isinstance(item, dict))
        try:
            items.sort(key=self.sort_key)
            lines = [self.peritem % item for item in items]
        except Exception as exc:  # the user's sort_keyfunc or peritem
            raise ConfigError(f"[{SECTION}] peritem or sort_keyfunc failed: "
                              f"{type(exc).__name__}: {exc}") from None
        if self.dry_run:
            self.events.info(f"[dry-run] mbnames would write {self.path}")
            return
        try:
            _write_atomic(self.path, self.header + self.sep.join(lines) + self.footer)
        except OSError as exc:
            self.events.error(f"mbnames: cannot write {self.path}: {exc.strerror or exc}")

    def _account_path(self, account: str) -> Path:
        return self.directory / f"{account}.json"

    def _account_files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.glob("*.json") if path.is_file())

    def _remove(self, path: Path) -> None:
        if self.dry_run:
            self.events.info(f"[dry-run] mbnames would remove {path}")
            return
        path.unlink(missing_ok=True)
        self.events.info(f"mbnames: removed {path}")


def local_root(section_value: str | None) -> str:
    """``localfolders`` as OfflineIMAP passes it to ``peritem``: expanded, or empty."""
    return str(expand_path(section_value)) if section_value else ""


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
