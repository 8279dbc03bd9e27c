"""The file name scheme, checked against names OfflineIMAP 8 writes."""

from __future__ import annotations

import os
import re

from hypothesis import given
from hypothesis import strategies as st

from offlineimap_maildir.names import NameScheme, folder_md5, header_date, leading_timestamp

FMD5 = "7e33429f656f1e6e9d79b29c3f82c57e"  # md5 of "INBOX"
SENT_FMD5 = "7f8c0283f16925caed8e632086b81b9c"  # md5 of "Sent"
SCHEME = NameScheme(FMD5, ":")


def test_folder_md5_is_md5_of_the_visible_name() -> None:
    assert folder_md5("INBOX") == FMD5
    assert folder_md5("") == "d41d8cd98f00b204e9800998ecf8427e"


def test_parse_offlineimap_name() -> None:
    name = f"1700000000_3.4242.myhost,U=17,FMD5={FMD5}:2,FRS"
    assert SCHEME.parse(name) == (17, "FRS")
    assert SCHEME.flag_chars(name) == "FRS"
    assert SCHEME.base(name) == f"1700000000_3.4242.myhost,U=17,FMD5={FMD5}"


def test_other_folder_md5_or_no_uid_means_no_uid() -> None:
    assert SCHEME.parse(f"1_0.1.h,U=17,FMD5={SENT_FMD5}:2,S") == (None, "S")
    assert SCHEME.parse(f"1_0.1.h,FMD5={FMD5}:2,S") == (None, "S")
    assert SCHEME.parse("1700000000.M1P2.host:2,S") == (None, "S")
    assert SCHEME.parse("1700000000.M1P2.host") == (None, "")
    assert SCHEME.parse(f"1_0.1.h,U=0,FMD5={FMD5}:2,") == (None, "")


def test_windows_separator() -> None:
    windows = NameScheme(FMD5, "!")
    assert windows.parse(f"1_0.1.h,U=5,FMD5={FMD5}!2,S") == (5, "S")
    assert windows.parse(f"1_0.1.h,U=5,FMD5={FMD5}:2,S") == (5, "")


def test_with_flags_keeps_keywords_and_what_follows() -> None:
    assert SCHEME.with_flags("a,U=1,FMD5=x:2,Sa", "FSa") == "a,U=1,FMD5=x:2,FSa"
    assert SCHEME.with_flags("a:2,S,extra", "") == "a:2,,extra"
    assert SCHEME.with_flags("plain", "S") == "plain:2,S"


def test_with_uid_keeps_prefix_and_info() -> None:
    old = f"1600000000.M1P2.host,S=1234,U=9,FMD5={SENT_FMD5}:2,RSx"
    assert SCHEME.with_uid(old, 77) == f"1600000000.M1P2.host,U=77,FMD5={FMD5}:2,RSx"
    assert SCHEME.with_uid("1600000000.M1P2.host", 3) == f"1600000000.M1P2.host,U=3,FMD5={FMD5}:2,"
    fresh = SCHEME.with_uid(":2,S", 4)
    assert fresh.endswith(f",U=4,FMD5={FMD5}:2,S") and SCHEME.parse(fresh) == (4, "S")


def test_new_name_format_and_uniqueness() -> None:
    first = SCHEME.new_name(12, "FS")
    second = SCHEME.new_name(12, "FS")
    pattern = rf"(\d+)_(\d+)\.{os.getpid()}\.[^,/]+,U=12,FMD5={FMD5}:2,FS"
    assert re.fullmatch(pattern, first) and re.fullmatch(pattern, second)
    assert first != second
    dated = SCHEME.new_name(1, "", date=1234567890)
    assert dated.startswith("1234567890_") and dated.endswith(":2,")
    assert SCHEME.writer_of(first) == (os.getpid(), SCHEME.host)
    assert NameScheme(SENT_FMD5, ":").writer_of(first) is None
    assert "/" not in SCHEME.host and ":" not in SCHEME.host and "," not in SCHEME.host


def test_leading_timestamp() -> None:
    assert leading_timestamp("1700000000_1.2.h") == 1700000000.0
    assert leading_timestamp("abc") is None


def test_header_date_reads_only_headers_and_folds() -> None:
    body = (b"Subject: x\nDate: Fri, 13 Feb 2009\n 23:31:30 +0000\n\n"
            b"Date: Mon, 1 Jan 2001 00:00:00 +0000\n")
    assert header_date(body, b"Date") == 1234567890
    assert header_date(b"Subject: x\n\nDate: Fri, 13 Feb 2009 23:31:30 +0000\n", b"Date") is None
    assert header_date(b"date: garbage\n\n", b"Date") is None
    assert header_date(b"Delivery-date: Fri, 13 Feb 2009 23:31:30 +0000\n\n",
                       b"Delivery-date") == 1234567890
    assert header_date(b"Date: Mon, 1 Jan 1900 00:00:00 +0000\n\n", b"Date") is None


@given(st.text(alphabet="0123456789_.,:!U=FMD5abcdefSRT" + FMD5[:6], max_size=60))
def test_fast_listing_parse_agrees_with_the_general_one(tail: str) -> None:
    for name in (tail, f"17{tail}", f"1_0.1.h,U=3,FMD5={FMD5}:2,{tail}",
                 f"{tail},U=3,FMD5={FMD5}:2,S"):
        uid, flags = SCHEME.parse(name)
        assert SCHEME.parse_listed(name) == (uid, flags, leading_timestamp(name))
