"""Sequence sets: compression to ranges, splitting under a length limit, and expansion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offlineimap_imap import uidset


def test_compress_joins_consecutive_uids_into_ranges() -> None:
    assert uidset.compress([5, 1, 2, 3, 10, 12, 11, 3]) == "1:3,5,10:12"


def test_compress_of_nothing_is_empty() -> None:
    assert uidset.compress([]) == ""
    assert list(uidset.chunks([])) == []


def test_compress_refuses_non_uids() -> None:
    with pytest.raises(ValueError, match="not an IMAP UID"):
        uidset.compress([0, 1])


def test_twenty_thousand_uids_fit_in_a_few_bytes() -> None:
    assert uidset.compress(range(1, 20_001)) == "1:20000"


def test_chunks_stay_under_the_limit_and_cover_everything() -> None:
    scattered = list(range(1, 20_000, 2))  # no two consecutive: the worst case
    parts = list(uidset.chunks(scattered, max_length=100))
    assert len(parts) > 1
    assert all(len(part) <= 100 for part in parts)
    assert [uid for part in parts for uid in uidset.expand(part)] == scattered


def test_expand_reads_server_sets_including_reversed_ranges() -> None:
    assert uidset.expand("4:6,9") == [4, 5, 6, 9]
    assert uidset.expand("3:1") == [3, 2, 1]
    with pytest.raises(ValueError, match="bad sequence set"):
        uidset.expand("1:*")


@given(st.sets(st.integers(min_value=1, max_value=5000), max_size=300),
       st.integers(min_value=12, max_value=200))
def test_round_trip(uids: set[int], limit: int) -> None:
    parts = list(uidset.chunks(uids, max_length=limit))
    assert all(len(part) <= limit for part in parts)
    assert sorted(uid for part in parts for uid in uidset.expand(part)) == sorted(uids)
    if uids:
        assert uidset.expand(uidset.compress(uids)) == sorted(uids)


def test_uid_ranges_answer_membership_without_expanding() -> None:
    vanished = uidset.UIDRanges.parse(["41,43:116", "300:250", "117"])
    assert 41 in vanished and 42 not in vanished and 43 in vanished and 117 in vanished
    assert 250 in vanished and 275 in vanished and 249 not in vanished
    huge = uidset.UIDRanges.parse(["1:4294967295"])
    assert 4294967295 in huge and 0 not in huge and "7" not in huge
    assert 5 not in uidset.UIDRanges.parse([])


@pytest.mark.parametrize("text", ["", "1:", "a", "1,,2", "-3", "1:*"])
def test_uid_ranges_refuse_malformed_sets(text: str) -> None:
    with pytest.raises(ValueError):
        uidset.UIDRanges.parse([text])


@given(st.sets(st.integers(min_value=1, max_value=300)))
def test_uid_ranges_agree_with_a_plain_set(uids: set[int]) -> None:
    ranges = uidset.UIDRanges.parse([uidset.compress(uids)] if uids else [])
    assert {uid for uid in range(0, 302) if uid in ranges} == uids
    assert bool(ranges) == bool(uids)  # the engine skips its per-message test when empty
