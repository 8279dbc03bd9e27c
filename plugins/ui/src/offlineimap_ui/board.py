"""What Blinkenlights shows, kept apart from how curses draws it.

Event hooks (many threads) write into a :class:`Board` under its lock; the screen thread takes
a :meth:`Board.snapshot` and draws it. Nothing here imports curses, so the model is tested
without a terminal and the drawing code never races the engine.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import threading
import time

from offlineimap_ui import formatting

LOG_LINES = 1000  #: lines of history kept for the log pane
ENDED_KEPT = 4  #: ended (black) lights kept per account row before the oldest is dropped


class Activity(enum.Enum):
    """What a thread is doing: the colour of its light and the letter drawn in it.

    Colours follow OfflineIMAP's manual; the letter keeps the row readable without colour."""

    MAIN = ("red", "M")
    CONNECTING = ("gray", "C")
    ACCOUNT = ("purple", "A")
    FOLDER = ("cyan", "F")
    LISTING = ("green", "L")
    CONTROLLER = ("blue", "S")
    COPYING = ("orange", "c")
    DELETING = ("red", "d")
    FLAGS_ADDING = ("yellow", "+")
    FLAGS_REMOVING = ("pink", "-")
    SLEEPING = ("countdown", "z")
    ENDED = ("black", ".")

    @property
    def colour(self) -> str:
        return self.value[0]

    @property
    def letter(self) -> str:
        return self.value[1]


@dataclasses.dataclass
class Light:
    thread: threading.Thread
    account: str | None
    activity: Activity


@dataclasses.dataclass
class FolderProgress:
    """A folder being synced: messages and bytes copied of the announced total."""

    account: str
    folder: str
    total: int
    total_bytes: int
    started: float = dataclasses.field(default_factory=time.monotonic)
    copied: int = 0
    bytes_copied: int = 0

    def rate(self, now: float) -> float:
        """Bytes per second since the folder started."""
        return self.bytes_copied / max(now - self.started, 1e-3)

    def describe(self, now: float) -> str:
        size = formatting.human_size
        total_bytes = f"/{size(self.total_bytes)}" if self.total_bytes else ""
        return (f"{self.account}/{self.folder}: {self.copied}/{self.total} msgs, "
                f"{size(self.bytes_copied)}{total_bytes}, {size(self.rate(now))}/s")

    def fraction(self) -> float:
        if self.total_bytes:
            return min(1.0, self.bytes_copied / self.total_bytes)
        return min(1.0, self.copied / self.total) if self.total else 1.0


@dataclasses.dataclass
class AccountRow:
    """One account's status and running totals: of the sync in progress, or (while it sleeps)
    of the last one, which is then the account's summary line."""

    name: str
    status: str = "waiting"
    sleep_left: float = 0.0
    started: float | None = None
    copied_to_local: int = 0
    copied_to_remote: int = 0
    deleted: int = 0
    flags: int = 0
    errors: int = 0
    bytes_copied: int = 0
    last_sync: float | None = None  #: how long the last finished sync took

    def lead(self, now: float) -> str:
        """The ``[status]`` box: countdown while sleeping, elapsed time while active."""
        if self.status == "sleeping":
            return f"[{formatting.duration(self.sleep_left):>7}]"
        if self.status == "active" and self.started is not None:
            return f"[{formatting.duration(now - self.started):>7}]"
        return f"[{self.status:>7}]"

    def totals(self) -> str:
        text = (f"{self.copied_to_local} to local, {self.copied_to_remote} to remote "
                f"({formatting.human_size(self.bytes_copied)}), {self.deleted} deleted, "
                f"{self.flags} flags, {self.errors} errors")
        if self.last_sync is not None:
            text += f"; last sync took {formatting.duration(self.last_sync)}"
        return text


@dataclasses.dataclass
class Snapshot:
    """A consistent copy of the board for one frame."""

    accounts: list[AccountRow]
    lights: list[Light]
    folders: list[FolderProgress]
    log: list[tuple[str, str]]  #: (colour, text), oldest first
    now: float


class Board:
    """The shared state of the Blinkenlights screen; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lights: dict[threading.Thread, Light] = {}
        self._accounts: dict[str, AccountRow] = {}
        self._folders: dict[tuple[str, str], FolderProgress] = {}
        self._log: collections.deque[tuple[str, str]] = collections.deque(maxlen=LOG_LINES)

    # -- accounts -------------------------------------------------------------------------------

    def set_accounts(self, names: list[str]) -> None:
        """Number the accounts in this order (digit keys), keeping any seen earlier."""
        with self._lock:
            for name in names:
                self._accounts.setdefault(name, AccountRow(name))

    def account_name(self, number: int) -> str | None:
        """The account shown as ``number`` (1-based), if any."""
        with self._lock:
            names = list(self._accounts)
        return names[number - 1] if 1 <= number <= len(names) else None

    def _row(self, name: str) -> AccountRow:
        return self._accounts.setdefault(name, AccountRow(name))

    def account_started(self, name: str) -> None:
        with self._lock:
            row = self._row(name)
            row.status, row.started, row.sleep_left = "active", time.monotonic(), 0.0
            row.copied_to_local = row.copied_to_remote = row.deleted = row.flags = 0
            row.errors = row.bytes_copied = 0
            row.last_sync = None

    def account_finished(self, name: str, elapsed: float) -> None:
        with self._lock:
            row = self._row(name)
            row.status, row.started, row.last_sync = "done", None, elapsed

    def sleeping(self, name: str, seconds: float) -> None:
        with self._lock:
            row = self._row(name)
            row.status = "sleeping" if seconds > 0 else "waiting"
            row.sleep_left = max(0.0, seconds)

    def count(self, name: str, **increments: int) -> None:
        """Add to an account's totals (``copied_to_local=1``, ``errors=1``, ...)."""
        with self._lock:
            row = self._row(name)
            for field, amount in increments.items():
                setattr(row, field, getattr(row, field) + amount)

    # -- lights ----------------------------------------------------------------------------------

    def set_activity(self, activity: Activity, account: str | None = None) -> None:
        """Colour the calling thread's light; the thread joins ``account``'s row if given."""
        thread = threading.current_thread()
        with self._lock:
            light = self._lights.setdefault(thread, Light(thread, account, activity))
            light.activity = activity
            if account is not None:
                light.account = account
                self._row(account)

    def activity_of(self, ident: int | None) -> Activity | None:
        """The activity of the live thread with this ident (log records carry idents)."""
        with self._lock:
            for thread, light in self._lights.items():
                if thread.ident == ident and thread.is_alive():
                    return light.activity
            return None

    # -- folders ---------------------------------------------------------------------------------

    def folder_started(self, account: str, folder: str, total: int, total_bytes: int) -> None:
        with self._lock:
            self._folders[(account, folder)] = FolderProgress(account, folder, total,
                                                              total_bytes)

    def message_copied(self, account: str, folder: str, size: int) -> None:
        with self._lock:
            self._row(account).bytes_copied += size
            progress = self._folders.get((account, folder))
            if progress is not None:
                progress.copied += 1
                progress.bytes_copied += size

    def folder_finished(self, account: str, folder: str) -> None:
        with self._lock:
            self._folders.pop((account, folder), None)

    # -- log -------------------------------------------------------------------------------------

    def log(self, colour: str, text: str) -> None:
        with self._lock:
            for line in text.splitlines() or [""]:
                self._log.append((colour, line))

    # -- frames ----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Copy everything a frame needs; lights of finished threads turn black."""
        with self._lock:
            ended: dict[str | None, list[threading.Thread]] = {}
            for thread, light in self._lights.items():
                if not thread.is_alive():
                    light.activity = Activity.ENDED
                if light.activity is Activity.ENDED:
                    ended.setdefault(light.account, []).append(thread)
            for threads in ended.values():
                for thread in threads[:-ENDED_KEPT]:
                    del self._lights[thread]
            return Snapshot(
                accounts=[dataclasses.replace(row) for row in self._accounts.values()],
                lights=[dataclasses.replace(light) for light in self._lights.values()],
                folders=[dataclasses.replace(p) for p in self._folders.values()],
                log=list(self._log),
                now=time.monotonic(),
            )
