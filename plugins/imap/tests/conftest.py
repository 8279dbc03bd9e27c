"""Fixtures for the IMAP plugin's tests: a repository built exactly as core builds one.

The configuration is real (``Config.from_string``), events go through a real pluggy hook relay
to a recorder, and passwords come from core's own provider (``remotepass``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pluggy
import pytest

from offlineimap import hookspecs
from offlineimap.config import Config
from offlineimap.events import Events
from offlineimap.hookspecs import hookimpl
from offlineimap.passwords import PasswordRequest, resolve_password
from offlineimap.repository import RepositoryContext
from offlineimap_imap.repository import IMAPRepository


@dataclasses.dataclass
class Recorder:
    """Keeps every event the driver reports."""

    debug: list[str] = dataclasses.field(default_factory=list)
    connecting: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    password_requests: list[PasswordRequest] = dataclasses.field(default_factory=list)

    @hookimpl
    def offlineimap_debug(self, category: str, message: str) -> None:
        self.debug.append(f"{category}: {message}")

    @hookimpl
    def offlineimap_connecting(self, account: str, repository: str, host: str,
                               port: int) -> None:
        self.connecting.append((host, port))

    @hookimpl
    def offlineimap_warning(self, message: str, account: str | None) -> None:
        self.warnings.append(message)

    @hookimpl(tryfirst=True)
    def offlineimap_get_password(self, request: PasswordRequest) -> str | None:
        self.password_requests.append(request)
        return None


@dataclasses.dataclass
class Built:
    repository: IMAPRepository
    events: Recorder
    config_text: str


def build_repository(options: dict[str, str], tmp_path: Path, *,
                     debug: frozenset[str] = frozenset(), single_connection: bool = False,
                     general: str = "") -> Built:
    """A repository ``R`` of account ``A`` with these options (plus ``type = IMAP``)."""
    lines = "\n".join(f"{key} = {value}" for key, value in options.items())
    text = (f"[general]\naccounts = A\n{general}\n[Account A]\nremoterepository = R\n"
            f"[Repository R]\ntype = IMAP\n{lines}\n")
    config = Config.from_string(text)
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    recorder = Recorder()
    manager.register(recorder)
    from offlineimap import passwords

    manager.register(passwords)
    ctx = RepositoryContext(
        name="R", section=config.section("Repository R"), config=config, account="A",
        metadata_dir=tmp_path / "metadata", events=Events(manager.hook),
        get_password=lambda request: resolve_password(manager.hook, request),
        debug=debug, single_connection=single_connection,
    )
    return Built(IMAPRepository(ctx), recorder, text)


def account_options(account, **overrides: str) -> dict[str, str]:
    """Options reaching ``account`` on its server over plain IMAP (STARTTLS if offered)."""
    server = account.server
    options = {
        "remotehost": server.host, "remoteport": str(server.port), "remoteuser": account.user,
        "remotepass": account.password, "ssl": "no", "sslcacertfile": str(server.ca_cert),
    }
    options.update(overrides)
    return options


@pytest.fixture
def make_repository(tmp_path: Path) -> Iterator[Callable[..., Built]]:
    """Build repositories; each is closed at the end of the test."""
    built: list[Built] = []

    def make(options: dict[str, str], **kwargs: object) -> Built:
        result = build_repository(options, tmp_path, **kwargs)  # type: ignore[arg-type]
        built.append(result)
        return result

    yield make
    for result in built:
        result.repository.close()


@pytest.fixture
def options_for() -> Callable[..., dict[str, str]]:
    """:func:`account_options` for accounts of other servers (conftest cannot be imported)."""
    return account_options


@pytest.fixture
def plain(imap_account) -> Callable[..., dict[str, str]]:
    """Options for the fresh account over plain IMAP (+STARTTLS), with overrides."""
    return lambda **overrides: account_options(imap_account, **overrides)


@pytest.fixture
def imaps(imap_account) -> Callable[..., dict[str, str]]:
    """Options for the fresh account over IMAPS, with overrides."""
    port = str(imap_account.server.ssl_port)
    return lambda **overrides: account_options(
        imap_account, **{"ssl": "yes", "remoteport": port, **overrides})


@pytest.fixture
def connected(imap_account, make_repository) -> Built:
    """A connected repository on a fresh account of the session Dovecot."""
    built = make_repository(account_options(imap_account))
    built.repository.connect()
    return built
