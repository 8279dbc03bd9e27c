"""The Dovecot fixture is a real server: TLS, isolation, restarts, separators and cleanup."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from offlineimap_testing.dovecot import DEFAULT_CAPABILITIES, Dovecot, DovecotError, ImapAccount
from offlineimap_testing.messages import make_message, realistic_corpus

pytestmark = pytest.mark.dovecot


def _ca_context(server: Dovecot) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_cert))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes; it only waits for its parent to reap it.
    status = Path(f"/proc/{pid}/status").read_text()
    return "State:\tZ" not in status


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_plain_login_offers_starttls_and_sync_extensions(imap_account: ImapAccount) -> None:
    server = imap_account.server
    with IMAPClient(server.host, port=server.port, ssl=False) as client:
        assert b"STARTTLS" in client.capabilities()
        client.login(imap_account.user, imap_account.password)
        capabilities = set(client.capabilities())
        assert {b"CONDSTORE", b"QRESYNC", b"UIDPLUS", b"IDLE", b"MOVE"} <= capabilities
        inbox_only = [((b"\\HasNoChildren",), server.separator.encode(), "INBOX")]
        assert client.list_folders() == inbox_only


def test_starttls_verifies_against_fixture_ca(imap_account: ImapAccount) -> None:
    server = imap_account.server
    with IMAPClient(server.host, port=server.port, ssl=False) as client:
        client.starttls(_ca_context(server))
        assert isinstance(client.socket(), ssl.SSLSocket)
        client.login(imap_account.user, imap_account.password)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_imaps_verifies_against_fixture_ca(imap_account: ImapAccount) -> None:
    server = imap_account.server
    context = _ca_context(server)
    with IMAPClient("localhost", port=server.ssl_port, ssl=True, ssl_context=context) as c:
        assert c.socket().getpeercert()["subjectAltName"] == (
            ("DNS", "localhost"), ("IP Address", "127.0.0.1"),
        )
        c.login(imap_account.user, imap_account.password)
    with imap_account.client(ssl=True) as client:
        assert isinstance(client.socket(), ssl.SSLSocket)
    with imap_account.client(starttls=True) as client:
        assert isinstance(client.socket(), ssl.SSLSocket)


def test_tls_without_fixture_ca_is_refused(dovecot_server: Dovecot) -> None:
    system_trust = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(dovecot_server.host, port=dovecot_server.ssl_port, ssl=True,
                   ssl_context=system_trust)
    with socket.create_connection((dovecot_server.host, dovecot_server.port)) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"* OK")
        sock.sendall(b"a STARTTLS\r\n")
        assert reader.readline().startswith(b"a OK")
        with pytest.raises(ssl.SSLCertVerificationError):
            system_trust.wrap_socket(sock, server_hostname=dovecot_server.host)
        reader.close()


def test_wrong_password_is_rejected_without_slowing_later_logins(
    imap_account: ImapAccount,
) -> None:
    """Dovecot's per-IP auth penalty is off: tests of bad passwords must not slow the others."""
    server = imap_account.server
    with IMAPClient(server.host, port=server.port, ssl=False) as client:
        for _ in range(2):
            with pytest.raises(LoginError):
                client.login(imap_account.user, server.password + "x")
        started = time.monotonic()
        client.login(imap_account.user, server.password)
    assert time.monotonic() - started < 1.0


def test_seed_round_trips_bytes_flags_and_uids(imap_account: ImapAccount) -> None:
    first = make_message("first", size=20_000)
    second = make_message("second")
    third = make_message("third", extra_headers={"X-Test": "yes"})
    uids = imap_account.seed(
        "Archive", [first, (second, ["\\Seen", "\\Flagged"]), (third, [b"\\Answered", "$Label"])]
    )
    assert uids == [1, 2, 3]
    assert imap_account.folders() == ["Archive", "INBOX"]
    assert imap_account.messages("Archive") == {
        1: (frozenset(), first),
        2: (frozenset({"\\Seen", "\\Flagged"}), second),
        3: (frozenset({"\\Answered", "$Label"}), third),
    }
    assert imap_account.seed("Archive", [make_message("fourth")]) == [4]
    assert len(list((imap_account.mail_dir / ".Archive" / "cur").iterdir())) + len(
        list((imap_account.mail_dir / ".Archive" / "new").iterdir())
    ) == 4


def test_seed_many_messages_is_fast(imap_account: ImapAccount) -> None:
    messages = [make_message(f"bulk {n}", message_id=f"bulk-{n}@test") for n in range(2_000)]
    started = time.monotonic()
    uids = imap_account.seed("INBOX", messages)
    elapsed = time.monotonic() - started
    assert uids == list(range(1, 2_001))
    assert elapsed < 5.0, f"seeding 2000 messages took {elapsed:.1f}s"
    stored = imap_account.messages("INBOX")
    assert [stored[uid][1] for uid in uids] == messages


def test_set_flags_and_delete(imap_account: ImapAccount) -> None:
    uids = imap_account.seed("INBOX", [make_message(f"m{n}") for n in range(4)])
    imap_account.set_flags("INBOX", uids[:2], ["\\Seen", "\\Flagged"])
    imap_account.set_flags("INBOX", uids[1:2], ["\\Flagged"], add=False)
    imap_account.delete("INBOX", [uids[3]])
    flags = {uid: entry[0] for uid, entry in imap_account.messages("INBOX").items()}
    assert flags == {
        uids[0]: {"\\Seen", "\\Flagged"},
        uids[1]: {"\\Seen"},
        uids[2]: frozenset(),
    }


def test_accounts_are_isolated(dovecot_server: Dovecot) -> None:
    alice, bob = dovecot_server.new_account("alice"), dovecot_server.new_account("bob")
    assert alice.user != bob.user and alice.mail_dir != bob.mail_dir
    alice.seed("Projects", [make_message("private")])
    assert bob.folders() == ["INBOX"]
    assert bob.messages("INBOX") == {}
    assert alice.folders() == ["INBOX", "Projects"]
    assert alice.mail_dir.is_dir() and not bob.mail_dir.joinpath(".Projects").exists()


def test_restart_keeps_mail_and_ports(dovecot_factory) -> None:
    server = dovecot_factory()
    account = server.new_account()
    uids = account.seed("Kept", [(make_message("survivor"), ["\\Seen"])])
    ports = (server.port, server.ssl_port)
    before = account.messages("Kept")
    server.restart()
    assert (server.port, server.ssl_port) == ports
    assert account.messages("Kept") == before
    assert list(before) == uids
    with account.client(ssl=True) as client:
        assert client.select_folder("Kept")[b"EXISTS"] == 1


def test_slash_separator_server(dovecot_factory) -> None:
    server = dovecot_factory(separator="/")
    account = server.new_account()
    account.seed("Lists/python.dev", [make_message("nested")])
    with account.client() as client:
        listed = {name: delimiter for _flags, delimiter, name in client.list_folders()}
    assert listed == {"INBOX": b"/", "Lists": b"/", "Lists/python.dev": b"/"}
    assert account.messages("Lists/python.dev")[1][1].startswith(b"Return-Path:")


def test_default_capabilities_are_advertised_exactly(imap_account: ImapAccount) -> None:
    with imap_account.client() as client:
        advertised = {name.decode() for name in client.capabilities()}
    assert advertised == {name.upper() for name in DEFAULT_CAPABILITIES}


def test_dropped_capabilities_are_hidden_and_seeding_still_works(dovecot_factory) -> None:
    server = dovecot_factory(capabilities_drop=["MULTIAPPEND", "UIDPLUS", "condstore"])
    account = server.new_account()
    with account.client() as client:
        advertised = set(client.capabilities())
    assert not {b"MULTIAPPEND", b"UIDPLUS", b"CONDSTORE"} & advertised
    assert {b"QRESYNC", b"IDLE", b"MOVE"} <= advertised
    messages = [(make_message("one"), ["\\Seen"]), make_message("two")]
    assert account.seed("INBOX", messages) == [1, 2]
    assert account.messages("INBOX")[1] == (frozenset({"\\Seen"}), messages[0][0])


def test_unknown_capability_to_drop_is_refused() -> None:
    with pytest.raises(ValueError, match="NOPE"):
        Dovecot(capabilities_drop=["NOPE"])


def test_start_is_fast_and_stop_ends_the_process(dovecot_factory) -> None:
    started = time.monotonic()
    server = dovecot_factory()
    assert time.monotonic() - started < 2.0
    pid = server._process.pid
    server.stop()
    assert _wait_dead(pid)
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).close()


def test_failed_start_reports_the_log(dovecot_factory) -> None:
    server = dovecot_factory()
    server.stop()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((server.host, server.port))
        squatter.listen()
        with pytest.raises(DovecotError, match=r"(?s)dovecot log.*Address already in use"):
            server.start()
    assert not server.running


@pytest.mark.parametrize("ending", ["exit", "kill -9"])
def test_server_dies_with_the_test_process(ending: str) -> None:
    script = (
        "import os, sys, time\n"
        "from offlineimap_testing.dovecot import Dovecot\n"
        "server = Dovecot(); server.start()\n"
        "print(server._process.pid, server.base_dir, flush=True)\n"
        "if sys.argv[1] == 'kill -9': time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, ending], stdout=subprocess.PIPE)
    pid_text, base_dir = child.stdout.readline().split()
    if ending == "kill -9":
        child.send_signal(signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    assert _wait_dead(int(pid_text))
    if ending == "exit":
        assert not Path(os.fsdecode(base_dir)).exists()


def test_offline_home_isolates_user_directories(offline_home: Path) -> None:
    assert os.environ["HOME"] == str(offline_home)
    assert Path(os.environ["XDG_CONFIG_HOME"]).is_dir()
    assert Path(os.environ["XDG_CACHE_HOME"]).parent == offline_home
    assert Path("~").expanduser() == offline_home


def test_messages_are_crlf_and_realistic() -> None:
    message = make_message("Hello", body="line one\nline two", size=10_000, message_id="x@y")
    assert b"\n" not in message.replace(b"\r\n", b"")
    assert b"\r\nMessage-ID: <x@y>\r\n" in message
    assert 10_000 <= len(message) < 10_200
    corpus = list(realistic_corpus(200, seed=7))
    assert corpus == list(realistic_corpus(200, seed=7))
    sizes = sorted(len(m) for m in corpus)
    assert 2_000 <= sizes[len(sizes) // 2] <= 30_000
    assert sizes[-1] > 100_000 and sizes[0] >= 1_900
    assert len({m.split(b"Message-ID: ")[1].split(b"\r\n")[0] for m in corpus}) == 200


_XDIST_PROBE = '''
import os
from offlineimap_testing.messages import make_message

def test_probe(dovecot_server, imap_account, tmp_path_factory):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert imap_account.seed("Probe", [make_message(worker)]) == [1]
    record = os.path.join(os.environ["PROBE_DIR"], worker)
    with open(record, "w") as out:
        out.write(f"{dovecot_server.port} {dovecot_server.base_dir}")
'''


def test_each_xdist_worker_gets_its_own_server(tmp_path: Path) -> None:
    """The plugin loads from its entry point alone and the session server is per worker."""
    (tmp_path / "test_probe.py").write_text(_XDIST_PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    records = tmp_path / "records"
    records.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--dist", "each", str(tmp_path / "test_probe.py")],
        cwd=tmp_path, env={**os.environ, "PROBE_DIR": str(records)},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    servers = {path.name: path.read_text().split() for path in records.iterdir()}
    assert sorted(servers) == ["gw0", "gw1"]
    (port0, dir0), (port1, dir1) = servers.values()
    assert port0 != port1 and dir0 != dir1
    assert not Path(dir0).exists() and not Path(dir1).exists()
