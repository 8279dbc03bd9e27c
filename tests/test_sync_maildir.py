"""The engine through every pass, Maildir to Maildir, with the real ``offlineimap`` command.

The remote side is a Maildir too (it then assigns UIDs itself), so every case runs without a
server: new, deleted and re-flagged messages on each side, both sides changed, readonly,
sync_deletes, nametrans, folder creation, windows-compatible names, UIDVALIDITY, both status
caches and the upgrade from plain to sqlite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


@pytest.fixture
def pair(sandbox):
    """Sandbox with a remote Maildir at ``<root>/Remote`` synced to the local ``<root>/Mail``."""
    sandbox.remote_root = sandbox.root / "Remote"
    sandbox.remote_root.mkdir()

    def configure(remote_extra: str = "", local_extra: str = "", account: str = "",
                  general: str = "") -> None:
        sandbox.write_config(
            f"type = Maildir\nlocalfolders = {sandbox.remote_root}\n{remote_extra}",
            local=f"type = Maildir\nlocalfolders = {sandbox.mail}\n{local_extra}",
            account=account, general=general)

    sandbox.configure = configure
    configure()
    return sandbox


def remote(sb, folder: str) -> list[tuple[str, bytes]]:
    return sb.local_messages(folder, sb.remote_root)


def set_flags(path: Path, flags: str) -> Path:
    target = path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2," + flags)
    path.rename(target)
    return target


def test_new_messages_both_ways_then_nothing_to_do(pair, make_messages) -> None:
    a, b, c = make_messages(3)
    pair.deliver("INBOX", a, "S", root=pair.remote_root)
    pair.deliver("INBOX", b, "", root=pair.remote_root)
    pair.deliver("INBOX", c, "F")
    pair.run()
    assert pair.local_messages("INBOX") == remote(pair, "INBOX")
    assert len(pair.local_messages("INBOX")) == 3
    names = (pair.local_files("INBOX"), pair.local_files("INBOX", pair.remote_root))
    mtimes = [p.stat().st_mtime_ns for group in names for p in group]
    pair.run()
    assert (pair.local_files("INBOX"), pair.local_files("INBOX", pair.remote_root)) == names
    assert [p.stat().st_mtime_ns for group in names for p in group] == mtimes


def test_deletions_and_flag_changes_each_way(pair, make_messages) -> None:
    for body in make_messages(6):
        pair.deliver("INBOX", body, "", root=pair.remote_root)
    pair.run()
    local = pair.local_files("INBOX")
    far = pair.local_files("INBOX", pair.remote_root)
    by_body_local = {p.read_bytes(): p for p in local}
    by_body_far = {p.read_bytes(): p for p in far}
    bodies = sorted(by_body_local)
    by_body_local[bodies[0]].unlink()                 # deleted locally
    by_body_far[bodies[1]].unlink()                   # deleted remotely
    set_flags(by_body_local[bodies[2]], "RS")         # replied locally
    set_flags(by_body_far[bodies[3]], "F")            # flagged remotely
    pair.run()
    expected = {bodies[2]: "RS", bodies[3]: "F", bodies[4]: "", bodies[5]: ""}
    assert dict((b, f) for f, b in pair.local_messages("INBOX")) == expected
    assert dict((b, f) for f, b in remote(pair, "INBOX")) == expected


def test_both_sides_change_flags_of_one_message(pair, make_messages) -> None:
    (body,) = make_messages(1)
    pair.deliver("INBOX", body, "S", root=pair.remote_root)
    pair.run()
    set_flags(pair.local_files("INBOX")[0], "RS")
    set_flags(pair.local_files("INBOX", pair.remote_root)[0], "F")
    pair.run()
    # local added R, remote added F and removed S: both changes are merged on both sides
    assert pair.local_messages("INBOX")[0][0] == remote(pair, "INBOX")[0][0] == "FR"


def test_readonly_remote_is_never_written(pair, make_messages) -> None:
    a, b = make_messages(2)
    pair.deliver("INBOX", a, "", root=pair.remote_root)
    pair.configure()
    pair.run()
    pair.configure(remote_extra="readonly = yes\n")
    before = sorted(p.name for p in pair.local_files("INBOX", pair.remote_root))
    set_flags(pair.local_files("INBOX")[0], "F")
    pair.deliver("INBOX", b, "S")
    pair.run()
    pair.run()
    assert sorted(p.name for p in pair.local_files("INBOX", pair.remote_root)) == before
    # the local message and the local flag stay local, and are not reverted either
    assert sorted(f for f, _ in pair.local_messages("INBOX")) == ["F", "S"]


def test_sync_deletes_off_keeps_messages_deleted_remotely(pair, make_messages) -> None:
    for body in make_messages(2):
        pair.deliver("INBOX", body, "", root=pair.remote_root)
    pair.run()
    pair.configure(remote_extra="sync_deletes = no\n")
    pair.local_files("INBOX", pair.remote_root)[0].unlink()
    pair.run()
    assert len(pair.local_messages("INBOX")) == 2
    assert len(remote(pair, "INBOX")) == 1
    pair.run()  # and it is not copied back either
    assert len(remote(pair, "INBOX")) == 1


def test_folder_creation_both_ways_and_nametrans(pair, make_messages) -> None:
    a, b = make_messages(2)
    pair.deliver("Work", a, "", root=pair.remote_root)
    pair.deliver("Personal", b, "")
    pair.configure(
        remote_extra="nametrans = lambda f: 'Remote.' + f\n",
        local_extra="nametrans = lambda f: f[len('Remote.'):] if f.startswith('Remote.') else f\n")
    # 'Personal' translates to remote 'Personal', which maps back to 'Remote.Personal':
    # not a round trip, so it is refused instead of creating folders forever
    run = pair.run(expect=1)
    assert "'Personal'" in run.text and "nametrans" in run.text
    assert len(pair.local_messages("Remote.Work")) == 1
    assert sorted(p.name for p in pair.remote_root.iterdir()) == ["Work"]
    pair.deliver("Remote.Projects", b, "")
    pair.run(expect=1)
    assert len(remote(pair, "Projects")) == 1
    assert sorted(p.name for p in pair.remote_root.iterdir()) == ["Projects", "Work"]


def test_windows_compatible_names(pair, make_messages) -> None:
    pair.configure(local_extra="maildir-windows-compatible = yes\n")
    pair.deliver("INBOX", make_messages(1)[0], "S", root=pair.remote_root)
    pair.run()
    (path,) = pair.local_files("INBOX")
    assert ":" not in path.name and "!2,S" in path.name


def _renumber_remote(pair, folder: str, shift: int) -> None:
    """What a server restore does: new UIDVALIDITY, every message under a new UID."""
    uids = pair.remote_root / folder / ".offlineimap-uids"
    validity, nxt = uids.read_text().split()
    for path in pair.local_files(folder, pair.remote_root):
        uid = int(path.name.split(",U=")[1].split(",")[0])
        path.rename(path.with_name(path.name.replace(f",U={uid},", f",U={uid + shift},")))
    uids.write_text(f"{int(validity) + 1}\n{int(nxt) + shift}\n")


def test_uidvalidity_change_is_recovered_by_message_id(pair, make_messages) -> None:
    for body in make_messages(4):
        pair.deliver("INBOX", body, "S", root=pair.remote_root)
    pair.run()
    before = sorted(body for _, body in pair.local_messages("INBOX"))
    _renumber_remote(pair, "INBOX", shift=2)  # old and new UIDs overlap: 1-4 become 3-6
    pair.deliver("INBOX", make_messages(1, start=9)[0], "", root=pair.remote_root)
    run = pair.run()
    assert "UIDVALIDITY changed" in run.text and "recovered: 4 local messages" in run.text
    local_uids = sorted(int(p.name.split(",U=")[1].split(",")[0])
                        for p in pair.local_files("INBOX"))
    remote_uids = sorted(int(p.name.split(",U=")[1].split(",")[0])
                         for p in pair.local_files("INBOX", pair.remote_root))
    assert local_uids == remote_uids and len(local_uids) == 5
    assert set(before) < {body for _, body in pair.local_messages("INBOX")}
    names = pair.local_files("INBOX")
    pair.run()
    assert pair.local_files("INBOX") == names


def test_uidvalidity_change_without_a_match_stops_that_folder_with_status_2(
        pair, make_messages) -> None:
    pair.deliver("INBOX", b"Subject: no message-id here\n\nbody\n", "", root=pair.remote_root)
    pair.deliver("Other", make_messages(1, start=5)[0], "", root=pair.remote_root)
    pair.run()
    _renumber_remote(pair, "INBOX", shift=10)
    pair.deliver("INBOX", make_messages(1, start=9)[0], "", root=pair.remote_root)
    pair.deliver("Other", make_messages(1, start=10)[0], "", root=pair.remote_root)
    names = pair.local_files("INBOX")
    run = pair.run(expect=2)
    assert "UIDVALIDITY" in run.text and "could not be matched" in run.text
    assert pair.local_files("INBOX") == names  # untouched: nothing deleted, copied or renamed
    assert len(pair.local_messages("Other")) == 2  # the other folder still synced


@pytest.mark.parametrize("backend", ["plain", "sqlite"])
def test_status_backends_write_offlineimap_formats(pair, make_messages, backend) -> None:
    pair.configure(account=f"status_backend = {backend}\n")
    for body in make_messages(3):
        pair.deliver("INBOX", body, "S", root=pair.remote_root)
    pair.run()
    account_dir = pair.metadata / "Account-Test"
    if backend == "plain":
        lines = (account_dir / "LocalStatus" / "INBOX").read_text().splitlines()
        assert lines[0] == "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2"
        assert sorted(line.split("|")[1] for line in lines[1:]) == ["S", "S", "S"]
    else:
        db = sqlite3.connect(account_dir / "LocalStatus-sqlite" / "INBOX")
        assert sorted(row[0] for row in db.execute("select flags from status")) == ["S"] * 3
        db.close()
    first = pair.local_files("INBOX")
    pair.run()
    assert pair.local_files("INBOX") == first


def test_plain_cache_is_upgraded_to_sqlite_without_copying(pair, make_messages) -> None:
    pair.configure(account="status_backend = plain\n")
    for body in make_messages(4):
        pair.deliver("INBOX", body, "", root=pair.remote_root)
    pair.run()
    names = pair.local_files("INBOX")
    pair.configure(account="status_backend = sqlite\n")
    pair.run()
    assert pair.local_files("INBOX") == names
    account_dir = pair.metadata / "Account-Test"
    assert (account_dir / "LocalStatus" / "INBOX").exists()  # left in place for reverting
    db = sqlite3.connect(account_dir / "LocalStatus-sqlite" / "INBOX")
    assert db.execute("select count(*) from status").fetchone()[0] == 4
    db.close()


def test_second_process_is_refused_while_the_account_is_locked(pair) -> None:
    import fcntl
    import os

    lock = pair.metadata / "Account-Test" / "lock"
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        run = pair.run(expect=None)
    finally:
        os.close(fd)
    assert run.code != 0
    assert "another offlineimap" in run.text


def test_profile_directory_gets_a_profile_per_thread(pair, make_messages) -> None:
    import pstats

    pair.deliver("INBOX", make_messages(1)[0], "", root=pair.remote_root)
    profiles = pair.root / "profiles"
    pair.run("-1", "-P", str(profiles))
    files = sorted(p.name for p in profiles.iterdir())
    assert "MainThread.prof" in files
    stats = pstats.Stats(str(profiles / "MainThread.prof"))
    assert any("engine.py" in filename for filename, _, _ in stats.stats)
    assert pair.run("-1", "-P", str(profiles), expect=3).text.count("must not exist") == 1


def test_mass_deletion_guard_refuses_an_emptied_folder(pair, make_messages) -> None:
    import shutil

    for body in make_messages(20):
        pair.deliver("INBOX", body, "S", root=pair.remote_root)
    pair.run()
    shutil.rmtree(pair.mail / "INBOX")  # an unmounted disk, a mistaken rm: not a decision
    run = pair.run(expect=1)
    assert "would delete 20 of 20 messages on the remote side" in run.text
    assert "mass_delete_guard=100" in run.text
    assert len(remote(pair, "INBOX")) == 20
    # deleting a few is normal and goes through
    for path in pair.local_files("INBOX", pair.remote_root)[:3]:
        path.unlink()
    pair.run(expect=1)  # INBOX locally is still empty: still refused, remote keeps 17
    assert len(remote(pair, "INBOX")) == 17
    # the person confirms
    pair.run("-k", "Account_Test:mass_delete_guard=100")
    assert remote(pair, "INBOX") == [] and pair.local_messages("INBOX") == []


def test_ordinary_deletions_are_not_guarded(pair, make_messages) -> None:
    for body in make_messages(30):
        pair.deliver("INBOX", body, "", root=pair.remote_root)
    pair.run()
    files = pair.local_files("INBOX")
    for path in files[:12]:  # 40% of the folder: below the 50% guard
        path.unlink()
    pair.run()
    assert len(remote(pair, "INBOX")) == 18
    for path in pair.local_files("INBOX")[:5]:  # 5 of 18: a handful is never refused
        path.unlink()
    pair.run()
    assert len(remote(pair, "INBOX")) == 13


@pytest.mark.parametrize("backend", ["plain", "sqlite"])
def test_corrupt_status_cache_is_set_aside_and_rebuilt(pair, make_messages, backend) -> None:
    pair.configure(account=f"status_backend = {backend}\n")
    for body in make_messages(5):
        pair.deliver("INBOX", body, "S", root=pair.remote_root)
    pair.run()
    local_names = pair.local_files("INBOX")
    remote_names = pair.local_files("INBOX", pair.remote_root)
    folder = "LocalStatus" if backend == "plain" else "LocalStatus-sqlite"
    cache = pair.metadata / "Account-Test" / folder / "INBOX"
    cache.write_bytes(b"\x00garbage, not a status cache\n" * 10)
    pair.deliver("INBOX", make_messages(1, start=50)[0], "")  # a new local message meanwhile
    run = pair.run()
    assert "moved to" in run.text and "rebuilt" in run.text
    assert list(cache.parent.glob("INBOX.corrupt-*"))
    assert set(local_names) <= set(pair.local_files("INBOX"))  # nothing deleted or renamed
    assert set(remote_names) <= set(pair.local_files("INBOX", pair.remote_root))
    assert len(pair.local_messages("INBOX")) == len(remote(pair, "INBOX")) == 6  # no duplicate
    again = sorted(p.name for p in pair.local_files("INBOX"))
    pair.run()
    assert sorted(p.name for p in pair.local_files("INBOX")) == again


def test_startdate_limits_the_first_sync_then_bounds_by_uid(pair, make_messages) -> None:
    old, new, later = make_messages(3)
    pair.deliver("INBOX", old, "S", name="1500000000.M1P1.far", root=pair.remote_root)  # 2017
    pair.deliver("INBOX", new, "S", name="1750000000.M2P1.far", root=pair.remote_root)  # 2025
    pair.configure(local_extra="startdate = 2020-01-01\n")
    pair.run()
    assert [body for _, body in pair.local_messages("INBOX")] == [new.replace(b"\r\n", b"\n")]
    start = pair.metadata / "Repository-Local" / "StartUID" / "INBOX"
    floor = int(start.read_text())
    # a later message with an old date is above the floor: copied; nothing old is touched
    pair.deliver("INBOX", later, "", name="1400000000.M3P1.far", root=pair.remote_root)
    pair.run()
    assert len(pair.local_messages("INBOX")) == 2
    assert len(remote(pair, "INBOX")) == 3  # the 2017 message is neither copied nor deleted
    assert int(start.read_text()) == floor
