"""One ``offlineimap`` run inside the test process, for tests that must act at an exact moment
of a sync (a plugin's hook, or a function patched with ``monkeypatch``).

The command installs its own signal handlers; they are put back afterwards so that the test
runner's keep working.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def run_offlineimap(argv: Sequence[str], plugins: Sequence[tuple[str, object]] = ()) -> int:
    """``offlineimap <argv>`` with ``plugins`` (``(name, object)``) registered; its exit code.
    The environment (``HOME`` and the like) is the caller's to set."""
    from offlineimap.cli import main

    saved = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    try:
        return main(argv, plugins=plugins)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
