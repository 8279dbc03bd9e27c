"""Flag mapping, the fast listing parser, INTERNALDATE and APPENDUID, against real server text."""

from __future__ import annotations

import calendar

from offlineimap_imap import flags, responses
from offlineimap_imap.folder import _flag_commands


def test_system_flags_map_to_maildir_letters() -> None:
    listed = [b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Draft", b"$Forwarded",
              b"$Junk", b"\\Recent"]
    assert flags.to_letters(listed) == frozenset("SRFTDP")


def test_flags_are_case_insensitive_and_keywords_ignored() -> None:
    assert flags.to_letters(["\\SEEN", "\\flagged", "Important"]) == frozenset("SF")


def test_letters_map_back_in_a_stable_order() -> None:
    assert flags.flag_list("FSX") == b"(\\Flagged \\Seen)"
    assert flags.flag_list("") == b"()"
    assert flags.to_imap("P") == ["$Forwarded"]


def test_parse_listing_reads_dovecot_lines() -> None:
    lines = [
        b'1 (UID 10 FLAGS (\\Seen \\Deleted) RFC822.SIZE 1234 '
        b'INTERNALDATE "14-Mar-2024 09:26:53 +0100" MODSEQ (7))',
        b'2 (UID 11 RFC822.SIZE 5 INTERNALDATE " 4-Jan-2020 00:00:00 -0000" FLAGS ())',
        b"3 (FLAGS (\\Seen))",  # unsolicited update without UID: skipped
        None,
    ]
    listing = responses.parse_listing(lines)
    assert set(listing) == {10, 11}
    assert listing[10].flags == frozenset("ST")
    assert listing[10].size == 1234
    assert listing[10].internaldate == calendar.timegm((2024, 3, 14, 8, 26, 53))
    assert listing[11].flags == frozenset()
    assert listing[11].internaldate == calendar.timegm((2020, 1, 4, 0, 0, 0))


def test_parse_listing_honours_min_uid_and_keeps_the_newest_line() -> None:
    lines = [b"1 (UID 3 FLAGS ())", b"2 (UID 5 FLAGS ())", b"2 (UID 5 FLAGS (\\Seen))"]
    listing = responses.parse_listing(lines, min_uid=4)
    assert list(listing) == [5]
    assert listing[5].flags == frozenset("S")


def test_internaldate_round_trip_and_bad_input() -> None:
    moment = 1_700_000_000.0
    text = responses.format_internaldate(moment)
    assert text == b'"14-Nov-2023 22:13:20 +0000"'
    assert responses.parse_internaldate(text.decode().strip('"')) == moment
    assert responses.format_internaldate(1e13) is None  # year 318857
    assert responses.parse_internaldate("yesterday") is None
    assert responses.parse_internaldate("14-Foo-2023 22:13:20 +0000") is None


def test_appenduid_single_and_multiple() -> None:
    assert responses.parse_appenduid(b"[APPENDUID 1700 42] Append completed.", 1) == (
        1700, [42])
    assert responses.parse_appenduid(b"[APPENDUID 9 3:5] ok", 3) == (9, [3, 4, 5])
    assert responses.parse_appenduid(b"Append completed.", 1) is None
    # a hostile or broken set: the UIDs are then looked up by Message-ID instead
    assert responses.parse_appenduid(b"[APPENDUID 9 1:4294967295] ok", 2) is None
    assert responses.parse_appenduid(b"[APPENDUID 9 3:5] ok", 2) is None
    assert responses.parse_appenduid(b"[APPENDUID 9 0,5:,,] ok", 2) is None


def test_flag_changes_share_commands_per_flag_set() -> None:
    changes = {
        1: (frozenset("S"), frozenset()),
        2: (frozenset("S"), frozenset("F")),
        3: (frozenset("SR"), frozenset("F")),
        4: (frozenset("R"), frozenset()),
    }
    commands = _flag_commands(changes)
    assert (b"+FLAGS.SILENT", frozenset("S"), [1, 2, 3]) in commands
    assert (b"+FLAGS.SILENT", frozenset("R"), [3, 4]) in commands
    assert (b"-FLAGS.SILENT", frozenset("F"), [2, 3]) in commands
    assert len(commands) == 3


def test_identical_uid_sets_merge_into_one_command() -> None:
    changes = {uid: (frozenset("SF"), frozenset()) for uid in range(1, 100)}
    assert _flag_commands(changes) == [(b"+FLAGS.SILENT", frozenset("SF"), list(range(1, 100)))]


def test_message_id_comes_from_the_header_only() -> None:
    body = b"Subject: x\r\nMessage-Id: <a@b>\r\n\r\nMessage-ID: <not@this>\r\n"
    assert responses.message_id(body) == "<a@b>"
    assert responses.message_id(b"Subject: x\n\nMessage-ID: <no@no>\n") is None


def test_bodies_are_read_straight_from_the_literals() -> None:
    from offlineimap_imap.responses import parse_bodies

    data = [(b"1 (UID 42 BODY[] {5}", b"hello"), b")",
            b"2 (FLAGS (\\Seen))",  # unsolicited: skipped
            (b"3 (BODY[] {3}", b"abc"), b" UID 44)"]
    assert parse_bodies(data) == [(42, b"hello"), (44, b"abc")]
    assert parse_bodies([(b"1 (UID 1 RFC822.HEADER {2}", b"hi"), b")"]) is None
    assert parse_bodies([(b"1 (BODY[] {2}", b"hi"), b")"]) is None  # no UID anywhere
    assert parse_bodies([]) == []
