"""Configuration: OfflineIMAP's ``~/.offlineimaprc`` format, read unchanged.

:class:`Config` wraps :class:`configparser.ConfigParser` (sections ``[general]``,
``[Account X]``, ``[Repository X]``, ``[mbnames]``, ``[DEFAULT]``, ``%(name)s`` interpolation)
and hands out :class:`Section` views with typed getters whose errors name the section, the
option and the bad value. Python expressions in options are evaluated in :attr:`Config.namespace`
(``re``, names contributed by plugins, then the names of ``pythonfile``, which win).

The folder functions users write (``nametrans``, ``folderfilter``, ``folderincludes``,
``foldersort``) are turned into checked callables by :func:`nametrans`, :func:`folderfilter`,
:func:`folderincludes` and :func:`foldersort_key`: a broken expression, or one that raises
while a folder is being looked at, becomes one :class:`ConfigError` line naming the section, the
option and the folder, instead of a traceback in the middle of a sync.
"""

from __future__ import annotations

import configparser
import functools
import os
import re
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from offlineimap.errors import ConfigError
from offlineimap.folder_map import identity, keep_all

_MISSING: Any = object()
_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}

#: OfflineIMAP's defaults for ``[general] metadata`` and ``status_backend``.
DEFAULT_METADATA = "~/.offlineimap"
DEFAULT_STATUS_BACKEND = "sqlite"


def expand_path(value: str) -> Path:
    """``~`` first, then ``$VAR``: the order OfflineIMAP documents (as a shell would)."""
    return Path(os.path.expandvars(os.path.expanduser(value.strip())))


def config_file_candidates() -> list[Path]:
    """The default locations, in the order they are tried.

    ``$XDG_CONFIG_HOME/offlineimap/config`` (``~/.config`` when the variable is unset or
    empty), then ``~/.offlineimaprc``.
    """
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return [Path(xdg) / "offlineimap" / "config", Path(os.path.expanduser("~/.offlineimaprc"))]


def find_config_file(explicit: str | None) -> Path:
    """The configuration file to read: ``-c FILE`` if given, else the first default that exists.

    Raises :class:`ConfigError` naming every place looked at when there is none.
    """
    if explicit:
        path = Path(os.path.expanduser(explicit))
        if not path.is_file():
            reason = "is not a file" if path.exists() else "does not exist"
            raise ConfigError(f"configuration file {path} (-c) {reason}")
        return path
    candidates = config_file_candidates()
    for path in candidates:
        if path.is_file():
            return path
    looked = " nor ".join(str(path) for path in candidates)
    raise ConfigError(f"no configuration file: neither {looked} exists (use -c FILE)")


class Section:
    """A typed view of one section; options missing there fall back to ``[DEFAULT]``."""

    def __init__(self, config: Config, name: str) -> None:
        self.config = config
        self.name = name

    def __repr__(self) -> str:
        return f"<Section [{self.name}]>"

    def has(self, option: str) -> bool:
        return self.config.parser.has_option(self.name, option)

    def _raw(self, option: str, default: Any) -> Any:
        if not self.has(option):
            if default is _MISSING:
                raise ConfigError(f"[{self.name}] is missing the option {option!r}")
            return default
        try:
            return self.config.parser.get(self.name, option)
        except configparser.Error as exc:
            raise ConfigError(f"[{self.name}] {option}: {_first_line(exc)}") from None

    def _bad(self, option: str, value: str, expected: str) -> ConfigError:
        return ConfigError(f"[{self.name}] {option} = {value!r}: expected {expected}")

    def get(self, option: str, default: Any = _MISSING) -> Any:
        """The option's text, or ``default`` (``ConfigError`` when missing and no default)."""
        return self._raw(option, default)

    def get_bool(self, option: str, default: Any = _MISSING) -> Any:
        value = self._raw(option, default)
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise self._bad(option, value, "yes or no (also true/false, on/off, 1/0)")

    def get_int(self, option: str, default: Any = _MISSING) -> Any:
        value = self._raw(option, default)
        if not isinstance(value, str):
            return value
        try:
            return int(value.strip())
        except ValueError:
            raise self._bad(option, value, "a whole number") from None

    def get_float(self, option: str, default: Any = _MISSING) -> Any:
        value = self._raw(option, default)
        if not isinstance(value, str):
            return value
        try:
            return float(value.strip())
        except ValueError:
            raise self._bad(option, value, "a number") from None

    def get_list(self, option: str, default: Any = _MISSING) -> Any:
        """A comma-separated list, items stripped, empty items dropped."""
        value = self._raw(option, default)
        if not isinstance(value, str):
            return value
        return [item.strip() for item in value.split(",") if item.strip()]

    def get_path(self, option: str, default: Any = _MISSING) -> Any:
        """A path with ``~`` then ``$VAR`` expanded, as OfflineIMAP does for file options."""
        value = self._raw(option, default)
        if not isinstance(value, str):
            return value
        return expand_path(value)

    def get_eval(self, option: str, default: Any = _MISSING) -> Any:
        """The option evaluated as a Python expression in the configuration namespace."""
        value = self._raw(option, default)
        if not isinstance(value, str):
            return value
        return self.config.evaluate(value, where=f"[{self.name}] {option}")

    def get_or_eval(self, option: str, default: Any = _MISSING) -> Any:
        """``<option>eval`` evaluated if set (``remotehosteval``), else ``<option>`` as text."""
        if self.has(option + "eval"):
            return self.get_eval(option + "eval")
        return self.get(option, default)

    def options(self) -> list[str]:
        return self.config.parser.options(self.name) if self.config.parser.has_section(
            self.name) else []


class Config:
    """A parsed configuration file with ``-k`` overrides applied."""

    def __init__(self, parser: configparser.ConfigParser, path: Path | None = None) -> None:
        self.parser = parser
        self.path = path
        self.namespace: dict[str, Any] = {"re": re}

    @classmethod
    def from_string(cls, text: str, path: Path | None = None) -> Config:
        parser = _new_parser()
        where = str(path) if path else "configuration"
        try:
            parser.read_string(text, source=where)
        except configparser.MissingSectionHeaderError as exc:
            raise ConfigError(f"{where}, line {exc.lineno}: {exc.line.strip()!r} comes before "
                              "the first [section] header") from None
        except configparser.ParsingError as exc:
            lineno = exc.errors[0][0]
            line = text.splitlines()[lineno - 1]
            more = f" (and {len(exc.errors) - 1} more lines)" if len(exc.errors) > 1 else ""
            raise ConfigError(f"{where}, line {lineno}: cannot read {line.strip()!r}: expected "
                              f"'option = value'{more}") from None
        except configparser.Error as exc:
            raise ConfigError(f"{where}: {_first_line(exc)}") from None
        return cls(parser, path)

    @classmethod
    def from_file(cls, path: Path) -> Config:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"configuration file {path} is not UTF-8 text") from None
        return cls.from_string(text, path)

    def section(self, name: str) -> Section:
        return Section(self, name)

    def has_section(self, name: str) -> bool:
        return self.parser.has_section(name)

    def section_names(self, kind: str) -> list[str]:
        """Names of the ``[<kind> X]`` sections (``kind`` is ``Account`` or ``Repository``)."""
        prefix = kind + " "
        return [name[len(prefix):] for name in self.parser.sections() if name.startswith(prefix)]

    @property
    def general(self) -> Section:
        return Section(self, "general")

    def override(self, items: Iterable[str]) -> None:
        """Apply ``-k [section:]option=value`` overrides, in order.

        The section defaults to ``general``; ``_`` in a section name stands for a space
        (``-k Account_Personal:autorefresh=30``). Names that contain ``_`` themselves
        (``[Repository Gmail_local]``) are found too: when the all-spaces reading names no
        section, the one with only the first ``_`` as a space, then the name as written, are
        tried. A section that does not exist is created.
        """
        for item in items:
            key, sep, value = item.partition("=")
            section, colon, option = key.rpartition(":")
            section = self._override_section(section.strip()) if colon else "general"
            option = option.strip()
            if not sep or not option or not section:
                raise ConfigError(f"-k {item}: expected [section:]option=value")
            self.set(section, option, value, where=f"-k {item}")

    def _override_section(self, written: str) -> str:
        readings = [written.replace("_", " "), written.replace("_", " ", 1), written]
        return next((name for name in readings if self.parser.has_section(name)), readings[0])

    def set(self, section: str, option: str, value: str, *, where: str) -> None:
        """Set one option (creating the section); ``where`` names the source in errors."""
        if section.lower() == "default":
            section = self.parser.default_section
        elif not self.parser.has_section(section):
            self.parser.add_section(section)
        try:
            self.parser.set(section, option, value)
        except ValueError as exc:  # a lone '%' that interpolation cannot read
            raise ConfigError(f"{where}: {_first_line(exc)} (write % as %%)") from None

    def evaluate(self, expression: str, where: str) -> Any:
        """Evaluate a Python expression from the configuration; errors become one line."""
        code = compile_expression(expression, where)
        try:
            return eval(code, self.namespace)  # the user's own configuration, trusted as code
        except Exception as exc:
            raise ConfigError(f"{where}: {type(exc).__name__}: {_first_line(exc)}") from None

    def account_names(self) -> list[str]:
        return self.general.get_list("accounts", [])

    def metadata_dir(self, *, create: bool = False) -> Path:
        """``[general] metadata`` (default ``~/.offlineimap``), ``~`` and ``$VAR`` expanded.

        With ``create``, the directory is made (mode 0700, as OfflineIMAP does) if missing.
        """
        path = self.general.get_path("metadata", expand_path(DEFAULT_METADATA))
        if create:
            try:
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"[general] metadata = {path}: cannot create: {exc.strerror}") from None
        return path

    def status_backend_name(self, account: str) -> tuple[str, str]:
        """The account's ``status_backend`` and where it was set, for error messages.

        Read from ``[Account X]``, then ``[general]`` (old configurations put it there);
        the default is ``sqlite``, OfflineIMAP's default since 7.x.
        """
        for section in (self.section(f"Account {account}"), self.general):
            if section.has("status_backend"):
                return section.get("status_backend").strip(), f"[{section.name}] status_backend"
        return DEFAULT_STATUS_BACKEND, "status_backend (default)"

    def load_namespace(self, plugin_names: dict[str, Any]) -> None:
        """Build the namespace of config expressions: ``re``, plugin names, then ``pythonfile``.

        ``plugin_names`` is :attr:`offlineimap.plugins.PluginHost.namespace`. Names defined by
        the user's ``pythonfile`` win over plugin names; a missing or broken file is one line
        naming the file, the line and the error.
        """
        namespace: dict[str, Any] = {"re": re, **plugin_names}
        if self.general.has("pythonfile"):
            path = self.general.get_path("pythonfile")
            namespace.update(_run_pythonfile(path))
        self.namespace = namespace

    def writable_by_others(self) -> list[str]:
        """One warning per file of code (this file, ``pythonfile``) that any user may change.

        Both run as the user (``pythonfile``, every ``*eval``), so whoever can write them can
        run commands as the user. A warning rather than an error: the file may live on a file
        system without Unix modes, and refusing would stop mail over a permission bit.
        """
        paths = [self.path] if self.path is not None else []
        if self.general.has("pythonfile"):
            paths.append(self.general.get_path("pythonfile"))
        lines = []
        for path in paths:
            try:
                mode = path.stat().st_mode
            except OSError:
                continue  # a missing pythonfile is load_namespace's error to report
            if mode & 0o002:
                lines.append(f"{path} is writable by other users, who could make offlineimap "
                             f"run their code as you: chmod o-w {path}")
        return lines


# -------------------------------------------------------------------------------------------------
# Folder functions written by the user
# -------------------------------------------------------------------------------------------------


def compile_expression(expression: str, where: str) -> Any:
    """Compile (not run) a configuration expression; a syntax error is one line.

    Warnings about the user's text are silenced: ``re.sub('^INBOX\\.', ...)``, with its
    invalid escape, is in OfflineIMAP's own sample configuration and works.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            return compile(expression.strip(), where, "eval")
    except SyntaxError as exc:
        column = f", column {exc.offset}" if exc.offset else ""
        raise ConfigError(f"{where}: Python syntax error: {exc.msg} (line {exc.lineno or 1}"
                          f"{column} of the expression)") from None


def user_function(section: Section, option: str) -> Callable[..., Any] | None:
    """The option evaluated to a callable, wrapped so that its failures become one line.

    ``None`` when the option is not set. The wrapper turns an exception raised inside the
    user's function into a :class:`ConfigError` naming the section, the option and the
    arguments it was called with (folder names).
    """
    if not section.has(option):
        return None
    value = section.get_eval(option)
    where = f"[{section.name}] {option}"
    if not callable(value):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ConfigError(f"{where}: expected a function such as a lambda, "
                          f"got {type(value).__name__} {shown}")

    @functools.wraps(value)
    def checked(*args: Any) -> Any:
        try:
            return value(*args)
        except Exception as exc:
            names = " and ".join(repr(arg) for arg in args)
            raise ConfigError(f"{where} failed for folder {names}: {type(exc).__name__}: "
                              f"{_first_line(exc)}") from None

    return checked


def nametrans(section: Section) -> Callable[[str], str]:
    """``nametrans`` as a checked ``name -> name`` function (the identity when unset)."""
    function = user_function(section, "nametrans")
    if function is None:
        return identity

    def translate(name: str) -> str:
        result = function(name)
        if not isinstance(result, str):
            raise ConfigError(f"[{section.name}] nametrans returned {result!r} for folder "
                              f"{name!r}: expected a folder name (a string)")
        return result

    return translate


def folderfilter(section: Section) -> Callable[[str], bool]:
    """``folderfilter`` as a checked ``name -> bool`` function (keep everything when unset)."""
    function = user_function(section, "folderfilter")
    if function is None:
        return keep_all
    return lambda name: bool(function(name))


def folderincludes(section: Section) -> list[str]:
    """``folderincludes``: the extra folder names the expression lists (``[]`` when unset)."""
    if not section.has("folderincludes"):
        return []
    value = section.get_eval("folderincludes")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[{section.name}] folderincludes: expected a list of folder names, "
                          f"got {value!r}")
    return list(value)


def foldersort_key(section: Section) -> Callable[[str], Any] | None:
    """``foldersort`` (a ``cmp(x, y)`` function) as a sort key; ``None`` when unset."""
    function = user_function(section, "foldersort")
    return functools.cmp_to_key(function) if function is not None else None


# -------------------------------------------------------------------------------------------------
# Helpers
# -------------------------------------------------------------------------------------------------


def _run_pythonfile(path: Path) -> dict[str, Any]:
    """Execute the user's ``pythonfile``; return the names it defines (dunder names left out)."""
    where = f"[general] pythonfile = {path}"
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror}") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: Python syntax error: {exc.msg}") from None
    names: dict[str, Any] = {"__name__": "offlineimap_pythonfile", "__file__": str(path)}
    try:
        exec(code, names)  # the user's own helper file, trusted as code
    except Exception as exc:
        line = _line_in(exc, str(path))
        raise ConfigError(f"{path}, line {line}: {type(exc).__name__}: {_first_line(exc)}") \
            from None
    return {name: value for name, value in names.items() if not name.startswith("__")}


def _line_in(exc: BaseException, filename: str) -> int | str:
    """The last line of ``filename`` in the exception's traceback ("?" if none)."""
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__)
             if frame.filename == filename]
    return lines[-1] if lines and lines[-1] is not None else "?"


def _new_parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    parser.optionxform = str.lower  # type: ignore[assignment,method-assign]
    return parser


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
