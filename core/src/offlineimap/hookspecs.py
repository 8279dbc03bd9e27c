"""Hook specifications: every way a plugin can extend or observe offlineimap.

A plugin is a module (or object) with functions named like these hooks and marked with
``@offlineimap.hookimpl``. Installed plugins are found through the entry point group
``offlineimap.plugins``; core's own behaviour is registered the same way. An implementation may
accept fewer arguments than the specification lists.

Three kinds of hooks:

* **Registration hooks** (``offlineimap_*_types``, ``offlineimap_status_backends``,
  ``offlineimap_uis``, ``offlineimap_config_namespace``) are called once per run by
  :mod:`offlineimap.plugins` right after loading. A plugin calls ``register`` once for each thing
  it provides, under the name users write in the configuration.
* **Provider hooks** (``offlineimap_get_password``, ``offlineimap_prompt_password``,
  ``offlineimap_filter_folder``) are asked a question by core while it runs.
* **Event hooks** (the rest) are broadcast by the engine as a sync proceeds. The chosen user
  interface is a plugin that implements them; any other plugin may listen too. They return nothing
  and are called from worker threads: implementations must be thread-safe and quick.

Drivers (repositories, folders, status caches, UIs) are classes with methods the engine calls
directly; see :mod:`offlineimap.repository` and :mod:`offlineimap.status`. Hooks are for
registration, questions with one answer, and events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from offlineimap.passwords import PasswordRequest
    from offlineimap.repository import Repository
    from offlineimap.stats import FolderStats, RunStats
    from offlineimap.status import StatusBackend
    from offlineimap.ui import UI

PROJECT = "offlineimap"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -------------------------------------------------------------------------------------------------
# Registration hooks
# -------------------------------------------------------------------------------------------------


@hookspec
def offlineimap_repository_types(
        register: Callable[[str, type[Repository] | str], None]) -> None:
    """Register repository types (``type = ...`` in a ``[Repository X]`` section).

    Called by :class:`offlineimap.plugins.PluginHost` once per run, after every plugin is loaded.

    :param register: call ``register(name, cls)`` for each type; ``name`` is matched
        case-insensitively against the configuration, ``cls`` is a subclass of
        :class:`offlineimap.repository.Repository`, or the string ``"module:Class"`` naming
        one, imported only when a configuration uses it (keeps start-up fast for plugins with
        heavy imports; the same holds for the other registration hooks). Registering a name
        twice is an error.
    :return: nothing.
    """


@hookspec
def offlineimap_status_backends(
        register: Callable[[str, type[StatusBackend] | str], None]) -> None:
    """Register status cache backends (``status_backend = ...`` in ``[general]`` or an account).

    Called by :class:`offlineimap.plugins.PluginHost` once per run, after every plugin is loaded.

    :param register: call ``register(name, cls)``; ``cls`` is a subclass of
        :class:`offlineimap.status.StatusBackend`.
    :return: nothing.
    """


@hookspec
def offlineimap_uis(register: Callable[[str, type[UI] | str], None]) -> None:
    """Register user interfaces (``-u NAME`` or ``ui = NAME`` in ``[general]``).

    Called by :class:`offlineimap.plugins.PluginHost` once per run, after every plugin is loaded.
    The chosen UI class is instantiated once and the instance is registered as a plugin, so that
    it receives the event hooks below.

    :param register: call ``register(name, cls)``; ``cls`` is a subclass of
        :class:`offlineimap.ui.UI`. Names are matched case-insensitively.
    :return: nothing.
    """


@hookspec
def offlineimap_config_namespace(register: Callable[[str, Any], None]) -> None:
    """Contribute names to the namespace of Python expressions in the configuration.

    ``nametrans``, ``folderfilter``, ``folderincludes``, ``foldersort`` and every ``*eval``
    option are evaluated in one namespace holding ``re``, these contributed names, and the names
    defined by ``pythonfile`` (which win over plugins). Called once per run when the
    configuration is loaded.

    :param register: call ``register(name, value)`` for each function or constant.
    :return: nothing.
    """


# -------------------------------------------------------------------------------------------------
# Provider hooks
# -------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def offlineimap_get_password(request: PasswordRequest) -> str | None:
    """Return the password for a repository, or ``None`` to let the next provider answer.

    Called by a repository driver (through ``RepositoryContext.get_password``) when it is about
    to authenticate, and again after an authentication failure with ``request.retry`` set.
    Core's providers answer in this order: ``remotepasseval``, ``remotepass``,
    ``remotepassfile``, ``~/.netrc``, ``/etc/netrc``, the system keyring. A plugin can go first
    with ``tryfirst=True``. When none answers, core asks the UI (``offlineimap_prompt_password``).

    :param request: who asks: repository name, its config section, user name, host and port.
    :return: the password, or ``None``. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def offlineimap_prompt_password(request: PasswordRequest) -> str | None:
    """Ask the person at the keyboard for a password.

    Called by core when no ``offlineimap_get_password`` provider had one. Implemented by
    interactive UIs (TTYUI, Blinkenlights); UIs that cannot prompt (Basic, Quiet, MachineUI)
    do not implement it, and core then fails with a line naming the options to set.

    :param request: as for ``offlineimap_get_password``.
    :return: the password typed, or ``None``. Stops at first non-None result.
    """


@hookspec
def offlineimap_filter_folder(account: str, repository: str, folder: str) -> bool | None:
    """Decide whether a folder takes part in the sync, beside ``folderfilter``.

    Called by the account for every folder of the remote repository (untranslated name) and
    every folder of the local repository that has no remote counterpart, after ``folderfilter``.

    :param account: the account name.
    :param repository: the repository name.
    :param folder: the folder's name in that repository.
    :return: ``False`` to leave the folder out; ``True`` or ``None`` to keep it. Any ``False``
        wins.
    """


# -------------------------------------------------------------------------------------------------
# Event hooks: broadcast while a run proceeds; the chosen UI implements them.
# -------------------------------------------------------------------------------------------------


@hookspec
def offlineimap_run_start(accounts: list[str]) -> None:
    """The run begins: called once by the runner after the accounts are set up.

    :param accounts: names of the accounts that will be synced.
    """


@hookspec
def offlineimap_run_finish(stats: RunStats) -> None:
    """The run ends: called once by the runner, also after errors, before exiting.

    :param stats: totals per account (copied each way, deleted, flags, errors, elapsed time).
    """


@hookspec
def offlineimap_account_start(account: str) -> None:
    """An account's sync starts (each refresh of an autorefreshing account calls it again)."""


@hookspec
def offlineimap_account_finish(account: str, stats: FolderStats, elapsed: float) -> None:
    """An account's sync ended, successfully or not.

    :param stats: the account's totals over all its folders for this sync.
    :param elapsed: seconds the sync took.
    """


@hookspec
def offlineimap_connecting(account: str, repository: str, host: str, port: int) -> None:
    """A driver is opening a network connection (Blinkenlights shows it gray)."""


@hookspec
def offlineimap_folder_start(account: str, folder: str, total: int, total_bytes: int) -> None:
    """A folder pair is about to copy messages.

    Called by the engine after listing both sides, once per folder and sync.

    :param folder: the folder's remote nametrans'd name.
    :param total: how many messages will be copied (both directions).
    :param total_bytes: their size when known (0 otherwise).
    """


@hookspec
def offlineimap_folder_finish(account: str, folder: str, stats: FolderStats) -> None:
    """A folder pair's sync ended, successfully or not (see ``stats.errors``)."""


@hookspec
def offlineimap_listing(account: str, folder: str, side: str) -> None:
    """The engine is loading a folder's message list (``side`` is ``remote``, ``local``)."""


@hookspec
def offlineimap_message_copied(
    account: str, folder: str, uid: int, source: str, destination: str, size: int
) -> None:
    """One message was stored on the destination side.

    :param source: ``remote`` or ``local``; ``destination`` is the other.
    :param size: bytes copied.
    """


@hookspec
def offlineimap_flags_changed(
    account: str, folder: str, side: str, added: dict[str, list[int]], removed: dict[str, list[int]]
) -> None:
    """Flags were changed on ``side``: ``{flag letter: [uids]}`` added and removed."""


@hookspec
def offlineimap_messages_deleted(account: str, folder: str, side: str, uids: list[int]) -> None:
    """Messages were deleted on ``side`` because the other side deleted them."""


@hookspec
def offlineimap_sleeping(account: str, seconds: float) -> None:
    """An autorefreshing account sleeps ``seconds`` until its next sync (called each second
    of the countdown by the refresh loop; Basic and Quiet stay silent)."""


@hookspec
def offlineimap_info(message: str, account: str | None) -> None:
    """A status line for the human UIs (``account`` is ``None`` for run-wide messages)."""


@hookspec
def offlineimap_warning(message: str, account: str | None) -> None:
    """Something went wrong that the run survives (a skipped message, a folder left alone)."""


@hookspec
def offlineimap_error(message: str, account: str | None, exc: BaseException | None) -> None:
    """A folder, an account or the run failed. ``exc`` is for ``-d`` tracebacks only."""


@hookspec
def offlineimap_debug(category: str, message: str) -> None:
    """Debug output for ``-d CATEGORY`` (``imap``, ``maildir``, ``thread``, ...).

    Callers must never pass passwords or authentication strings: core's debug layer masks
    known secrets as well, but the rule is on the caller.
    """
