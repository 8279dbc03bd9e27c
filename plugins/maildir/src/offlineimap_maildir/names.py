"""Maildir file names exactly as OfflineIMAP 8 writes and reads them.

A message OfflineIMAP stored is called
``<time>_<seq>.<pid>.<host>,U=<uid>,FMD5=<md5 of the folder's visible name>:2,<flags>``
(``!`` instead of ``:`` with ``maildir-windows-compatible``). The UID belongs to the folder whose
name hashes to the FMD5: a file copied or moved in from another folder (or delivered by anything
else) carries no UID here and is a new local message. Keeping this scheme byte for byte is what lets
an existing OfflineIMAP user switch without downloading their mail again.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence

_UID = re.compile(r",U=(\d+)")
_LEADING_DIGITS = re.compile(r"\d+")
_FLAG_CHARS = re.compile(r"\w*")
_OURS = re.compile(r"(\d+)_\d+\.(\d+)\.([^,]*),U=\d+,FMD5=([0-9a-f]{32})")

_seq_lock = threading.Lock()
_seq_by_second: dict[int, int] = {}


def folder_md5(visible_name: str) -> str:
    """The FMD5 of a folder: the hex MD5 of its nametrans-translated name (OfflineIMAP's
    ``getvisiblename()``), so that names stay valid while the folder keeps its name."""
    return hashlib.md5(visible_name.encode("utf-8"), usedforsecurity=False).hexdigest()


def _next_time_seq(date: int | None) -> tuple[int, int]:
    """``(seconds, n)`` unique within this process, as OfflineIMAP numbers files per second."""
    second = int(time.time()) if date is None else date
    with _seq_lock:
        seq = _seq_by_second.get(second, -1) + 1
        _seq_by_second[second] = seq
    return second, seq


def _safe_host() -> str:
    """The host name with the characters that carry meaning in our names escaped (maildir(5))."""
    host = socket.gethostname()
    for char, escape in (("/", r"\057"), (":", r"\072"), (",", r"\054"), ("!", r"\041")):
        host = host.replace(char, escape)
    return host


def leading_timestamp(name: str) -> float | None:
    """Delivery time from a file name's leading digits (``1700000000_0...``), if any."""
    match = _LEADING_DIGITS.match(name)
    return float(match.group()) if match else None


class NameScheme:
    """Parses and builds the file names of one folder (its FMD5 and info separator)."""

    def __init__(self, fmd5: str, infosep: str) -> None:
        self.fmd5 = fmd5
        self.infosep = infosep
        self._info = infosep + "2,"
        self._fmd5_token = ",FMD5=" + fmd5
        self._prefix = re.compile("[^" + re.escape(infosep) + ",]*")
        #: The names OfflineIMAP and we write, in one match: (time, uid, flags).
        sep = re.escape(infosep)
        self._ours = re.compile(
            rf"(\d*)[^,{sep}]*,U=(\d+),FMD5={fmd5}{sep}2,([A-Za-z]*)\Z").match
        #: The same names with a timestamp and a UID other than 0, each after a NUL: (time,
        #: flags). Possessive: giving characters back could never make a name match.
        self._usual = re.compile(
            rf"\0(\d++)[^,{sep}\0]*+,U=0*+[1-9]\d*+,FMD5={fmd5}{sep}2,([A-Za-z]*+)(?=\0)").findall
        self._host = _safe_host()

    def _info_span(self, name: str) -> tuple[int, int]:
        """Start and end of ``:2,<flags>`` in ``name``, or ``(-1, -1)``."""
        start = name.find(self._info)
        if start < 0:
            return -1, -1
        match = _FLAG_CHARS.match(name, start + 3)
        assert match is not None  # \w* always matches
        return start, match.end()

    def parse_listed(self, name: str) -> tuple[int | None, str, float | None]:
        """``(uid, flag characters, leading timestamp)`` as :meth:`parse` and
        :func:`leading_timestamp` give them, in one regex match for the usual names."""
        match = self._ours(name)
        if match is None:
            uid, flags = self.parse(name)
            return uid, flags, leading_timestamp(name)
        stamp, uid_text, flags = match.groups()
        return int(uid_text) or None, flags, float(stamp) if stamp else None

    def parse_usual(self, listed: Sequence[str]
                    ) -> tuple[list[int], list[tuple[str, str]]] | None:
        """The UIDs and ``(leading timestamp digits, flag characters)`` of ``listed``, in order,
        if every name is in the usual form: what :meth:`parse_listed` reads with its one match,
        with a timestamp and a UID other than 0. ``None`` if any name is not.

        Two regex passes over all the names joined (no file name holds a NUL), in C: a Python
        call per name costs more than reading the directory. The second pass finds each UID as
        the name's only ``,U=``: a name in the usual form has no comma before it, and its later
        commas are followed by ``FMD5=`` and by the flags."""
        joined = "\0".join(["", *listed, ""])  # one copy of the text, not three
        keys = self._usual(joined)
        if len(keys) != len(listed):
            return None
        return list(map(int, _UID.findall(joined))), keys

    def parse(self, name: str) -> tuple[int | None, str]:
        """``(uid, flag characters)``; uid is ``None`` unless the name has ``U=`` and this
        folder's FMD5 (a foreign or new message), and for the nonsensical ``U=0``."""
        start, end = self._info_span(name)
        base = name if start < 0 else name[:start]
        flags = "" if start < 0 else name[start + 3:end]
        uid = None
        if self._fmd5_token in base:
            match = _UID.search(base)
            if match:
                uid = int(match.group(1)) or None
        return uid, flags

    def flag_chars(self, name: str) -> str:
        start, end = self._info_span(name)
        return "" if start < 0 else name[start + 3:end]

    def base(self, name: str) -> str:
        """The name without its info part: stable while flags change (and new/ -> cur/)."""
        start = name.find(self._info)
        return name if start < 0 else name[:start]

    def with_flags(self, name: str, flags: str) -> str:
        """``name`` with its flag characters replaced by ``flags``, all else untouched."""
        start, end = self._info_span(name)
        if start < 0:
            return name + self._info + flags
        return name[:start + 3] + flags + name[end:]

    def with_uid(self, name: str, uid: int) -> str:
        """``name`` claimed by this folder as ``uid``: its unique prefix, then ``U=`` and our
        FMD5, then its info part (flags) unchanged. Keeping the prefix keeps its timestamp."""
        prefix = self._prefix.match(name)
        head = prefix.group() if prefix else ""
        if not head:
            head = self._unique_prefix(None)
        start = name.find(self._info)
        info = name[start:] if start >= 0 else self._info
        return f"{head},U={uid},FMD5={self.fmd5}{info}"

    def _unique_prefix(self, date: int | None) -> str:
        second, seq = _next_time_seq(date)
        return f"{second}_{seq}.{os.getpid()}.{self._host}"

    def new_name(self, uid: int, flags: str, date: int | None = None) -> str:
        """A fresh name for a message stored now (or named after ``date``, the Date header)."""
        return f"{self._unique_prefix(date)},U={uid},FMD5={self.fmd5}{self._info}{flags}"

    def writer_of(self, name: str) -> tuple[int, str] | None:
        """``(pid, host)`` of the process that wrote ``name`` if it is one of this folder's
        names (ours or OfflineIMAP's), else ``None``."""
        match = _OURS.match(name)
        if match is None or match.group(4) != self.fmd5:
            return None
        return int(match.group(2)), match.group(3)

    @property
    def host(self) -> str:
        return self._host


def header_date(body: bytes, header: bytes) -> int | None:
    """Seconds since the epoch from the first ``header`` line (``b"Date"``) of a message.

    The message may have CRLF or LF line endings: the answer is the one its LF form gives, so
    a body can be dated before it is converted (which happens slice by slice as it is
    written). Reads only the header block, line by line, as bytes: the message is never parsed,
    nor copied, as a whole. ``None`` when the header is missing, unparsable or before 1970.
    """
    want = header.lower() + b":"
    lines = _header_lines(body)
    for line in lines:
        if line[:len(want)].lower() != want:
            continue
        parts = [line[len(want):]]
        for continuation in lines:
            if continuation[:1] not in (b" ", b"\t"):
                break
            parts.append(continuation)
        text = b" ".join(part.strip() for part in parts).decode("ascii", "replace")
        import email.utils  # only for filename_use_mail_timestamp / utime_from_header

        parsed = email.utils.parsedate_tz(text)
        if parsed is None:
            return None
        try:
            stamp = email.utils.mktime_tz(parsed)
        except (OverflowError, ValueError):
            return None
        return stamp if stamp >= 0 else None
    return None


def _header_lines(body: bytes) -> Iterator[bytes]:
    """The lines of the header block as the LF form of ``body`` splits them: up to the first
    empty line that follows a line (the blank line ending the header), without line ends."""
    start, size = 0, len(body)
    while start < size:
        end = body.find(b"\n", start)
        if end < 0:
            yield body[start:]
            return
        # CRLF -> LF removes exactly one CR before each LF.
        line = body[start:end - 1] if end > start and body[end - 1] == 0x0D else body[start:end]
        if not line and start > 0:
            return
        yield line
        start = end + 1
