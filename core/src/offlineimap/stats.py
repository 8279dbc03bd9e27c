"""Counters for the end-of-run summary: per folder, per account, per run."""

from __future__ import annotations

import dataclasses
import threading


@dataclasses.dataclass
class FolderStats:
    """What one folder's sync (or, summed, one account's) did."""

    copied_to_local: int = 0
    copied_to_remote: int = 0
    bytes_copied: int = 0
    deleted_local: int = 0
    deleted_remote: int = 0
    flags_changed_local: int = 0
    flags_changed_remote: int = 0
    errors: int = 0
    skipped: bool = False  #: the folder was left out (UIDVALIDITY, quick sync, ...)

    def add(self, other: FolderStats) -> None:
        for field in dataclasses.fields(self):
            if field.type == "int":
                setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def changes(self) -> int:
        return (
            self.copied_to_local
            + self.copied_to_remote
            + self.deleted_local
            + self.deleted_remote
            + self.flags_changed_local
            + self.flags_changed_remote
        )


@dataclasses.dataclass
class AccountStats:
    totals: FolderStats = dataclasses.field(default_factory=FolderStats)
    elapsed: float = 0.0
    failed: bool = False


@dataclasses.dataclass
class RunStats:
    """Totals per account, shared by the account threads of one run."""

    accounts: dict[str, AccountStats] = dataclasses.field(default_factory=dict)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def record(self, account: str, stats: FolderStats, elapsed: float, failed: bool) -> None:
        with self._lock:
            acc = self.accounts.setdefault(account, AccountStats())
            acc.totals.add(stats)
            acc.elapsed += elapsed
            acc.failed = acc.failed or failed
