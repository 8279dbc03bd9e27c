"""The ``offlineimap`` command: parse, load plugins and configuration, check, choose a UI, run.

Every :class:`~offlineimap.errors.OfflineImapError` that reaches this level is printed as one
line, ``offlineimap: ERROR: <message>``, and ends the process with that error's exit status.
Anything else is a bug: one "internal error" line, and the traceback only under ``-d``.
Heavy modules (pluggy, stevedore, the plugins) are imported only once they are needed, so
that ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from offlineimap.errors import ConfigError, ExitCode, OfflineImapError
from offlineimap.options import Options

if TYPE_CHECKING:
    from offlineimap.config import Config
    from offlineimap.plugins import PluginHost
    from offlineimap.ui import UI

PROG = "offlineimap"
#: The pluggy name of the chosen UI instance (the UI plugin's module is registered as "ui").
UI_LISTENER_NAME = "ui-instance"


def main(argv: Sequence[str] | None = None, *, plugins: Iterable[tuple[str, object]] = ()
         ) -> int:
    """Run the command line; return the exit status (see ``offlineimap --help``).

    :param plugins: ``(name, plugin)`` pairs registered after the installed plugins, as
        ``pytest.main(plugins=...)`` does: for tests and for programs embedding offlineimap.
    """
    debug = False
    try:
        try:
            options = Options.from_argv(argv)
        except SystemExit as exc:  # -h, --version
            return exc.code if isinstance(exc.code, int) else ExitCode.OK
        debug = bool(options.debug)
        return _run(options, plugins)
    except OfflineImapError as exc:
        _error(str(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        hint = "" if debug else " (run with -d all to see the traceback)"
        _error(f"internal error: {type(exc).__name__}: {_first_line(exc)}{hint}", "")
        if debug:
            import traceback

            traceback.print_exc()
        return int(ExitCode.ERRORS)


def _run(options: Options, plugins: Iterable[tuple[str, object]]) -> int:
    from offlineimap.plugins import PluginHost

    host = PluginHost.load(extra=plugins)
    if options.list_plugins:
        print("\n".join(plugin_lines(host)))
        return int(ExitCode.OK)
    for line in host.failure_lines():
        _error(line, "WARNING: ")

    config, problems = load_config(options, host)
    for line in config.writable_by_others():
        _error(line, "WARNING: ")
    accounts = options.accounts if options.accounts is not None else config.account_names()
    options.apply_to(config, accounts)
    from offlineimap.validate import check_config, notices

    problems += check_config(config, host, accounts, check_ui=options.ui is None)
    for problem in problems:
        _error(problem)
    if options.check_config:
        for notice in notices(config, accounts):
            _error(notice, "NOTICE: ")
        if not problems:
            print(f"{config.path}: no problems found ({len(accounts)} accounts checked)")
        return int(ExitCode.CONFIG if problems else ExitCode.OK)
    if problems:
        return int(ExitCode.CONFIG)

    ui = make_ui(options, config, host, stdout_is_tty=sys.stdout.isatty())
    host.register_listener(ui, UI_LISTENER_NAME)
    from offlineimap import runner

    try:
        with ui.session(), _maybe_profiling(options.profile_dir):
            if options.delete_folder or options.migrate_fmd5 or options.mbnames_prune:
                return int(maintenance(options, config, host, accounts))
            return int(runner.run(options, config, host, ui))
    finally:
        ui.close()


def maintenance(options: Options, config: Config, host: PluginHost, accounts: list[str]
                ) -> ExitCode:
    """OfflineIMAP 8.0.3's one-off commands, which replace the sync: ``--mbnames-prune``,
    ``--migrate-fmd5-using-nametrans``, ``--delete-folder`` (tried in that order)."""
    from offlineimap.account import Account, AccountOptions
    from offlineimap.events import Events

    events = Events(host.hook)
    if options.mbnames_prune:
        from offlineimap.mbnames import Mbnames

        mbnames = Mbnames(config, events, dry_run=options.dry_run)
        mbnames.prune(config.account_names())
        mbnames.finish()
        return ExitCode.OK
    account_options = AccountOptions(dry_run=options.dry_run)
    if options.migrate_fmd5:
        for name in accounts:
            migrate_fmd5(Account(name, config, host, events, account_options).local, events,
                         dry_run=options.dry_run)
        return ExitCode.OK
    if len(accounts) != 1:
        raise ConfigError(f"--delete-folder needs exactly one account, not {len(accounts)}: "
                          "name it with -a ACCOUNT")
    assert options.delete_folder is not None
    remote = Account(accounts[0], config, host, events, account_options).remote
    if options.dry_run:
        events.info(f"[dry-run] would delete folder {options.delete_folder!r} on "
                    f"{remote.name}", accounts[0])
        return ExitCode.OK
    remote.connect()
    try:
        remote.delete_folder(options.delete_folder)
    finally:
        remote.close()
    events.info(f"folder {options.delete_folder!r} deleted on {remote.name}", accounts[0])
    return ExitCode.OK


def migrate_fmd5(local: Any, events: Any, *, dry_run: bool) -> int:
    """Rename the Maildir files whose FMD5 is the MD5 of the folder's untranslated name (as
    OfflineIMAP wrote them before 6.3.5) to carry the FMD5 of its nametrans'd name instead.

    Works on repositories that expose ``visible_name`` and ``folder_path`` (the Maildir
    plugin's); others are left alone, as OfflineIMAP does. Each rename stays within its
    directory, so it is atomic. Returns how many files were (or, in a dry run, would be)
    renamed.
    """
    import hashlib
    import os

    if not (hasattr(local, "visible_name") and hasattr(local, "folder_path")):
        return 0
    renamed = 0
    for folder in local.list_folders():
        old = hashlib.md5(folder.encode("utf-8"), usedforsecurity=False).hexdigest()
        new = hashlib.md5(local.visible_name(folder).encode("utf-8"),
                          usedforsecurity=False).hexdigest()
        if old == new:
            continue
        for sub in ("cur", "new"):
            directory = local.folder_path(folder) / sub
            for entry in sorted(directory.glob(f"*,FMD5={old}*")):
                target = entry.with_name(entry.name.replace(f",FMD5={old}", f",FMD5={new}", 1))
                events.info(f"{'[dry-run] would migrate' if dry_run else 'migrating'} "
                            f"{entry} to FMD5 {new}")
                if not dry_run:
                    os.rename(entry, target)
                renamed += 1
    return renamed


def _maybe_profiling(directory: str | None) -> contextlib.AbstractContextManager[None]:
    if directory is None:
        return contextlib.nullcontext()
    from pathlib import Path

    from offlineimap.profiling import profiling

    return profiling(Path(directory).expanduser())


def load_config(options: Options, host: PluginHost) -> tuple[Config, list[str]]:
    """Find and read the configuration, apply ``-k``, build the expression namespace.

    A file that cannot be found or read stops here (raised). A broken ``pythonfile`` is
    returned as a problem instead, so that ``--check-config`` reports it with the rest.
    """
    from offlineimap.config import Config, find_config_file

    config = Config.from_file(find_config_file(options.config_path))
    config.override(options.overrides)
    try:
        config.load_namespace(host.namespace)
    except ConfigError as exc:
        return config, [str(exc)]
    return config, []


def choose_ui_name(options: Options, config: Config, *, stdout_is_tty: bool) -> tuple[str, str]:
    """``(ui name, where it came from)``: ``-u``, else ``[general] ui``, else by terminal.

    ``--info`` uses ``ttyui`` as OfflineIMAP does; without a setting, ``ttyui`` on a terminal
    and ``basic`` otherwise (cron, pipes).
    """
    if options.ui is not None:
        return options.ui, "-u"
    if options.info:
        return "ttyui", "--info"
    if config.general.has("ui"):
        return config.general.get("ui"), "[general] ui"
    return ("ttyui" if stdout_is_tty else "basic"), "default ui"


def make_ui(options: Options, config: Config, host: PluginHost, *, stdout_is_tty: bool) -> UI:
    """Resolve the UI through the plugins' registry and instantiate it."""
    from offlineimap.validate import resolve_ui

    name, where = choose_ui_name(options, config, stdout_is_tty=stdout_is_tty)
    ui_class = resolve_ui(host, name, where)
    ui: UI = ui_class(config, logfile=options.logfile, debug=options.debug)
    return ui


def plugin_lines(host: PluginHost) -> list[str]:
    """``--list-plugins``: one line per plugin, then one per plugin that failed to load."""
    lines = []
    for info in host.plugins:
        provides = "; ".join(f"{kind}: {', '.join(names)}"
                             for kind, names in info.provides.items()) or "hooks only"
        lines.append(f"{info.distribution} {info.version} ({info.name}): {provides}")
    lines += [f"FAILED: {line}" for line in host.failure_lines()]
    return lines


def _error(message: str, label: str = "ERROR: ") -> None:
    print(f"{PROG}: {label}{message}", file=sys.stderr)


def _first_line(exc: Any) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
