"""What the UIs spend on progress: ``message_copied`` events, per 10,000, per UI.

The engine sends one ``offlineimap_message_copied`` per message from its worker threads; this
feeds a real UI (built from a real configuration) a folder of N such events and reports the
seconds per 10,000, for each UI and two kinds of standard output:

* ``file``: stdout is a regular file, block-buffered as a pipe to cron's mailer would be;
* ``tty``: stdout is a pseudo-terminal, line-buffered as a console is (a reader thread drains
  it, as a terminal emulator would).

Blinkenlights runs without its curses session (its screen thread draws ~10 frames a second
whatever the events): what is measured is what an event costs the engine's thread.

    /work/main/.venv/bin/python benchmarks/bench_ui.py --events 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pty
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from offlineimap.config import Config
from offlineimap.stats import FolderStats
from offlineimap_ui.blinkenlights import Blinkenlights
from offlineimap_ui.console import TTYUI, Basic, Quiet
from offlineimap_ui.machine import MachineUI

UIS = {"basic": Basic, "ttyui": TTYUI, "quiet": Quiet, "machineui": MachineUI,
       "blinkenlights": Blinkenlights}


@contextlib.contextmanager
def file_stdout() -> Iterator[Callable[[], int]]:
    """stdout to a temporary file; yields a function returning the bytes written so far."""
    with tempfile.TemporaryFile("w+") as sink:
        saved, sys.stdout = sys.stdout, sink
        try:
            yield lambda: sink.seek(0, io.SEEK_END) or sink.tell()
        finally:
            sys.stdout = saved


@contextlib.contextmanager
def tty_stdout() -> Iterator[Callable[[], int]]:
    """stdout to a pseudo-terminal, line-buffered; a thread reads (and counts) what arrives."""
    master, slave = pty.openpty()
    received = [0]

    def drain() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 65536):
                received[0] += len(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    terminal: TextIO = open(slave, "w", buffering=1, closefd=True)  # noqa: SIM115
    saved, sys.stdout = sys.stdout, terminal
    try:
        yield lambda: received[0]
    finally:
        sys.stdout = saved
        terminal.close()
        reader.join(timeout=1)
        os.close(master)


SINKS = {"file": file_stdout, "tty": tty_stdout}


def one_folder(ui_class: type, events: int) -> tuple[float, float]:
    """Wall and CPU seconds one UI spends on a folder of ``events`` copies, its start and finish
    included. CPU time is the calling thread's, the engine's worker in a real run: on a shared
    machine it varies far less than wall time."""
    ui = ui_class(Config.from_string("[general]\n"))
    try:
        start, cpu = time.perf_counter(), time.thread_time()
        ui.offlineimap_folder_start(account="A", folder="INBOX", total=events,
                                    total_bytes=events * 4096)
        for uid in range(1, events + 1):
            ui.offlineimap_message_copied(account="A", folder="INBOX", uid=uid,
                                          source="remote", destination="local", size=4096)
        ui.offlineimap_folder_finish(account="A", folder="INBOX",
                                     stats=FolderStats(copied_to_local=events))
        return time.perf_counter() - start, time.thread_time() - cpu
    finally:
        ui.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--uis", default=",".join(UIS))
    args = parser.parse_args()
    per = 10_000 / args.events
    results = []
    for name in args.uis.split(","):
        for sink_name, sink in SINKS.items():
            with sink() as written:
                walls, cpus = zip(*(one_folder(UIS[name], args.events)
                                    for _ in range(args.repeat)), strict=True)
                sys.stdout.flush()
                size = written()
            results.append(f"{name:<14} {sink_name:<5} per 10,000 events: wall "
                           f"{statistics.median(walls) * per:6.3f} s (min {min(walls) * per:.3f}),"
                           f" CPU {statistics.median(cpus) * per:6.3f} s "
                           f"(min {min(cpus) * per:.3f}); "
                           f"{size / args.repeat / 1024:6.1f} KiB written per folder")
    print("\n".join(results))


if __name__ == "__main__":
    main()
