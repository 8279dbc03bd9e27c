"""Basic, TTYUI and Quiet driven by realistic event sequences from several threads."""

from __future__ import annotations

import threading

import pluggy

from offlineimap import hookspecs
from offlineimap_ui.console import TTYUI, Basic, Quiet


def test_basic_status_on_stdout_errors_on_stderr(make_ui, run_accounts, capsys):
    ui = make_ui(Basic)
    run_accounts(ui, {"Personal": False, "Work": True})
    out, err = capsys.readouterr()
    assert out.startswith("OfflineIMAP ")
    assert "*** Processing account Personal" in out
    assert "*** Processing account Work" in out
    assert "Copy message UID 3 (3/3) remote:Sent -> local:Sent" in out
    assert "Deleting 2 messages (4:5) in local[INBOX]" in out
    assert "Adding flag S to 2 messages on remote[INBOX]" in out
    assert "ERROR" not in out
    assert err.strip() == "ERROR: folder Sent: connection reset by peer"
    # the summary: one line per account with both directions, deletions, flags, errors, time
    summary = out[out.index("*** Summary"):].splitlines()
    work = next(line for line in summary if "Work:" in line)
    assert ("6 copied to local, 0 copied to remote; 4 deleted locally, 0 deleted remotely; "
            "flags changed on 0 local, 6 remote; 1 error; 0:01 (FAILED)") in work
    assert any("Personal:" in line and "0 errors" in line for line in summary)


def test_basic_copy_counters_are_per_folder_and_thread_safe(make_ui, tmp_path, capsys):
    log = tmp_path / "run.log"
    ui = make_ui(Basic, logfile=str(log))
    ui.progress_interval = 3600  # the console shows only the folder's first and last copy
    ui.offlineimap_folder_start(account="A", folder="INBOX", total=400, total_bytes=0)

    def copy(start: int) -> None:
        for uid in range(start, start + 100):
            ui.offlineimap_message_copied(account="A", folder="INBOX", uid=uid,
                                          source="remote", destination="local", size=10)

    threads = [threading.Thread(target=copy, args=(n * 100,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    heading, *lines = capsys.readouterr().out.splitlines()
    assert heading == "Syncing INBOX: 400 messages to copy"
    assert sorted(line.split("(")[1].split(")")[0] for line in lines) == ["1/400", "400/400"]
    ui.close()
    copies = [line for line in log.read_text().splitlines() if "Copy message UID" in line]
    positions = sorted(int(line.split("(")[1].split("/")[0]) for line in copies)
    assert positions == list(range(1, 401))  # the log file: every line whole, every number once


def test_basic_never_announces_the_countdown_and_cannot_prompt(make_ui, capsys):
    ui = make_ui(Basic)
    for second in range(130, -1, -1):
        ui.offlineimap_sleeping(account="A", seconds=second)
    assert capsys.readouterr() == ("", "")
    assert Basic.can_prompt is False
    assert not hasattr(ui, "offlineimap_prompt_password")


def test_basic_timestamps_when_configured(capsys):
    from offlineimap.config import Config

    ui = Basic(Config.from_string("[general]\nui_timestamps = yes\n"))
    ui.offlineimap_info(message="hello", account=None)
    out = capsys.readouterr().out
    assert out.endswith(" hello\n")
    assert out[:4].isdigit() and out[4] == "-" and out[13] == ":"


def test_ttyui_announces_refresh_once_a_minute(make_ui, capsys):
    ui = make_ui(TTYUI)
    for second in range(150, -1, -1):
        ui.offlineimap_sleeping(account="A", seconds=second)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Next refresh of A in 2.5 minutes", "Next refresh of A in 2.0 minutes",
                     "Next refresh of A in 1.0 minutes"]
    assert TTYUI.can_prompt is True


def test_ttyui_groups_lines_under_thread_names(make_ui, run_accounts, capsys):
    ui = make_ui(TTYUI)
    run_accounts(ui, {"Personal": False})
    out = capsys.readouterr().out
    assert "Account sync Personal:\n *** Processing account Personal\n" in out


def test_quiet_prints_nothing_on_a_clean_run(make_ui, run_accounts, capfd):
    ui = make_ui(Quiet)
    for second in (90, 60, 0):
        ui.offlineimap_sleeping(account="Personal", seconds=second)
    run_accounts(ui, {"Personal": False, "Work": False})
    assert capfd.readouterr() == ("", "")


def test_quiet_prints_the_error_and_the_summary_on_a_failing_run(make_ui, run_accounts, capfd):
    ui = make_ui(Quiet)
    run_accounts(ui, {"Personal": False, "Work": True})
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "ERROR: folder Sent: connection reset by peer"
    assert "*** Summary" in lines
    assert any(line.strip().startswith("Work:") and "(FAILED)" in line for line in lines)


def test_quiet_shows_warnings(make_ui, capfd):
    ui = make_ui(Quiet)
    ui.offlineimap_warning(message="UID validity problem for folder INBOX", account="A")
    assert capfd.readouterr() == ("", "WARNING: UID validity problem for folder INBOX\n")


def test_every_event_hook_is_implemented_by_every_ui(config):
    from offlineimap.plugins import PluginHost
    from offlineimap_ui.plugin import UIS

    host = PluginHost.load()  # lazily registered UIs (Blinkenlights) are imported on resolve

    events = [name for name in dir(hookspecs) if name.startswith("offlineimap_")
              and name not in ("offlineimap_repository_types", "offlineimap_status_backends",
                               "offlineimap_uis", "offlineimap_config_namespace",
                               "offlineimap_get_password", "offlineimap_prompt_password",
                               "offlineimap_filter_folder")]
    assert len(events) == 16
    for name in UIS:
        cls = host.uis.resolve(name, "-u")
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        ui = cls(config)
        pm.register(ui)
        pm.check_pending()
        for event in events:
            impls = getattr(pm.hook, event).get_hookimpls()
            assert [impl.plugin for impl in impls] == [ui], (name, event)
        prompts = pm.hook.offlineimap_prompt_password.get_hookimpls()
        assert bool(prompts) is cls.can_prompt, name
        ui.close()


def test_plugin_host_finds_all_uis():
    from offlineimap.plugins import PluginHost

    host = PluginHost.load()
    assert host.uis.names() == ["Basic", "Blinkenlights", "MachineUI", "Quiet", "Syslog",
                                "TTYUI"]
    assert host.uis.resolve("machineui", "-u").__name__ == "MachineUI"
