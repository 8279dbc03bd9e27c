"""``-P DIR``: a Python profile of every thread, one ``<thread name>.prof`` file each.

Meant for debugging and optimisation only (the manual's words): profiling slows a sync down.
Read a file with ``python -m pstats DIR/MainThread.prof``.
"""

from __future__ import annotations

import contextlib
import cProfile
import threading
from collections.abc import Iterator
from pathlib import Path

from offlineimap.errors import ConfigError


@contextlib.contextmanager
def profiling(directory: Path) -> Iterator[None]:
    """Profile the calling thread and every thread started inside the ``with`` block."""
    try:
        directory.mkdir(parents=True)
    except FileExistsError:
        raise ConfigError(f"-P {directory}: the profile directory must not exist yet") from None
    except OSError as exc:
        raise ConfigError(f"-P {directory}: cannot create it: {exc.strerror}") from None
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profile = cProfile.Profile()
        try:
            profile.runcall(original_run, thread)
        finally:
            profile.dump_stats(directory / f"{thread.name}.prof")

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main = cProfile.Profile()
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.Thread.run = original_run  # type: ignore[method-assign]
        main.dump_stats(directory / f"{threading.current_thread().name}.prof")
