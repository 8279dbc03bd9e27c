"""Hostile input: what a broken or malicious server, a strange Maildir, a damaged status cache
or a garbled configuration gets out of us. Never a traceback, never lost mail.

* IMAP answers: the plugin's parsers (``offlineimap_imap.responses``) fed arbitrary and
  near-valid bytes return a correct parse or raise an :mod:`offlineimap.errors` error; and a
  scripted malicious server (:mod:`offlineimap_testing.fakeserver`) drives the whole client
  path of the real ``offlineimap`` command.
* Maildirs: odd and non-UTF-8 file names, files without flags, foreign files, a missing
  ``cur/``, directories where files belong; the good mail syncs and nothing foreign is touched.
* Status caches, both backends: truncated, bit-flipped, wrong version: a
  ``CorruptStatusError`` (with the files left byte for byte as they were) or a read of
  records that were really written.
* Configuration text: ``--check-config`` answers with ConfigError lines or accepts it.

Budget: hypothesis runs a fixed, derandomised number of examples (the file takes about 20 s).
``OFFLINEIMAP_FUZZ=<n>`` multiplies every example budget by n and randomises the examples
(``OFFLINEIMAP_FUZZ=100`` is a long fuzz run). ``python tests/test_hostile_input.py SECONDS``
fuzzes the response parsers with atheris (``pip install atheris``) for that long.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offlineimap.errors import FolderError, OfflineImapError
from offlineimap.status import StatusRecord
from offlineimap_imap import responses
from offlineimap_testing.fakeserver import FakeImapServer, mailbox_responder

FUZZ = int(os.environ.get("OFFLINEIMAP_FUZZ", "0"))


def budget(examples: int) -> settings:
    """``examples`` hypothesis examples in CI (derandomised), n times more with OFFLINEIMAP_FUZZ."""
    return settings(max_examples=examples * max(FUZZ, 1), deadline=None, derandomize=not FUZZ,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow], database=None)


# -- IMAP answers, parser by parser --------------------------------------------------------------

_PIECES = [b"* ", b"1 ", b"FETCH ", b"(", b")", b"UID ", b"7 ", b"0 ", b"FLAGS ", b"(\\Seen) ",
           b"(\\Flagged \\Deleted $Forwarded) ", b"RFC822.SIZE ", b"INTERNALDATE ",
           b'"17-Jul-1996 02:44:25 -0700"', b'"31-Foo-99999 99:99:99 +9999"',
           b"99999999999999999999 ", b"-1 ", b"{5}", b'"', b"\x00", b"\xff", b"MODSEQ (3) ",
           b"BODY[] ", b"NIL ", b"\r\n", b" "]
near_valid = st.lists(st.sampled_from(_PIECES), max_size=24).map(b"".join)
listing_line = st.builds(
    lambda uid, flags, size: b"* 1 FETCH (UID %d FLAGS (%s) RFC822.SIZE %d)" % (uid, flags, size),
    st.integers(-3, 2**70), st.sampled_from([b"", b"\\Seen", b"\\Deleted $x", b"\x00("]),
    st.integers(-1, 2**70))
answer_line = st.one_of(st.binary(max_size=120), near_valid, listing_line)
fetch_data = st.lists(st.one_of(answer_line, st.none(),
                                st.tuples(answer_line, st.binary(max_size=40))), max_size=12)


@budget(150)
@given(fetch_data)
def test_listing_parser_never_raises(data) -> None:
    for uid, info in responses.parse_listing(data).items():
        assert isinstance(uid, int) and 1 <= uid < 2**32
        assert info.flags <= frozenset("SRFTDP")


@budget(150)
@given(fetch_data)
def test_body_parsers_parse_or_fail_cleanly(data) -> None:
    fast = responses.parse_bodies(data)
    if fast is not None:
        assert all(isinstance(uid, int) and isinstance(body, bytes) for uid, body in fast)
    try:
        general = responses.parse_fetch_generally(data)
    except FolderError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(uid, int) for uid, _ in general)


@budget(150)
@given(st.one_of(st.binary(max_size=60), near_valid), st.integers(1, 5))
def test_appenduid_names_exactly_the_uploads_or_nothing(tail, count) -> None:
    answer = responses.parse_appenduid(b"[APPENDUID " + tail, count)
    assert answer is None or (len(answer[1]) == count and min(answer[1]) >= 1)


@budget(100)
@given(st.text(max_size=40), st.binary(max_size=300))
def test_dates_and_message_ids_parse_or_give_none(date, body) -> None:
    seconds = responses.parse_internaldate(date)
    assert seconds is None or isinstance(seconds, float)
    found = responses.message_id(body)
    assert found is None or (found.startswith("<") and found.endswith(">"))


# -- a malicious server, through the real command -------------------------------------------------

def hostile_server(listing: bytes, bodies: bytes = b"",
                   greeting: bytes = b"* OK [CAPABILITY IMAP4rev1 LOGIN] evil\r\n"
                   ) -> FakeImapServer:
    """A server with an INBOX whose listing and body download answer with these bytes."""
    return FakeImapServer(greeting, mailbox_responder(listing, bodies))


GOOD = (b"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 20 "
        b'INTERNALDATE "17-Jul-1996 02:44:25 -0700")\r\n')
HOSTILE = {
    "garbage-listing": dict(listing=b"* 1 FETCH (UID x FLAGS (\\Seen RFC822.SIZE\r\n"
                            b"* \x00\xff\xfe FETCH ((((\r\n"),
    "uid-0-and-huge": dict(listing=GOOD.replace(b"UID 1", b"UID 0")
                           + GOOD.replace(b"UID 1", b"UID 99999999999999999999")),
    "short-literal": dict(listing=GOOD, bodies=b"* 1 FETCH (UID 1 BODY[] {500}\r\nshort)\r\n"),
    "unbalanced-fetch": dict(listing=GOOD, bodies=b"* 1 FETCH (UID 1 BODY[] {3}\r\nabc\r\n"),
    "wrong-uid-body": dict(listing=GOOD, bodies=b"* 1 FETCH (UID 9 BODY[] {3}\r\nabc)\r\n"),
    "bye-midway": dict(listing=GOOD, bodies=b"* BYE go away\r\n"),
    "huge-line": dict(listing=b"* 1 FETCH (UID 1 FLAGS (" + b"\\Seen " * 400_000 + b")\r\n"),
    "http-greeting": dict(listing=b"", greeting=b"HTTP/1.1 400 Bad Request\r\n\r\n"),
    "binary-greeting": dict(listing=b"", greeting=bytes(range(256)) + b"\r\n"),
}


def test_the_scripted_server_serves_real_mail(sandbox) -> None:
    """The control for the scenarios below: answered properly, the message arrives."""
    body = b"Subject: hi\r\n\r\nthere\r\n"
    fetched = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n" % (len(body), body)
    with hostile_server(GOOD, fetched) as server:
        sandbox.write_config(remote_for(server))
        sandbox.run()
    assert sandbox.local_messages("INBOX") == [("S", body.replace(b"\r\n", b"\n"))]


def remote_for(server: FakeImapServer) -> str:
    return (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
            "starttls = no\nallow_plaintext_login = yes\nauth_mechanisms = LOGIN\n"
            "remoteuser = u\nremotepass = p\n")


@pytest.mark.parametrize("scenario", list(HOSTILE))
def test_a_malicious_server_gets_one_line_not_a_traceback(sandbox, scenario) -> None:
    with hostile_server(**HOSTILE[scenario]) as server:
        sandbox.write_config(remote_for(server), general="socktimeout = 1\n")
        run = sandbox.run(expect=None, timeout=60)
    assert run.code in (0, 1), run.text
    assert "Traceback" not in run.text and "internal error" not in run.text, run.text
    if scenario == "short-literal" or scenario.endswith("greeting"):
        assert run.code == 1 and "ERROR" in run.text


# -- Maildirs -------------------------------------------------------------------------------------

def test_a_strange_maildir_syncs_its_mail_and_touches_nothing_else(sandbox) -> None:
    """Maildir to Maildir through the real command. Every file in cur/ or new/ is mail, as
    for any Maildir reader (odd, flagless or non-UTF-8 names included): each is copied once
    and may be renamed to carry its UID. Hidden files, directories, tmp/ and files beside
    cur/ are left exactly as they were; a second run renames nothing."""
    inbox = sandbox.folder_dir("INBOX")
    sandbox.deliver("INBOX", b"Subject: good\n\nbody\n", "S")
    mail = {
        "cur/no-flags-at-all": b"Subject: a\n\n",
        "cur/1700000000.M1P1.host:2,ZZZZ,U=notanumber": b"Subject: b\n\n",
        "cur/1700000000_0.1.h,U=-5,FMD5=zz:2,S": b"Subject: d\n\n",
        "new/:2,": b"",
    }
    foreign = {"cur/.hidden:2,S": b"Subject: c\n\n", "tmp/being-delivered": b"Subject: e\n\n",
               "dovecot-uidlist": b"3 V1 N2\n"}
    for name, body in {**mail, **foreign}.items():
        (inbox / name).write_bytes(body)
    (inbox / "cur" / "a-directory:2,S").mkdir()
    with open(os.fsencode(str(inbox / "cur")) + b"/latin1-\xe9t\xe9:2,S", "wb") as handle:
        handle.write(b"Subject: f\n\n")
    sandbox.deliver("NoCur", b"Subject: g\n\n")
    (sandbox.folder_dir("NoCur") / "cur").rename(sandbox.root / "moved-cur")
    remote_root = sandbox.root / "remote"
    sandbox.write_config(f"type = Maildir\nlocalfolders = {remote_root}\n")
    first = sandbox.run(expect=None)
    assert first.code in (0, 1) and "Traceback" not in first.text, first.text
    for name, body in foreign.items():
        assert (inbox / name).read_bytes() == body, f"{name} was changed"
    (inbox / "cur" / "a-directory:2,S").rmdir()  # intact and empty, else this fails
    (inbox / "cur" / ".hidden:2,S").unlink()  # not mail: out of the comparison below
    local = sorted(body for _, body in sandbox.local_messages("INBOX"))
    assert local == sorted(body for _, body in sandbox.local_messages("INBOX", remote_root))
    assert len(local) == 6 and set(mail.values()) <= set(local)
    names = sorted(p.name for p in sandbox.local_files("INBOX"))
    second = sandbox.run(expect=None)
    assert "Traceback" not in second.text
    assert sorted(p.name for p in sandbox.local_files("INBOX")) == names


# -- status caches --------------------------------------------------------------------------------

def _backends():
    from offlineimap_status_plain.backend import PlainStatusBackend
    from offlineimap_status_sqlite.backend import SqliteStatusBackend

    return {"plain": PlainStatusBackend, "sqlite": SqliteStatusBackend}


WRITTEN = {uid: StatusRecord(frozenset("S" if uid % 2 else "FR"), 1_700_000_000 + uid)
           for uid in range(1, 60)}


@pytest.mark.parametrize("backend", ["plain", "sqlite"])
@budget(25)
@given(data=st.data())
def test_a_damaged_status_cache_is_refused_untouched_or_read_right(tmp_path_factory, backend,
                                                                    data) -> None:
    root = tmp_path_factory.mktemp(backend)
    cls = _backends()[backend]
    with cls(root, fsync=False).open_folder("INBOX") as folder:
        folder.put(WRITTEN)
        folder.set_meta({"uidnext": "60"})
    (path,) = [p for p in cls(root, fsync=False).files("INBOX") if p.is_file()
               and p.stat().st_size and "meta" not in p.parts]
    raw = path.read_bytes()
    how = data.draw(st.sampled_from(["truncate", "flip", "version", "garbage"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "truncate":
        damaged = raw[:at]
    elif how == "flip":
        damaged = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
    elif how == "version":
        damaged = raw.replace(b"FORMAT 2", b"FORMAT 9") if backend == "plain" else (
            raw[:60] + b"\x7f\x7f\x7f\x7f" + raw[64:])  # SQLite's schema cookie/user version
    else:
        damaged = data.draw(st.binary(max_size=200))
    path.write_bytes(damaged)
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    try:
        with cls(root, fsync=False).open_folder("INBOX") as folder:
            records = folder.records()
    except OfflineImapError as exc:
        assert "\n" not in str(exc)
        assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files
        return
    if how == "flip":  # neither format has checksums: a flipped flag letter reads as valid
        assert all(isinstance(uid, int) and uid > 0 for uid in records)
        return
    for uid, record in records.items():
        assert WRITTEN.get(uid) == record, f"uid {uid} read as {record}"


# -- configuration text ---------------------------------------------------------------------------

_CONFIG_PIECES = [
    "[general]\n", "[Account A]\n", "[Repository L]\n", "[Repository R]\n", "[mbnames]\n",
    "[DEFAULT]\n", "[", "]\n", "accounts = A\n", "localrepository = L\n",
    "remoterepository = R\n", "type = Maildir\n", "type = IMAP\n", "type = Nope\n",
    "localfolders = ~/m\n", "remotehost = example.invalid\n", "ssl = maybe\n",
    "maxconnections = -3\n", "maxage = 2024-13-45\n", "nametrans = lambda f: f\n",
    "nametrans = lambda: \n", "folderfilter = lambda f: f.startswith('I')\n",
    "remotepasseval = )(\n", "autorefresh = x\n", "pythonfile = ~/nope.py\n",
    "%(missing)s\n", "%%\n", "= value\n", "key\n", "  indented = 1\n", "ui = nothing\n",
    "status_backend = plain\n", "status_backend = ???\n", "sep = \n", "é = ü\n",
    "\x00\n", "\n", "; comment\n", "# comment\n",
]
config_text = st.one_of(st.lists(st.sampled_from(_CONFIG_PIECES), max_size=30).map("".join),
                        st.text(max_size=300))


@budget(60)
@given(config_text)
def test_any_configuration_text_gets_problems_or_passes(tmp_path_factory, text) -> None:
    from offlineimap.cli import main

    root = tmp_path_factory.mktemp("config")
    path = root / "rc"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    home = {"HOME": str(root), "XDG_CONFIG_HOME": str(root / ".config")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in home.items():
            patch.setenv(key, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["-c", str(path), "--check-config"])
    assert code in (0, 3), err.getvalue()
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
    problems = [line for line in err.getvalue().splitlines() if "ERROR" in line]
    assert (code == 3) == bool(problems)
    assert not (root / ".offlineimap").exists(), "--check-config must not create anything"


# -- the long fuzz run ----------------------------------------------------------------------------

def _atheris_target(data: bytes) -> None:
    """One input for atheris: the same properties as the hypothesis tests above."""
    lines = data.split(b"\n")
    responses.parse_listing(lines)
    fetched = [(lines[0], data), *lines[1:]]
    responses.parse_bodies(fetched)
    with contextlib.suppress(FolderError):
        responses.parse_fetch_generally(fetched)
    answer = responses.parse_appenduid(data, 3)
    assert answer is None or len(answer[1]) == 3
    responses.message_id(data)
    responses.parse_internaldate(data.decode("latin-1"))


if __name__ == "__main__":
    import atheris

    seconds = sys.argv[1] if len(sys.argv) > 1 else "60"
    atheris.instrument_func(_atheris_target)
    for function in (responses.parse_listing, responses.parse_bodies,
                     responses.parse_appenduid, responses.parse_internaldate):
        atheris.instrument_func(function)
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}"], _atheris_target)
    atheris.Fuzz()
