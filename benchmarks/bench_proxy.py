"""A TCP proxy on 127.0.0.1 that adds a fixed delay in each direction, to emulate a network.

On a real network a sync's cost is round trips, not bytes: a tool that waits for one answer
before sending the next command pays the round-trip time each time, while one that pipelines
or asks once for many folders does not. Loopback hides that completely, so ``bench.py --rtt MS``
puts every tool behind this proxy, which holds each chunk it reads for MS/2 milliseconds before
passing it on, in each direction.

Only latency is added: each chunk is stamped when it arrives and sent when its stamp plus the
one-way delay is due, in arrival order, so ordering is preserved and a stream flows at the
speed of loopback once the pipe is full (no bandwidth limit, no artificial pacing). Nagle's
algorithm is switched off on both legs so the proxy never adds delay of its own.

Bounded: it listens on 127.0.0.1 only, serves at most :data:`MAX_CONNECTIONS` connections at
once (further ones are closed at once), holds at most :data:`MAX_QUEUED_CHUNKS` chunks per
direction (reading pauses when that many wait, as a full network buffer would), and leaving the
``with`` block cancels every connection and joins the event-loop thread.

On a loaded machine the proxy's thread may wake late (it asks for a higher priority, where
allowed, to make that rarer), which lengthens round trips beyond MS;
it counts how late each chunk went out (:meth:`DelayProxy.lateness`) so a report can say
whether the added delay was what was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from types import TracebackType

__all__ = ["DelayProxy"]

MAX_CONNECTIONS = 64
MAX_QUEUED_CHUNKS = 4096
CHUNK = 256 * 1024
_START_TIMEOUT = 10.0
#: Nice value of the proxy's thread (lower runs first; needs root, silently skipped otherwise).
PRIORITY = -10


class DelayProxy:
    """Forward ``127.0.0.1:<port>`` to *target* with *rtt_ms* / 2 ms of delay each way.

    Use as a context manager; :attr:`port` is where clients connect.
    """

    def __init__(self, target: tuple[str, int], rtt_ms: float) -> None:
        if rtt_ms < 0:
            raise ValueError(f"round-trip time must not be negative: {rtt_ms}")
        self.target = target
        self.one_way = rtt_ms / 2000.0
        self.port = 0
        self.connections = 0  #: accepted so far (for the report: a tool's connection count)
        self._chunks = 0
        self._late_total = 0.0
        self._late_max = 0.0
        self._late_over_5ms = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __enter__(self) -> DelayProxy:
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or self._error is not None:
            raise RuntimeError(f"delay proxy did not start: {self._error!r}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def lateness(self) -> str:
        """How much later than due the chunks went out, in one line for a report."""
        if not self._chunks:
            return "no chunks forwarded"
        mean_ms = self._late_total / self._chunks * 1000
        return (f"{self._chunks:,} chunks forwarded, on average {mean_ms:.1f} ms later than "
                f"due (max {self._late_max * 1000:.0f} ms; "
                f"{self._late_over_5ms / self._chunks:.1%} more than 5 ms late)")

    def _sent(self, due: float) -> None:
        late = max(0.0, time.monotonic() - due)
        self._chunks += 1
        self._late_total += late
        self._late_max = max(self._late_max, late)
        self._late_over_5ms += late > 0.005

    def close(self) -> None:
        """Stop listening, cancel every connection and wait for the loop's thread to end."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(self._stop_event.set)
        thread.join(_START_TIMEOUT)
        self._loop = self._thread = None

    # -- event-loop thread ------------------------------------------------------------------

    def _run(self) -> None:
        # A network does not wait for CPU time: where allowed, this thread runs ahead of the
        # tools and Dovecot so that a busy machine lengthens round trips as little as possible.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PRIORITY)
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to __enter__ if it happens before ready
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

    def _accept(self, client_reader: asyncio.StreamReader,
                client_writer: asyncio.StreamWriter) -> None:
        """Serve each connection in a task of our own, so closing can cancel it quietly."""
        if len(self._tasks) >= MAX_CONNECTIONS:
            client_writer.close()
            return
        self.connections += 1
        task = asyncio.create_task(self._serve(client_reader, client_writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        for writer in (client_writer, server_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer),
                                 self._pipe(server_reader, client_writer))
        finally:
            for writer in (client_writer, server_writer):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy *reader* to *writer*, each chunk sent one one-way delay after it arrived."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED_CHUNKS)

        async def receive() -> None:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except ConnectionError:
                    data = b""
                await queue.put((time.monotonic() + self.one_way, data))
                if not data:
                    return

        receiver = asyncio.create_task(receive())
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(data)
                self._sent(due)
                try:
                    await writer.drain()
                except ConnectionError:
                    return
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
