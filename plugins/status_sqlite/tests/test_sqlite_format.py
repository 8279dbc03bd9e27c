"""The sqlite backend's databases, as OfflineIMAP 8.0.3 creates, upgrades and reads them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from offlineimap.errors import CorruptStatusError
from offlineimap.plugins import PluginHost
from offlineimap.status import StatusRecord
from offlineimap_status_plain import PlainStatusBackend
from offlineimap_status_sqlite import SqliteStatusBackend, plugin

# OfflineIMAP's statements, as its LocalStatusSQLite.py runs them (versions 2 and 1).
OFFLINEIMAP_V2 = """
CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));
INSERT INTO metadata VALUES('db_version', '2');
CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));
"""
OFFLINEIMAP_V1 = """
CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));
INSERT INTO metadata VALUES('db_version', '1');
CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50));
"""
MAGIC2 = "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2\n"
RECORDS = {
    1: StatusRecord(),
    3: StatusRecord(frozenset("TSRPFD"), 1_700_000_000, frozenset({"Work", "Inbox"})),
    7: StatusRecord(frozenset("F"), 42, frozenset({"Ünïcödé"})),
}
ROWS = [(1, "", 0, ""), (3, "DFPRST", 1_700_000_000, "Inbox, Work"), (7, "F", 42, "Ünïcödé")]


@pytest.fixture
def backend(tmp_path: Path) -> SqliteStatusBackend:
    return SqliteStatusBackend(tmp_path / "Account-a", fsync=False)


def offlineimap_database(path: Path, script: str, rows: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(script + rows)
    db.close()
    return path


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


SCHEMA = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"


def test_schema_is_offlineimaps(backend: SqliteStatusBackend, tmp_path: Path) -> None:
    backend.open_folder("INBOX").close()
    reference = offlineimap_database(tmp_path / "reference", OFFLINEIMAP_V2)
    path = backend.database_path("INBOX")
    assert query(path, SCHEMA) == query(reference, SCHEMA)
    assert query(path, "SELECT key, value FROM metadata") == [("db_version", "2")]
    assert query(path, "PRAGMA journal_mode") == [("delete",)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["INBOX"]


def test_rows_are_offlineimaps(backend: SqliteStatusBackend) -> None:
    with backend.open_folder("INBOX") as folder:
        folder.put(RECORDS)
        folder.set_meta({"uidnext": "8"})
    path = backend.database_path("INBOX")
    assert query(path, "SELECT id, flags, mtime, labels FROM status ORDER BY id") == ROWS
    assert query(path, "SELECT key, value FROM metadata ORDER BY key") == [
        ("db_version", "2"),
        ("meta:uidnext", "8"),
    ]


def test_reads_offlineimap_database(backend: SqliteStatusBackend) -> None:
    rows = """
    INSERT INTO status VALUES (1, '', 0, '');
    INSERT INTO status VALUES (3, 'SRPTFD', 1700000000, 'Work,Inbox');
    INSERT INTO status VALUES (7, 'F', 42, ' Ünïcödé ');
    INSERT INTO status VALUES (9, 'S', 0, NULL);
    """
    offlineimap_database(backend.database_path("INBOX"), OFFLINEIMAP_V2, rows)
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {**RECORDS, 9: StatusRecord(frozenset("S"))}
        assert folder.meta() == {}


def test_upgrades_offlineimap_version_1(backend: SqliteStatusBackend, tmp_path: Path) -> None:
    rows = "INSERT INTO status VALUES (1, 'RS'); INSERT INTO status VALUES (2, '');"
    path = offlineimap_database(backend.database_path("INBOX"), OFFLINEIMAP_V1, rows)
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {1: StatusRecord(frozenset("RS")), 2: StatusRecord()}
    # What OfflineIMAP's own upgrade (two ALTER TABLEs) leaves behind.
    reference = offlineimap_database(tmp_path / "reference", OFFLINEIMAP_V1)
    with sqlite3.connect(reference) as db:
        db.executescript(
            "ALTER TABLE status ADD mtime INTEGER DEFAULT 0;"
            "ALTER TABLE status ADD labels VARCHAR(256) DEFAULT '';"
            "UPDATE metadata SET value='2' WHERE key='db_version';"
        )
    db.close()
    assert query(path, SCHEMA) == query(reference, SCHEMA)
    assert query(path, "SELECT value FROM metadata WHERE key = 'db_version'") == [("2",)]


def test_imports_plain_status_and_leaves_it(backend: SqliteStatusBackend) -> None:
    plain = PlainStatusBackend(backend.account_dir, fsync=False)
    with plain.open_folder("INBOX/Sub") as folder:
        folder.put(RECORDS)
        folder.set_meta({"highestmodseq": "77"})
    plain_file = plain.status_path("INBOX/Sub")
    before = plain_file.read_bytes()
    assert not backend.exists("INBOX/Sub")
    with backend.open_folder("INBOX/Sub") as folder:
        assert folder.records() == RECORDS
        assert folder.meta() == {"highestmodseq": "77"}
        folder.remove([1])
    assert plain_file.read_bytes() == before
    # Imported once: later changes to the plain file are not imported again.
    with plain.open_folder("INBOX/Sub") as folder:
        folder.put({99: StatusRecord()})
    with backend.open_folder("INBOX/Sub") as folder:
        assert set(folder.records()) == {3, 7}


def test_imports_plain_format_1(backend: SqliteStatusBackend) -> None:
    plain = PlainStatusBackend(backend.account_dir, fsync=False)
    path = plain.status_path("INBOX")
    path.parent.mkdir(parents=True)
    path.write_text("OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 1\n5:RS\n")
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {5: StatusRecord(frozenset("RS"))}


def test_corrupt_plain_status_stops_the_import_and_creates_nothing(
    backend: SqliteStatusBackend,
) -> None:
    plain_file = PlainStatusBackend(backend.account_dir, fsync=False).status_path("INBOX")
    plain_file.parent.mkdir(parents=True)
    plain_file.write_text(MAGIC2 + "1|S|0|\ngarbage\n")
    with pytest.raises(CorruptStatusError, match="line 3"):
        backend.open_folder("INBOX")
    assert not backend.exists("INBOX")
    plain_file.write_text(MAGIC2 + "1|S|0|\n")
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {1: StatusRecord(frozenset("S"))}


def _truncated(path: Path) -> None:
    offlineimap_database(path, OFFLINEIMAP_V2, "INSERT INTO status VALUES (1, 'S', 0, '');")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_text(MAGIC2 + "1|S|0|\n"), "not an SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000), "truncated or padded"),
        (_truncated, "truncated or padded"),
        (lambda p: offlineimap_database(p, "CREATE TABLE other (x);"), "no table 'metadata'"),
        (
            lambda p: offlineimap_database(p, OFFLINEIMAP_V2.replace("'2'", "'3'")),
            "db_version '3'",
        ),
        (
            lambda p: offlineimap_database(p, OFFLINEIMAP_V2.replace("INSERT", "-- ")),
            "db_version None",
        ),
        (
            lambda p: offlineimap_database(p, OFFLINEIMAP_V2.replace(", mtime INTEGER", "")),
            "'status' lacks mtime",
        ),
        (
            lambda p: offlineimap_database(p, OFFLINEIMAP_V2.replace("value VARCHAR", "v CHAR")),
            "'metadata' lacks value",
        ),
    ],
)
def test_corrupt_database_raises_one_line_and_is_left_alone(
    backend: SqliteStatusBackend, make: object, problem: str
) -> None:
    path = backend.database_path("INBOX/Sub")
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)  # type: ignore[operator]
    before = path.read_bytes()
    with pytest.raises(CorruptStatusError) as caught:
        backend.open_folder("INBOX/Sub")
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert "\n" not in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["INBOX.Sub"]


def test_wal_database_is_switched_back_to_rollback_journal(backend: SqliteStatusBackend) -> None:
    path = offlineimap_database(backend.database_path("INBOX"), OFFLINEIMAP_V2)
    query(path, "PRAGMA journal_mode=WAL")
    with backend.open_folder("INBOX") as folder:
        folder.put(RECORDS)
    assert query(path, "PRAGMA journal_mode") == [("delete",)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["INBOX"]


def test_stale_journal_of_a_deleted_database_is_not_replayed(
    backend: SqliteStatusBackend,
) -> None:
    with backend.open_folder("INBOX") as folder:
        folder.put(RECORDS)
    path = backend.database_path("INBOX")
    journal = path.with_name("INBOX-journal")
    journal.write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\x00" * 600)
    path.unlink()
    with backend.open_folder("INBOX") as folder:
        assert folder.records() == {}
    assert not journal.exists()


def test_plugin_import_does_not_load_sqlalchemy() -> None:
    code = (
        "import sys, offlineimap_status_sqlite.plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_plugin_registers_sqlite() -> None:
    host = PluginHost()
    host.add("status_sqlite", plugin, distribution="offlineimap-status-sqlite")
    host.finish()
    assert host.status_backends.resolve("sqlite", "status_backend") is SqliteStatusBackend
