"""Configuration: OfflineIMAP's ``~/.offlineimaprc`` format, read unchanged.

:class:`Config` wraps :class:`configparser.ConfigParser` (sections ``[general]``,
``[Account X]``, ``[Repository X]``, ``[mbnames]``, ``[DEFAULT]``, ``%(name)s`` interpolation)
and hands out :class:`Section` views with typed getters whose errors name the section, the
option and the bad value. Python expressions in options are evaluated in :attr:`Config.namespace`.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from offlineimap.errors import ConfigError

_MISSING: Any = object()
_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


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
            raise ConfigError(f"[{self.name}] {option}: {exc.message.splitlines()[0]}") from None

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
        """A path with ``~`` and ``$VAR`` expanded, as OfflineIMAP does for file options."""
        value = self._raw(option, default)
        if not isinstance(value, str):
            return value
        return Path(os.path.expanduser(os.path.expandvars(value.strip())))

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
        try:
            parser.read_string(text, source=str(path) if path else "<config>")
        except configparser.Error as exc:
            where = str(path) if path else "configuration"
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

    @property
    def general(self) -> Section:
        return Section(self, "general")

    def override(self, items: Iterable[str]) -> None:
        """Apply ``-k [section:]option=value`` overrides (``_`` in a section means a space)."""
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"-k {item}: expected [section:]option=value")
            section, colon, option = key.rpartition(":")
            section = section.replace("_", " ") if colon else "general"
            if not self.parser.has_section(section):
                self.parser.add_section(section)
            self.parser.set(section, option.strip(), value)

    def evaluate(self, expression: str, where: str) -> Any:
        """Evaluate a Python expression from the configuration; errors become one line."""
        try:
            code = compile(expression.strip(), where, "eval")
        except SyntaxError as exc:
            raise ConfigError(f"{where}: Python syntax error: {exc.msg}") from None
        try:
            return eval(code, self.namespace)  # noqa: S307  the user's own configuration
        except Exception as exc:
            raise ConfigError(f"{where}: {type(exc).__name__}: {exc}") from None

    def account_names(self) -> list[str]:
        return self.general.get_list("accounts", [])


def _new_parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    parser.optionxform = str.lower  # type: ignore[assignment,method-assign]
    return parser


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
