"""Syslog: records reach a real syslog datagram socket; without one, stderr and one warning."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from offlineimap.config import Config
from offlineimap_ui.console import Basic, Syslog
from offlineimap_ui.logbase import LoggingUI


@pytest.fixture
def syslog_socket(tmp_path, monkeypatch):
    """A syslogd stand-in: a datagram socket read continuously (as syslogd does) into a list."""
    path = tmp_path / "log"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    monkeypatch.setattr(LoggingUI, "syslog_address", str(path))
    received: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                received.append(sock.recv(65536).decode())
            except TimeoutError:
                continue

    reader = threading.Thread(target=read)
    reader.start()
    yield received
    done.set()
    reader.join()
    sock.close()


def test_messages_reach_syslog(syslog_socket, make_ui, run_accounts, capfd):
    ui = make_ui(Syslog)
    run_accounts(ui, {"Personal": False, "Work": True})
    ui.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any("*** Summary" in d for d in syslog_socket):
        time.sleep(0.05)
    datagrams = list(syslog_socket)
    assert capfd.readouterr() == ("", "")
    # <PRI>offlineimap[pid]: message ; user facility (8): info = 14, error = 11
    assert any(d.startswith("<14>offlineimap[") and d.endswith(
        "]: *** Processing account Personal\x00") for d in datagrams)
    assert any(d.startswith("<11>") and "ERROR: folder Sent: connection reset" in d
               for d in datagrams)
    assert any("*** Summary" in d for d in datagrams)


def test_without_syslog_socket_logs_to_stderr_with_one_warning(tmp_path, monkeypatch, make_ui,
                                                                capfd):
    monkeypatch.setattr(LoggingUI, "syslog_address", str(tmp_path / "no-such-socket"))
    ui = make_ui(Syslog)
    ui.offlineimap_info(message="hello", account=None)
    ui.offlineimap_error(message="bad", account=None, exc=None)
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("offlineimap: WARNING: no syslog socket at ")
    assert lines[1:] == ["offlineimap: hello", "offlineimap: ERROR: bad"]
    assert sum("no syslog socket" in line for line in lines) == 1


def test_dash_s_copies_any_ui_to_syslog_without_debug(syslog_socket, capfd):
    """``-s`` (``[general] syslog``): Basic still prints, and syslog gets the same lines."""
    ui = Basic(Config.from_string("[general]\nsyslog = yes\n"), debug=frozenset({"imap"}))
    ui.offlineimap_info(message="hello", account=None)
    ui.offlineimap_debug(category="imap", message="a protocol line")
    ui.offlineimap_warning(message="careful", account=None)
    ui.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(syslog_socket) < 2:
        time.sleep(0.05)
    time.sleep(0.1)  # a stray debug datagram would arrive by now
    assert [d.split("]: ", 1)[1] for d in syslog_socket] == ["hello\x00", "WARNING: careful\x00"]
    out, err = capfd.readouterr()
    assert out == "hello\n" and "[imap]: a protocol line" in err and "WARNING: careful" in err


def test_dash_s_without_syslog_warns_and_goes_on(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(LoggingUI, "syslog_address", str(tmp_path / "no-such-socket"))
    ui = Basic(Config.from_string("[general]\nsyslog = yes\n"))
    ui.offlineimap_info(message="hello", account=None)
    ui.close()
    out, err = capfd.readouterr()
    assert out == "hello\n"
    assert err.startswith("offlineimap: WARNING: no syslog socket at ") and "-s ignored" in err
