"""MachineUI: every stdout line parses back into severity, command, thread and message."""

from __future__ import annotations

import threading
from urllib.parse import unquote, unquote_plus

from offlineimap_ui.machine import PROTOCOL, MachineUI

SEVERITIES = {"msg", "warn", "error", "debug"}


def parse(out: str) -> list[tuple[str, str, str, str]]:
    """Split every line into its four fields; fails on anything unparseable."""
    records = []
    for line in out.splitlines():
        severity, command, thread, message = line.split(":")  # exactly four fields
        assert severity in SEVERITIES, line
        assert unquote_plus(message) == unquote(message), line  # both decoders agree
        records.append((severity, command, unquote(thread), unquote(message)))
    return records


def test_protocol_line_first_then_every_event_parses(make_ui, run_accounts, capsys):
    ui = make_ui(MachineUI)
    run_accounts(ui, {"Personal": False, "Work: two": True})
    out, err = capsys.readouterr()
    assert err == ""
    records = parse(out)
    assert records[0] == ("msg", "protocol", "MainThread", PROTOCOL)
    assert records[1][:2] == ("msg", "initbanner")
    assert [r for r in records if r[1] == "protocol"] == [records[0]]
    commands = {r[1] for r in records}
    assert {"acct", "connecting", "loadmessagelist", "syncingfolder", "copyingmessage",
            "addingflags", "deletingflags", "deletingmessages", "acctdone",
            "terminate"} <= commands
    # thread names with spaces and an account name with a colon come back exactly
    acct = [r for r in records if r[1] == "acct"]
    assert sorted(r[3] for r in acct) == ["Personal", "Work: two"]
    assert {r[2] for r in acct} == {"Account sync Personal", "Account sync Work: two"}
    connecting = next(r for r in records if r[1] == "connecting")
    assert connecting[3] == "imap.example.org\n993\n" + connecting[3].split("\n")[2]
    copy = next(r for r in records if r[1] == "copyingmessage")
    assert copy[3] == "1\nremote\nINBOX\nlocal[INBOX]"
    flags = next(r for r in records if r[1] == "addingflags")
    assert flags[3] == "7\f8\nS\nremote[INBOX]"
    error = next(r for r in records if r[0] == "error")
    assert error[3] == "ERROR: folder Sent: connection reset by peer"
    assert records[-1] == ("msg", "terminate", "MainThread", "1\n\n")


def test_messages_with_newlines_stay_on_one_line(make_ui, capsys):
    ui = make_ui(MachineUI)
    ui.offlineimap_warning(message="first line\nsecond: line 100% + more", account=None)
    records = parse(capsys.readouterr().out)
    assert records[-1] == ("warn", "", "MainThread", "first line\nsecond: line 100% + more")


def test_lines_from_many_threads_never_interleave(make_ui, capsys):
    ui = make_ui(MachineUI)

    def chatter(n: int) -> None:
        for i in range(200):
            ui.offlineimap_info(message=f"thread {n} line {i} " + "x" * 200, account=None)

    threads = [threading.Thread(target=chatter, args=(n,), name=f"T{n}") for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = parse(capsys.readouterr().out)
    assert len(records) == 2 + 6 * 200
    assert [r[1] for r in records[:2]] == ["protocol", "initbanner"]  # even under contention
    assert all(r[3].startswith(f"thread {r[2][1:]} ") for r in records[2:])


def test_debug_goes_to_stdout_as_debug_lines(config, capsys):
    ui = MachineUI(config, debug=frozenset({"imap"}))
    ui.offlineimap_debug(category="imap", message='> a1 LOGIN joe "hunter2"')
    ui.offlineimap_debug(category="maildir", message="not asked for")
    records = parse(capsys.readouterr().out)
    debug = [r for r in records if r[0] == "debug"]
    assert debug == [("debug", "", "MainThread", "[imap]: > a1 LOGIN joe ********")]


def test_debug_goes_only_to_the_logfile_when_one_is_given(config, tmp_path, capsys):
    log = tmp_path / "offlineimap.log"
    ui = MachineUI(config, logfile=str(log), debug=frozenset({"imap"}))
    ui.offlineimap_debug(category="imap", message="* OK ready")
    ui.offlineimap_info(message="hello", account=None)
    ui.close()
    records = parse(capsys.readouterr().out)
    assert [r[0] for r in records] == ["msg", "msg", "msg"]
    assert "DEBUG: [imap]: * OK ready" in log.read_text()


def test_session_prints_the_protocol_line_once(make_ui, capsys):
    ui = make_ui(MachineUI)
    with ui.session():
        ui.offlineimap_run_start(accounts=["A"])
    records = parse(capsys.readouterr().out)
    assert [r[1] for r in records] == ["protocol", "initbanner"]
