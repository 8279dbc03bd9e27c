"""Core's password providers, in the documented order (see ``offlineimap_get_password``).

1. ``remotepasseval``: a Python expression (often a ``pythonfile`` function)
2. ``remotepass``: the password itself
3. ``remotepassfile``: a file whose first line is the password
4. ``~/.netrc``, then ``/etc/netrc``: the entry for the host (and user, when given)
5. the system keyring, when the ``keyring`` package is installed and has a usable backend:
   service = the host name, username = the user name (``keyring set imap.example.org me``)

When none answers, core asks the UI (``offlineimap_prompt_password``); a UI that cannot prompt
leads to :class:`~offlineimap.errors.AuthenticationError` naming these options.

User names are found the way OfflineIMAP finds them (:func:`resolve_user`): ``remoteusereval``,
``remoteuser``, then the login of the host's netrc entry.

The keyring is asked only in a way that cannot hang an unattended run: backends that exist to
fail (``fail``, ``null``) or have no positive priority are skipped, and a backend that does not
answer within :data:`KEYRING_TIMEOUT` seconds (a locked desktop keyring waiting for an unlock
dialog) is given up on.
"""

from __future__ import annotations

import dataclasses
import netrc
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offlineimap.errors import AuthenticationError, ConfigError
from offlineimap.hookspecs import hookimpl

if TYPE_CHECKING:
    import pluggy

    from offlineimap.config import Section

#: Seconds to wait for the system keyring before carrying on without it.
KEYRING_TIMEOUT = 5.0
SYSTEM_NETRC = Path("/etc/netrc")


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
    password = _from_config(section)
    if password is not None:
        return password
    if request.host:
        entry = netrc_entry(request.host, request.user)
        if entry is not None:
            return entry[1]
        if request.user and not section.config.general.get_bool("ignore-keyring", False):
            return keyring_password(request.host, request.user)
    return None


def _text(value: object) -> str:
    """An ``*eval`` result as text: helpers written for Python 2 keyrings often return bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _from_config(section: Section) -> str | None:
    if section.has("remotepasseval"):
        value = section.get_eval("remotepasseval")
        if value is not None:
            return _text(value)
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


def resolve_user(section: Section, host: str | None = None) -> str | None:
    """The user name for a repository: ``remoteusereval``, ``remoteuser``, then netrc.

    ``host`` defaults to the section's ``remotehosteval``/``remotehost``; drivers with a
    built-in host (Gmail) pass theirs. ``None`` when nothing names a user.
    """
    if section.has("remoteusereval"):
        value = section.get_eval("remoteusereval")
        if value is not None:
            return _text(value)
    if section.has("remoteuser"):
        return section.get("remoteuser")
    host = host or section.get_or_eval("remotehost", None)
    if host:
        entry = netrc_entry(str(host), None)
        if entry is not None:
            return entry[0]
    return None


# -------------------------------------------------------------------------------------------------
# netrc
# -------------------------------------------------------------------------------------------------


def netrc_files() -> list[Path]:
    """``~/.netrc`` (following ``$HOME``), then ``/etc/netrc``."""
    return [Path(os.path.expanduser("~/.netrc")), SYSTEM_NETRC]


def netrc_entry(host: str, user: str | None) -> tuple[str, str] | None:
    """``(login, password)`` from the first netrc file with an entry for ``host``.

    An entry whose login differs from ``user`` (when a user is given) does not match, and the
    search goes on to the next file. A file that cannot be parsed is a one-line error; a file
    that is missing or unreadable is skipped.
    """
    for path in netrc_files():
        try:
            entries = netrc.netrc(str(path))
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            continue
        except netrc.NetrcParseError as exc:
            raise ConfigError(f"{path}, line {exc.lineno}: {exc.msg}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        found = entries.authenticators(host)
        if found is None:
            continue
        login, _account, password = found
        if user is not None and login != user:
            continue
        return login, password
    return None


# -------------------------------------------------------------------------------------------------
# keyring
# -------------------------------------------------------------------------------------------------


def keyring_password(host: str, user: str) -> str | None:
    """The system keyring's password for ``(host, user)``, or ``None``.

    ``None`` also when the ``keyring`` package is not installed, its backend is one that
    cannot work here, or it does not answer within :data:`KEYRING_TIMEOUT` seconds.
    """
    backend = _usable_keyring()
    if backend is None:
        return None
    answer: list[Any] = []

    def ask() -> None:
        try:
            answer.append(backend.get_password(host, user))
        except Exception:  # a broken or locked backend is no answer, not a failed sync
            answer.append(None)

    worker = threading.Thread(target=ask, name="keyring", daemon=True)
    worker.start()
    worker.join(KEYRING_TIMEOUT)
    value = answer[0] if answer else None
    return value if isinstance(value, str) else None


def store_in_keyring(host: str, user: str, password: str) -> bool:
    """``--update-keyring``: keep a password typed at the prompt in the system keyring.

    Returns whether it was stored; a missing or unusable keyring is not an error."""
    backend = _usable_keyring()
    if backend is None:
        return False
    try:
        backend.set_password(host, user, password)
    except Exception:
        return False
    return True


def _usable_keyring() -> Any:
    """The active keyring backend if it can answer without a person, else ``None``."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
        priority = backend.priority
    except Exception:  # a backend that cannot even say how good it is
        return None
    module = type(backend).__module__
    if isinstance(backend, fail.Keyring) or module.endswith(".null") or priority <= 0:
        return None
    return backend


# -------------------------------------------------------------------------------------------------
# The whole chain
# -------------------------------------------------------------------------------------------------


def resolve_password(hook: pluggy.HookRelay, request: PasswordRequest) -> str:
    """Ask the providers, then the UI; raise a one-line error when nobody has a password."""
    password = hook.offlineimap_get_password(request=request)
    if password is None:
        password = hook.offlineimap_prompt_password(request=request)
        if (password is not None and request.host and request.user
                and request.section.config.general.get_bool("update-keyring", False)):
            store_in_keyring(request.host, request.user, password)
    if password is None:
        raise AuthenticationError(
            f"[Repository {request.repository}] no password: set remotepass, remotepassfile or "
            "remotepasseval, add the host to ~/.netrc or the system keyring, or use an "
            "interactive UI (-u ttyui)"
        )
    return password
