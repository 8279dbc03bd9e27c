"""IMAP sequence sets: UID lists compressed to ranges, and split to fit a command line.

imapclient joins UIDs with commas, one by one; Dovecot answers ``BAD Too long argument`` at
about 20,000 of them. Sorted UIDs compressed to ranges (``1:500,502:900``) are usually a few
bytes long, and :func:`chunks` splits the rare scattered set so no command line grows past a
limit every server accepts (RFC 7162 recommends clients stay under 8,192 octets).
"""

from __future__ import annotations

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


def expand(sequence_set: str, limit: int | None = None) -> list[int]:
    """UIDs named by a sequence set from a server (``APPENDUID``'s ``"4:6,9"``), in order.

    ``a:b`` with ``a > b`` means the same range (RFC 3501); ``*`` is not allowed here.
    A set naming more than ``limit`` UIDs raises ``ValueError`` before any list is built: a
    hostile ``1:4294967295`` must not cost gigabytes.
    """
    runs: list[range] = []
    total = 0
    for part in sequence_set.split(","):
        first, sep, last = part.partition(":")
        try:
            low, high = int(first), int(last) if sep else int(first)
        except ValueError:
            raise ValueError(f"bad sequence set {sequence_set!r}") from None
        step = 1 if high >= low else -1
        runs.append(range(low, high + step, step))
        total += len(runs[-1])
        if limit is not None and total > limit:
            raise ValueError(f"sequence set {sequence_set[:40]!r} names more than {limit} UIDs")
    return [uid for run in runs for uid in run]
