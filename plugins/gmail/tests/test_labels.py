"""Labels as a header in raw bytes, on the wire, and the three-way merge."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from offlineimap_gmail.labels import (
    format_labels,
    from_wire,
    parse_labels,
    read_labels,
    set_header,
    to_wire,
    wire_list,
)
from offlineimap_gmail.labelsync import Entry, LabelState, merge, plan

BODY = b"From: a@b\nSubject: hi\nX-Keywords: old\n\tcontinued\nTo: c@d\n\nbody\nX-Keywords: no\n"


def test_replace_in_place_keeps_every_other_byte() -> None:
    out = set_header(BODY, "X-Keywords", ["b", "a"])
    assert out == b"From: a@b\nSubject: hi\nX-Keywords: a,b\nTo: c@d\n\nbody\nX-Keywords: no\n"


def test_insert_at_end_of_headers_with_the_message_line_ending() -> None:
    crlf = b"From: a@b\r\nSubject: hi\r\n\r\nbody\r\n"
    assert set_header(crlf, "X-Keywords", ["\\Inbox"]) == (
        b"From: a@b\r\nSubject: hi\r\nX-Keywords: \\Inbox\r\n\r\nbody\r\n")
    assert set_header(b"Subject: x", "X-Keywords", ["a"]) == b"Subject: x\nX-Keywords: a\n"
    assert set_header(b"\nbody", "X-Keywords", ["a"]) == b"X-Keywords: a\n\nbody"


def test_several_fields_become_one_and_reading_joins_them() -> None:
    body = b"x-keywords: a\nSubject: s\nX-KEYWORDS: b, c\n\nX-Keywords: body\n"
    assert read_labels(body, "X-Keywords") == {"a", "b", "c"}
    assert set_header(body, "X-Keywords", ["z"]) == (
        b"X-Keywords: z\nSubject: s\n\nX-Keywords: body\n")
    assert read_labels(BODY, "X-Keywords") == {"old continued"}
    assert read_labels(b"Subject: s\n\n", "X-Keywords") == frozenset()


def test_space_separated_headers() -> None:
    assert format_labels("X-Label", ["b", "a"]) == "a b"
    assert parse_labels("Keywords", " a  b ") == {"a", "b"}
    assert parse_labels("X-Keywords", "a, b,,c ") == {"a", "b", "c"}


def test_wire_encoding() -> None:
    assert to_wire("\\Inbox") == b"\\Inbox"
    assert to_wire("My label") == b'"My label"'
    assert to_wire('say "hi"') == b'"say \\"hi\\""'
    assert to_wire("Été") == b'"&AMk-t&AOk-"'
    assert wire_list(["Work", "\\Inbox"]) == b"(Work \\Inbox)"
    assert from_wire([b"&AMk-t&AOk-", b"\\Inbox", 2024]) == {"Été", "\\Inbox", "2024"}


labels = st.frozensets(st.text(st.characters(blacklist_characters=",\r\n",
                                             blacklist_categories=("Cs", "Cc")),
                               min_size=1).map(str.strip).filter(bool), max_size=5)
header_lines = st.lists(st.sampled_from([b"From: a@b", b"Subject: s", b"X-Keywords: q, r",
                                         b"\tfolded", b"To: c"]), max_size=6)


@given(labels, header_lines, st.binary(max_size=40), st.booleans())
def test_set_then_read_round_trips_and_touches_nothing_else(wanted, lines, tail, crlf) -> None:
    newline = b"\r\n" if crlf else b"\n"
    lines = [line for i, line in enumerate(lines) if not (i == 0 and line.startswith(b"\t"))]
    body = newline.join([b"Date: now", *lines]) + newline + newline + tail
    out = set_header(body, "X-Keywords", wanted)
    assert read_labels(out, "X-Keywords") == wanted
    assert out.endswith(newline + tail)
    assert set_header(out, "X-Keywords", wanted) == out
    without = [line for line in out.split(newline) if not line.startswith(b"X-Keywords")]
    original = body.split(newline)
    assert without[0] == original[0] and without[-1] == original[-1]


def test_merge_rules() -> None:
    base = frozenset({"a", "b"})
    assert merge(base, frozenset({"a", "b", "c"}), frozenset({"b"})) == {"b", "c"}
    assert merge(None, frozenset({"a"}), frozenset({"b"})) == {"a", "b"}
    assert merge(base, base, base) == base


def test_plan_and_state(tmp_path) -> None:
    result = plan({1: Entry(frozenset({"a"}), 5)},
                  remote={1: frozenset({"a", "r"}), 2: frozenset({"x"})},
                  local={1: frozenset(), 2: frozenset({"x"}), 3: frozenset({"y"})})
    assert result.agreed == {1: {"r"}, 2: {"x"}}
    assert result.remote_remove == {"a": {1}} and result.remote_add == {}
    assert result.local_set == {1: {"r"}}
    state = LabelState(tmp_path / "d" / "INBOX", fsync=True)
    assert state.load() == {}
    state.save({7: Entry(frozenset({"Été", "\\Inbox"}), 123)})
    assert state.load() == {7: Entry(frozenset({"Été", "\\Inbox"}), 123)}
    (tmp_path / "d" / "INBOX").write_text("garbage")
    assert state.load() == {}
