"""Message-ID extraction and collision-free renumbering (pure parts of UIDVALIDITY recovery)."""

from __future__ import annotations

from offlineimap.revalidate import _two_passes, _unique_ids, message_id


def test_message_id_from_header_only() -> None:
    crlf = b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nMessage-ID: <body@x>\r\n"
    assert message_id(crlf) == b"<a@b>"
    assert message_id(b"message-id:\n  <folded@x>\nTo: y\n\nbody\n") == b"<folded@x>"
    assert message_id(b"Subject: none\n\nMessage-ID: <in-body@x>\n") is None
    assert message_id(b"Message-ID:   \nTo: y\n\n") is None


def test_duplicated_ids_are_not_used_for_matching() -> None:
    messages = [(1, b"Message-ID: <a>\n\n"), (2, b"Message-ID: <b>\n\n"),
                (3, b"Message-ID: <b>\n\n"), (4, b"To: x\n\n")]
    assert _unique_ids(messages) == {b"<a>": 1}


def test_renumbering_never_collides() -> None:
    moves = {1: 2, 2: 3, 3: 1}  # a cycle: no direct order works
    held = {1, 2, 3}
    for old, new in _two_passes(moves):
        assert old in held and new not in held
        held.remove(old)
        held.add(new)
    assert held == {1, 2, 3}
