"""Progress events (one ``message_copied`` per message) are cheap: the console shows a few lines
a second per folder, MachineUI writes every copy but flushes in batches, the log file keeps all."""

from __future__ import annotations

import os
import sys
import time
from urllib.parse import unquote

from offlineimap.stats import FolderStats
from offlineimap_ui import logbase
from offlineimap_ui.console import TTYUI, Basic
from offlineimap_ui.machine import MachineUI


def copy(ui: object, folder: str, uids: range) -> None:
    for uid in uids:
        ui.offlineimap_message_copied(account="A", folder=folder, uid=uid, source="remote",
                                      destination="local", size=100)


def copy_lines(text: str) -> list[str]:
    return [line.split("Copy message ")[1] for line in text.splitlines()
            if "Copy message " in line]


def test_console_shows_first_last_and_one_line_per_interval_per_folder(make_ui, capsys):
    ui = make_ui(TTYUI)
    ui.progress_interval = 0.5
    for folder in ("INBOX", "Sent"):
        ui.offlineimap_folder_start(account="A", folder=folder, total=5, total_bytes=500)
    copy(ui, "INBOX", range(1, 3))  # 1 shown (the first), 2 within the interval: counted only
    copy(ui, "Sent", range(1, 2))  # each folder has its own clock
    time.sleep(0.6)
    copy(ui, "INBOX", range(3, 5))  # 3 is due, 4 within the interval again
    copy(ui, "INBOX", range(5, 6))  # the last of the folder, always shown
    assert copy_lines(capsys.readouterr().out) == [
        "UID 1 (1/5) remote:INBOX -> local:INBOX", "UID 1 (1/5) remote:Sent -> local:Sent",
        "UID 3 (3/5) remote:INBOX -> local:INBOX", "UID 5 (5/5) remote:INBOX -> local:INBOX"]


def test_copies_without_a_folder_start_are_throttled_too(make_ui, capsys):
    ui = make_ui(Basic)
    ui.progress_interval = 3600
    copy(ui, "INBOX", range(1, 4))
    assert copy_lines(capsys.readouterr().out) == ["UID 1 (1/1) remote:INBOX -> local:INBOX"]


def test_machineui_writes_every_copy_and_flushes_at_folder_end(config, tmp_path, monkeypatch):
    out = tmp_path / "machine.out"
    stream = out.open("w")  # block-buffered, like a pipe to the program reading it
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(logbase, "PROGRESS_INTERVAL", 3600.0)  # no time-based flush
    ui = MachineUI(config)
    ui.offlineimap_folder_start(account="A", folder="INBOX", total=50, total_bytes=5000)
    on_disk = out.read_text()
    assert "msg:syncingfolder:" in on_disk  # other lines are flushed at once
    copy(ui, "INBOX", range(1, 51))
    assert "copyingmessage" not in out.read_text()  # 50 copies, no flush yet
    ui.offlineimap_folder_finish(account="A", folder="INBOX", stats=FolderStats())
    lines = out.read_text().splitlines()
    copies = [line.split(":")[3] for line in lines if line.split(":")[1] == "copyingmessage"]
    assert [unquote(c).split("\n")[0] for c in copies] == [str(uid) for uid in range(1, 51)]
    assert lines[-1].startswith("msg:folderdone:")
    ui.close()
    stream.close()


def test_logfile_keeps_every_copy_and_is_complete_at_folder_end(config, tmp_path, capsys):
    log = tmp_path / "run.log"
    ui = Basic(config, logfile=str(log))
    ui.progress_interval = 3600
    ui.offlineimap_folder_start(account="A", folder="INBOX", total=20, total_bytes=0)
    copy(ui, "INBOX", range(1, 21))
    ui.offlineimap_folder_finish(account="A", folder="INBOX", stats=FolderStats())
    # read through a descriptor of our own: what another program tailing the log would see
    fd = os.open(log, os.O_RDONLY)
    try:
        text = os.read(fd, 1 << 20).decode()
    finally:
        os.close(fd)
    assert [line.split(" (")[0] for line in copy_lines(text)] == [
        f"UID {uid}" for uid in range(1, 21)]
    assert len(copy_lines(capsys.readouterr().out)) == 2  # the console: first and last
    ui.close()
