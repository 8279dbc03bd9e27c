"""Core's password providers, in the documented order (see ``offlineimap_get_password``).

1. ``remotepasseval``: a Python expression (often a ``pythonfile`` function)
2. ``remotepass``: the password itself
3. ``remotepassfile``: a file whose first line is the password
4. ``~/.netrc``, then ``/etc/netrc``: the entry for the host (and user, when given)
5. the system keyring, when the ``keyring`` package is installed and has a usable backend

When none answers, core asks the UI (``offlineimap_prompt_password``); a UI that cannot prompt
leads to :class:`~offlineimap.errors.AuthenticationError` naming these options.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from offlineimap.errors import AuthenticationError, ConfigError
from offlineimap.hookspecs import hookimpl

if TYPE_CHECKING:
    import pluggy

    from offlineimap.config import Section


@dataclasses.dataclass
class PasswordRequest:
    """Who needs a password."""

    repository: str
    section: Section
    user: str | None = None
    host: str | None = None
    port: int | None = None
    #: True when asked again after the server refused the previous password.
    retry: bool = False


@hookimpl
def offlineimap_get_password(request: PasswordRequest) -> str | None:
    section = request.section
    if section.has("remotepasseval"):
        value = section.get_eval("remotepasseval")
        if value is not None:
            return str(value)
    if section.has("remotepass"):
        return section.get("remotepass")
    if section.has("remotepassfile"):
        path = section.get_path("remotepassfile")
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.readline().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                f"[{section.name}] remotepassfile = {path}: cannot read: {exc.strerror}"
            ) from None
    return None


def resolve_password(hook: pluggy.HookRelay, request: PasswordRequest) -> str:
    """Ask the providers, then the UI; raise a one-line error when nobody has a password."""
    password = hook.offlineimap_get_password(request=request)
    if password is None:
        password = hook.offlineimap_prompt_password(request=request)
    if password is None:
        raise AuthenticationError(
            f"[Repository {request.repository}] no password: set remotepass, remotepassfile or "
            "remotepasseval, add the host to ~/.netrc, or use an interactive UI (-u ttyui)"
        )
    return password
