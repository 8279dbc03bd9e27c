"""IMAP system flags and the Maildir flag letters the engine speaks.

OfflineIMAP maps ``\\Seen``, ``\\Answered``, ``\\Flagged``, ``\\Deleted`` and ``\\Draft``. We
also map Maildir's ``P`` (passed) to the ``$Forwarded`` keyword (RFC 5788), as mbsync does, so
that a forwarded mark survives the round trip instead of being dropped. Other keywords are
left alone: the engine never adds or removes them.
"""

from __future__ import annotations

from collections.abc import Iterable

#: IMAP flag (as the server spells it) -> Maildir letter.
IMAP_TO_LETTER: dict[str, str] = {
    "\\Seen": "S",
    "\\Answered": "R",
    "\\Flagged": "F",
    "\\Deleted": "T",
    "\\Draft": "D",
    "$Forwarded": "P",
}
LETTER_TO_IMAP: dict[str, str] = {letter: flag for flag, letter in IMAP_TO_LETTER.items()}

# Flags are case-insensitive in IMAP; servers answer with their own spelling.
_BY_LOWER = {flag.lower(): letter for flag, letter in IMAP_TO_LETTER.items()}


def to_letters(imap_flags: Iterable[str | bytes]) -> frozenset[str]:
    """Maildir letters for the flags a server listed; unknown keywords are ignored."""
    letters = set()
    for flag in imap_flags:
        text = flag.decode("ascii", "replace") if isinstance(flag, bytes) else flag
        letter = _BY_LOWER.get(text.lower())
        if letter:
            letters.add(letter)
    return frozenset(letters)


def to_imap(letters: Iterable[str]) -> list[str]:
    """IMAP flags for Maildir letters, in a stable order; letters without a flag are dropped."""
    return sorted(LETTER_TO_IMAP[letter] for letter in set(letters) if letter in LETTER_TO_IMAP)


def flag_list(letters: Iterable[str]) -> bytes:
    """The parenthesised flag list of a ``STORE`` or ``APPEND`` command: ``(\\Seen \\Flagged)``."""
    return b"(" + " ".join(to_imap(letters)).encode("ascii") + b")"
