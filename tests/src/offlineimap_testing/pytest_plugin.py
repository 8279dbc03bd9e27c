"""The ``offlineimap`` pytest plugin: real-server and isolated-home fixtures for every test.

Registered through the ``pytest11`` entry point, so installing ``offlineimap-tests`` makes these
fixtures available everywhere without a conftest.py. Under pytest-xdist every worker is its own
process, so the session server is per worker, on its own free ports and in its own directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from offlineimap_testing.dovecot import Dovecot, ImapAccount

__all__ = ["dovecot_factory", "dovecot_server", "imap_account", "offline_home"]

DovecotFactory = Callable[..., Dovecot]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker so ``--strict-markers`` runs accept it outside this repository too."""
    config.addinivalue_line("markers", "dovecot: needs the real Dovecot server fixture")


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """One Dovecot (separator ".") shared by the session; isolate tests by account, not server."""
    with Dovecot() as server:
        yield server


@pytest.fixture
def imap_account(dovecot_server: Dovecot) -> ImapAccount:
    """A fresh user on the session server: an empty mailbox holding only INBOX.

    A test that stopped or restarted the shared server gets it running again here.
    """
    dovecot_server.start()
    return dovecot_server.new_account()


@pytest.fixture
def dovecot_factory() -> Iterator[DovecotFactory]:
    """Make private, started servers (``dovecot_factory(separator="/")``), closed at test end.

    For tests that stop, restart or reconfigure a server, which must not disturb the shared one.
    """
    servers: list[Dovecot] = []

    def make(**options: Any) -> Dovecot:
        server = Dovecot(**options)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def offline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, XDG_CONFIG_HOME and XDG_CACHE_HOME at fresh temporary directories.

    The program reads ~/.offlineimaprc and writes ~/.offlineimap, and stevedore caches entry
    points under XDG_CACHE_HOME: a test must never see or change the developer's real files.
    Returns the temporary home directory.
    """
    home = tmp_path / "home"
    config_home = home / ".config"
    cache_home = home / ".cache"
    for directory in (home, config_home, cache_home):
        directory.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    return home
