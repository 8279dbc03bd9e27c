"""OfflineIMAP's status encoding: the plain LocalStatus file and the columns shared with sqlite.

OfflineIMAP 8.0.3 writes a plain status file as a magic line followed by one line per message,
``uid|flags|mtime|labels``: flag letters sorted and concatenated, labels sorted and joined with
``", "``. Its sqlite cache stores the same ``flags`` and ``labels`` strings in columns, so the
sqlite plugin encodes through this module too and both caches agree byte for byte.

Parsing is the hot path of every sync (one call per folder, up to hundreds of thousands of
lines), so records are shared: most lines differ only in their UID, and each distinct
``flags|mtime|labels`` tail is parsed and turned into a :class:`StatusRecord` once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from offlineimap.errors import CorruptStatusError, FolderError
from offlineimap.status import StatusRecord

MAGIC = "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT {}"
MAGIC_V1 = MAGIC.format(1)
MAGIC_V2 = MAGIC.format(2)
HEADER = MAGIC_V2 + "\n"

#: Characters that would break a line or a field if stored inside a flag or a label.
_FORBIDDEN = frozenset("|,\r\n")


def encode_flags(flags: Iterable[str]) -> str:
    """The ``flags`` field: the letters sorted and concatenated (``"FRS"``)."""
    return "".join(sorted(flags))


def encode_labels(labels: Iterable[str]) -> str:
    """The ``labels`` field: the labels sorted and joined with ``", "``."""
    return ", ".join(sorted(labels))


def decode_labels(text: str | None) -> frozenset[str]:
    """Read a ``labels`` field as OfflineIMAP does: split on commas, strip, drop empties.

    ``None`` is accepted because OfflineIMAP's own sqlite databases can hold NULL there.
    """
    if not text:
        return frozenset()
    return frozenset(label for part in text.split(",") if (label := part.strip()))


class RecordEncoder:
    """Turns records into their columns, refusing what would not read back the same.

    A label or flag holding ``|``, ``,`` or a line break, or a label with surrounding blanks,
    would be split or stripped when read again: the engine would then see a label change on
    every sync. Such a record is rejected with a :class:`FolderError` instead. Records repeat a
    lot (most messages share their flags), so each distinct one is checked and encoded once.
    """

    def __init__(self) -> None:
        self._fields: dict[StatusRecord, tuple[str, int, str]] = {}
        self._tails: dict[StatusRecord, str] = {}

    def fields(self, uid: int, record: StatusRecord) -> tuple[str, int, str]:
        """Return the ``(flags, mtime, labels)`` columns of ``record``, stored under ``uid``."""
        _check_uid(uid)
        fields = self._fields.get(record)
        if fields is None:
            _check(uid, record)
            fields = (encode_flags(record.flags), int(record.mtime), encode_labels(record.labels))
            self._fields[record] = fields
        return fields

    def tail(self, uid: int, record: StatusRecord) -> str:
        """Return a plain line's ``flags|mtime|labels`` for ``record``, stored under ``uid``."""
        _check_uid(uid)
        text = self._tails.get(record)
        if text is None:
            text = "{}|{}|{}".format(*self.fields(uid, record))
            self._tails[record] = text
        return text


def _check_uid(uid: int) -> None:
    if type(uid) is not int or uid <= 0:
        raise FolderError(f"status cache: invalid UID {uid!r} (must be a positive integer)")


def _check(uid: int, record: StatusRecord) -> None:
    for flag in record.flags:
        if len(flag) != 1 or flag.isspace() or flag in _FORBIDDEN:
            raise FolderError(f"status cache: UID {uid} has an invalid flag {flag!r}")
    for label in record.labels:
        if not label or label != label.strip() or not _FORBIDDEN.isdisjoint(label):
            raise FolderError(
                f"status cache: UID {uid} has label {label!r}, which cannot be stored "
                "(labels may not contain '|', ',' or line breaks, nor start or end with blanks)"
            )


class RecordDecoder:
    """Parses ``flags|mtime|labels`` tails, sharing one record per distinct tail."""

    def __init__(self) -> None:
        self._records: dict[str, StatusRecord] = {}
        self._rows: dict[tuple[str | None, int | None, str | None], StatusRecord] = {}

    def rows(
        self, rows: Iterable[tuple[int, str | None, int | None, str | None]]
    ) -> dict[int, StatusRecord]:
        """Decode ``(uid, flags, mtime, labels)`` column tuples (the sqlite plugin's rows)."""
        shared = self._rows
        records: dict[int, StatusRecord] = {}
        for uid, flags, mtime, labels in rows:
            key = (flags, mtime, labels)
            record = shared.get(key)
            if record is None:
                record = StatusRecord(frozenset(flags or ""), mtime or 0, decode_labels(labels))
                shared[key] = record
            records[uid] = record
        return records

    def parse_tail(self, tail: str) -> StatusRecord | None:
        """Return the record a plain line's ``flags|mtime|labels`` encodes, or ``None`` if bad."""
        record = self._records.get(tail)
        if record is None:
            fields = tail.split("|")
            if len(fields) != 3:
                return None
            flags, mtime, labels = fields
            try:
                record = StatusRecord(frozenset(flags), int(mtime), decode_labels(labels))
            except ValueError:
                return None
            self._records[tail] = record
        return record


def parse(data: bytes, path: Path) -> tuple[dict[int, StatusRecord], dict[int, str]]:
    """Parse a whole plain status file: ``({uid: record}, {uid: line as written})``.

    The second mapping holds each record's line in format 2 (``"uid|flags|mtime|labels\\n"``)
    so that a rewrite is one join. A 0-byte file (OfflineIMAP can leave one) is an empty status;
    anything else that is not a complete format 1 or 2 file raises :class:`CorruptStatusError`.
    """
    if not data:
        return {}, {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptStatusError(
            f"corrupt status file {path}: not UTF-8 at byte {exc.start}"
        ) from None
    if not text.endswith("\n"):
        raise CorruptStatusError(f"corrupt status file {path}: truncated (last line incomplete)")
    lines = text.split("\n")
    lines.pop()  # the empty string after the final newline
    magic = lines[0].strip()
    if magic == MAGIC_V2:
        return _parse_v2(lines, path)
    if magic == MAGIC_V1:
        return _parse_v1(lines, path)
    raise CorruptStatusError(f"corrupt status file {path}: unrecognised first line {magic[:80]!r}")


def _bad_line(path: Path, number: int, line: str) -> CorruptStatusError:
    return CorruptStatusError(f"corrupt status file {path}: line {number} is {line[:80]!r}")


def _parse_v2(lines: list[str], path: Path) -> tuple[dict[int, StatusRecord], dict[int, str]]:
    decoder = RecordDecoder()
    records: dict[int, StatusRecord] = {}
    written: dict[int, str] = {}
    for number in range(1, len(lines)):
        line = lines[number].strip()
        uid_text, _, tail = line.partition("|")
        record = decoder.parse_tail(tail)
        if record is None or not uid_text.isdigit():
            raise _bad_line(path, number + 1, line)
        uid = int(uid_text)
        records[uid] = record
        written[uid] = line + "\n"
    return records, written


def _parse_v1(lines: list[str], path: Path) -> tuple[dict[int, StatusRecord], dict[int, str]]:
    records: dict[int, StatusRecord] = {}
    written: dict[int, str] = {}
    for number in range(1, len(lines)):
        line = lines[number].strip()
        uid_text, colon, flags = line.partition(":")
        if not colon or not uid_text.isdigit() or ":" in flags:
            raise _bad_line(path, number + 1, line)
        uid = int(uid_text)
        record = StatusRecord(frozenset(flags))
        records[uid] = record
        written[uid] = f"{uid}|{encode_flags(record.flags)}|0|\n"
    return records, written
