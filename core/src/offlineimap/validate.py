"""Check a configuration before anything connects: every problem, one line each.

:func:`check_config` is what ``offlineimap --check-config`` prints, and what every run checks
first, so that a typo in the fifth account stops the run before the first account is touched.
It looks at the accounts to be synced, the repositories they name, ``[general]`` and
``[mbnames]``: sections, required options, plugin-provided names (through the
:class:`~offlineimap.plugins.PluginHost` registries, which word the "install
offlineimap-gmail" line), typed values (:data:`OPTION_TYPES`) and Python expressions.
Expressions are compiled; those that define folder functions are also evaluated (a ``lambda``
or a ``pythonfile`` name costs nothing), but password and user expressions are never run here:
they may ask a keyring or a person.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from offlineimap import compat
from offlineimap import config as cfg
from offlineimap.errors import ConfigError

if TYPE_CHECKING:
    from offlineimap.config import Config, Section
    from offlineimap.plugins import PluginHost


def _date(section: Section, option: str) -> None:
    value = section.get(option).strip()
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"[{section.name}] {option} = {value!r}: expected a date "
                          "(yyyy-mm-dd)") from None


def _maxage(section: Section, option: str) -> None:
    value = section.get(option).strip()
    if value.isdigit():
        return
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"[{section.name}] {option} = {value!r}: expected a number of days "
                          "or a date (yyyy-mm-dd)") from None


def _function(section: Section, option: str) -> None:
    cfg.user_function(section, option)


def _folder_list(section: Section, option: str) -> None:
    value = section.get_eval(option)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[{section.name}] {option}: expected a list of folder names, "
                          f"got {value!r}")


def _compiles(section: Section, option: str) -> None:
    cfg.compile_expression(section.get(option), f"[{section.name}] {option}")


def _typed(getter: str) -> Callable[[Section, str], None]:
    def check(section: Section, option: str) -> None:
        getattr(section, getter)(option)

    return check


_BOOL, _INT, _FLOAT = _typed("get_bool"), _typed("get_int"), _typed("get_float")

#: Known options and how to check them, by kind of section. Options not listed are not checked
#: here (plugins read and check their own); listed ones are checked only when set.
OPTION_TYPES: dict[str, dict[str, Callable[[Section, str], None]]] = {
    "general": {
        "maxsyncaccounts": _INT, "socktimeout": _INT, "fsync": _BOOL,
        "ignore-readonly": _BOOL, "dry-run": _BOOL,
    },
    "Account": {
        "autorefresh": _FLOAT, "quick": _INT, "maxsize": _INT, "maxage": _maxage,
        "maildir-windows-compatible": _BOOL, "synclabels": _BOOL, "utf8foldernames": _BOOL,
    },
    "Repository": {
        "ssl": _BOOL, "starttls": _BOOL, "remoteport": _INT, "maxconnections": _INT,
        "idlerenew": _FLOAT, "allow_plaintext_login": _BOOL,
        "holdconnectionopen": _BOOL, "keepalive": _INT, "expunge": _BOOL,
        "subscribedonly": _BOOL, "createfolders": _BOOL, "sync_deletes": _BOOL,
        "readonly": _BOOL, "restoreatime": _BOOL, "utime_from_header": _BOOL,
        "filename_use_mail_timestamp": _BOOL, "usecompression": _BOOL,
        "singlethreadperfolder": _BOOL, "dynamic_folderfilter": _BOOL, "retrycount": _INT,
        "ipv6": _BOOL, "decodefoldernames": _BOOL, "startdate": _date,
        "nametrans": _function, "folderfilter": _function, "foldersort": _function,
        "copy_ignore_eval": _function, "folderincludes": _folder_list,
        "idlefolders": _folder_list,
        "remotehosteval": _compiles, "remoteporteval": _compiles,
        "remoteusereval": _compiles, "remotepasseval": _compiles,
        "oauth2_client_id_eval": _compiles, "oauth2_client_secret_eval": _compiles,
        "oauth2_access_token_eval": _compiles, "oauth2_refresh_token_eval": _compiles,
    },
    "mbnames": {
        # peritem is not Python: a raw %(accountname)s/%(foldername)s template, as OfflineIMAP
        # reads it (not through configparser's interpolation).
        "enabled": _BOOL, "incremental": _BOOL, "header": _compiles,
        "sep": _compiles, "footer": _compiles, "sort_keyfunc": _function,
        "folderfilter": _function,
    },
}


def check_config(config: Config, host: PluginHost, accounts: list[str], *,
                 check_ui: bool = True) -> list[str]:
    """Every problem of ``config`` for syncing ``accounts``, one line each (empty: all good).

    :param accounts: the accounts to sync (``-a``, else ``[general] accounts``).
    :param check_ui: also check ``[general] ui`` (not when ``-u`` overrides it).
    """
    problems: list[str] = []

    def check(step: Callable[..., Any], *args: Any) -> Any:
        try:
            return step(*args)
        except ConfigError as exc:
            problems.append(str(exc))
            return None

    _check_options(config.general, "general", check)
    if config.has_section("mbnames"):
        _check_options(config.section("mbnames"), "mbnames", check)
    if check_ui and config.general.has("ui"):
        check(resolve_ui, host, config.general.get("ui"), "[general] ui")
    if not accounts:
        problems.append("[general] accounts names no account: list at least one")
    checked: set[str] = set()
    for account in accounts:
        section_name = f"Account {account}"
        if not config.has_section(section_name):
            problems.append(f"account {account!r} has no [{section_name}] section")
            continue
        section = config.section(section_name)
        _check_options(section, "Account", check)
        backend, where = config.status_backend_name(account)
        check(host.status_backends.resolve, backend, where)
        for option in ("localrepository", "remoterepository"):
            if not section.has(option):
                problems.append(f"[{section_name}] is missing the option {option!r}")
                continue
            repository = section.get(option).strip()
            if repository in checked:
                continue
            checked.add(repository)
            check(_check_repository, config, host, repository, f"[{section_name}] {option}",
                  check)
    return problems


def notices(config: Config, accounts: list[str]) -> list[str]:
    """Options accepted but not acted upon, obsolete or unknown: one line each, never a problem.

    Looks at ``[general]``, ``[mbnames]``, the accounts to sync and the repositories they name,
    then every ``[ui.*]`` and unknown section (:func:`offlineimap.compat.config_notices`).
    """
    sections = ["general", "mbnames"]
    for account in accounts:
        section = config.section(f"Account {account}")
        sections.append(section.name)
        for option in ("localrepository", "remoterepository"):
            if config.has_section(section.name) and section.has(option):
                sections.append(f"Repository {section.get(option).strip()}")
    return compat.config_notices(config, list(dict.fromkeys(sections)))


def _check_repository(config: Config, host: PluginHost, name: str, named_by: str,
                      check: Callable[..., Any]) -> None:
    section_name = f"Repository {name}"
    if not config.has_section(section_name):
        raise ConfigError(f"{named_by} = {name}: there is no [{section_name}] section")
    section = config.section(section_name)
    if not section.has("type"):
        raise ConfigError(f"[{section_name}] is missing the option 'type' "
                          "(IMAP, Maildir, Gmail, GmailMaildir, ...)")
    check(host.repository_types.resolve, section.get("type").strip(), f"[{section_name}] type")
    _check_options(section, "Repository", check)


def _check_options(section: Section, kind: str, check: Callable[..., Any]) -> None:
    for option, checker in OPTION_TYPES[kind].items():
        if section.has(option):
            check(checker, section, option)


def resolve_ui(host: PluginHost, value: str, where: str) -> type:
    """The UI class for a ``-u`` or ``[general] ui`` value.

    Old configurations give a comma-separated list to try in order, and dotted names
    (``Curses.Blinkenlights``): the first name any plugin provides wins; when none does, the
    error is the one for the first name.
    """
    names = [item.strip().rsplit(".", 1)[-1] for item in value.split(",") if item.strip()]
    if not names:
        raise ConfigError(f"{where} is empty: name a user interface (for example basic)")
    first_error: ConfigError | None = None
    for name in names:
        try:
            return host.uis.resolve(name, where)
        except ConfigError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error
