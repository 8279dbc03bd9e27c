"""The engine's gathered status writes: few transactions, last word wins."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from offlineimap.engine import StatusWrites
from offlineimap.status import MemoryStatusFolder, StatusRecord


class CountingStatus(MemoryStatusFolder):
    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[str] = []

    def put(self, records: Mapping[int, StatusRecord]) -> None:
        self.transactions.append(f"put {sorted(records)}")
        super().put(records)

    def remove(self, uids: Iterable[int]) -> None:
        uids = list(uids)
        self.transactions.append(f"remove {uids}")
        super().remove(uids)


def test_a_few_changes_are_one_transaction_and_the_last_word_wins() -> None:
    status = CountingStatus()
    status._records = {1: StatusRecord(frozenset("S")), 2: StatusRecord()}
    writes = StatusWrites(status, limit=100)
    writes.put({3: StatusRecord(), 4: StatusRecord()})
    writes.remove([2, 4])
    writes.put({2: StatusRecord(frozenset("F")), 5: StatusRecord()})
    writes.put({})
    assert status.transactions == []
    writes.flush()
    assert status.transactions == ["remove [4]", "put [2, 3, 5]"]
    assert status.records() == {1: StatusRecord(frozenset("S")), 2: StatusRecord(frozenset("F")),
                                3: StatusRecord(), 5: StatusRecord()}
    writes.flush()
    assert len(status.transactions) == 2


def test_a_large_sync_writes_every_limit_records() -> None:
    status = CountingStatus()
    writes = StatusWrites(status, limit=10)
    for uid in range(1, 26):
        writes.put({uid: StatusRecord()})
    assert status.transactions == ["put [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
                                   "put [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]"]
    writes.flush()
    assert sorted(status.records()) == list(range(1, 26))
