"""The registry of local copies: served bytes equal a fresh download's, stale rows never serve."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from offlineimap_gmail.copies import Copy, CopyRegistry, fingerprint, recordable
from offlineimap_gmail.labels import set_header

HEADER = "X-Keywords"
labels = st.frozensets(st.sampled_from(["\\Inbox", "Work", "Été", "a b"]), max_size=3)
lines = st.lists(st.sampled_from([b"Subject: x", b"X-Keywords: old", b"X-Keywords: Work,A",
                                  b" folded", b"", b"body", b"\r", b"From: a@b"]), max_size=8)
endings = st.lists(st.sampled_from([b"\r\n", b"\n", b"\r\r\n"]), min_size=8, max_size=8)


def to_maildir(body: bytes) -> bytes:
    return body.replace(b"\r\n", b"\n")


@settings(max_examples=400, deadline=None)
@given(lines, endings, labels, labels, st.booleans())
def test_served_copy_is_what_a_download_writes(parts, ends, first, later, synclabels) -> None:
    """A message stored once with ``first`` labels, served for another folder when it has
    ``later``: the new file equals a fresh download's, byte for byte."""
    server = b"".join(part + end for part, end in zip(parts, ends, strict=False))
    header = HEADER if synclabels else ""

    def download(labels_now: frozenset[str]) -> bytes:
        return set_header(server, HEADER, labels_now) if synclabels else server

    stored = to_maildir(download(first))
    if not recordable(stored):
        return
    served = set_header(stored, HEADER, later) if synclabels else stored
    assert to_maildir(served) == to_maildir(download(later))
    assert fingerprint(to_maildir(download(later)), header) == fingerprint(stored, header)


def test_crlf_left_after_conversion_is_not_recordable() -> None:
    assert not recordable(to_maildir(b"Subject: x\r\r\n\r\nbody\r\n"))
    assert recordable(to_maildir(b"Subject: x\r\n\r\nbody\r\n"))


def registry(tmp_path, warnings=None) -> CopyRegistry:
    return CopyRegistry(tmp_path / "meta" / "GmailMessages", fsync=False,
                        warn=(warnings if warnings is not None else []).append)


def store(tmp_path, name: str, body: bytes, sub: str = "new") -> Copy:
    folder = tmp_path / "Mail" / "INBOX"
    for part in ("cur", "new", "tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    path = folder / sub / name
    path.write_bytes(body)
    size, digest = fingerprint(body, HEADER)
    return Copy(path, name.split(":")[0], HEADER, 120, size, digest)


def test_record_find_read_and_labels_changed_on_disk(tmp_path) -> None:
    body = b"Subject: x\nX-Keywords: Work\n\nbody\n"
    copy = store(tmp_path, "1.M1.h,U=1,FMD5=ab:2,", body)
    reg = registry(tmp_path)
    reg.record("me@gmail", [(2**63 + 5, copy)])  # X-GM-MSGIDs are unsigned 64-bit
    found = reg.find("me@gmail", [2**63 + 5, 7])
    assert found == {2**63 + 5: [copy]}
    assert reg.find("other@gmail", [2**63 + 5]) == {}
    copy.path.write_bytes(set_header(body, HEADER, ["\\Inbox", "Later"]))
    assert reg.read(copy, HEADER, 120) == copy.path.read_bytes()
    assert reg.read(copy, HEADER, 121) is None  # the server's size differs: not this message
    assert reg.read(copy, "X-Label", 120) is None  # written with another labels header


def test_renamed_file_is_found_and_edited_file_is_not(tmp_path) -> None:
    body = b"Subject: x\n\nbody\n"
    copy = store(tmp_path, "1.M1.h,U=1,FMD5=ab:2,", body)
    reg = registry(tmp_path)
    moved = copy.path.parent.parent / "cur" / "1.M1.h,U=1,FMD5=ab:2,S"
    copy.path.rename(moved)
    assert reg.read(copy, HEADER, None) == body
    moved.write_bytes(body.replace(b"body", b"BODY"))
    assert reg.read(copy, HEADER, None) is None


def test_forget_and_an_unreadable_database(tmp_path) -> None:
    copy = store(tmp_path, "1.M1.h,U=1,FMD5=ab:2,", b"Subject: x\n\nbody\n")
    reg = registry(tmp_path)
    reg.record("me", [(1, copy)])
    reg.forget("me", [(1, copy.path)])
    assert reg.find("me", [1]) == {}
    broken_path = tmp_path / "broken"
    broken_path.mkdir()
    (broken_path / "GmailMessages").write_bytes(b"this is not a sqlite database" * 100)
    warnings: list[str] = []
    broken = CopyRegistry(broken_path / "GmailMessages", fsync=True, warn=warnings.append)
    broken.record("me", [(1, copy)])
    assert broken.find("me", [1]) == {}
    assert len(warnings) == 1 and "downloaded once per folder" in warnings[0]
