"""The plugin API, exercised for real: an in-process plugin listening to a whole sync and
answering the provider hooks, plus meta-tests that keep the hook specifications complete."""

from __future__ import annotations

import inspect
import re
import threading
from pathlib import Path

import pytest

from offlineimap import hookspecs
from offlineimap.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
               if name.startswith("offlineimap_"))


class Recorder:
    """Records every event hook and contributes a config name and a folder filter."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def _record(self, name: str, **kwargs) -> None:
        with self.lock:
            self.calls.append((name, kwargs))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    @hookimpl
    def offlineimap_config_namespace(self, register) -> None:
        register("archive_name", lambda folder: "Old" if folder == "Archive" else folder)

    @hookimpl
    def offlineimap_filter_folder(self, account, repository, folder):
        return folder != "Secret"

    @hookimpl
    def offlineimap_run_start(self, accounts):
        self._record("run_start", accounts=accounts)

    @hookimpl
    def offlineimap_run_finish(self, stats):
        self._record("run_finish", stats=stats)

    @hookimpl
    def offlineimap_account_start(self, account):
        self._record("account_start", account=account)

    @hookimpl
    def offlineimap_account_finish(self, account, stats, elapsed):
        self._record("account_finish", account=account, stats=stats)

    @hookimpl
    def offlineimap_listing(self, account, folder, side):
        self._record("listing", folder=folder, side=side)

    @hookimpl
    def offlineimap_folder_start(self, account, folder, total, total_bytes):
        self._record("folder_start", folder=folder, total=total, total_bytes=total_bytes)

    @hookimpl
    def offlineimap_folder_finish(self, account, folder, stats):
        self._record("folder_finish", folder=folder, stats=stats)

    @hookimpl
    def offlineimap_message_copied(self, account, folder, uid, source, destination, size):
        self._record("message_copied", folder=folder, source=source, destination=destination)

    @hookimpl
    def offlineimap_flags_changed(self, account, folder, side, added, removed):
        self._record("flags_changed", side=side, added=added, removed=removed)

    @hookimpl
    def offlineimap_messages_deleted(self, account, folder, side, uids):
        self._record("messages_deleted", side=side, uids=uids)


def test_a_plugin_sees_every_event_and_shapes_the_folder_list(sandbox, run_in_process,
                                                              make_messages) -> None:
    remote_root = sandbox.root / "Remote"
    for folder in ("INBOX", "Archive", "Secret"):
        for body in make_messages(2, start=len(folder)):
            sandbox.deliver(folder, body, "", root=remote_root)
    sandbox.write_config(
        f"type = Maildir\nlocalfolders = {remote_root}\nnametrans = archive_name\n",
        local=f"type = Maildir\nlocalfolders = {sandbox.mail}\n"
              "nametrans = lambda f: 'Archive' if f == 'Old' else f\n")
    recorder = Recorder()
    assert run_in_process(recorder) == 0
    names = recorder.names()
    assert names[0] == "run_start" and names[-1] == "run_finish"
    assert names.index("account_start") < names.index("folder_start") < names.index(
        "account_finish")
    copied = [kw for name, kw in recorder.calls if name == "message_copied"]
    assert len(copied) == 4 and {kw["destination"] for kw in copied} == {"local"}
    assert {kw["folder"] for name, kw in recorder.calls if name == "folder_finish"} == {
        "INBOX", "Archive"}
    assert len(sandbox.local_messages("Old")) == 2  # the plugin's name used by nametrans
    assert not (sandbox.mail / "Secret").exists()  # the plugin's filter left it out

    # flags and deletions are announced too
    (first, second) = sandbox.local_files("INBOX")
    first.rename(first.parent / (first.name.split(":2,")[0] + ":2,S"))
    second.unlink()
    recorder = Recorder()
    assert run_in_process(recorder) == 0
    flags = [kw for name, kw in recorder.calls if name == "flags_changed"]
    assert flags == [{"side": "remote", "added": {"S": [flags[0]["added"]["S"][0]]},
                      "removed": {}}]
    deleted = [kw for name, kw in recorder.calls if name == "messages_deleted"]
    assert [(kw["side"], len(kw["uids"])) for kw in deleted] == [("remote", 1)]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_specified_with_types_and_a_docstring(hook: str) -> None:
    function = getattr(hookspecs, hook)
    doc = inspect.getdoc(function) or ""
    assert len(doc.split()) >= 8, f"{hook} needs a docstring saying who calls it and when"
    signature = inspect.signature(function)
    assert signature.return_annotation is not inspect.Signature.empty
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, (hook, parameter.name)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    this = Path(__file__).resolve()
    tests = [p for p in ROOT.glob("**/tests/**/test_*.py")
             if ".venv" not in p.parts and p.resolve() != this]
    tests.append(this)  # this file's Recorder counts: it implements the hooks for real
    mentioned = [p for p in tests if re.search(rf"\b{hook}\b", p.read_text(encoding="utf-8"))]
    assert mentioned, f"no test mentions {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_for_plugin_authors(hook: str) -> None:
    assert hook in (ROOT / "README.md").read_text(encoding="utf-8"), (
        f"README.md does not document {hook}")
