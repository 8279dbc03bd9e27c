"""``type = IMAP``: a remote (or local) IMAP server as one side of a sync.

Options are read in ``__init__`` (see :mod:`offlineimap_imap.settings`); nothing connects until
:meth:`IMAPRepository.connect`. Folders each take a connection from the pool in
:meth:`open_folder` and give it back on ``close()``, so up to ``maxconnections`` folders sync
in parallel. The password is asked once per repository and kept for the pool's connections.

:meth:`IMAPRepository.connect` lists the folders at once: the one LIST (with STATUS where the
server has LIST-STATUS) answers the separator, :meth:`~IMAPRepository.list_folders` and
:meth:`~IMAPRepository.folder_states` of the sync that follows, one round trip for all three.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from offlineimap.errors import ConfigError, FolderError
from offlineimap.passwords import PasswordRequest
from offlineimap.repository import FolderState, IdleHandle, Repository, RepositoryContext
from offlineimap_imap.auth import TokenRefused
from offlineimap_imap.folder import IMAPFolder
from offlineimap_imap.liststatus import Listing, list_mailboxes, root_separator
from offlineimap_imap.pool import ConnectionPool
from offlineimap_imap.protocol import guard
from offlineimap_imap.settings import read_settings

if TYPE_CHECKING:
    from offlineimap_imap.connection import Connection
    from offlineimap_imap.settings import ServerSettings, TokenProvider


class IMAPRepository(Repository):
    """An IMAP account reached with imapclient; folder names are the server's (decoded) names."""

    folder_class: type[IMAPFolder] = IMAPFolder

    def __init__(self, ctx: RepositoryContext) -> None:
        super().__init__(ctx)
        section = ctx.section
        self.settings = read_settings(self.name, section, ctx.config)
        self.reference: str = section.get("reference", "")
        self.subscribedonly: bool = section.get_bool("subscribedonly", False)
        #: Without UIDPLUS, whether deleting may EXPUNGE the whole mailbox (``expunge``).
        self.expunge: bool = section.get_bool("expunge", True)
        self._maxconnections: int = section.get_int("maxconnections", 1)
        if self._maxconnections < 1:
            raise ConfigError(f"[{section.name}] maxconnections = {self._maxconnections}: "
                              "expected 1 or more")
        self._password: str | None = None
        self._password_lock = threading.Lock()
        self._pool: ConnectionPool[Connection] | None = None
        self._greeting = ""
        self._capabilities: frozenset[str] = frozenset()
        #: The last listing, until folders change or :meth:`folder_states` takes its states.
        self._listing: Listing | None = None
        #: folder states from the last folder_states(), each handed to one open_folder()
        self._listed_states: dict[str, FolderState] = {}

    # -- connections ------------------------------------------------------------------------

    @property
    def max_connections(self) -> int:
        return 1 if self.ctx.single_connection else self._maxconnections

    def _get_password(self) -> str:
        with self._password_lock:
            if self._password is None:
                self._password = self.ctx.get_password(PasswordRequest(
                    repository=self.name, section=self.ctx.section, user=self.settings.user,
                    host=self.settings.host, port=self.settings.port))
            return self._password

    @property
    def oauth2_token_provider(self) -> TokenProvider | None:
        """Where XOAUTH2 tokens come from, if a plugin set a provider (see
        :class:`~offlineimap_imap.settings.TokenProvider`); ``None``: the
        ``oauth2_access_token[_eval]`` options. Set it before the first connection."""
        return self.settings.token_provider

    @oauth2_token_provider.setter
    def oauth2_token_provider(self, provider: TokenProvider | None) -> None:
        self.settings = dataclasses.replace(self.settings, token_provider=provider)

    def _secrets(self) -> tuple[str, ...]:
        provider = self.settings.token_provider
        tokens = provider.secrets() if provider is not None else ()
        return ((self._password,) if self._password else ()) + tokens

    def _open_connection(self, settings: ServerSettings | None = None) -> Connection:
        """Open and log in a connection (with ``settings`` if given: IDLE's own timeout). A
        token provider's token that the server refuses (expired or revoked early) is
        invalidated and the login tried once more."""
        from offlineimap_imap.connection import open_connection  # ssl and imapclient: lazily

        def attempt() -> Connection:
            return open_connection(
                settings or self.settings, password=self._get_password, events=self.ctx.events,
                account=self.ctx.account, debug="imap" in self.ctx.debug, secrets=self._secrets)

        try:
            return attempt()
        except TokenRefused:
            provider = self.settings.token_provider
            if provider is None:
                raise
            provider.invalidate()
            return attempt()

    @property
    def pool(self) -> ConnectionPool[Connection]:
        if self._pool is None or self._pool.closed:
            self._pool = ConnectionPool(self._open_connection, self.max_connections)
        return self._pool

    def release_connection(self, connection: Connection) -> None:
        """Return a connection taken by :meth:`open_folder` (called by the folder's close)."""
        self.pool.release(connection)

    def connect(self) -> None:
        """Open the first connection (checking address, TLS and login) and list the folders,
        which also tells the separator."""
        with self._borrowed("LIST") as connection:
            self._greeting = connection.greeting
            self._capabilities = connection.capabilities
            listing = self._list(connection)
            separator = listing.separator
            if separator is None:  # nothing listed (a reference, no subscriptions): ask
                separator = root_separator(connection)
        if separator:
            self.sep = separator
        self._listing = listing

    def close(self) -> None:
        self._listing = None
        if self._pool is not None:
            self._pool.close()

    def _list(self, connection: Connection) -> Listing:
        return list_mailboxes(connection, self.reference, subscribed=self.subscribedonly)

    def _list_again(self) -> Listing:
        with self._borrowed("LIST") as connection:
            return self._list(connection)

    @contextlib.contextmanager
    def _borrowed(self, what: str) -> Iterator[Connection]:
        """A pooled connection for one repository-level command, failures turned into one
        error line naming ``what``, given back afterwards."""
        connection = self.pool.acquire()
        try:
            with guard(connection, f"[Repository {self.name}] {what}"):
                yield connection
        finally:
            self.pool.release(connection)

    def _changing_folders(self, what: str, name: str) -> contextlib.AbstractContextManager[
            Connection]:
        """:meth:`_borrowed` for CREATE and DELETE, which a readonly repository refuses and
        after which the folder listing is out of date."""
        if self.readonly:
            raise FolderError(f"[Repository {self.name}] cannot {what.lower()} folder {name}: "
                              "the repository is readonly")
        self._folders_changed()
        return self._borrowed(f"{what} {name}")

    def _folders_changed(self) -> None:
        """Folders were created or deleted: the listing is out of date."""
        self._listing = None

    # -- folders ----------------------------------------------------------------------------

    def list_folders(self) -> list[str]:
        if self._listing is None:
            self._listing = self._list_again()
        return list(self._listing.names)

    def folder_states(self) -> dict[str, FolderState] | None:
        """Every folder's state from the listing (LIST-STATUS, see
        :mod:`offlineimap_imap.liststatus`), or ``None``. The states are handed out once: a
        later call lists again rather than report what may have changed since."""
        listing, self._listing = self._listing, None
        if listing is None:
            if self.subscribedonly:  # LSUB has no STATUS: not worth a round trip
                return None
            listing = self._list_again()
        self._listed_states = dict(listing.states or {})
        return listing.states

    def included_folders(self) -> list[str]:
        """``folderincludes``: folders to sync even when the account's filter excludes them."""
        value = self.ctx.section.get_eval("folderincludes", [])
        if isinstance(value, str) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"[{self.ctx.section.name}] folderincludes: expected a list of "
                              "folder names")
        return list(value)

    def open_folder(self, name: str) -> IMAPFolder:
        folder = self.folder_class(self, name, self.pool.acquire())
        # Handed to one folder once: a later sync lists the states again.
        folder.listed_state = self._listed_states.pop(name, None)
        return folder

    def create_folder(self, name: str) -> None:
        with self._changing_folders("CREATE", name) as connection:
            client = connection.client
            if not client.folder_exists(name):
                client.create_folder(name)
            client.subscribe_folder(name)

    def delete_folder(self, name: str) -> None:
        """``--delete-folder``: IMAP DELETE of the folder and every message in it."""
        with self._changing_folders("DELETE", name) as connection:
            connection.client.delete_folder(name)

    def idle_connection(self, folder: str) -> IdleHandle:
        """IDLE on ``folder`` over a connection outside the pool (:mod:`offlineimap_imap.idle`)."""
        from offlineimap_imap.idle import open_idle

        return open_idle(self, folder)

    def info(self) -> dict[str, Any]:
        if not self._greeting:
            self.connect()
        return {
            "greeting": self._greeting,
            "capabilities": sorted(self._capabilities),
            "separator": self.sep,
            "folders": self.list_folders(),
        }
