"""One folder's status as an SQLite database, through SQLAlchemy Core.

The schema is OfflineIMAP 8.0.3's, created with its exact statements (SQLite keeps the
statement text in ``sqlite_master``, so OfflineIMAP and ``sqlite3 .schema`` see the same
database either program made)::

    metadata(key VARCHAR(50) PRIMARY KEY, value VARCHAR(128))   -- db_version = 2
    status(id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256))

Our per-folder metadata lives in ``metadata`` under keys prefixed ``meta:``; OfflineIMAP only
ever reads ``db_version``, and its keys are bare words, so the colon keeps the two apart.

Transactions: every public call is one explicit transaction (the driver is put in autocommit
mode and SQLAlchemy's ``begin`` emits ``BEGIN``, so even the creation of a new database and
the import of a plain status into it commit together or not at all). ``synchronous=FULL``
with ``fsync`` on makes a commit survive a power cut, ``NORMAL`` otherwise.

Journal mode: ``DELETE``, SQLite's default, which OfflineIMAP uses too. A folder's database has
one writer at a time, so WAL's concurrent readers buy nothing, and WAL would leave ``-wal`` and
``-shm`` files whose content a user copying or inspecting the database (or going back to
OfflineIMAP on a system without write access to the directory) could miss. A database some
other tool switched to WAL is switched back to ``DELETE`` once it has been read successfully.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.expression import Executable

from offlineimap.errors import CorruptStatusError, FolderError
from offlineimap.status import StatusFolder, StatusRecord
from offlineimap_status_plain import PlainStatusBackend
from offlineimap_status_plain.format import RecordDecoder, RecordEncoder
from offlineimap_status_sqlite.backend import remove_side_files

if TYPE_CHECKING:
    from offlineimap_status_sqlite.backend import SqliteStatusBackend

SQLITE_HEADER = b"SQLite format 3\x00"
META_PREFIX = "meta:"

#: OfflineIMAP's own statements for a new database (format version 2), verbatim.
CREATE_DATABASE = (
    "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128))",
    "INSERT INTO metadata VALUES('db_version', '2')",
    "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, "
    "labels VARCHAR(256))",
)
#: OfflineIMAP's upgrade of a version 1 database (no Gmail columns), verbatim.
UPGRADE_FROM_1 = (
    "ALTER TABLE status ADD mtime INTEGER DEFAULT 0",
    "ALTER TABLE status ADD labels VARCHAR(256) DEFAULT ''",
    "UPDATE metadata SET value='2' WHERE key='db_version'",
)

_tables = MetaData()
metadata_table = Table(
    "metadata", _tables, Column("key", String(50), primary_key=True), Column("value", String(128))
)
status_table = Table(
    "status",
    _tables,
    Column("id", Integer, primary_key=True),
    Column("flags", String(50)),
    Column("mtime", Integer),
    Column("labels", String(256)),
)


def _positional(statement: Executable) -> str:
    """Compile a Core statement once to SQLite's positional SQL (``?`` per column, in order).

    Every statement runs through ``exec_driver_sql`` with that text and plain tuples:
    SQLAlchemy's per-row parameter processing costs about 6 microseconds a row, three times
    SQLite's own work, which a 100,000-message folder would feel; and its compiled cache
    belongs to an engine, so each folder's engine would otherwise compile them all again.
    """
    return str(statement.compile(dialect=sqlite_dialect()))


#: Rows ``(key, value)``.
_SELECT_METADATA = _positional(select(metadata_table.c.key, metadata_table.c.value))
#: Parameters ``(key,)``; rows ``(value,)``.
_SELECT_META_VALUE = _positional(
    select(metadata_table.c.value).where(metadata_table.c.key == bindparam("key"))
)
#: Parameters ``(key, value)``.
_UPSERT_METADATA = _positional(insert(metadata_table).prefix_with("OR REPLACE"))

#: Parameters ``(id, flags, mtime, labels)``.
_UPSERT_STATUS = _positional(insert(status_table).prefix_with("OR REPLACE"))
#: Rows ``(id, flags, mtime, labels)``.
_SELECT_STATUS = _positional(
    select(status_table.c.id, status_table.c.flags, status_table.c.mtime, status_table.c.labels)
)
#: Parameters ``(id,)``.
_DELETE_STATUS = _positional(delete(status_table).where(status_table.c.id == bindparam("id")))


class SqliteStatusFolder(StatusFolder):
    """One folder's status database, open for one sync (one connection, held until close)."""

    def __init__(self, backend: SqliteStatusBackend, folder_name: str) -> None:
        self.path = backend.database_path(folder_name)
        self._encoder = RecordEncoder()
        self._conn: Connection | None = None
        if backend.exists(folder_name):
            _check_header(self.path)
        else:
            remove_side_files(self.path)
        self._engine = _make_engine(self.path, backend.fsync)
        try:
            with self._errors():
                self._conn = self._engine.connect()
                with self._conn.begin():
                    if not _prepare_schema(self._conn, self.path):
                        self._create(backend, folder_name)
                        # SQLite honours the umask; the status is the user's alone (and
                        # SQLite gives its journal files the database's mode).
                        self.path.chmod(0o600)
                # Outside any transaction, once the database has been read successfully.
                self._conn.connection.dbapi_connection.execute("PRAGMA journal_mode=DELETE")
        except BaseException:
            self.close()
            raise

    # -- StatusFolder ---------------------------------------------------------------------------

    def records(self) -> dict[int, StatusRecord]:
        with self._errors(), self._connection().begin():
            result = self._connection().exec_driver_sql(_SELECT_STATUS)
            rows = result.cursor.fetchall()  # plain tuples: no Row objects for 100,000 rows
            result.close()
        return RecordDecoder().rows(rows)

    def put(self, records: Mapping[int, StatusRecord]) -> None:
        rows = self._status_rows(records)
        if rows:
            with self._errors(), self._connection().begin():
                self._connection().exec_driver_sql(_UPSERT_STATUS, rows)

    def remove(self, uids: Iterable[int]) -> None:
        rows = [(uid,) for uid in set(uids)]
        if rows:
            with self._errors(), self._connection().begin():
                self._connection().exec_driver_sql(_DELETE_STATUS, rows)

    def meta(self) -> dict[str, str]:
        with self._errors(), self._connection().begin():
            rows = self._connection().exec_driver_sql(_SELECT_METADATA)
            return {
                key.removeprefix(META_PREFIX): value
                for key, value in rows
                if key.startswith(META_PREFIX)
            }

    def set_meta(self, values: Mapping[str, str]) -> None:
        rows = self._meta_rows(values)
        if rows:
            with self._errors(), self._connection().begin():
                self._connection().exec_driver_sql(_UPSERT_METADATA, rows)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()

    # -- internals ------------------------------------------------------------------------------

    def _create(self, backend: SqliteStatusBackend, folder_name: str) -> None:
        """Create OfflineIMAP's schema and import a plain status of the folder, if any.

        Runs inside the opening transaction: a crash leaves no tables, and the next open
        starts over. The plain file is left where it is, for going back.
        """
        conn = self._connection()
        for statement in CREATE_DATABASE:
            conn.exec_driver_sql(statement)
        plain = PlainStatusBackend(backend.account_dir, fsync=False)
        if plain.exists(folder_name):
            with plain.open_folder(folder_name) as old:
                if rows := self._status_rows(old.records()):
                    conn.exec_driver_sql(_UPSERT_STATUS, rows)
                if rows := self._meta_rows(old.meta()):
                    conn.exec_driver_sql(_UPSERT_METADATA, rows)

    def _status_rows(self, records: Mapping[int, StatusRecord]) -> list[tuple[int, str, int, str]]:
        fields = self._encoder.fields
        return [(uid, *fields(uid, record)) for uid, record in records.items()]

    @staticmethod
    def _meta_rows(values: Mapping[str, str]) -> list[tuple[str, str]]:
        for key, value in values.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise FolderError(f"status metadata must be text: {key!r} = {value!r}")
        return [(META_PREFIX + key, value) for key, value in values.items()]

    def _connection(self) -> Connection:
        if self._conn is None:
            raise FolderError(f"status database {self.path} is closed")
        return self._conn

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite's exceptions into one readable line naming the database.

        ``DatabaseError`` proper is SQLite's word for a damaged file ("file is not a database",
        "database disk image is malformed"); its subclass ``OperationalError`` covers the rest
        (locked, disk full, permissions), which the user fixes elsewhere.
        """
        try:
            yield
        except DBAPIError as exc:
            reason = str(exc.orig) if exc.orig is not None else str(exc).splitlines()[0]
            damaged = type(exc.orig) is sqlite3.DatabaseError
            kind = CorruptStatusError if damaged else FolderError
            raise kind(f"status database {self.path}: {reason}") from exc


def _check_header(path: Path) -> None:
    """Refuse a file that is not an SQLite database, or a truncated one, before SQLite gets
    to touch it.

    SQLite reads the missing end of a truncated file as zeros, which decode as records with
    wrong flags rather than as an error. The header records the page size and (when its
    "valid for" counter matches the change counter) the size in pages; without a journal
    to replay, the file must be exactly that long.
    """
    try:
        with path.open("rb") as file:
            header = file.read(100)
            size = os.fstat(file.fileno()).st_size
    except OSError as exc:
        raise FolderError(f"cannot read status database {path}: {exc.strerror or exc}") from exc
    if not header.startswith(SQLITE_HEADER):
        raise CorruptStatusError(f"corrupt status database {path}: not an SQLite database")
    if any(path.with_name(path.name + suffix).exists() for suffix in ("-journal", "-wal")):
        return  # SQLite replays the journal first; the file may legitimately differ
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    counted = len(header) == 100 and header[24:28] == header[92:96] and pages
    if page_size < 512 or size % page_size or (counted and pages * page_size != size):
        raise CorruptStatusError(f"corrupt status database {path}: truncated or padded "
                                 f"({size} bytes, page size {page_size})")


def _make_engine(path: Path, fsync: bool) -> Engine:
    """An engine with one connection per folder, in explicit-transaction mode."""

    def connect() -> sqlite3.Connection:
        # Our own connect (not a URL): folder file names may hold '?' or '#'.
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
    synchronous = "FULL" if fsync else "NORMAL"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def _prepare_schema(conn: Connection, path: Path) -> bool:
    """Check (and if it is OfflineIMAP's version 1, upgrade) the schema. False: no tables yet."""
    query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    tables = {name for (name,) in conn.exec_driver_sql(query)}
    if not tables:
        return False
    for table in _tables.sorted_tables:
        if table.name not in tables:
            raise CorruptStatusError(f"corrupt status database {path}: no table {table.name!r}")
    _check_columns(conn, path, metadata_table)
    value = conn.exec_driver_sql(_SELECT_META_VALUE, ("db_version",)).scalar()
    version = None if value is None else str(value)
    if version == "1":
        for statement in UPGRADE_FROM_1:
            conn.exec_driver_sql(statement)
    elif version != "2":
        raise CorruptStatusError(
            f"corrupt status database {path}: db_version {version!r} (known: '1', '2')"
        )
    _check_columns(conn, path, status_table)
    return True


def _check_columns(conn: Connection, path: Path, table: Table) -> None:
    found = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table.name})")}
    missing = [column.name for column in table.columns if column.name not in found]
    if missing:
        raise CorruptStatusError(
            f"corrupt status database {path}: table {table.name!r} lacks {', '.join(missing)}"
        )
