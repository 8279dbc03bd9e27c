"""OfflineIMAP 8.0.3's configurations are read as they are: every option accepted, none fatal.

``tests/fixtures/offlineimap8/offlineimap.conf.full`` holds every option of OfflineIMAP 8.0.3's
sample ``offlineimap.conf`` uncommented (with sample values), ``offlineimap.conf.minimal`` its
minimal sample; ``offlineimap.py`` the helpers the sample's expressions call.
"""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

import pytest
from tests.test_sync_imap import assert_in_sync, remote_section

from offlineimap import compat

FIXTURES = Path(__file__).parent / "fixtures" / "offlineimap8"


def install(sandbox, name: str) -> None:
    shutil.copy(FIXTURES / name, sandbox.config)
    shutil.copy(FIXTURES / "offlineimap.py", sandbox.home / ".offlineimap.py")


def notices(run) -> list[str]:
    return [line for line in run.err.splitlines() if line.startswith("offlineimap: NOTICE: ")]


def fixture_options() -> set[tuple[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(FIXTURES / "offlineimap.conf.full")
    return {(compat.section_kind(section) or section, option)
            for section in parser.sections()
            for option in parser.options(section) if option not in parser.defaults()}


def test_full_sample_configuration_passes_check_config(sandbox) -> None:
    install(sandbox, "offlineimap.conf.full")
    run = sandbox.run("--check-config")
    assert "no problems found (2 accounts checked)" in run.out
    assert "ERROR" not in run.err
    accepted = {(kind, option) for kind, table in compat.OPTIONS.items()
                for option, entry in table.items() if entry.support is compat.Support.ACCEPTED}
    lines = notices(run)
    for kind, option in accepted:
        shown = "customflag_a" if option == "customflag_x" else option
        assert any(f"] {shown}: accepted, " in line for line in lines), (kind, option)
    assert len(lines) == len(accepted) + 3  # customflag_a..d are four lines


def test_minimal_sample_configuration_passes_quietly(sandbox) -> None:
    install(sandbox, "offlineimap.conf.minimal")
    run = sandbox.run("--check-config")
    assert "no problems found (1 accounts checked)" in run.out
    assert run.err == ""


def test_table_and_full_sample_name_the_same_options() -> None:
    """Every 8.0.3 option of the table is in the full sample, and every option there is known."""
    in_fixture = {(kind, "customflag_x" if option.startswith("customflag_") else option)
                  for kind, option in fixture_options()}
    unknown = {(kind, option) for kind, option in in_fixture
               if compat.lookup(kind, option) is None}
    assert not unknown
    of_8_0_3 = {(kind, option) for kind, table in compat.OPTIONS.items()
                for option, entry in table.items()
                if entry.support in (compat.Support.IMPLEMENTED, compat.Support.ACCEPTED)}
    set_by_command_line = {("general", "dry-run"), ("general", "ignore-keyring"),
                           ("general", "update-keyring"), ("general", "status_backend"),
                           ("Account", "status_backend")}
    assert of_8_0_3 - set_by_command_line == in_fixture


OLD = """\
[general]
accounts = Old
metadata = {metadata}
ui = Curses.Blinkenlights
status_backend = plain
ignore-readonly = yes

[ui.Curses.Blinkenlights]
statuschar = .

[Account Old]
localrepository = Local
remoterepository = Remote
status_backend = sqlite
mass_delete_gaurd = 10

[Repository Local]
type = Maildir
localfolders = {mail}

[Repository Remote]
type = Gmail
remoteuser = someone@gmail.com
remotepass = secret
realdelete = no
ssl = yes
sslcacertfile = OS-DEFAULT
"""


def test_obsolete_options_and_sections_are_notices(sandbox) -> None:
    sandbox.config.write_text(OLD.format(metadata=sandbox.metadata, mail=sandbox.mail))
    run = sandbox.run("--check-config")
    assert "no problems found (1 accounts checked)" in run.out
    lines = notices(run)
    assert any("[ui.Curses.Blinkenlights]: obsolete section" in line for line in lines)
    assert any("[Repository Remote] realdelete: accepted, obsolete since OfflineIMAP 7" in line
               for line in lines)
    assert any("[Account Old] mass_delete_gaurd: not an option" in line for line in lines)
    assert any("[general] ignore-readonly: accepted" in line for line in lines)
    assert len(lines) == 4, lines


def test_every_problem_is_reported_at_once_beside_notices(sandbox) -> None:
    sandbox.config.write_text(
        "[general]\naccounts = A, B\nfsync = maybe\n[ui.Curses.Blinkenlights]\n"
        "statuschar = .\n[Account A]\nlocalrepository = L\nremoterepository = R\n"
        "usecompression = yes\nquick = soon\n"
        "[Repository L]\ntype = Maildir\nlocalfolders = /tmp/x\n"
        "[Repository R]\ntype = IMAP\nremotehost = h\nusecompression = yes\n")
    run = sandbox.run("--check-config", expect=3)
    errors = [line for line in run.err.splitlines() if line.startswith("offlineimap: ERROR:")]
    assert any("fsync = 'maybe'" in line for line in errors)
    assert any("quick = 'soon'" in line for line in errors)
    assert any("[Account B]" in line for line in errors)
    assert len(errors) == 3, run.err
    assert len(notices(run)) == 3  # the ui section, and usecompression in the wrong section too


@pytest.mark.dovecot
def test_sync_with_options_accepted_but_not_acted_upon(sandbox, imap_account,
                                                       make_messages) -> None:
    """A real sync with every accepted-only IMAP option set, an OfflineIMAP 6 ui section and
    the old [general] status_backend: nothing crashes, the mail arrives."""
    imap_account.seed("INBOX", make_messages(3))
    accepted = "\n".join(
        f"{option} = {value}" for option, value in {
            "ipv6": "no", "allow_nonstandard_capabilities": "no", "decodefoldernames": "no",
            "usecompression": "yes", "singlethreadperfolder": "yes", "holdconnectionopen": "yes",
            "keepalive": "60", "dynamic_folderfilter": "True", "retrycount": "2",
            "copy_ignore_eval": "lambda foldername: {'INBOX': [2]}.get(foldername)",
        }.items())
    sandbox.write_config(remote_section(imap_account, extra=accepted),
                         general="status_backend = plain\nignore-readonly = yes\n",
                         account="filterheaders = X-Spam\nutf8foldernames = no\n",
                         extra="[ui.Curses.Blinkenlights]\nstatuschar = .\n")
    sandbox.run()
    assert assert_in_sync(sandbox, imap_account, "INBOX") == 3
    assert (sandbox.metadata / "Account-Test" / "LocalStatus" / "INBOX").is_file()
