"""The connection pool under threads, the debug-trace mask, and CRLF conversion."""

from __future__ import annotations

import re
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offlineimap_imap.connection import mask
from offlineimap_imap.pool import ConnectionPool
from offlineimap_imap.protocol import to_crlf


class Fake:
    """Stands in for a connection: the pool only needs ``broken`` and ``close()``."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.broken = False
        self.closed = False

    def close(self) -> None:
        self.closed = True


def counting_factory():
    made: list[Fake] = []
    lock = threading.Lock()

    def factory() -> Fake:
        with lock:
            made.append(Fake(len(made)))
            return made[-1]

    return factory, made


def test_pool_never_exceeds_its_size_and_reuses_connections() -> None:
    factory, made = counting_factory()
    pool = ConnectionPool(factory, 3)
    in_use = 0
    peak = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal in_use, peak
        for _ in range(20):
            connection = pool.acquire()
            with lock:
                in_use += 1
                peak = max(peak, in_use)
            time.sleep(0.001)
            with lock:
                in_use -= 1
            pool.release(connection)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 3
    assert len(made) == 3
    pool.close()
    assert all(connection.closed for connection in made)


def test_broken_connections_are_replaced() -> None:
    factory, made = counting_factory()
    pool = ConnectionPool(factory, 1)
    first = pool.acquire()
    first.broken = True
    pool.release(first)
    assert first.closed
    second = pool.acquire()
    assert second is not first and len(made) == 2


def test_a_replaced_connection_keeps_its_slot_from_waiting_threads() -> None:
    factory, made = counting_factory()
    pool = ConnectionPool(factory, 1)
    first = pool.acquire()
    waiter_got: list[Fake] = []
    waiter = threading.Thread(target=lambda: waiter_got.append(pool.acquire()))
    waiter.start()
    time.sleep(0.05)  # the other thread now waits for the only connection
    first.broken = True
    fresh = pool.replace(first)
    assert first.closed and fresh is made[1] and not waiter_got
    pool.release(fresh)
    waiter.join(5)
    assert waiter_got == [fresh] and len(made) == 2


def test_failed_open_frees_its_slot() -> None:
    attempts = []

    def factory() -> Fake:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("refused")
        return Fake(len(attempts))

    pool = ConnectionPool(factory, 1)
    with pytest.raises(OSError):
        pool.acquire()
    assert pool.acquire().number == 2


def test_connection_in_use_at_close_is_closed_on_release() -> None:
    factory, _ = counting_factory()
    pool = ConnectionPool(factory, 2)
    busy = pool.acquire()
    pool.close()
    pool.release(busy)
    assert busy.closed
    with pytest.raises(RuntimeError, match="closed"):
        pool.acquire()


def test_mask_hides_login_and_authenticate_arguments_and_secrets() -> None:
    assert mask("> b'ABCD1 LOGIN alice \"s3cret\"'") == "> b'ABCD1 LOGIN ****"
    assert mask("> b'ABCD2 AUTHENTICATE PLAIN'") == "> b'ABCD2 AUTHENTICATE ****"
    assert mask("< b'ABCD1 OK LOGIN completed'") == "< b'ABCD1 OK LOGIN completed'"
    assert mask("< b'echo s3cret'", ["s3cret"]) == "< b'echo ****'"


def test_to_crlf_converts_bare_lf_only() -> None:
    assert to_crlf(b"a\nb\r\nc\n") == b"a\r\nb\r\nc\r\n"
    already = b"a\r\nb\r\n"
    assert to_crlf(already) is already
    assert to_crlf(b"lone\rcr\n") == b"lone\rcr\r\n"
    assert to_crlf(b"a\r\r\nb\n\n") == b"a\r\r\nb\r\n\r\n"


@given(st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"x"]), max_size=30))
def test_to_crlf_matches_the_definition(pieces: list[bytes]) -> None:
    body = b"".join(pieces)
    expected = re.sub(rb"(?<!\r)\n", b"\r\n", body)
    assert to_crlf(body) == expected


def test_waiting_for_oneself_is_refused_not_a_hang() -> None:
    factory, _ = counting_factory()
    pool = ConnectionPool(factory, 1)
    held = pool.acquire()
    with pytest.raises(RuntimeError, match="held by this thread"):
        pool.acquire()
    pool.release(held)
    assert pool.acquire() is held
