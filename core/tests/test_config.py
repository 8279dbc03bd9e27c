"""Configuration: lookup order, interpolation, -k, pythonfile, folder functions, typed errors.

The two example configurations come from the manual's USE CASES section (the seed
``001_aed325d3a12c132b.txt``), with the ``[general]``/``[Account]`` sections the GMail example
leaves out added so that it is a whole file.
"""

from __future__ import annotations

import stat
import textwrap
import warnings
from pathlib import Path

import pytest

from offlineimap import config as cfg
from offlineimap.config import Config, find_config_file
from offlineimap.errors import ConfigError

HELPERS = '''\
import re
def oimaptransfolder_acc1(foldername):
    if(foldername == "INBOX"):
        retval = "acc1"
    else:
        retval = "acc1." + foldername
    retval = re.sub("/", ".", retval)
    return retval

def oimaptransfolder_acc2(foldername):
    if(foldername == "INBOX"):
        retval = "acc2"
    else:
        retval = "acc2." + foldername
    retval = re.sub("/", ".", retval)
    return retval

def get_username(host):
    return "user@" + host

def get_password(host):
    return "secret-for-" + host
'''

#: The man page's USE CASES configurations, shared with test_validate.py.
SEEDS = Path(__file__).parent / "seed_configs"
TWO_IMAP = (SEEDS / "two_imap.rc").read_text()

GMAIL_TO_IMAP = (SEEDS / "gmail_to_imap.rc").read_text()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh $HOME, with $XDG_CONFIG_HOME unset."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


@pytest.fixture
def two_imap(home: Path) -> Config:
    helpers = home / "bin" / "offlineimap-helpers.py"
    helpers.parent.mkdir()
    helpers.write_text(HELPERS)
    config = Config.from_string(TWO_IMAP)
    config.load_namespace({})
    return config


def test_two_imap_use_case_name_translation(two_imap: Config) -> None:
    acc1 = cfg.nametrans(two_imap.section("Repository acc1remote"))
    acc2 = cfg.nametrans(two_imap.section("Repository acc2remote"))
    assert acc1("INBOX") == "acc1"
    assert acc1("Sent") == "acc1.Sent"
    assert acc1("archiv/2011") == "acc1.archiv.2011"
    assert acc2("INBOX") == "acc2"
    assert acc2("lists/python") == "acc2.lists.python"
    # The local side has no nametrans: names pass unchanged.
    assert cfg.nametrans(two_imap.section("Repository acc1local"))("acc1.Sent") == "acc1.Sent"


def test_two_imap_use_case_folderfilter_spans_lines(two_imap: Config) -> None:
    keep = cfg.folderfilter(two_imap.section("Repository acc1remote"))
    assert [f for f in ("INBOX", "Drafts", "Sent", "archiv", "Spam", "Trash") if keep(f)] == [
        "INBOX", "Drafts", "Sent", "archiv"]
    # acc2 has no folderfilter: every folder is synced.
    assert cfg.folderfilter(two_imap.section("Repository acc2remote"))("Spam") is True


def test_two_imap_use_case_values(two_imap: Config, home: Path) -> None:
    assert two_imap.account_names() == ["acc1", "acc2"]
    assert two_imap.general.get_int("maxsyncaccounts") == 2
    assert two_imap.section("Account acc2").get_float("autorefresh") == 4.0
    remote = two_imap.section("Repository acc1remote")
    assert remote.get_bool("ssl") is True
    assert remote.get_int("maxconnections") == 2
    assert remote.get_eval("remoteusereval") == "user@imap.acc1.net"
    assert two_imap.section("Repository acc1local").get_path("localfolders") == (
        home / "Mail" / "acc1")


def test_gmail_use_case_puts_everything_under_inbox() -> None:
    config = Config.from_string(GMAIL_TO_IMAP)
    config.load_namespace({})
    trans = cfg.nametrans(config.section("Repository Gmailserver-foo"))
    assert trans("[Gmail]/Sent Mail") == "INBOX.[Gmail]/Sent Mail"
    assert trans("INBOX") == "INBOX.INBOX"
    assert cfg.nametrans(config.section("Repository TheOtherImap"))("INBOX.x") == "INBOX.x"


def test_manual_transpose_example_with_backslash_continuation() -> None:
    config = Config.from_string(textwrap.dedent("""\
        [Repository gmx]
        nametrans: lambda folder: folder if folder in ['INBOX', 'Drafts', 'Sent'] \\
                                  else re.sub(r'^', r'GMX.', folder)
        """))
    trans = cfg.nametrans(config.section("Repository gmx"))
    assert trans("INBOX") == "INBOX"
    assert trans("Lists") == "GMX.Lists"


def test_default_section_and_interpolation() -> None:
    config = Config.from_string(textwrap.dedent("""\
        [DEFAULT]
        gmailtrashfolder = [Gmail]/Papierkorb
        base = /srv/mail

        [Repository Gmail1]
        trashfolder: %(gmailtrashfolder)s
        localfolders = %(base)s/one
        remotepass = myp%%ssword
        """))
    section = config.section("Repository Gmail1")
    assert section.get("trashfolder") == "[Gmail]/Papierkorb"
    assert section.get("localfolders") == "/srv/mail/one"
    assert section.get("remotepass") == "myp%ssword"
    assert config.section("Repository other").get("base", None) is None  # no such section


def test_bad_interpolation_is_one_line() -> None:
    config = Config.from_string("[general]\nmetadata = %(nowhere)s/x\n")
    with pytest.raises(ConfigError, match=r"^\[general\] metadata: .*nowhere") as err:
        config.general.get("metadata")
    assert "\n" not in str(err.value)


def test_overrides_reach_the_right_section(two_imap: Config) -> None:
    two_imap.override([
        "Account_acc1:autorefresh=30",
        "ui=basic",
        "Repository_acc2remote:maxconnections=5",
        "Account_acc1:autorefresh=45",  # repeatable: the last one wins
        "DEFAULT:fsync=no",
        "Account_new one:quick=3",
    ])
    assert two_imap.section("Account acc1").get_float("autorefresh") == 45.0
    assert two_imap.section("Account acc2").get_float("autorefresh") == 4.0
    assert two_imap.general.get("ui") == "basic"
    assert two_imap.section("Repository acc2remote").get_int("maxconnections") == 5
    assert two_imap.section("Repository acc1remote").get_bool("fsync") is False
    assert two_imap.section("Account new one").get_int("quick") == 3


def test_override_finds_sections_whose_names_contain_underscores() -> None:
    config = Config.from_string("[Repository Gmail_local]\n[Repository a b_c]\n")
    config.override(["Repository_Gmail_local:sep=/", "Repository_a_b_c:sep=."])
    assert config.section("Repository Gmail_local").get("sep") == "/"
    assert config.section("Repository a b c").get("sep") == "."  # none fits: the manual's rule
    assert not config.section("Repository a b_c").has("sep")


@pytest.mark.parametrize("item", ["noequals", "=value", "Account_x:=1"])
def test_malformed_override(item: str) -> None:
    with pytest.raises(ConfigError, match=r"expected \[section:\]option=value"):
        Config.from_string("[general]\n").override([item])


def test_override_with_lone_percent_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^-k remotepass=50%off: .*write % as %%"):
        Config.from_string("[general]\n").override(["remotepass=50%off"])


@pytest.mark.parametrize(("text", "pattern"), [
    ("[Repository r]\nmaxconnections = many\n",
     r"^\[Repository r\] maxconnections = 'many': expected a whole number$"),
    ("[Repository r]\nssl = perhaps\n", r"^\[Repository r\] ssl = 'perhaps': expected yes or no"),
    ("[Repository r]\nautorefresh = soon\n", r"^\[Repository r\] autorefresh = 'soon': expected"),
])
def test_typed_getter_errors_name_section_option_and_value(text: str, pattern: str) -> None:
    section = Config.from_string(text).section("Repository r")
    getter = {"maxconnections": section.get_int, "ssl": section.get_bool,
              "autorefresh": section.get_float}
    option = text.split("\n")[1].split(" ")[0]
    with pytest.raises(ConfigError, match=pattern):
        getter[option](option)


def test_missing_option_without_default() -> None:
    expected = r"^\[Account a\] is missing the option 'localrepository'"
    with pytest.raises(ConfigError, match=expected):
        Config.from_string("[Account a]\n").section("Account a").get("localrepository")


def test_parse_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rc"
    path.write_text("[general]\naccounts = a\nthis line is not an option\n")
    with pytest.raises(ConfigError, match=rf"^{path}, line 3: cannot read 'this line is not"):
        Config.from_file(path)
    path.write_text("accounts = a\n[general]\n")
    with pytest.raises(ConfigError, match=rf"^{path}, line 1: 'accounts = a' comes before"):
        Config.from_file(path)
    path.write_text("[general]\n[general]\n")
    with pytest.raises(ConfigError, match=r"already exists"):
        Config.from_file(path)


def test_nametrans_syntax_error_is_one_line() -> None:
    config = Config.from_string("[Repository r]\nnametrans = lambda f: f.replace('.', '/'\n")
    with pytest.raises(ConfigError) as err:
        cfg.nametrans(config.section("Repository r"))
    message = str(err.value)
    assert message.startswith("[Repository r] nametrans: Python syntax error:")
    assert "\n" not in message


def test_nametrans_that_is_not_callable() -> None:
    config = Config.from_string("[Repository r]\nnametrans = 'INBOX.' + 'x'\n")
    with pytest.raises(ConfigError, match=r"^\[Repository r\] nametrans: expected a function.*"
                                          r"got str 'INBOX.x'"):
        cfg.nametrans(config.section("Repository r"))


def test_exception_inside_user_lambda_names_section_option_and_folder() -> None:
    config = Config.from_string("[Repository r]\nnametrans = lambda f: {'INBOX': 'in'}[f]\n"
                                "folderfilter = lambda f: 1 / 0\n")
    section = config.section("Repository r")
    trans = cfg.nametrans(section)
    assert trans("INBOX") == "in"
    with pytest.raises(ConfigError, match=r"^\[Repository r\] nametrans failed for folder "
                                          r"'Sent': KeyError: 'Sent'$"):
        trans("Sent")
    with pytest.raises(ConfigError, match=r"^\[Repository r\] folderfilter failed for folder "
                                          r"'INBOX': ZeroDivisionError"):
        cfg.folderfilter(section)("INBOX")


def test_nametrans_must_return_a_name() -> None:
    config = Config.from_string("[Repository r]\nnametrans = lambda f: None\n")
    with pytest.raises(ConfigError, match=r"nametrans returned None for folder 'INBOX'"):
        cfg.nametrans(config.section("Repository r"))("INBOX")


def test_folderincludes_and_foldersort() -> None:
    config = Config.from_string(textwrap.dedent("""\
        [Repository r]
        folderincludes = ['debian.user', 'debian.personal']
        foldersort = lambda x, y: (x < y) - (x > y)

        [Repository bad]
        folderincludes = 'debian.user'
        """))
    section = config.section("Repository r")
    assert cfg.folderincludes(section) == ["debian.user", "debian.personal"]
    assert sorted(["a", "c", "b"], key=cfg.foldersort_key(section)) == ["c", "b", "a"]
    assert cfg.foldersort_key(config.section("Repository bad")) is None
    assert cfg.folderincludes(config.section("Repository none")) == []
    with pytest.raises(ConfigError, match=r"^\[Repository bad\] folderincludes: expected a list"):
        cfg.folderincludes(config.section("Repository bad"))


def test_pythonfile_names_win_over_plugin_names(home: Path) -> None:
    (home / "helpers.py").write_text("def shared(x):\n    return 'pythonfile'\n")
    config = Config.from_string("[general]\npythonfile = ~/helpers.py\n"
                                "[Repository r]\nnametrans = lambda f: shared(f) + only(f)\n")
    config.load_namespace({"shared": lambda x: "plugin", "only": lambda x: "+plugin"})
    assert cfg.nametrans(config.section("Repository r"))("x") == "pythonfile+plugin"
    assert config.namespace["re"].sub("a", "b", "a") == "b"
    assert "__file__" not in config.namespace


def test_pythonfile_path_expands_environment_variables(home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OI_HELPERS", str(home / "conf"))
    (home / "conf").mkdir()
    (home / "conf" / "h.py").write_text("VALUE = 42\n")
    config = Config.from_string("[general]\npythonfile = $OI_HELPERS/h.py\n")
    config.load_namespace({})
    assert config.namespace["VALUE"] == 42


def test_missing_pythonfile_is_one_line(home: Path) -> None:
    config = Config.from_string("[general]\npythonfile = ~/nothere.py\n")
    with pytest.raises(ConfigError, match=rf"^\[general\] pythonfile = {home}/nothere.py: "
                                          "cannot read: No such file or directory$"):
        config.load_namespace({})


@pytest.mark.parametrize(("source", "pattern"), [
    ("x = 1\ndef f(:\n    pass\n", r", line 2: Python syntax error: "),
    ("import os\n\nraise RuntimeError('no keyring here')\n",
     r", line 3: RuntimeError: no keyring here$"),
    ("def f():\n    return missing\nf()\n", r", line 2: NameError: name 'missing'"),
])
def test_broken_pythonfile_names_file_line_and_error(home: Path, source: str,
                                                      pattern: str) -> None:
    path = home / "helpers.py"
    path.write_text(source)
    config = Config.from_string(f"[general]\npythonfile = {path}\n")
    with pytest.raises(ConfigError, match=f"^{path}{pattern}") as err:
        config.load_namespace({})
    assert "\n" not in str(err.value)


def test_metadata_dir(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Config.from_string("[general]\n").metadata_dir() == home / ".offlineimap"
    assert not (home / ".offlineimap").exists()  # only created when asked
    monkeypatch.setenv("MAILSTATE", str(home / "state"))
    config = Config.from_string("[general]\nmetadata = $MAILSTATE/oi\n")
    made = config.metadata_dir(create=True)
    assert made == home / "state" / "oi"
    assert made.is_dir()
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


def test_status_backend_from_account_then_general_then_default() -> None:
    config = Config.from_string(textwrap.dedent("""\
        [general]
        status_backend = plain
        [Account a]
        status_backend = sqlite
        [Account b]
        """))
    assert config.status_backend_name("a") == ("sqlite", "[Account a] status_backend")
    assert config.status_backend_name("b") == ("plain", "[general] status_backend")
    assert Config.from_string("[general]\n").status_backend_name("a")[0] == "sqlite"


def test_section_names() -> None:
    config = Config.from_string(TWO_IMAP)
    assert config.section_names("Account") == ["acc1", "acc2"]
    assert "acc1remote" in config.section_names("Repository")


# -- lookup order --------------------------------------------------------------------------------


def test_lookup_prefers_xdg_then_offlineimaprc(home: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    rc = home / ".offlineimaprc"
    rc.write_text("[general]\n")
    assert find_config_file(None) == rc
    xdg_default = home / ".config" / "offlineimap" / "config"
    xdg_default.parent.mkdir(parents=True)
    xdg_default.write_text("[general]\n")
    assert find_config_file(None) == xdg_default  # ~/.config when XDG_CONFIG_HOME is unset
    monkeypatch.setenv("XDG_CONFIG_HOME", "")
    assert find_config_file(None) == xdg_default  # ... or empty
    custom = home / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(custom))
    assert find_config_file(None) == rc  # XDG set elsewhere, nothing there: ~/.offlineimaprc
    (custom / "offlineimap").mkdir(parents=True)
    (custom / "offlineimap" / "config").write_text("[general]\n")
    assert find_config_file(None) == custom / "offlineimap" / "config"


def test_explicit_file_wins_and_expands_tilde(home: Path) -> None:
    (home / ".offlineimaprc").write_text("[general]\n")
    (home / "other.conf").write_text("[general]\n")
    assert find_config_file("~/other.conf") == home / "other.conf"
    with pytest.raises(ConfigError, match=rf"^configuration file {home}/missing.conf \(-c\) "
                                          "does not exist$"):
        find_config_file("~/missing.conf")
    with pytest.raises(ConfigError, match=r"is not a file"):
        find_config_file(str(home))


def test_no_configuration_names_every_place_looked_at(home: Path) -> None:
    with pytest.raises(ConfigError) as err:
        find_config_file(None)
    assert str(err.value) == (
        f"no configuration file: neither {home}/.config/offlineimap/config nor "
        f"{home}/.offlineimaprc exists (use -c FILE)")


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    path = tmp_path / "rc"
    path.write_bytes(b"[general]\nui = \xff\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text$"):
        Config.from_file(path)
    with pytest.raises(ConfigError, match=r"^cannot read configuration file .*: Is a directory"):
        Config.from_file(tmp_path)


def test_invalid_escape_in_user_expression_is_accepted_silently() -> None:
    # OfflineIMAP's sample configuration writes re.sub('^INBOX\.', ...) unescaped.
    config = Config.from_string(
        "[Repository r]\nnametrans = lambda f: re.sub('^INBOX\\.', '', f)\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cfg.nametrans(config.section("Repository r"))("INBOX.Sent") == "Sent"
