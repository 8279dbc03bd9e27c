"""The command line: every option of OfflineIMAP's manual, parsed into :class:`Options`.

Kept free of heavy imports so that ``offlineimap --help`` and ``--version`` answer at once.
A wrong command line raises :class:`~offlineimap.errors.ConfigError` (exit status 3) rather
than argparse's exit status 2, which here means a UIDVALIDITY problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from offlineimap.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from offlineimap.config import Config

#: ``-d all`` means these (OfflineIMAP's own debug types).
ALL_DEBUG_TYPES = frozenset({"imap", "maildir", "thread"})

_EXIT_MEANINGS = {
    ExitCode.OK: "everything was synced (or the check found no problem)",
    ExitCode.ERRORS: "some account, folder or message failed; the rest was synced",
    ExitCode.UIDVALIDITY: "a folder's UIDVALIDITY changed; that folder was not synced",
    ExitCode.CONFIG: "the configuration or the command line is wrong; nothing was touched",
    ExitCode.LOCKED: "another offlineimap holds an account's lock",
    ExitCode.INTERRUPTED: "stopped by a signal before finishing",
}


@dataclasses.dataclass
class Options:
    """What the command line asked for. ``None`` means "as the configuration says"."""

    config_path: str | None = None  #: -c FILE
    accounts: list[str] | None = None  #: -a LIST
    folders: list[str] | None = None  #: -f LIST (untranslated remote names)
    once: bool = False  #: -o: ignore autorefresh
    quick: bool = False  #: -q: quick syncs only
    single: bool = False  #: -1: one connection, no threads (also forced by -P and most -d)
    profile_dir: str | None = None  #: -P DIR
    debug: frozenset[str] = frozenset()  #: -d TYPES
    logfile: str | None = None  #: -l FILE
    ui: str | None = None  #: -u NAME
    dry_run: bool = False  #: --dry-run
    info: bool = False  #: --info
    overrides: list[str] = dataclasses.field(default_factory=list)  #: -k, in order
    syslog: bool = False  #: -s
    list_plugins: bool = False  #: --list-plugins
    check_config: bool = False  #: --check-config
    delete_folder: str | None = None  #: --delete-folder FOLDER (on the remote repository)
    migrate_fmd5: bool = False  #: --migrate-fmd5-using-nametrans
    mbnames_prune: bool = False  #: --mbnames-prune
    ignore_keyring: bool = False  #: --ignore-keyring
    update_keyring: bool = False  #: --update-keyring

    @classmethod
    def from_argv(cls, argv: Sequence[str] | None = None) -> Options:
        """Parse ``argv`` (``sys.argv[1:]`` when ``None``).

        ``-h`` and ``--version`` print and raise ``SystemExit(0)``, as argparse does.
        """
        args = build_parser().parse_args(argv)
        debug = _split(args.debug) if args.debug is not None else []
        debug_types = frozenset(d.lower() for d in debug)
        if "all" in debug_types:
            debug_types = (debug_types - {"all"}) | ALL_DEBUG_TYPES
        if args.profile_dir is not None:
            if not args.single:
                raise ConfigError("-P DIR needs -1: profiling runs single-threaded")
            if os.path.lexists(os.path.expanduser(args.profile_dir)):
                raise ConfigError(f"-P {args.profile_dir}: the directory must not exist yet")
        # OfflineIMAP debugs single-threaded unless thread debugging is what is asked for.
        single = args.single or bool(debug_types and "thread" not in debug_types)
        return cls(
            config_path=args.config_path,
            accounts=_split(args.accounts) if args.accounts is not None else None,
            folders=_split(args.folders) if args.folders is not None else None,
            once=args.once,
            quick=args.quick,
            single=single,
            profile_dir=args.profile_dir,
            debug=debug_types,
            logfile=args.logfile,
            ui=args.ui,
            dry_run=args.dry_run,
            info=args.info,
            overrides=list(args.overrides),
            syslog=args.syslog,
            list_plugins=args.list_plugins,
            check_config=args.check_config,
            delete_folder=args.delete_folder,
            migrate_fmd5=args.migrate_fmd5,
            mbnames_prune=args.mbnames_prune,
            ignore_keyring=args.ignore_keyring,
            update_keyring=args.update_keyring,
        )

    def apply_to(self, config: Config, accounts: list[str]) -> None:
        """Write the options that OfflineIMAP expresses as configuration into ``config``.

        ``-1`` sets ``maxsyncaccounts`` and every ``maxconnections`` to 1; ``-o`` removes
        ``autorefresh``; ``-q`` sets ``quick = -1``; ``-f`` replaces the remote repositories'
        ``folderfilter`` and ``folderincludes``; ``--dry-run``, ``--ignore-keyring`` and
        ``--update-keyring`` set the ``[general]`` options of those names.
        Applied after ``-k``, so that the command line has the last word.
        """
        parser = config.parser
        if self.single:
            config.set("general", "maxsyncaccounts", "1", where="-1")
            for repository in config.section_names("Repository"):
                config.set(f"Repository {repository}", "maxconnections", "1", where="-1")
        for flag, option in ((self.dry_run, "dry-run"), (self.ignore_keyring, "ignore-keyring"),
                             (self.update_keyring, "update-keyring")):
            if flag:  # as OfflineIMAP 8.0.3 passes them on: [general] options
                config.set("general", option, "True", where=f"--{option}")
        if self.syslog:  # -s: every UI also copies its lines to syslog
            config.set("general", "syslog", "True", where="-s")
        if self.once:
            parser.remove_option(parser.default_section, "autorefresh")
        for account in accounts:
            section = f"Account {account}"
            if not parser.has_section(section):
                continue  # reported by validation
            if self.once:
                parser.remove_option(section, "autorefresh")
            if self.quick:
                config.set(section, "quick", "-1", where="-q")
            if self.folders is not None and parser.has_option(section, "remoterepository"):
                remote = f"Repository {config.section(section).get('remoterepository')}"
                names = repr(self.folders).replace("%", "%%")
                config.set(remote, "folderfilter", f"lambda folder: folder in {names}",
                           where="-f")
                config.set(remote, "folderincludes", "[]", where="-f")


class _VersionAction(argparse.Action):
    """``--version``: prints :func:`version_line` and exits."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> NoReturn:
        print(version_line())
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one :class:`ConfigError` line (exit status 3)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"command line: {message} (see offlineimap --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; its ``--help`` documents every option and the exit statuses."""
    epilog = "exit status:\n" + "\n".join(
        f"  {int(code):>3}  {meaning}" for code, meaning in _EXIT_MEANINGS.items())
    epilog += ("\n\nconfiguration file: -c FILE, else $XDG_CONFIG_HOME/offlineimap/config "
               "(~/.config/offlineimap/config), else ~/.offlineimaprc")
    parser = _Parser(
        prog="offlineimap",
        description="Synchronize a remote IMAP server with a local Maildir or IMAP store.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("-V", "--version", action=_VersionAction, help="show the version, then exit")
    add("-1", dest="single", action="store_true",
        help="single connection, no threads: sets maxsyncaccounts and every maxconnections to 1")
    add("-P", dest="profile_dir", metavar="DIR",
        help="profile mode: write Python profiling data into DIR, which must not exist; "
             "needs -1")
    add("-a", dest="accounts", metavar="ACCOUNT[,ACCOUNT...]",
        help="sync these accounts instead of [general] accounts")
    add("-c", dest="config_path", metavar="FILE", help="read this configuration file")
    add("-d", dest="debug", metavar="TYPE[,TYPE...]",
        help="debug output for these types (imap, maildir, thread, or all); implies -1 unless "
             "thread is among them")
    add("-f", dest="folders", metavar="FOLDER[,FOLDER...]",
        help="sync only these folders (untranslated remote names); overrides folderfilter "
             "and folderincludes")
    add("-k", dest="overrides", metavar="[SECTION:]OPTION=VALUE", action="append", default=[],
        help="override a configuration option; the section defaults to general and '_' in it "
             "stands for a space (-k Account_Personal:autorefresh=30); repeatable")
    add("-l", dest="logfile", metavar="FILE",
        help="also log to FILE; with -d, debug output goes only there")
    add("-o", dest="once", action="store_true", help="run only once, ignoring autorefresh")
    add("-q", dest="quick", action="store_true",
        help="quick synchronizations only: do not update flags of unchanged folders")
    add("-u", dest="ui", metavar="UI",
        help="user interface, overriding [general] ui (case-insensitive): blinkenlights, "
             "ttyui, basic, quiet, machineui, syslog, or any a plugin provides")
    add("-s", dest="syslog", action="store_true", help="also log to syslog")
    add("--dry-run", dest="dry_run", action="store_true",
        help="show what would be done, change nothing")
    add("--info", dest="info", action="store_true",
        help="show information about the configured repositories and servers, sync nothing")
    add("--list-plugins", dest="list_plugins", action="store_true",
        help="list installed plugins: distribution, version, what each provides")
    add("--check-config", dest="check_config", action="store_true",
        help="check the configuration and report every problem; sync nothing")
    add("--delete-folder", dest="delete_folder", metavar="FOLDER",
        help="delete FOLDER on the remote repository of the one account (-a), then exit")
    add("--migrate-fmd5-using-nametrans", dest="migrate_fmd5", action="store_true",
        help="rename local Maildir files whose FMD5 was computed from the untranslated "
             "folder name (OfflineIMAP before 6.3.5), then exit")
    add("--mbnames-prune", dest="mbnames_prune", action="store_true",
        help="remove the [mbnames] entries of accounts no longer in accounts, then exit")
    add("--ignore-keyring", dest="ignore_keyring", action="store_true",
        help="do not look up passwords in the system keyring")
    add("--update-keyring", dest="update_keyring", action="store_true",
        help="store the password that was used in the system keyring")
    return parser


def version_line() -> str:
    """``offlineimap <version> (Python <version>)`` for ``--version``.

    The version comes from the package itself, the single source the build also reads
    (``[tool.hatch.version]``): asking ``importlib.metadata`` instead would cost more than the
    rest of ``--version`` together.
    """
    from offlineimap import __version__

    python = ".".join(map(str, sys.version_info[:3]))
    return f"offlineimap {__version__} (Python {python})"


def _split(value: Any) -> list[str]:
    return [item.strip() for item in str(value).split(",") if item.strip()]
