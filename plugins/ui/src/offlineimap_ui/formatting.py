"""The words of the user interfaces: sizes, durations, UID ranges, the run summary, the banner,
and the masking of secrets in debug output.

Every UI formats through these helpers so that Basic, TTYUI, Syslog, the log file and the
Blinkenlights log pane say the same thing the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offlineimap.stats import AccountStats, RunStats

MASK = "********"

# Each pattern keeps group 1 (the context) and replaces group 2 (the secret).
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # IMAP LOGIN user password (quoted, literal or atom), also inside repr()'d protocol lines.
    re.compile(r'(?i)(\bLOGIN\s+(?:"(?:[^"\\]|\\.)*"|\S+)\s+)("(?:[^"\\]|\\.)*"|\S+)'),
    # AUTHENTICATE <mechanism> <initial response>
    re.compile(r"(?i)(\bAUTHENTICATE\s+[\w-]+\s+)(\S+)"),
    # HTTP-style credentials (OAuth2 token refresh debug).
    re.compile(r"(?i)(\bAuthorization:\s*(?:Basic|Bearer)\s+)(\S+)"),
    # SASL XOAUTH2 payload: user=...^Aauth=Bearer <token>
    re.compile(r"(?i)(\bauth=Bearer\s+)([^\s\x01]+)"),
    # password = x, remotepass: "x", token=x, secret=x, ...
    re.compile(
        r"(?i)(\b(?:remote)?pass(?:word|wd|phrase)?\b|\bsecret\b|\b(?:access_|refresh_)?token\b"
        r"|\bclient_secret\b)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
    ),
    # A line that is nothing but a base64 blob after a short prefix: a SASL continuation.
    re.compile(r"(?m)^(\s*(?:\S{1,12}\s+)?)([A-Za-z0-9+/]{16,}={0,2})\s*$"),
)


def mask_secrets(text: str) -> str:
    """Replace anything that looks like a password or a credential with ``********``.

    Defence in depth for debug output: callers must not pass secrets, but a protocol trace
    (``-d imap``) naturally contains the LOGIN line and SASL exchanges.
    """
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 3:
            text = pattern.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
        else:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def human_size(size: float) -> str:
    """``1536`` -> ``1.5 KiB``: sizes as people read them."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def duration(seconds: float) -> str:
    """``75.3`` -> ``1:15``: elapsed time as OfflineIMAP prints it (minutes:seconds)."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def uid_sequence(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1:3,7``: compact UID lists as in IMAP sequence sets."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = None
    for uid in ordered:
        if start is None:
            start = prev = uid
        elif uid == prev + 1:  # type: ignore[operator]
            prev = uid
        else:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
            start = prev = uid
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


def version() -> str:
    from offlineimap import __version__

    return __version__


def banner() -> str:
    """The one-line greeting the human UIs print when a run starts."""
    return f"OfflineIMAP {version()}"


def account_summary(name: str, acc: AccountStats) -> str:
    """One account's line of the end-of-run summary."""
    t = acc.totals
    line = (
        f"{name}: {t.copied_to_local} copied to local, {t.copied_to_remote} copied to remote; "
        f"{t.deleted_local} deleted locally, {t.deleted_remote} deleted remotely; "
        f"flags changed on {t.flags_changed_local} local, {t.flags_changed_remote} remote; "
        f"{t.errors} error{'' if t.errors == 1 else 's'}; {duration(acc.elapsed)}"
    )
    return line + (" (FAILED)" if acc.failed else "")


def summary_lines(stats: RunStats) -> list[str]:
    """The end-of-run summary: a heading, then one line per account in sync order."""
    lines = ["*** Summary"]
    lines += ["  " + account_summary(name, acc) for name, acc in stats.accounts.items()]
    if len(lines) == 1:
        lines.append("  no account was synced")
    return lines


def run_failed(stats: RunStats) -> bool:
    """Whether any account failed or reported errors: Quiet then shows the summary."""
    return any(acc.failed or acc.totals.errors for acc in stats.accounts.values())
