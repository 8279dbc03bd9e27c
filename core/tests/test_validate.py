"""check_config: every problem of a configuration, one line each, before anything connects.

The plugin host is built in-process as a distributor's subset would install it: IMAP,
Maildir, both status caches and two UIs, but no ``offlineimap-gmail``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from offlineimap.config import Config
from offlineimap.errors import MissingPluginError
from offlineimap.hookspecs import hookimpl
from offlineimap.plugins import PluginHost
from offlineimap.repository import Repository
from offlineimap.status import StatusBackend
from offlineimap.ui import UI
from offlineimap.validate import check_config, resolve_ui


class SubsetPlugin:
    """Registers the names of the plugins a subset without Gmail provides (classes unused)."""

    @staticmethod
    @hookimpl
    def offlineimap_repository_types(register):  # type: ignore[no-untyped-def]
        register("IMAP", type("IMAPRepository", (Repository,), {}))
        register("Maildir", type("MaildirRepository", (Repository,), {}))

    @staticmethod
    @hookimpl
    def offlineimap_status_backends(register):  # type: ignore[no-untyped-def]
        register("sqlite", type("SQLiteStatus", (StatusBackend,), {}))
        register("plain", type("PlainStatus", (StatusBackend,), {}))

    @staticmethod
    @hookimpl
    def offlineimap_uis(register):  # type: ignore[no-untyped-def]
        register("Basic", type("BasicUI", (UI,), {}))
        register("TTYUI", type("TTYUI", (UI,), {}))


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost()
    host.add("subset", SubsetPlugin, distribution="tests")
    host.finish()
    return host


GOOD = """\
[general]
accounts = work
ui = basic
fsync = yes

[Account work]
localrepository = local
remoterepository = remote
autorefresh = 2.5
status_backend = plain

[Repository local]
type = Maildir
localfolders = ~/Mail

[Repository remote]
type = IMAP
remotehost = imap.example.org
ssl = yes
maxconnections = 2
nametrans = lambda f: re.sub('^INBOX\\.', '', f)
folderfilter = lambda f: f not in ['Trash']
remotepasseval = get_password("imap.example.org")
"""


def _problems(text: str, host: PluginHost, accounts: list[str] | None = None) -> list[str]:
    config = Config.from_string(textwrap.dedent(text))
    return check_config(config, host, config.account_names() if accounts is None else accounts)


def test_good_configuration_has_no_problem(host: PluginHost) -> None:
    # remotepasseval names a function that does not exist: it is compiled, never called here.
    assert _problems(GOOD, host) == []


def test_gmail_type_without_the_gmail_plugin_is_one_line(host: PluginHost) -> None:
    # The manual's "Sync from GMail to another IMAP server" use case, with its account.
    problems = _problems((Path(__file__).parent / "seed_configs" / "gmail_to_imap.rc")
                         .read_text(), host)
    assert problems == [
        "[Repository Gmailserver-foo] type = Gmail: no installed plugin provides the repository "
        "type 'Gmail'; install the distribution 'offlineimap-gmail' (pip install "
        "offlineimap-gmail)"]


def test_missing_plugin_error_class(host: PluginHost) -> None:
    with pytest.raises(MissingPluginError):
        host.repository_types.resolve("GmailMaildir", "[Repository x] type")


def test_every_problem_at_once(host: PluginHost) -> None:
    problems = _problems("""\
        [general]
        accounts = work, ghost, half
        maxsyncaccounts = two

        [Account work]
        localrepository = local
        remoterepository = remote
        autorefresh = often
        maxage = last week

        [Account half]
        remoterepository = nowhere

        [Repository local]
        localfolders = ~/Mail

        [Repository remote]
        type = IMAP
        ssl = maybe
        maxconnections = many
        nametrans = lambda f: f.replace('.', '/'
        folderfilter = 'INBOX'
        foldersort = lambda x, y: cmp(x, y)
        folderincludes = 'Archive'
        remoteusereval = get_user(
        startdate = 01/02/2015
        """, host)
    assert problems == [
        "[general] maxsyncaccounts = 'two': expected a whole number",
        "[Account work] autorefresh = 'often': expected a number",
        "[Account work] maxage = 'last week': expected a number of days or a date (yyyy-mm-dd)",
        "[Repository local] is missing the option 'type' (IMAP, Maildir, Gmail, GmailMaildir, "
        "...)",
        "[Repository remote] ssl = 'maybe': expected yes or no (also true/false, on/off, 1/0)",
        "[Repository remote] maxconnections = 'many': expected a whole number",
        "[Repository remote] startdate = '01/02/2015': expected a date (yyyy-mm-dd)",
        "[Repository remote] nametrans: Python syntax error: '(' was never closed (line 1, "
        "column 20 of the expression)",
        "[Repository remote] folderfilter: expected a function such as a lambda, got str 'INBOX'",
        "[Repository remote] folderincludes: expected a list of folder names, got 'Archive'",
        "[Repository remote] remoteusereval: Python syntax error: '(' was never closed (line 1, "
        "column 9 of the expression)",
        "account 'ghost' has no [Account ghost] section",
        "[Account half] is missing the option 'localrepository'",
        "[Account half] remoterepository = nowhere: there is no [Repository nowhere] section",
    ]
    # foldersort names cmp, which Python 3 lacks: that fails when folders are sorted, not here.
    assert not any("foldersort" in p for p in problems)


def test_names_in_accounts_or_a(host: PluginHost) -> None:
    assert _problems(GOOD, host, accounts=["work", "play"]) == [
        "account 'play' has no [Account play] section"]
    assert _problems("[general]\n", host) == [
        "[general] accounts names no account: list at least one"]


def test_status_backend_from_account_or_general(host: PluginHost) -> None:
    text = GOOD.replace("status_backend = plain\n", "")
    assert _problems(text, host) == []  # sqlite by default
    assert _problems(text.replace("fsync = yes", "status_backend = berkeley"), host) == [
        "[general] status_backend = berkeley: unknown status backend (installed: plain, sqlite)"]
    assert _problems(GOOD.replace("= plain", "= Sqlite"), host) == []  # case-insensitive


def test_unknown_type_lists_installed_ones(host: PluginHost) -> None:
    assert _problems(GOOD.replace("type = Maildir", "type = mbox"), host) == [
        "[Repository local] type = mbox: unknown repository type (installed: IMAP, Maildir)"]


def test_ui_names(host: PluginHost) -> None:
    assert _problems(GOOD.replace("ui = basic", "ui = Curses.Blinkenlights"), host) == [
        "[general] ui = Blinkenlights: no installed plugin provides the ui 'Blinkenlights'; "
        "install the distribution 'offlineimap-ui' (pip install offlineimap-ui)"]
    config = Config.from_string(GOOD.replace("ui = basic", "ui = bogus"))
    assert check_config(config, host, ["work"], check_ui=False) == []
    # Old configurations list several, with module prefixes: the first installed one wins.
    ui = resolve_ui(host, "Curses.Blinkenlights, TTY.TTYUI, Noninteractive.Basic", "-u")
    assert ui.__name__ == "TTYUI"


def test_default_section_values_are_checked_where_they_apply(host: PluginHost) -> None:
    text = GOOD + "\n[DEFAULT]\nmaxconnections = lots\n"
    # [Repository remote] sets its own maxconnections; [Repository local] inherits the bad one.
    assert _problems(text, host) == [
        "[Repository local] maxconnections = 'lots': expected a whole number"]


def test_mbnames_section(host: PluginHost) -> None:
    text = GOOD + "\n[mbnames]\nenabled = sure\nheader = \"mailboxes \n"
    problems = _problems(text, host)
    assert problems[0] == "[mbnames] enabled = 'sure': expected yes or no (also true/false, " \
                          "on/off, 1/0)"
    assert problems[1].startswith("[mbnames] header: Python syntax error: unterminated string")
    assert len(problems) == 2


def test_pythonfile_names_are_used_to_check_expressions(host: PluginHost,
                                                        tmp_path: Path) -> None:
    helpers = tmp_path / "helpers.py"
    helpers.write_text("def trans(name):\n    return name.lower()\n")
    text = GOOD.replace("nametrans = lambda f: re.sub('^INBOX\\.', '', f)", "nametrans = trans")
    config = Config.from_string(text)
    assert check_config(config, host, ["work"]) == [
        "[Repository remote] nametrans: NameError: name 'trans' is not defined"]
    config.override([f"pythonfile={helpers}"])
    config.load_namespace({})
    assert check_config(config, host, ["work"]) == []
