"""A TCP proxy between the client and a test server that breaks the connection on purpose.

Network failures are what a sync meets most in real life, and they strike in the middle of a
command: the listing half read, an APPEND stored by the server but never confirmed, a literal
cut short. Waiting for a real network to fail is hopeless, so tests put this proxy between
``offlineimap`` and Dovecot and tell it exactly when to fail.

A :class:`Fault` names a trigger (a regular expression over what the client sends, such as the
``UID FETCH`` of a listing, or a number of bytes from the server) and an action once it fires:
``cut`` (close the client's side after ``keep`` more bytes of the server's answer: a lost
connection, or a truncated literal when ``keep`` falls inside one) or ``stall`` (stop
forwarding in both directions and keep the sockets open, so only the client's timeout ends it).
The command that fired the trigger reaches the server whole unless ``forward`` is false, and
the server's side stays open ``linger`` seconds after a cut, so a server that got a whole command
carries it out: the client never hears the outcome, the harshest case for a sync.

Bounded: it listens on 127.0.0.1 only, serves at most ``max_connections`` at once, every wait
has a timeout, and :meth:`FaultProxy.close` (or leaving the ``with`` block) ends every thread.
"""

from __future__ import annotations

import dataclasses
import re
import selectors
import socket
import threading
import time

from offlineimap_testing.loopback import LoopbackServer

__all__ = ["Fault", "FaultProxy"]

_CHUNK = 65536
_POLL = 0.05
_QUIET = 0.3  # a client silent this long has sent its whole command
_MATCH_TAIL = 512  # bytes of client data kept to match a command split across two reads


@dataclasses.dataclass
class Fault:
    """When and how to break a connection.

    :param action: ``"cut"`` or ``"stall"``.
    :param command: regular expression (bytes) searched in what the client sends; the fault
        fires when it matches. ``None``: fire on server bytes alone (``after_server_bytes``).
    :param after_server_bytes: with no ``command``: fire once the server has sent this many
        bytes on one connection (the greeting included).
    :param keep: after firing, forward this many more bytes of the server's answer first.
    :param forward: whether the client data that fired the trigger reaches the server.
    :param skip: let this many matches pass before firing.
    :param times: fire this many times in all (over every connection), then pass everything.
    :param linger: seconds the server's side stays open after a cut.
    :param stall_for: seconds a stall lasts at most before both sides are closed.
    """

    action: str = "cut"
    command: bytes | None = None
    after_server_bytes: int | None = None
    keep: int = 0
    forward: bool = True
    skip: int = 0
    times: int = 1
    linger: float = 1.0
    stall_for: float = 60.0

    def __post_init__(self) -> None:
        if self.action not in ("cut", "stall"):
            raise ValueError(f"unknown fault action {self.action!r}")
        if (self.command is None) == (self.after_server_bytes is None):
            raise ValueError("a fault needs exactly one of command and after_server_bytes")


class FaultProxy(LoopbackServer):
    """Forwards ``127.0.0.1:<port>`` to ``target``, applying :attr:`fault` (if any).

    ``fired`` counts the faults carried out; tests assert on it so that a fault whose trigger
    never matched cannot pass for a sync that survived it.
    """

    def __init__(self, target: tuple[str, int], fault: Fault | None = None, *,
                 max_connections: int = 16) -> None:
        self.target = target
        self.fault = fault
        self.fired = 0
        self._skipped = 0
        self._lock = threading.Lock()
        super().__init__(max_connections=max_connections, name="faultproxy")

    def set_fault(self, fault: Fault | None) -> None:
        """Replace the fault for connections opened from now on (``None``: pass everything)."""
        with self._lock:
            self.fault, self.fired, self._skipped = fault, 0, 0

    # -- the fault's bookkeeping, shared by all connections ------------------------------------

    def _claim(self) -> Fault | None:
        """The fault, if this trigger match is the one that fires it (counts skips and times)."""
        with self._lock:
            fault = self.fault
            if fault is None or self.fired >= fault.times:
                return None
            if self._skipped < fault.skip:
                self._skipped += 1
                return None
            self.fired += 1
            return fault

    # -- connections ----------------------------------------------------------------------------

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        try:
            _Pipe(self, client, server).run()
        finally:
            client.close()
            server.close()


class _Pipe:
    """One proxied connection: copies bytes both ways until a side closes or a fault strikes."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.tail = b""  # the end of what the client sent, for matching across reads
        self.from_server = 0
        self.fault: Fault | None = None  # fired on this connection, waiting for keep bytes
        self.budget = 0  # server bytes still forwarded before the fault's action

    def run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.client, selectors.EVENT_READ, self._from_client)
            selector.register(self.server, selectors.EVENT_READ, self._from_server)
            while not self.proxy._stop.is_set():
                for key, _ in selector.select(_POLL):
                    if not key.data():
                        return
                if self.fault is not None and self.budget <= 0:
                    self._strike()
                    return

    def _from_client(self) -> bool:
        data = self.client.recv(_CHUNK)
        if not data:
            return False
        fault = self.proxy.fault
        if self.fault is None and fault is not None and fault.command is not None:
            window = self.tail + data
            self.tail = window[-_MATCH_TAIL:]
            if re.search(fault.command, window):
                self.tail = b""  # a command matches once, not again with the next read
                if claimed := self.proxy._claim():
                    self.fault, self.budget = claimed, claimed.keep
                    if not claimed.forward:
                        return True
        self.server.sendall(data)
        return True

    def _from_server(self) -> bool:
        data = self.server.recv(_CHUNK)
        if not data:
            return False
        fault = self.proxy.fault
        if (self.fault is None and fault is not None and fault.after_server_bytes is not None
                and self.from_server + len(data) >= fault.after_server_bytes
                and (claimed := self.proxy._claim())):
            self.fault = claimed
            self.budget = fault.after_server_bytes - self.from_server
        if self.fault is not None:
            data = data[:self.budget]
            self.budget -= len(data)
        self.from_server += len(data)
        if data:
            self.client.sendall(data)
        return True

    def _finish_command(self) -> None:
        """Pass on the rest of the client's command (a long APPEND arrives in many reads),
        until the client has been quiet for a moment, so the server gets all of it."""
        self.client.settimeout(_QUIET)
        while not self.proxy._stop.is_set():
            try:
                data = self.client.recv(_CHUNK)
            except (TimeoutError, OSError):
                return
            if not data:
                return
            self.server.sendall(data)

    def _strike(self) -> None:
        """Carry out the fired fault: cut the client off, or go silent."""
        assert self.fault is not None
        if self.fault.action == "stall":
            deadline = time.monotonic() + self.fault.stall_for
            while time.monotonic() < deadline and not self.proxy._stop.wait(_POLL):
                pass
            return
        if self.fault.forward:
            self._finish_command()
        try:
            self.client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.client.close()
        deadline = time.monotonic() + self.fault.linger
        self.server.settimeout(_POLL)
        while time.monotonic() < deadline and not self.proxy._stop.is_set():
            try:  # drain so the server can finish (and answer) the command it has
                if not self.server.recv(_CHUNK):
                    return
            except TimeoutError:
                continue
            except OSError:
                return
