"""The engine tells the remote folder when its last call comes (``Folder.finish``), and only
when nothing after it writes to the remote side: a folder that gives its connection back early
must never be asked for anything again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from offlineimap.engine import FolderSync, SyncSettings
from offlineimap.events import Events
from offlineimap.journal import UploadJournal
from offlineimap.plan import SidePolicy
from offlineimap.repository import Flags, Folder, FolderState, MessageInfo, NewMessage
from offlineimap.status import MemoryStatusFolder, StatusRecord

REMOTE, LOCAL = "remote", "local"


class CallLog(Folder):
    """A folder in memory that logs every call, and refuses any call after its
    :meth:`finish` promise was used up (as an IMAP folder that gave its connection back would).
    """

    def __init__(self, messages: dict[int, tuple[Flags, bytes]], *, assigns_uids: bool
                 ) -> None:
        self.name = "INBOX"
        self.messages = dict(messages)
        self.assigns_uids = assigns_uids
        self.calls: list[str] = []
        self.finished = False  # no call may come any more
        self.one_fetch_left = False

    def _call(self, what: str) -> None:
        assert not self.finished, f"{what} after finish()"
        self.calls.append(what)

    def state(self) -> FolderState:
        return FolderState(uidvalidity=1, uidnext=max(self.messages, default=0) + 1,
                           exists=len(self.messages))

    def list_messages(self, *, min_uid: int | None = None) -> dict[int, MessageInfo]:
        self._call("list")
        return {uid: MessageInfo(flags, len(body))
                for uid, (flags, body) in self.messages.items()}

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        self._call(f"fetch {list(uids)}")
        if self.one_fetch_left:
            self.finished = True
        for uid in uids:
            yield uid, self.messages[uid][1]

    def save_messages(self, messages: Iterable[NewMessage]) -> list[tuple[int, int]]:
        self._call("save")
        saved = []
        for message in messages:
            uid = max(self.messages, default=0) + 1 if self.assigns_uids else message.uid
            self.messages[uid] = (message.flags, message.body)
            saved.append((message.uid, uid))
        return saved

    def change_flags(self, changes: Mapping[int, tuple[Flags, Flags]]) -> None:
        self._call("flags")
        for uid, (add, remove) in changes.items():
            flags, body = self.messages[uid]
            self.messages[uid] = ((flags | add) - remove, body)

    def delete_messages(self, uids: Sequence[int]) -> None:
        self._call("delete")
        for uid in uids:
            del self.messages[uid]

    def change_uid(self, old_uid: int, new_uid: int) -> None:
        self.messages[new_uid] = self.messages.pop(old_uid)

    def finish(self, *, after_fetch: bool = False) -> None:
        self._call(f"finish after_fetch={after_fetch}")
        if after_fetch:
            self.one_fetch_left = True
        else:
            self.finished = True


def sync(remote: CallLog, local: CallLog, status: MemoryStatusFolder, tmp_path: Path,
         batch_messages: int = 2) -> None:
    FolderSync(
        account="A", name="INBOX", folders={REMOTE: remote, LOCAL: local},
        policies={REMOTE: SidePolicy(), LOCAL: SidePolicy()}, status=status,
        journal=UploadJournal(tmp_path / "journal", fsync=False), events=Events(None),
        settings=SyncSettings(batch_messages=batch_messages),
    ).run({REMOTE: remote.state(), LOCAL: local.state()})


def body(uid: int) -> bytes:
    return f"Subject: {uid}\n\nbody {uid}\n".encode()


def test_a_download_only_sync_finishes_the_remote_before_its_last_fetch(tmp_path) -> None:
    remote = CallLog({uid: (frozenset("S"), body(uid)) for uid in range(1, 6)},
                     assigns_uids=True)
    local = CallLog({}, assigns_uids=False)
    sync(remote, local, MemoryStatusFolder(), tmp_path)
    assert remote.calls == ["list", "fetch [1, 2]", "fetch [3, 4]",
                            "finish after_fetch=True", "fetch [5]"]
    assert local.messages == remote.messages


def test_with_nothing_to_download_the_remote_is_finished_at_once(tmp_path) -> None:
    both = {1: (frozenset("S"), body(1)), 2: (frozenset(), body(2))}
    remote, local = CallLog(both, assigns_uids=True), CallLog(both, assigns_uids=False)
    status = MemoryStatusFolder()
    status.put({1: StatusRecord(frozenset("S")), 2: StatusRecord(frozenset("S"))})
    sync(remote, local, status, tmp_path)  # message 2 lost \Seen on both sides: status only
    assert remote.calls == ["list", "finish after_fetch=False"]


@pytest.mark.parametrize("remote_write", ["upload", "delete", "flags"])
def test_a_sync_that_writes_remotely_never_finishes_it_early(tmp_path, remote_write) -> None:
    messages = {uid: (frozenset(), body(uid)) for uid in (1, 2)}
    remote = CallLog(messages | {3: (frozenset(), body(3))}, assigns_uids=True)
    local = CallLog(messages, assigns_uids=False)
    status = MemoryStatusFolder()
    status.put({uid: StatusRecord() for uid in messages})
    if remote_write == "upload":
        local.messages[-1] = (frozenset(), body(9))
    elif remote_write == "delete":
        del local.messages[2]
    else:
        local.messages[1] = (frozenset("F"), body(1))
    sync(remote, local, status, tmp_path)
    assert not any(call.startswith("finish") for call in remote.calls)
    expected = {"upload": "save", "delete": "delete", "flags": "flags"}[remote_write]
    assert remote.calls[-1] == expected and "fetch [3]" in remote.calls
