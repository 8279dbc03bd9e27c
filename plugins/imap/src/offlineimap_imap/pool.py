"""A thread-safe pool of IMAP connections for one repository.

An IMAP connection is lock-step and selects one mailbox at a time, so parallel folder syncs need
one connection each. The pool opens connections lazily, up to ``maxconnections``, and hands an
idle one out before opening another. A connection marked broken is closed on release, which
frees its slot for a fresh one.

A thread that already holds every connection and asks for another would wait for itself
forever (``maxconnections = 1``, a folder open, then ``create_folder``): the pool refuses that
with an error instead of hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Poolable(Protocol):
    broken: bool

    def close(self) -> None: ...


C = TypeVar("C", bound=Poolable)


class ConnectionPool(Generic[C]):
    """Up to ``size`` connections made by ``factory``; :meth:`acquire` blocks when all are busy."""

    def __init__(self, factory: Callable[[], C], size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self._factory = factory
        self._size = size
        self._idle: list[C] = []
        self._open = 0  # idle + in use + being opened
        self._closed = False
        self._holders: dict[int, int] = {}  # id(connection in use) -> thread ident
        self._cond = threading.Condition()

    @property
    def size(self) -> int:
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def acquire(self) -> C:
        """An idle connection, a new one if under the limit, or wait for a release."""
        me = threading.get_ident()
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("connection pool is closed")
                if self._idle:
                    connection = self._idle.pop()
                    self._holders[id(connection)] = me
                    return connection
                if self._open < self._size:
                    self._open += 1
                    break
                if self._holders and all(holder == me for holder in self._holders.values()):
                    raise RuntimeError(
                        f"all {self._size} connections are held by this thread: close a folder "
                        "first (or raise maxconnections)")
                self._cond.wait()
        return self._open_in_slot(me)

    def replace(self, connection: C) -> C:
        """Close a broken connection and open a fresh one in its slot, for the same holder.

        Unlike :meth:`release` then :meth:`acquire`, a folder retrying a read keeps its place:
        another folder waiting for a connection cannot take the slot in between.
        """
        with self._cond:
            self._holders.pop(id(connection), None)
        connection.close()
        return self._open_in_slot(threading.get_ident())

    def _open_in_slot(self, holder: int) -> C:
        """A new connection for ``holder`` in a slot already counted in ``_open`` (opened
        outside the lock: connecting takes long); a failure frees the slot."""
        try:
            connection = self._factory()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._holders[id(connection)] = holder
        return connection

    def release(self, connection: C) -> None:
        """Give a connection back; a broken one (or any, once closed) is closed instead."""
        with self._cond:
            self._holders.pop(id(connection), None)
            keep = not connection.broken and not self._closed
            if keep:
                self._idle.append(connection)
            else:
                self._open -= 1
            self._cond.notify()
        if not keep:
            connection.close()

    def close(self) -> None:
        """Close idle connections now and the others as they are released."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for connection in idle:
            connection.close()
