"""Errors that reach the user, each scoped by how much of a run it stops.

The blast radius follows mbsync: a message error skips one message, a folder error skips one
folder, a repository (account) error skips one account, and a fatal error stops the run before
anything is written. Every error carries one readable line; tracebacks are for ``-d`` only.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit statuses, documented in ``offlineimap --help``."""

    OK = 0
    ERRORS = 1  # some account, folder or message failed; the rest was synced
    UIDVALIDITY = 2  # a folder's UIDVALIDITY changed; that folder was not synced
    CONFIG = 3  # the configuration (or the command line) is wrong; nothing was touched
    LOCKED = 4  # another offlineimap holds an account's lock
    INTERRUPTED = 130  # stopped by a signal before finishing


class Scope(enum.IntEnum):
    MESSAGE = 1
    FOLDER = 2
    REPOSITORY = 3
    FATAL = 4


class OfflineImapError(Exception):
    """Base class: ``str(err)`` is the one line shown to the user."""

    scope: Scope = Scope.REPOSITORY
    exit_code: ExitCode = ExitCode.ERRORS

    def __init__(self, message: str, scope: Scope | None = None) -> None:
        super().__init__(message)
        if scope is not None:
            self.scope = scope


class ConfigError(OfflineImapError):
    """A bad configuration value, a missing section or a broken expression."""

    scope = Scope.FATAL
    exit_code = ExitCode.CONFIG


class MissingPluginError(ConfigError):
    """The configuration names a type, backend or UI that no installed plugin provides."""


class AuthenticationError(OfflineImapError):
    """Wrong password, refused login, or no way to obtain a password."""


class ConnectionFailed(OfflineImapError):
    """The server could not be reached, or the connection broke."""


class CertificateError(ConnectionFailed):
    """TLS verification failed: untrusted certificate, wrong host name or pinned fingerprint."""


class FolderError(OfflineImapError):
    scope = Scope.FOLDER


class UIDValidityError(FolderError):
    """A folder's UIDVALIDITY is not the one recorded: that folder is not synced."""

    exit_code = ExitCode.UIDVALIDITY


class MessageError(OfflineImapError):
    scope = Scope.MESSAGE


class CorruptStatusError(FolderError):
    """A status cache file or database cannot be read."""


class LockedError(OfflineImapError):
    """Another process holds the account's lock."""

    exit_code = ExitCode.LOCKED
