"""The -l log file, -d routing and the masking of secrets in debug output."""

from __future__ import annotations

import re

import pytest

from offlineimap.errors import ConfigError
from offlineimap_ui.console import TTYUI, Basic, Quiet
from offlineimap_ui.formatting import MASK, mask_secrets

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING|ERROR|DEBUG): ")


@pytest.mark.parametrize("cls", [Basic, TTYUI, Quiet])
def test_logfile_has_everything_with_timestamps(cls, make_ui, run_accounts, tmp_path, capsys):
    log = tmp_path / "run.log"
    ui = make_ui(cls, logfile=str(log))
    run_accounts(ui, {"Personal": False, "Work": True})
    ui.close()
    lines = log.read_text().splitlines()
    stamped = [line for line in lines if STAMP.match(line)]
    assert len(stamped) >= 20
    text = log.read_text()
    assert "INFO: *** Processing account Work" in text  # also for Quiet
    assert "INFO: Copy message UID 2 (2/3) remote:INBOX -> local:INBOX" in text
    assert "ERROR: ERROR: folder Sent: connection reset by peer" in text
    assert re.search(r"(INFO|WARNING): \*\*\* Summary", text)


def test_logfile_appends_and_reports_bad_paths(config, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("earlier run\n")
    ui = Basic(config, logfile=str(log))
    ui.offlineimap_info(message="second run", account=None)
    ui.close()
    assert log.read_text().startswith("earlier run\n")
    with pytest.raises(ConfigError, match="cannot open the log file"):
        Basic(config, logfile=str(tmp_path / "missing" / "run.log"))


def test_debug_without_logfile_goes_to_stderr(config, capsys):
    ui = Basic(config, debug=frozenset({"maildir"}))
    ui.offlineimap_debug(category="maildir", message="renamed new/1 to cur/1:2,S")
    ui.offlineimap_debug(category="imap", message="not asked for")
    ui.offlineimap_listing(account="A", folder="INBOX", side="remote")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["[maildir]: renamed new/1 to cur/1:2,S",
                                "Loading message list for remote[INBOX]"]


def test_debug_with_logfile_goes_only_to_the_logfile(config, tmp_path, capsys):
    log = tmp_path / "run.log"
    ui = TTYUI(config, logfile=str(log), debug=frozenset({"imap"}))
    ui.offlineimap_debug(category="imap", message='> b\'A1 LOGIN joe "pa ss"\\r\\n\'')
    ui.offlineimap_error(message="boom", account=None, exc=ValueError("bad value"))
    ui.close()
    out, err = capsys.readouterr()
    assert "LOGIN" not in out + err
    assert "Traceback" not in out + err
    assert err == "ERROR: boom\n"
    text = log.read_text()
    assert "DEBUG: [imap]: > b'A1 LOGIN joe " + MASK in text
    assert "pa ss" not in text
    assert "ValueError: bad value" in text  # the -d traceback


def test_error_traceback_only_with_debug(config, capsys):
    Basic(config).offlineimap_error(message="boom", account=None, exc=ValueError("x"))
    assert capsys.readouterr().err == "ERROR: boom\n"


@pytest.mark.parametrize(("line", "secret"), [
    ('> b\'JDKL3 LOGIN joe "s3cr et"\\r\\n\'', "s3cr et"),
    ("C: a1 login joe hunter2", "hunter2"),
    ("a2 AUTHENTICATE PLAIN AGpvZQBodW50ZXIy", "AGpvZQBodW50ZXIy"),
    ("> AGpvZQBodW50ZXIyaHVudGVyMg==", "AGpvZQBodW50ZXIyaHVudGVyMg=="),
    ("remotepass = hunter2", "hunter2"),
    ("password: 'correct horse'", "correct horse"),
    ("refresh_token=1//0gAbCdEf", "1//0gAbCdEf"),
    ("Authorization: Bearer ya29.a0AfH6", "ya29.a0AfH6"),
    ("user=joe\x01auth=Bearer ya29.token\x01\x01", "ya29.token"),
])
def test_mask_secrets(line, secret):
    masked = mask_secrets(line)
    assert secret not in masked
    assert MASK in masked


@pytest.mark.parametrize("line", [
    "* 3 FETCH (UID 7 FLAGS (\\Seen))",
    "renamed new/1700000000_0.123.host,U=5,FMD5=0123456789abcdef0123456789abcdef:2,S",
    "a3 OK LOGIN completed",
])
def test_mask_leaves_ordinary_lines(line):
    assert mask_secrets(line) == line
