"""Entry point of the ``offlineimap-gmail`` distribution: ``type = Gmail`` and ``GmailMaildir``.

Importing this module stays cheap (every run loads every plugin): the repository classes, and
with them imapclient, are registered by name and imported only when a configuration uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from offlineimap.hookspecs import hookimpl
from offlineimap.repository import Repository


@hookimpl
def offlineimap_repository_types(register: Callable[[str, type[Repository] | str], None]
                                 ) -> None:
    """Provide the ``Gmail`` (remote) and ``GmailMaildir`` (local) repository types."""
    register("Gmail", "offlineimap_gmail.repository:GmailRepository")
    register("GmailMaildir", "offlineimap_gmail.repository:GmailMaildirRepository")


def oauth2_refresh(client_id: str, refresh_token: str, client_secret: str | None = None,
                   request_url: str | None = None) -> str:
    """``oauth2_access_token_eval = oauth2_refresh(client_id=..., refresh_token=...,
    client_secret=..., request_url=...)``: an access token for any IMAP repository, refreshed
    before it expires (see :func:`offlineimap_gmail.oauth2.oauth2_refresh`)."""
    from offlineimap_gmail import oauth2

    return oauth2.oauth2_refresh(client_id, refresh_token, client_secret,
                                 request_url or oauth2.GOOGLE_TOKEN_URL)


@hookimpl
def offlineimap_config_namespace(register: Callable[[str, Any], None]) -> None:
    """Offer :func:`oauth2_refresh` to ``*_eval`` options."""
    register("oauth2_refresh", oauth2_refresh)
