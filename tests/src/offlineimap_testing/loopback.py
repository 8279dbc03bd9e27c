"""A TCP server on 127.0.0.1 for tests: a listener, an accept thread and a thread per
connection, all bounded and stopped by :meth:`LoopbackServer.close`.

Subclasses implement :meth:`LoopbackServer._serve` (one connection, in its own thread) and
check :attr:`_stop` in their loops. Only loopback addresses are ever used.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

_POLL = 0.05  # seconds between checks of the stop flag while waiting for a connection


class LoopbackServer:
    """Listens on a free loopback port; at most ``max_connections`` served at once."""

    def __init__(self, *, max_connections: int = 8, name: str = "loopback",
                 join_timeout: float = 5.0) -> None:
        self.host = "127.0.0.1"
        self.connections = 0  #: how many connections were accepted so far
        self._max = max_connections
        self._name = name
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server((self.host, 0), backlog=max_connections)
        self._listener.settimeout(_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept, name=name, daemon=True)
        self._accepter.start()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, let every connection end and wait for the threads (bounded)."""
        self._stop.set()
        self._accepter.join(timeout=5)
        self._listener.close()
        for thread in list(self._threads):
            thread.join(timeout=self._join_timeout)

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) >= self._max:
                client.close()
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True,
                                      name=f"{self._name}-{self.connections}")
            self._threads.append(thread)
            thread.start()
