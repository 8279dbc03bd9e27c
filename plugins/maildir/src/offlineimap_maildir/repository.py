"""The ``Maildir`` repository type: a directory of Maildir folders, laid out as OfflineIMAP does.

``localfolders`` is the root. A folder is any directory holding ``cur/``, ``new/`` and ``tmp/``,
the root included (it is the folder named ``""``). With ``sep = .`` (the default) folders are the
root's direct subdirectories, their names carrying the dots (``INBOX.Sent``); with ``sep = /``
folders nest as directories (``INBOX/Sent``) and the whole tree is searched.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from offlineimap.errors import ConfigError, FolderError, OfflineImapError
from offlineimap.repository import Repository, RepositoryContext
from offlineimap_maildir.folder import MaildirFolder
from offlineimap_maildir.storage import fsync_dir

SUBDIRS = ("cur", "new", "tmp")


@dataclasses.dataclass(frozen=True)
class MaildirOptions:
    """The options a Maildir repository reads, each from where OfflineIMAP reads it."""

    fsync: bool  #: ``[general] fsync`` (default yes)
    infosep: str  #: ``!`` with ``maildir-windows-compatible`` (account or repository), else ``:``
    filename_use_mail_timestamp: bool  #: repository, falling back to ``[general]``
    utime_from_header: bool  #: repository, falling back to ``[general]``
    restoreatime: bool  #: repository
    want_sizes: bool  #: the account sets ``maxsize``: listings report sizes so it can apply

    @classmethod
    def from_context(cls, ctx: RepositoryContext) -> MaildirOptions:
        section, general = ctx.section, ctx.config.general
        account = ctx.config.section(f"Account {ctx.account}")
        option = "maildir-windows-compatible"
        windows = (section.get_bool(option) if section.has(option)
                   else account.get_bool(option, False))

        def with_general(name: str) -> bool:
            return bool(section.get_bool(name, general.get_bool(name, False)))

        return cls(
            fsync=bool(general.get_bool("fsync", True)),
            infosep="!" if windows else ":",
            filename_use_mail_timestamp=with_general("filename_use_mail_timestamp"),
            utime_from_header=with_general("utime_from_header"),
            restoreatime=bool(section.get_bool("restoreatime", False)),
            want_sizes=account.has("maxsize"),
        )


class MaildirRepository(Repository):
    """A local store of Maildir folders under ``localfolders``."""

    folder_class: type[MaildirFolder] = MaildirFolder

    def __init__(self, ctx: RepositoryContext) -> None:
        super().__init__(ctx)
        self.root: Path = ctx.section.get_path("localfolders")
        self.sep = ctx.section.get("sep", ".").strip()
        if not self.sep:
            raise ConfigError(f"[{ctx.section.name}] sep is empty: use . or /")
        self.options = MaildirOptions.from_context(ctx)
        self._nametrans = self._read_nametrans()
        #: atimes of each seen folder's new/ and cur/, restored by close() (``restoreatime``).
        self._atimes: dict[Path, int] = {}

    def _read_nametrans(self) -> Callable[[str], Any] | None:
        section = self.ctx.section
        if not section.has("nametrans"):
            return None
        function = section.get_eval("nametrans")
        if not callable(function):
            raise ConfigError(f"[{section.name}] nametrans must be a function "
                              f"(such as lambda folder: folder), not {type(function).__name__}")
        return function

    def debug(self, message: str) -> None:
        self.ctx.events.debug("maildir", f"[{self.name}] {message}")

    # ---------------------------------------------------------------------------------------
    # Names and paths
    # ---------------------------------------------------------------------------------------

    def visible_name(self, name: str) -> str:
        """The folder's name after this repository's ``nametrans`` (OfflineIMAP's
        ``getvisiblename()``), from which its FMD5 is computed."""
        if self._nametrans is None:
            visible = name
        else:
            try:
                visible = self._nametrans(name)
            except Exception as exc:
                raise ConfigError(f"[{self.ctx.section.name}] nametrans failed for folder "
                                  f"{name!r}: {type(exc).__name__}: {exc}") from None
            if not isinstance(visible, str):
                raise ConfigError(f"[{self.ctx.section.name}] nametrans returned "
                                  f"{visible!r} for folder {name!r}: expected a string")
        return "" if visible == self.sep else visible

    def _normalise(self, name: str) -> str:
        """OfflineIMAP calls the root folder ``""`` (and accepts the bare separator for it)."""
        return "" if name == self.sep else name

    def folder_path(self, name: str) -> Path:
        """The directory of folder ``name``; a readable error for names that would leave the
        root or that ``sep`` cannot express."""
        name = self._normalise(name)
        if not name:
            return self.root
        parts = name.split("/")
        if name.startswith("/") or {"", ".", ".."} & set(parts):
            raise FolderError(f"{self.name}: folder name {name!r} is not a path below "
                              f"{self.root}")
        if self.sep != "/" and len(parts) > 1:
            raise FolderError(f"{self.name}: folder name {name!r} contains '/', but this "
                              f"repository uses sep = {self.sep}: set sep = / for nested "
                              f"folders, or map the name with nametrans")
        if any(part in SUBDIRS for part in parts):
            raise FolderError(f"{self.name}: folder name {name!r} uses cur, new or tmp as a "
                              f"level, which a Maildir reserves")
        return self.root.joinpath(*parts)

    # ---------------------------------------------------------------------------------------
    # The driver interface
    # ---------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Create the root if missing (as OfflineIMAP does), so a first sync has a home."""
        if self.root.is_dir() or self.ctx.dry_run or self.readonly:
            return
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise OfflineImapError(f"{self.name}: cannot create {self.root}: "
                                   f"{exc.strerror}") from None
        self.debug(f"created the root {self.root}")

    def list_folders(self) -> list[str]:
        """Every Maildir under the root, the root itself included (as ``""``)."""
        if not self.root.is_dir():
            return []
        found: dict[str, Path] = {}
        if _is_maildir(self.root):
            found[""] = self.root
        self._scan(self.root, "", found, set())
        names = list(found)
        for path in found.values():
            self._remember_atimes(path)
        self.debug(f"found {len(names)} folders under {self.root}: {names!r}")
        return names

    def _scan(self, directory: Path, prefix: str, found: dict[str, Path],
              seen: set[tuple[int, int]]) -> None:
        """Collect folders below ``directory``; with ``sep = /`` recurse into every
        subdirectory (folders or not), like OfflineIMAP, guarding against symlink loops."""
        try:
            stat = directory.stat()
            if (stat.st_dev, stat.st_ino) in seen:
                return
            seen.add((stat.st_dev, stat.st_ino))
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            if directory == self.root:
                raise OfflineImapError(f"{self.name}: cannot read {self.root}: "
                                       f"{exc.strerror}") from None
            self.ctx.events.warning(f"{self.name}: skipping {directory}: {exc.strerror}",
                                    self.ctx.account)
            return
        for entry in entries:
            if entry.name in SUBDIRS or not entry.is_dir():
                continue
            name = f"{prefix}/{entry.name}" if prefix else entry.name
            path = Path(entry.path)
            if _is_maildir(path):
                found[name] = path
            if self.sep == "/":
                self._scan(path, name, found, seen)

    def open_folder(self, name: str) -> MaildirFolder:
        name = self._normalise(name)
        path = self.folder_path(name)
        if not _is_maildir(path):
            raise FolderError(f"{self.name}: {path} is not a Maildir folder (it needs cur/, "
                              f"new/ and tmp/)")
        self._remember_atimes(path)
        if self.ctx.role == "remote":
            from offlineimap_maildir.remote import RemoteMaildirFolder

            return RemoteMaildirFolder(self, name)
        return self.folder_class(self, name)

    def create_folder(self, name: str) -> None:
        """Create the folder's directory, its parents and its cur/ new/ tmp/ (mode 0700);
        with fsync on, each new directory entry is made durable."""
        name = self._normalise(name)
        path = self.folder_path(name)
        if self.ctx.dry_run:
            self.debug(f"dry run: would create folder {name!r} at {path}")
            return
        if self.readonly:
            raise FolderError(f"{self.name} is readonly: not creating folder {name!r}")
        created: list[Path] = []
        for directory in [*reversed(path.parents), path, *(path / sub for sub in SUBDIRS)]:
            if directory.is_dir():
                continue
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                if not directory.is_dir():
                    raise FolderError(f"{self.name}: cannot create folder {name!r}: "
                                      f"{directory} is a file") from None
                continue
            except OSError as exc:
                raise FolderError(f"{self.name}: cannot create folder {name!r}: "
                                  f"{directory}: {exc.strerror}") from None
            created.append(directory)
        if self.options.fsync:
            for parent in sorted({directory.parent for directory in created}):
                fsync_dir(parent)
        self.debug(f"created folder {name!r} at {path}")

    def close(self) -> None:
        """Put back the atimes of new/ and cur/ (``restoreatime``), keeping the mtimes."""
        for directory, atime in self._atimes.items():
            try:
                os.utime(directory, ns=(atime, directory.stat().st_mtime_ns))
            except OSError as exc:
                self.debug(f"restoreatime: {directory}: {exc.strerror}")
        self._atimes.clear()

    def _remember_atimes(self, path: Path) -> None:
        if not self.options.restoreatime:
            return
        for sub in ("new", "cur"):
            directory = path / sub
            if directory not in self._atimes:
                try:
                    self._atimes[directory] = directory.stat().st_atime_ns
                except OSError:
                    continue

    @property
    def max_connections(self) -> int:
        """Folders of a Maildir are independent directories: the other side sets the limit."""
        return 64

    def info(self) -> dict[str, Any]:
        return {"localfolders": str(self.root), "sep": self.sep,
                "maildir-windows-compatible": self.options.infosep == "!",
                "fsync": self.options.fsync}


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in SUBDIRS)
