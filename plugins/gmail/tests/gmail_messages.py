"""Test messages a test can find again by their ``Message-ID``."""

from __future__ import annotations


def make_message(n: int, extra_headers: bytes = b"") -> bytes:
    """A small message, CRLF as on the wire, that a test can find again by ``Message-ID``."""
    return (b"From: a@example.com\r\nTo: me@gmail.com\r\nSubject: test %d\r\n" % n
            + b"Message-ID: <m%d@example.com>\r\n" % n + extra_headers
            + b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nbody %d\r\n" % n)
