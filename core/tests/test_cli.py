"""The command line: options, help, version, plugin listing, config checking, UI choice, errors.

In-process runs pass a test plugin through ``main(plugins=...)`` registering names no real
plugin uses (``TestStore``, ``teststatus``, ``testui``), so they hold whatever is installed.
The subprocess tests run the installed ``offlineimap`` entry point.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offlineimap.cli import choose_ui_name, main, make_ui
from offlineimap.config import Config
from offlineimap.errors import ConfigError, ExitCode
from offlineimap.hookspecs import hookimpl
from offlineimap.options import Options
from offlineimap.plugins import ENTRY_POINT_GROUP, PluginHost
from offlineimap.repository import Repository
from offlineimap.status import StatusBackend
from offlineimap.ui import UI

OFFLINEIMAP = str(Path(sys.executable).with_name("offlineimap"))


class RecordingUI(UI):
    """A UI that remembers what core did with it."""

    instances: list[RecordingUI] = []

    def __init__(self, config: Config, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.in_session = False
        self.sessions = 0
        RecordingUI.instances.append(self)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        self.in_session = True
        self.sessions += 1
        try:
            yield
        finally:
            self.in_session = False


class RefusingStore(Repository):
    """A repository type whose construction fails as a driver's option check would."""

    def __new__(cls, ctx: Any) -> RefusingStore:
        raise ConfigError(f"[Repository {ctx.name}] TestStore refuses to open "
                          f"(UI in session: {RecordingUI.instances[-1].in_session})")


class ExplodingUI(UI):
    def __init__(self, config: Config, **kwargs: Any) -> None:
        raise RuntimeError("boom")


class TestPlugin:
    @staticmethod
    @hookimpl
    def offlineimap_repository_types(register):  # type: ignore[no-untyped-def]
        register("TestStore", RefusingStore)

    @staticmethod
    @hookimpl
    def offlineimap_status_backends(register):  # type: ignore[no-untyped-def]
        register("teststatus", type("TestStatus", (StatusBackend,), {}))

    @staticmethod
    @hookimpl
    def offlineimap_uis(register):  # type: ignore[no-untyped-def]
        register("testui", RecordingUI)
        register("explodingui", ExplodingUI)


class BrokenPlugin:
    @staticmethod
    @hookimpl
    def offlineimap_uis(register):  # type: ignore[no-untyped-def]
        raise ImportError("curses is missing")


PLUGINS = [("tests", TestPlugin)]

CONFIG = """\
[general]
accounts = work
ui = testui
metadata = {tmp}/metadata
status_backend = teststatus

[Account work]
localrepository = local
remoterepository = remote

[Repository local]
type = TestStore

[Repository remote]
type = teststore
maxconnections = 2
nametrans = lambda f: f
"""


@pytest.fixture
def rc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # stevedore's cache
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    RecordingUI.instances.clear()
    path = tmp_path / "offlineimaprc"
    path.write_text(CONFIG.format(tmp=tmp_path))
    return path


def _without_plugin_warnings(err: str) -> str:
    """stderr less the warnings about installed plugins that fail to load (work in progress)."""
    return "".join(line for line in err.splitlines(keepends=True)
                   if not line.startswith("offlineimap: WARNING: plugin "))


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("offlineimap: ERROR: ")]


# -- options -------------------------------------------------------------------------------------


def test_every_option_parses(tmp_path: Path) -> None:
    options = Options.from_argv([
        "-1", "-P", str(tmp_path / "prof"), "-a", "one, two", "-c", "rc", "-d", "IMAP,maildir",
        "-f", "INBOX,Sent Mail", "-k", "ui=basic", "-k", "Account_one:autorefresh=3",
        "-l", "log", "-o", "-q", "-u", "Basic", "-s", "--dry-run", "--info",
        "--list-plugins", "--check-config",
    ])
    assert options == Options(
        config_path="rc", accounts=["one", "two"], folders=["INBOX", "Sent Mail"], once=True,
        quick=True, single=True, profile_dir=str(tmp_path / "prof"),
        debug=frozenset({"imap", "maildir"}), logfile="log", ui="Basic", dry_run=True,
        info=True, overrides=["ui=basic", "Account_one:autorefresh=3"], syslog=True,
        list_plugins=True, check_config=True)


def test_defaults() -> None:
    assert Options.from_argv([]) == Options()


def test_debug_all_and_single_threading() -> None:
    assert Options.from_argv(["-d", "all"]).debug == {"imap", "maildir", "thread"}
    assert Options.from_argv(["-d", "imap"]).single is True  # debugging forces -1 ...
    assert Options.from_argv(["-d", "thread,imap"]).single is False  # ... unless of threads


def test_profile_dir_needs_single_and_a_new_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^-P DIR needs -1"):
        Options.from_argv(["-P", str(tmp_path / "new")])
    with pytest.raises(ConfigError, match=r"must not exist yet"):
        Options.from_argv(["-1", "-P", str(tmp_path)])


def test_apply_to_config_as_offlineimap_does() -> None:
    config = Config.from_string(textwrap.dedent("""\
        [DEFAULT]
        autorefresh = 10
        [Account a]
        remoterepository = r
        autorefresh = 5
        [Account b]
        remoterepository = r
        [Repository r]
        maxconnections = 3
        folderfilter = lambda f: False
        folderincludes = ['Extra']
        """))
    Options.from_argv(["-1", "-o", "-q", "--dry-run", "-f", "INBOX,100%"]).apply_to(
        config, ["a", "b", "missing"])
    assert config.general.get_int("maxsyncaccounts") == 1
    assert config.section("Repository r").get_int("maxconnections") == 1
    assert config.general.get_bool("dry-run") is True
    assert not config.section("Account a").has("autorefresh")
    assert not config.section("Account b").has("autorefresh")  # [DEFAULT]'s is gone too
    assert config.section("Account a").get_int("quick") == -1
    config.load_namespace({})
    from offlineimap.config import folderfilter, folderincludes

    keep = folderfilter(config.section("Repository r"))
    assert [f for f in ("INBOX", "100%", "Sent") if keep(f)] == ["INBOX", "100%"]
    assert folderincludes(config.section("Repository r")) == []


# -- help, version, plugins ---------------------------------------------------------------------


def test_help_lists_every_option_and_exit_status() -> None:
    result = subprocess.run([OFFLINEIMAP, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for option in ("-h, --help", "-V, --version", "-1", "-P DIR", "-a ACCOUNT", "-c FILE",
                   "-d TYPE", "-f FOLDER", "-k [SECTION:]OPTION=VALUE", "-l FILE", "-o", "-q",
                   "-u UI", "-s", "--dry-run", "--info", "--list-plugins", "--check-config"):
        assert f"  {option}" in result.stdout, option
    for code in ExitCode:
        assert f"  {int(code):>3}  " in result.stdout
    assert "$XDG_CONFIG_HOME/offlineimap/config" in result.stdout


def test_version() -> None:
    result = subprocess.run([OFFLINEIMAP, "--version"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0
    version = importlib.metadata.version("offlineimap-core")
    assert result.stdout.startswith(f"offlineimap {version} (Python 3.")
    assert main(["-V"]) == 0


def test_list_plugins_shows_every_installed_plugin(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([OFFLINEIMAP, "--list-plugins"], capture_output=True, text=True,
                            check=False, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("offlineimap-core ")
    assert "password providers: core.passwords" in lines[0]
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        shown = [line for line in lines if f"({entry_point.name}):" in line
                 or f"plugin {entry_point.name!r}" in line]
        assert shown, f"{entry_point.name} missing from {lines}"


def test_list_plugins_in_process_shows_what_each_registers(capsys: pytest.CaptureFixture[str],
                                                           rc: Path) -> None:
    assert main(["--list-plugins"], plugins=[*PLUGINS, ("broken", BrokenPlugin)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert ("(in-process) - (tests): repository types: TestStore; status backends: "
            "teststatus; uis: testui, explodingui") in out
    assert ("FAILED: plugin 'broken' from (in-process) could not be loaded and was skipped: "
            "ImportError: curses is missing") in out


# -- configuration checking ---------------------------------------------------------------------


def test_check_config_good(rc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(rc), "--check-config"], plugins=PLUGINS) == 0
    out, err = capsys.readouterr()
    assert out == f"{rc}: no problems found (1 accounts checked)\n"
    assert _errors(err) == []


def test_check_config_reports_every_problem(rc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc.write_text(rc.read_text().replace("maxconnections = 2", "maxconnections = two")
                  + "[Account play]\nlocalrepository = local\n")
    argv = ["-c", str(rc), "--check-config", "-a", "work,play,ghost",
            "-k", "pythonfile=~/gone.py", "-k", "Repository_remote:nametrans=lambda f: (f"]
    assert main(argv, plugins=PLUGINS) == ExitCode.CONFIG
    home = rc.parent
    assert _errors(capsys.readouterr().err) == [f"offlineimap: ERROR: {line}" for line in [
        f"[general] pythonfile = {home}/gone.py: cannot read: No such file or directory",
        "[Repository remote] maxconnections = 'two': expected a whole number",
        "[Repository remote] nametrans: Python syntax error: '(' was never closed (line 1, "
        "column 11 of the expression)",
        "[Account play] is missing the option 'remoterepository'",
        "account 'ghost' has no [Account ghost] section",
    ]]


def test_override_reaches_the_check(rc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-c", str(rc), "--check-config", "-k", "Account_work:localrepository=elsewhere"]
    assert main(argv, plugins=PLUGINS) == ExitCode.CONFIG
    assert _errors(capsys.readouterr().err) == [
        "offlineimap: ERROR: [Account work] localrepository = elsewhere: there is no "
        "[Repository elsewhere] section"]


def test_config_lookup_through_home(rc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check-config"], plugins=PLUGINS) == ExitCode.CONFIG
    home = rc.parent
    assert _errors(capsys.readouterr().err) == [
        f"offlineimap: ERROR: no configuration file: neither {home}/.config/offlineimap/config "
        f"nor {home}/.offlineimaprc exists (use -c FILE)"]
    rc.rename(home / ".offlineimaprc")
    assert main(["--check-config"], plugins=PLUGINS) == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--bogus"], "command line: unrecognized arguments: --bogus (see offlineimap --help)"),
    (["-P", "x"], "-P DIR needs -1: profiling runs single-threaded"),
    (["-c"], "command line: argument -c: expected one argument (see offlineimap --help)"),
])
def test_command_line_errors_are_one_line(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == ExitCode.CONFIG
    assert capsys.readouterr().err == f"offlineimap: ERROR: {message}\n"


# -- the run -------------------------------------------------------------------------------------


def test_run_uses_the_ui_session_and_reports_errors_in_one_line(
        rc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(rc), "-o", "-u", "TESTUI", "-l", "log", "-d", "imap"],
                plugins=PLUGINS) == ExitCode.CONFIG
    ui = RecordingUI.instances[-1]
    assert (ui.logfile, ui.debug_types, ui.sessions, ui.in_session) == (
        "log", frozenset({"imap"}), 1, False)
    assert _errors(capsys.readouterr().err) == [
        "offlineimap: ERROR: [Repository remote] TestStore refuses to open (UI in session: "
        "True)"]


def test_internal_error_is_one_line_without_debug(rc: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(rc), "-u", "explodingui"], plugins=PLUGINS) == ExitCode.ERRORS
    err = _without_plugin_warnings(capsys.readouterr().err)
    assert err == ("offlineimap: internal error: RuntimeError: boom (run with -d all to see "
                   "the traceback)\n")
    assert main(["-c", str(rc), "-u", "explodingui", "-d", "all"], plugins=PLUGINS) == 1
    err = _without_plugin_warnings(capsys.readouterr().err)
    assert err.startswith("offlineimap: internal error: RuntimeError: boom\nTraceback")
    assert err.rstrip().endswith("RuntimeError: boom")


def test_plugin_failures_are_warnings(rc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(rc), "--check-config"],
                plugins=[*PLUGINS, ("broken", BrokenPlugin)]) == 0
    assert ("offlineimap: WARNING: plugin 'broken' from (in-process) could not be loaded and "
            "was skipped: ImportError: curses is missing") in capsys.readouterr().err


# -- choosing the UI -----------------------------------------------------------------------------


def test_ui_choice_order() -> None:
    with_ui = Config.from_string("[general]\nui = Quiet\n")
    without = Config.from_string("[general]\n")
    assert choose_ui_name(Options(ui="basic"), with_ui, stdout_is_tty=True) == ("basic", "-u")
    assert choose_ui_name(Options(), with_ui, stdout_is_tty=True) == ("Quiet", "[general] ui")
    assert choose_ui_name(Options(), without, stdout_is_tty=True) == ("ttyui", "default ui")
    assert choose_ui_name(Options(), without, stdout_is_tty=False) == ("basic", "default ui")
    assert choose_ui_name(Options(info=True), with_ui, stdout_is_tty=False) == (
        "ttyui", "--info")


def test_make_ui_resolves_case_insensitively() -> None:
    host = PluginHost()
    host.add("tests", TestPlugin, distribution="tests")
    host.finish()
    config = Config.from_string("[general]\nui = TestUI\n")
    ui = make_ui(Options(debug=frozenset({"imap"})), config, host, stdout_is_tty=False)
    assert isinstance(ui, RecordingUI)
    assert ui.debug_types == {"imap"}
    with pytest.raises(ConfigError, match=r"^-u = nope: unknown ui \(installed: explodingui, "
                                          r"testui\)$"):
        make_ui(Options(ui="nope"), config, host, stdout_is_tty=False)
