"""Large folders: listing by name only, and saving fast with fsync off."""

from __future__ import annotations

import time

import pytest

from offlineimap.repository import NewMessage

COUNT = 100_000


@pytest.mark.slow
def test_large_folder_lists_and_saves_quickly(make_repo, inbox) -> None:
    folder = make_repo(general="fsync = no").open_folder("INBOX")
    folder.list_messages()
    body = b"Subject: x\r\n\r\n" + b"y" * 2000
    started = time.perf_counter()
    for first in range(1, COUNT + 1, 10_000):
        folder.save_messages([NewMessage(uid, body, frozenset("S" if uid % 3 else ""))
                              for uid in range(first, first + 10_000)])
    per_second = COUNT / (time.perf_counter() - started)
    fresh = make_repo(general="fsync = no").open_folder("INBOX")
    started = time.perf_counter()
    listing = fresh.list_messages()
    listed_in = time.perf_counter() - started
    print(f"saved {per_second:.0f} messages/s; listed {len(listing)} in {listed_in:.3f} s")
    assert len(listing) == COUNT
    assert per_second > 1000  # measured ~5,700/s on a loaded 2-core machine
    assert listed_in < 2.0  # measured 0.27 s (0.55-0.8 s before the bulk reading of names)
