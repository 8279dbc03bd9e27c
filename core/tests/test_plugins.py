"""The plugin host: registration (eager and lazy), failures isolated to one line each."""

from __future__ import annotations

import sys
import types

import pytest

from offlineimap.errors import ConfigError, MissingPluginError
from offlineimap.hookspecs import hookimpl
from offlineimap.plugins import PluginHost
from offlineimap.repository import Repository


class Dummy(Repository):
    def list_folders(self) -> list[str]:
        return []

    def open_folder(self, name: str):
        raise NotImplementedError

    def create_folder(self, name: str) -> None:
        raise NotImplementedError


def host_with(*plugins: tuple[str, object]) -> PluginHost:
    host = PluginHost()
    for name, plugin in plugins:
        host.add(name, plugin, distribution="tests")
    host.finish()
    return host


class Lazy:
    @staticmethod
    @hookimpl
    def offlineimap_repository_types(register) -> None:
        register("Eager", Dummy)
        register("Lazy", "lazy_test_module:Dummy")
        register("Broken", "no_such_module_here:Nothing")


def test_lazy_reference_is_imported_only_when_resolved(monkeypatch) -> None:
    module = types.ModuleType("lazy_test_module")
    module.Dummy = Dummy  # type: ignore[attr-defined]
    host = host_with(("lazy", Lazy))
    assert host.repository_types.names() == ["Broken", "Eager", "Lazy"]
    monkeypatch.setitem(sys.modules, "lazy_test_module", module)
    assert host.repository_types.resolve("lazy", "[Repository r] type") is Dummy
    assert host.repository_types.resolve("EAGER", "[Repository r] type") is Dummy
    with pytest.raises(ConfigError, match="the plugin 'lazy' is broken"):
        host.repository_types.resolve("Broken", "[Repository r] type")


def test_missing_known_type_names_the_distribution() -> None:
    with pytest.raises(MissingPluginError, match="pip install offlineimap-imap"):
        host_with().repository_types.resolve("IMAP", "[Repository r] type")
    with pytest.raises(ConfigError, match="unknown repository type"):
        host_with().repository_types.resolve("Nonesuch", "[Repository r] type")


def test_a_misspelled_hook_fails_that_plugin_only() -> None:
    class Typo:
        @staticmethod
        @hookimpl
        def offlineimap_repository_typez(register) -> None:
            register("X", Dummy)

    host = host_with(("typo", Typo), ("lazy", Lazy))
    assert [info.name for info in host.plugins] == ["lazy"]
    (line,) = host.failure_lines()
    assert "'typo'" in line and "offlineimap_repository_typez" in line


def test_the_same_name_from_two_plugins_is_reported() -> None:
    class Again:
        @staticmethod
        @hookimpl
        def offlineimap_repository_types(register) -> None:
            register("eager", Dummy)

    host = host_with(("one", Lazy), ("two", Again))
    (line,) = host.failure_lines()
    assert "registered by both 'one' and 'two'" in line
