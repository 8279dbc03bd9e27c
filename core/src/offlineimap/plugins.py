"""Plugin loading: stevedore finds installed plugins, pluggy connects them.

This is the only module that imports stevedore. One :class:`PluginHost` is built per run (and
per test); there is no global plugin manager.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from offlineimap import hookspecs
from offlineimap.errors import ConfigError, MissingPluginError
from offlineimap.repository import Repository
from offlineimap.status import StatusBackend
from offlineimap.ui import UI

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "offlineimap.plugins"

#: Which distribution provides the names users write in configuration files. Only used to word
#: the error for a name nobody registered; third-party plugins need not appear here.
KNOWN_PROVIDERS: dict[str, dict[str, str]] = {
    "repository type": {
        "imap": "offlineimap-imap",
        "maildir": "offlineimap-maildir",
        "gmail": "offlineimap-gmail",
        "gmailmaildir": "offlineimap-gmail",
    },
    "status backend": {"plain": "offlineimap-status-plain", "sqlite": "offlineimap-status-sqlite"},
    "ui": {
        name: "offlineimap-ui"
        for name in ("blinkenlights", "ttyui", "basic", "quiet", "machineui", "syslog")
    },
}


@dataclasses.dataclass
class PluginInfo:
    """One loaded plugin, for ``offlineimap --list-plugins``."""

    name: str  #: entry point name
    #: The distribution's name, or the entry point that declares the plugin: stevedore's cached
    #: entry points do not say which distribution they came from, and finding out reads the
    #: metadata of every installed distribution, so that waits until someone asks.
    origin: str | EntryPoint
    provides: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def distribution(self) -> str:
        if not isinstance(self.origin, str):
            self.origin = _distribution_of(self.origin)
        return self.origin

    @property
    def version(self) -> str:
        """Looked up only when shown: reading package metadata costs a sync's start-up time."""
        return _version_of(self.distribution)


@dataclasses.dataclass
class LoadFailure:
    name: str
    distribution: str
    reason: str


class _Registry:
    """Names registered by plugins of one kind (``repository type``, ``status backend``, ...)."""

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self.entries: dict[str, tuple[str, Any]] = {}  # lower name -> (display name, class)
        self.owner: dict[str, str] = {}  # lower name -> plugin name

    def register(self, plugin: str, name: str, cls: Any) -> None:
        """Record ``cls``: a class, or ``"module:Class"`` imported only when first used."""
        if isinstance(cls, str):
            if ":" not in cls:
                raise TypeError(f"plugin {plugin!r} registered {self.kind} {name!r} as {cls!r}: "
                                "a lazy reference is written 'module:Class'")
        else:
            self._check(plugin, name, cls)
        key = name.lower()
        if key in self.entries:
            raise ValueError(f"{self.kind} {name!r} is registered by both "
                             f"{self.owner[key]!r} and {plugin!r}")
        self.entries[key] = (name, cls)
        self.owner[key] = plugin

    def _check(self, plugin: str, name: str, cls: Any) -> None:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"plugin {plugin!r} registered {self.kind} {name!r} that is not a "
                            f"subclass of {self.base.__name__}")

    def resolve(self, value: str, where: str) -> Any:
        """Return the class registered as ``value`` or raise a one-line :class:`ConfigError`."""
        key = value.lower()
        if key in self.entries:
            display, cls = self.entries[key]
            if isinstance(cls, str):
                cls = self._import(display, cls, where)
                self.entries[key] = (display, cls)
            return cls
        dist = KNOWN_PROVIDERS.get(self.kind, {}).get(key)
        if dist:
            raise MissingPluginError(
                f"{where} = {value}: no installed plugin provides the {self.kind} {value!r}; "
                f"install the distribution {dist!r} (pip install {dist})"
            )
        known = ", ".join(sorted(display for display, _ in self.entries.values())) or "none"
        raise ConfigError(f"{where} = {value}: unknown {self.kind} (installed: {known})")

    def _import(self, name: str, reference: str, where: str) -> Any:
        module_name, _, attribute = reference.partition(":")
        plugin = self.owner[name.lower()]
        try:
            cls = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where} = {name}: the plugin {plugin!r} is broken: "
                              f"{_one_line(exc)}") from None
        try:
            self._check(plugin, name, cls)
        except TypeError as exc:
            raise ConfigError(f"{where} = {name}: {exc}") from None
        return cls

    def names(self) -> list[str]:
        return sorted(display for display, _ in self.entries.values())


class PluginHost:
    """The plugins of one run: their hooks, and the names they registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.failures: list[LoadFailure] = []
        self.repository_types = _Registry("repository type", Repository)
        self.status_backends = _Registry("status backend", StatusBackend)
        self.uis = _Registry("ui", UI)
        self.namespace: dict[str, Any] = {}

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, extra: Iterable[tuple[str, object]] = ()) -> PluginHost:
        """Load core's own plugins, every installed plugin, then ``extra`` ``(name, plugin)``."""
        host = cls()
        from offlineimap import passwords

        host.add("core.passwords", passwords, distribution="offlineimap-core")
        host._discover()
        for name, plugin in extra:
            host.add(name, plugin, distribution="(in-process)")
        host.finish()
        return host

    def _discover(self) -> None:
        from stevedore import ExtensionManager

        def on_failure(_manager: Any, entry_point: Any, exc: BaseException) -> None:
            dist = _distribution_of(entry_point)
            self.failures.append(LoadFailure(entry_point.name, dist, _one_line(exc)))

        manager = ExtensionManager(
            namespace=ENTRY_POINT_GROUP,
            invoke_on_load=False,
            on_load_failure_callback=on_failure,
        )
        for ext in manager:
            self.add(ext.name, ext.plugin, distribution=ext.entry_point)

    def add(self, name: str, plugin: object, *, distribution: str | EntryPoint) -> None:
        """Register one plugin module or object with pluggy.

        :param distribution: the distribution's name, or the entry point that loaded the
            plugin (its distribution is then looked up only if it is shown).
        """
        info = PluginInfo(name, distribution)
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a plugin with a malformed hookimpl: report, carry on
            self.failures.append(LoadFailure(name, info.distribution, _one_line(exc)))
            return
        self.plugins.append(info)

    def finish(self) -> None:
        """Check every hookimpl matches a spec, then collect registrations.

        A plugin with a hook that matches no specification (a typo) is unregistered and
        reported as a load failure, so one broken plugin does not stop the others.
        """
        while True:
            try:
                self.pm.check_pending()
                break
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or "?"
                self.pm.unregister(exc.plugin)
                info = next((p for p in self.plugins if p.name == name), None)
                self.plugins = [p for p in self.plugins if p.name != name]
                dist = info.distribution if info else "unknown distribution"
                self.failures.append(LoadFailure(name, dist, _one_line(exc)))
        for info in self.plugins:
            self._collect(info)

    def _collect(self, info: PluginInfo) -> None:
        plugin = self.pm.get_plugin(info.name)
        calls: list[tuple[str, _Registry | None]] = [
            ("offlineimap_repository_types", self.repository_types),
            ("offlineimap_status_backends", self.status_backends),
            ("offlineimap_uis", self.uis),
            ("offlineimap_config_namespace", None),
        ]
        for hook_name, registry in calls:
            impl = getattr(plugin, hook_name, None)
            if impl is None:
                continue
            provided: list[str] = []

            def register(name: str, value: Any, _reg: _Registry | None = registry,
                         _provided: list[str] = provided) -> None:
                if _reg is None:
                    self.namespace[name] = value
                else:
                    _reg.register(info.name, name, value)
                _provided.append(name)

            try:
                impl(register=register)
            except Exception as exc:
                self.failures.append(LoadFailure(info.name, info.distribution, _one_line(exc)))
                continue
            if provided:
                kind = registry.kind + "s" if registry else "config names"
                info.provides.setdefault(kind, []).extend(provided)
        if hasattr(plugin, "offlineimap_get_password"):
            info.provides.setdefault("password providers", []).append(info.name)

    # -- use -------------------------------------------------------------------------------------

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.pm.hook

    def register_listener(self, listener: object, name: str) -> None:
        """Register an object (the chosen UI instance) to receive event hooks."""
        self.pm.register(listener, name=name)

    def failure_lines(self) -> list[str]:
        return [
            f"plugin {f.name!r} from {f.distribution} could not be loaded and was skipped: "
            f"{f.reason}"
            for f in self.failures
        ]


def _distribution_of(entry_point: Any) -> str:
    dist = getattr(entry_point, "dist", None)
    name = getattr(dist, "name", None)
    if name:
        return name
    # stevedore's cached entry points carry no distribution: find the one that declares it.
    key = (entry_point.name, entry_point.value)
    return _declaring_distributions().get(key, "unknown distribution")


@functools.cache
def _declaring_distributions() -> dict[tuple[str, str], str]:
    import importlib.metadata

    return {
        (ep.name, ep.value): dist.metadata["Name"]
        for dist in importlib.metadata.distributions()
        for ep in dist.entry_points
        if ep.group == ENTRY_POINT_GROUP
    }


def _version_of(distribution: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")

