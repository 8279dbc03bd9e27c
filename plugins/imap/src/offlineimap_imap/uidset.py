"""IMAP sequence sets: UID lists compressed to ranges, and split to fit a command line.

imapclient joins UIDs with commas, one by one; Dovecot answers ``BAD Too long argument`` at
about 20,000 of them. Sorted UIDs compressed to ranges (``1:500,502:900``) are usually a few
bytes long, and :func:`chunks` splits the rare scattered set so no command line grows past a
limit every server accepts (RFC 7162 recommends clients stay under 8,192 octets).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

#: Longest sequence set we put in one command, well under servers' line limits.
MAX_SET_LENGTH = 4000


def ranges(uids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, de-duplicated ``(first, last)`` runs of consecutive UIDs."""
    runs: list[tuple[int, int]] = []
    for uid in sorted(set(uids)):
        if uid < 1:
            raise ValueError(f"not an IMAP UID: {uid}")
        if runs and runs[-1][1] == uid - 1:
            runs[-1] = (runs[-1][0], uid)
        else:
            runs.append((uid, uid))
    return runs


def _format_run(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}:{last}"


def compress(uids: Iterable[int]) -> str:
    """The sequence set for ``uids``: ``[1, 2, 3, 5]`` gives ``"1:3,5"`` (empty for none)."""
    return ",".join(_format_run(first, last) for first, last in ranges(uids))


def chunks(uids: Iterable[int], max_length: int = MAX_SET_LENGTH) -> Iterator[str]:
    """Sequence sets covering ``uids``, each at most ``max_length`` characters long."""
    parts: list[str] = []
    length = 0
    for first, last in ranges(uids):
        text = _format_run(first, last)
        if parts and length + 1 + len(text) > max_length:
            yield ",".join(parts)
            parts, length = [], 0
        length += len(text) + (1 if parts else 0)
        parts.append(text)
    if parts:
        yield ",".join(parts)


def _parts(sequence_set: str) -> Iterator[tuple[int, int]]:
    """``(first, last)`` of each part of a server's sequence set, as written (``a:b`` with
    ``a > b`` stays reversed); ``ValueError`` for anything but numbers (``*`` included)."""
    for part in sequence_set.split(","):
        first, sep, last = part.partition(":")
        if not (first.isdigit() and (not sep or last.isdigit())):
            raise ValueError(f"bad sequence set {sequence_set[:40]!r}")
        yield int(first), int(last) if sep else int(first)


def expand(sequence_set: str, limit: int | None = None) -> list[int]:
    """UIDs named by a sequence set from a server (``APPENDUID``'s ``"4:6,9"``), in order.

    ``a:b`` with ``a > b`` means the same range (RFC 3501); ``*`` is not allowed here.
    A set naming more than ``limit`` UIDs raises ``ValueError`` before any list is built: a
    hostile ``1:4294967295`` must not cost gigabytes.
    """
    runs: list[range] = []
    total = 0
    for low, high in _parts(sequence_set):
        step = 1 if high >= low else -1
        runs.append(range(low, high + step, step))
        total += len(runs[-1])
        if limit is not None and total > limit:
            raise ValueError(f"sequence set {sequence_set[:40]!r} names more than {limit} UIDs")
    return [uid for run in runs for uid in run]


class UIDRanges:
    """A set of UIDs kept as sorted ranges, whatever their number: QRESYNC's ``VANISHED``
    may name every UID ever expunged (``1:250000``), which must cost no more than its text.
    """

    def __init__(self, runs: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[tuple[int, int]] = []
        for low, high in sorted(runs):
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
            else:
                merged.append((low, high))
        self._lows = [low for low, _high in merged]
        self._highs = [high for _low, high in merged]

    @classmethod
    def parse(cls, sequence_sets: Iterable[str]) -> UIDRanges:
        """The union of sequence sets from a server (``"41,43:116"``); ``ValueError`` when one
        is malformed. ``a:b`` with ``a > b`` is the same range (RFC 3501)."""
        return cls((min(pair), max(pair)) for text in sequence_sets for pair in _parts(text))

    def __bool__(self) -> bool:
        return bool(self._lows)

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, int):
            return False
        index = bisect.bisect_right(self._lows, uid) - 1
        return index >= 0 and uid <= self._highs[index]
