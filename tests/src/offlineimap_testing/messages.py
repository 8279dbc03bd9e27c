"""Realistic RFC 5322 messages as bytes, for seeding servers and benchmarks.

Sync code must treat messages as opaque bytes, so tests need messages that look like real mail
(CRLF line endings, Date, Message-ID, MIME headers, long bodies) rather than one-line stubs, and
benchmarks need the size spread of a real mailbox: mostly a few kilobytes, a few large attachments.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import uuid
from collections.abc import Iterator, Mapping
from email.utils import format_datetime

__all__ = ["make_message", "realistic_corpus"]

_DEFAULT_DATE = dt.datetime(2024, 3, 14, 9, 26, 53, tzinfo=dt.UTC)
_WORDS = (
    "sync", "folder", "message", "server", "offline", "mail", "status", "cache", "flag", "seen",
    "draft", "reply", "meeting", "notes", "agenda", "report", "budget", "quarter", "review",
    "patch", "release", "schedule", "invoice", "travel", "lunch", "project", "deadline", "update",
    "question", "answer", "thanks", "regards", "attached", "please", "confirm",
)
_LINE_WIDTH = 72


def _text_lines(size: int, rng: random.Random) -> list[bytes]:
    """Plain-text lines of at most 72 characters totalling about *size* bytes (CRLF included)."""
    lines: list[bytes] = []
    total = 0
    while total < size:
        words: list[str] = []
        while sum(len(word) + 1 for word in words) < _LINE_WIDTH - 12:
            words.append(rng.choice(_WORDS))
        line = " ".join(words).capitalize().encode("ascii") + b"."
        lines.append(line)
        total += len(line) + 2
    return lines


def make_message(
    subject: str,
    body: str = "Hello,\n\nthis is a test message.\n\nRegards,\nThe test suite\n",
    size: int | None = None,
    date: dt.datetime = _DEFAULT_DATE,
    message_id: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    sender: str = "Alice Example <alice@example.org>",
    to: str = "Bob Example <bob@example.net>",
) -> bytes:
    """A complete text/plain RFC 5322 message with CRLF line endings.

    :param size: if given, pad the body with prose so the whole message is about this many bytes.
    :param message_id: the Message-ID without angle brackets; a fresh unique one by default, so
        every call yields a distinct message.
    :param extra_headers: more header fields, written after the standard ones in the given order.
    """
    headers = {
        "Return-Path": "<alice@example.org>",
        "From": sender,
        "To": to,
        "Subject": subject,
        "Date": format_datetime(date),
        "Message-ID": f"<{message_id or uuid.uuid4().hex + '@test.offlineimap.invalid'}>",
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Transfer-Encoding": "8bit",
        **(extra_headers or {}),
    }
    head = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())
    text = "\r\n".join(body.splitlines()).encode("utf-8") + b"\r\n"
    message = head + b"\r\n" + text
    if size is not None and size > len(message):
        rng = random.Random(subject)
        message += b"\r\n".join(_text_lines(size - len(message), rng)) + b"\r\n"
    return message


def _attachment_message(index: int, size: int, date: dt.datetime, rng: random.Random) -> bytes:
    """A multipart message whose base64 attachment brings it to about *size* bytes."""
    boundary = f"=_boundary_{index}_{rng.getrandbits(32):08x}"
    payload = base64.encodebytes(rng.randbytes(size * 3 // 4)).replace(b"\n", b"\r\n")
    text = b"\r\n".join(_text_lines(800, rng))
    body = (
        b"This is a multi-part message in MIME format.\r\n"
        + f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".encode()
        + text
        + f"\r\n--{boundary}\r\n"
        f'Content-Type: application/octet-stream; name="file{index}.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="file{index}.bin"\r\n\r\n'.encode()
        + payload
        + f"--{boundary}--\r\n".encode()
    )
    head = make_message(
        f"Attachment {index}",
        body="",
        date=date,
        message_id=f"corpus-{index}-{rng.getrandbits(48):012x}@test.offlineimap.invalid",
        extra_headers={"Content-Type": f'multipart/mixed; boundary="{boundary}"'},
    )
    return head.removesuffix(b"\r\n") + body


def realistic_corpus(n: int, seed: int = 0) -> Iterator[bytes]:
    """*n* distinct messages with a real mailbox's size spread, reproducible from *seed*.

    About 97% are text messages of 2-30 KB (log-uniform, so small ones dominate) and 3% carry an
    attachment of 100 KB to 1 MB; dates step back one hour per message.
    """
    rng = random.Random(seed)
    start = _DEFAULT_DATE
    for index in range(n):
        date = start - dt.timedelta(hours=index)
        if rng.random() < 0.03:
            yield _attachment_message(index, int(100_000 * 10 ** rng.random()), date, rng)
            continue
        yield make_message(
            f"Corpus message {index}: {' '.join(rng.sample(_WORDS, 4))}",
            size=int(2_000 * 15 ** rng.random()),
            date=date,
            message_id=f"corpus-{index}-{rng.getrandbits(48):012x}@test.offlineimap.invalid",
        )
