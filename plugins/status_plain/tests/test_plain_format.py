"""The plain backend's files, byte for byte as OfflineIMAP 8.0.3 writes and reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offlineimap.errors import CorruptStatusError
from offlineimap.plugins import PluginHost
from offlineimap.repository import FLAG_LETTERS
from offlineimap.status import StatusRecord
from offlineimap_status_plain import PlainStatusBackend, plugin

MAGIC2 = "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2\n"
MAGIC1 = "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 1\n"

# A file as OfflineIMAP writes it: flags sorted, labels sorted and joined with ", ".
OFFLINEIMAP_FILE = (
    MAGIC2
    + "1||0|\n"
    + "2|RS|0|\n"
    + "3|DFPRST|1700000000|Inbox, Work\n"
    + "7|F|42|[Gmail]/Sent Mail, Ünïcödé\n"
)
OFFLINEIMAP_RECORDS = {
    1: StatusRecord(),
    2: StatusRecord(frozenset("SR")),
    3: StatusRecord(frozenset("TSRPFD"), 1_700_000_000, frozenset({"Work", "Inbox"})),
    7: StatusRecord(frozenset("F"), 42, frozenset({"Ünïcödé", "[Gmail]/Sent Mail"})),
}


@pytest.fixture
def backend(tmp_path: Path) -> PlainStatusBackend:
    return PlainStatusBackend(tmp_path / "Account-a", fsync=False)


def write_status(backend: PlainStatusBackend, folder: str, content: bytes | str) -> Path:
    path = backend.status_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_writes_exactly_what_offlineimap_writes(backend: PlainStatusBackend) -> None:
    with backend.open_folder("INBOX") as folder:
        folder.put(OFFLINEIMAP_RECORDS)
    assert backend.status_path("INBOX").read_text("utf-8") == OFFLINEIMAP_FILE


def test_new_folder_file_holds_only_the_magic_line(backend: PlainStatusBackend) -> None:
    backend.open_folder("INBOX").close()
    assert backend.status_path("INBOX").read_bytes() == MAGIC2.encode()


def test_reads_offlineimap_file(backend: PlainStatusBackend) -> None:
    write_status(backend, "INBOX", OFFLINEIMAP_FILE)
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == OFFLINEIMAP_RECORDS


def test_reads_lines_as_offlineimap_does(backend: PlainStatusBackend) -> None:
    # Unsorted flags, blanks around labels, empty labels, CRLF: OfflineIMAP strips and splits.
    write_status(backend, "INBOX", MAGIC2 + "5|SR|3| b ,a,, c \r\n")
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {5: StatusRecord(frozenset("RS"), 3, frozenset("abc"))}


def test_rewrite_keeps_untouched_lines_and_order(backend: PlainStatusBackend) -> None:
    path = write_status(backend, "INBOX", MAGIC2 + "9|S|0|\n4|FS|0|\n")
    with backend.open_folder("INBOX") as folder:
        folder.put({4: StatusRecord(frozenset("S")), 2: StatusRecord()})
        folder.remove([9])
    assert path.read_text() == MAGIC2 + "4|S|0|\n2||0|\n"


def test_reads_format_1_without_touching_it_until_written(backend: PlainStatusBackend) -> None:
    content = MAGIC1 + "1:RS\n2:\n10:F\n"
    path = write_status(backend, "INBOX", content)
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {
            1: StatusRecord(frozenset("RS")),
            2: StatusRecord(),
            10: StatusRecord(frozenset("F")),
        }
        assert path.read_text() == content
        folder.put({11: StatusRecord(frozenset("S"))})
    assert path.read_text() == MAGIC2 + "1|RS|0|\n2||0|\n10|F|0|\n11|S|0|\n"


def test_empty_file_is_an_empty_status(backend: PlainStatusBackend) -> None:
    path = write_status(backend, "INBOX", b"")
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {}
        assert path.read_bytes() == b""
        folder.put({1: StatusRecord()})
    assert path.read_text() == MAGIC2 + "1||0|\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (MAGIC2 + "1|S|0|\n2|S|", "truncated"),
        (MAGIC2[:30], "truncated"),
        ("OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 3\n1|S|0|\n", "first line"),
        ("\n", "first line"),
        ("<html>garbage</html>\n", "first line"),
        (MAGIC2 + "1|S|0|\nthis is garbage\n", "line 3"),
        (MAGIC2 + "1|S|0\n", "line 2"),
        (MAGIC2 + "1|S|0|a|b\n", "line 2"),
        (MAGIC2 + "x|S|0|\n", "line 2"),
        (MAGIC2 + "1|S|soon|\n", "line 2"),
        (MAGIC2 + "1|S|0|\n\n", "line 3"),
        (MAGIC1 + "1|S|0|\n", "line 2"),
        (MAGIC2.encode() + b"1|S|0|\xff\n", "UTF-8"),
    ],
)
def test_corrupt_file_raises_one_line_and_is_left_alone(
    backend: PlainStatusBackend, content: str | bytes, problem: str
) -> None:
    path = write_status(backend, "INBOX/Sub", content)
    before = path.read_bytes()
    with pytest.raises(CorruptStatusError) as caught:
        backend.open_folder("INBOX/Sub")
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert "\n" not in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["INBOX.Sub"]


def test_corrupt_metadata_sidecar_raises(backend: PlainStatusBackend) -> None:
    with backend.open_folder("INBOX") as folder:
        folder.set_meta({"uidnext": "3"})
    backend.meta_path("INBOX").write_text('{"uidnext": 3')
    with pytest.raises(CorruptStatusError, match="metadata"):
        backend.open_folder("INBOX")


def test_layout_on_disk(backend: PlainStatusBackend) -> None:
    for name in ("INBOX/Sub", ".", "X", "X/tmp"):
        with backend.open_folder(name) as folder:
            folder.put({1: StatusRecord()})
            folder.set_meta({"uidnext": "2"})
    root = backend.account_dir
    assert sorted(p.name for p in (root / "LocalStatus").iterdir()) == [
        "INBOX.Sub",
        "X",
        "X.tmp",
        "dot",
    ]
    assert (root / "LocalStatus-extra/meta/INBOX.Sub").read_text() == '{"uidnext": "2"}\n'
    assert (root / "LocalStatus" / "X").read_text() == MAGIC2 + "1||0|\n"


def test_metadata_of_a_deleted_status_file_is_discarded(backend: PlainStatusBackend) -> None:
    with backend.open_folder("INBOX") as folder:
        folder.put({1: StatusRecord()})
        folder.set_meta({"highestmodseq": "99"})
    backend.status_path("INBOX").unlink()  # the user forces a rebuild, as with OfflineIMAP
    with backend.open_folder("INBOX") as folder:
        assert folder.meta() == {}
    assert not backend.meta_path("INBOX").exists()


def test_plugin_registers_plain() -> None:
    host = PluginHost()
    host.add("status_plain", plugin, distribution="offlineimap-status-plain")
    host.finish()
    assert host.status_backends.resolve("plain", "status_backend") is PlainStatusBackend


def test_writes_replace_the_file_never_rewrite_it_in_place(backend: PlainStatusBackend) -> None:
    # A hard link keeps the old inode: only a write through a temporary file and a rename
    # leaves it untouched, which is what makes a crash mid-write harmless.
    with backend.open_folder("INBOX") as folder:
        folder.put({1: StatusRecord()})
        folder.set_meta({"uidnext": "2"})
        old = backend.status_path("INBOX").with_name("old-status")
        old_meta = old.with_name("old-meta")
        old.hardlink_to(backend.status_path("INBOX"))
        old_meta.hardlink_to(backend.meta_path("INBOX"))
        folder.put({2: StatusRecord()})
        folder.remove([1])
        folder.set_meta({"uidnext": "3"})
    assert old.read_text() == MAGIC2 + "1||0|\n"
    assert old_meta.read_text() == '{"uidnext": "2"}\n'
    assert backend.status_path("INBOX").read_text() == MAGIC2 + "2||0|\n"


_labels = st.text(
    st.characters(blacklist_characters="|,\r\n", blacklist_categories=("Cs",)), min_size=1
).filter(lambda label: label == label.strip())
_records = st.dictionaries(
    st.integers(min_value=1, max_value=2**32),
    st.builds(
        StatusRecord,
        st.frozensets(st.sampled_from(sorted(FLAG_LETTERS))),
        st.integers(min_value=0, max_value=2**40),
        st.frozensets(_labels, max_size=4),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(first=_records, second=_records, gone=st.sets(st.integers(min_value=1, max_value=2**32)))
def test_any_storable_records_read_back_unchanged(
    tmp_path_factory: pytest.TempPathFactory,
    first: dict[int, StatusRecord],
    second: dict[int, StatusRecord],
    gone: set[int],
) -> None:
    backend = PlainStatusBackend(tmp_path_factory.mktemp("account"), fsync=False)
    with backend.open_folder("INBOX") as folder:
        folder.put(first)
        folder.put(second)
        folder.remove(gone | set(list(first)[:3]))
        expected = folder.records()
    assert expected == {
        uid: record
        for uid, record in {**first, **second}.items()
        if uid not in gone and uid not in list(first)[:3]
    }
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == expected
