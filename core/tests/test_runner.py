"""The controller: real signals to this process, acted on by the dispatcher thread."""

from __future__ import annotations

import os
import signal

from offlineimap.runner import Controller


def test_signals_wake_sleepers_end_refresh_and_stop() -> None:
    controller = Controller()
    before = signal.getsignal(signal.SIGUSR1)
    controller.install_signal_handlers()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert controller.wait_for(lambda: controller.generation == 1, 5)
        assert not controller.no_refresh.is_set()
        os.kill(os.getpid(), signal.SIGUSR2)
        assert controller.wait_for(controller.no_refresh.is_set, 5)
        assert not controller.stop.is_set()
        os.kill(os.getpid(), signal.SIGHUP)
        assert controller.wait_for(controller.stop.is_set, 5)
    finally:
        controller.restore_signal_handlers()
    assert signal.getsignal(signal.SIGUSR1) is before


def test_a_waiter_sees_a_change_made_under_notify() -> None:
    controller = Controller()
    seen: list[str] = []
    assert not controller.wait_for(lambda: seen, 0.05)
    controller.notify(lambda: seen.append("INBOX"))
    assert controller.wait_for(lambda: seen, 0.05)
