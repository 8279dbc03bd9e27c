"""Speed guards: 10,000 messages list and download in round trips that do not grow per message.

Bounds are loose (the machine is shared), but a per-message round trip, an imapclient fetch
per UID, or an unbatched download would exceed them many times over.
"""

from __future__ import annotations

import time

import pytest

from offlineimap.repository import NewMessage
from offlineimap_testing.messages import make_message

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

COUNT = 10_000


def test_list_and_fetch_ten_thousand(connected, imap_account) -> None:
    template = make_message("speed", size=3_000)
    uids = imap_account.seed("INBOX", (template.replace(b"speed", b"%05d" % n)
                                       for n in range(COUNT)))
    connected.events.debug.clear()
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        start = time.perf_counter()
        listing = folder.list_messages()
        listed = time.perf_counter() - start
        start = time.perf_counter()
        total = sum(len(body) for _, body in folder.fetch(uids))
        fetched = time.perf_counter() - start
    assert len(listing) == COUNT and total == COUNT * len(template)
    assert listed < 5, f"listing {COUNT} messages took {listed:.2f}s"
    assert fetched < 30, f"fetching {COUNT} messages took {fetched:.2f}s"


def test_upload_two_thousand(connected, imap_account) -> None:
    bodies = [make_message(f"upload {n}", size=3_000).replace(b"\r\n", b"\n")
              for n in range(2_000)]
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        start = time.perf_counter()
        result = folder.save_messages(
            [NewMessage(uid=-n - 1, body=body, flags=frozenset("S"))
             for n, body in enumerate(bodies)])
        elapsed = time.perf_counter() - start
    assert len({uid for _, uid in result}) == len(bodies)
    assert elapsed < 20, f"uploading {len(bodies)} messages took {elapsed:.2f}s"
