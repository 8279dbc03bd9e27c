"""Round trips of opening a connection, logging in, listing folders and closing.

On a network a routine resync costs round trips, not bytes. A relay between the client and the
real Dovecot counts the client's *turns*: a turn starts whenever the client speaks after the
server did, so each turn is one round trip the client waited for (or, for the last one, one it
chose not to wait for). The scripted server (``offlineimap_testing.fakeserver``) stands in for
servers Dovecot cannot imitate: no capabilities in the greeting, no SASL-IR, no LIST-STATUS, a
LOGOUT answered late.
"""

from __future__ import annotations

import base64
import selectors
import socket
import threading
import time

import pytest

from offlineimap_testing.fakeserver import FakeImapServer, mailbox_responder
from offlineimap_testing.loopback import LoopbackServer
from offlineimap_testing.messages import make_message

pytestmark = pytest.mark.dovecot


class TurnCounter(LoopbackServer):
    """Relays each connection to ``target``; :attr:`turns` holds, per connection, the bytes
    the client sent in each of its turns."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.turns: list[list[bytes]] = []
        super().__init__(max_connections=4, name="turn-counter")

    def _serve(self, client: socket.socket) -> None:
        turns: list[bytes] = []
        self.turns.append(turns)
        server_spoke = True  # the greeting comes first
        with client, socket.create_connection(self.target, timeout=10) as server, \
                selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, server)
            selector.register(server, selectors.EVENT_READ, client)
            while not self._stop.is_set():
                for key, _events in selector.select(0.05):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client:
                        if server_spoke:
                            turns.append(b"")
                        turns[-1] += data
                        server_spoke = False
                    else:
                        server_spoke = True
                    key.data.sendall(data)


def commands(turn: bytes) -> list[bytes]:
    """The command names of one turn (``AUTHENTICATE``, ``LIST``...), tags dropped."""
    return [line.split(b" ")[1].upper() for line in turn.splitlines() if b" " in line]


def through(counter: TurnCounter, options: dict[str, str]) -> dict[str, str]:
    return {**options, "remotehost": counter.host, "remoteport": str(counter.port)}


def test_connect_login_and_listing_take_four_round_trips(imap_account, make_repository,
                                                         plain) -> None:
    """Greeting (with capabilities), AUTHENTICATE PLAIN with its initial response, ENABLE,
    one LIST-STATUS; then LOGOUT, not waited for. No CAPABILITY, no LIST for the separator."""
    imap_account.seed("Work", [make_message("one"), make_message("two")])
    server = imap_account.server
    with TurnCounter((server.host, server.port)) as counter:
        built = make_repository(through(counter, plain(starttls="no",
                                                       allow_plaintext_login="yes")))
        repository = built.repository
        repository.connect()
        names = repository.list_folders()
        states = repository.folder_states()
        repository.close()
        # LOGOUT is not waited for: give the relay a moment to pass it on before it stops.
        deadline = time.monotonic() + 5
        while b"LOGOUT" not in b"".join(counter.turns[0]) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert names == ["INBOX", "Work"]
    assert states is not None and states["Work"].exists == 2 and states["Work"].uidnext == 3
    assert repository.sep == "."
    [turns] = counter.turns
    assert [commands(turn) for turn in turns] == [
        [b"AUTHENTICATE"], [b"ENABLE"], [b"LIST"], [b"LOGOUT"]]
    assert b"RETURN (STATUS" in turns[2]
    # The initial response rode on the command line: no continuation was waited for.
    assert len(turns[0].split()) == 4


def sent_in_trace(built) -> list[str]:
    """The command names the debug trace shows sent (LOGIN and AUTHENTICATE masked)."""
    return [line.split("> b'", 1)[1].split()[1].rstrip("'") for line in built.events.debug
            if "> b'" in line]


def test_starttls_asks_capabilities_again_over_tls(make_repository, plain) -> None:
    """What the server said before TLS cannot be trusted: one CAPABILITY after STARTTLS
    (the TLS handshake's own turns make a turn count depend on the TLS version)."""
    built = make_repository(plain(starttls="yes"), debug=frozenset({"imap"}))
    built.repository.connect()
    assert built.repository.list_folders() == ["INBOX"]
    built.repository.close()
    assert sent_in_trace(built) == ["STARTTLS", "CAPABILITY", "AUTHENTICATE", "ENABLE", "LIST",
                                    "LOGOUT"]


def test_the_trace_shows_the_login_but_not_the_initial_response(imap_account,
                                                                 make_repository,
                                                                 plain) -> None:
    built = make_repository(plain(starttls="no", allow_plaintext_login="yes"),
                            debug=frozenset({"imap"}))
    built.repository.connect()
    built.repository.close()
    trace = "\n".join(built.events.debug)
    plain_response = base64.b64encode(
        f"\0{imap_account.user}\0{imap_account.password}".encode()).decode()
    assert "AUTHENTICATE ****" in trace
    for secret in (imap_account.password, plain_response, plain_response.rstrip("=")):
        assert secret not in trace
    assert "> b'" in trace and "LOGOUT" in trace  # commands are traced, the close included


def test_a_folder_created_after_the_listing_is_listed_with_its_state(
        imap_account, make_repository, plain) -> None:
    repository = make_repository(plain()).repository
    repository.connect()
    assert repository.list_folders() == ["INBOX"]
    repository.create_folder("Fresh")
    assert repository.list_folders() == ["Fresh", "INBOX"]
    states = repository.folder_states()
    assert states is not None and states["Fresh"].exists == 0
    imap_account.seed("Fresh", [make_message("late")])
    # Handed out once: the next call asks the server again.
    states = repository.folder_states()
    assert states is not None and states["Fresh"].exists == 1


def test_an_empty_listing_asks_for_the_separator(dovecot_factory, make_repository,
                                                 options_for) -> None:
    server = dovecot_factory(separator="/")
    account = server.new_account()
    repository = make_repository(options_for(account, reference="Nothing")).repository
    repository.connect()
    assert repository.sep == "/"
    assert repository.list_folders() == []


# -- servers that say less than Dovecot ---------------------------------------------------------

def fake_options(server: FakeImapServer) -> dict[str, str]:
    return {"remotehost": server.host, "remoteport": str(server.port), "remoteuser": "someone",
            "remotepass": "pw-8d2f", "ssl": "no", "starttls": "no",
            "allow_plaintext_login": "yes", "auth_mechanisms": "PLAIN"}


def sent_commands(server: FakeImapServer) -> list[bytes]:
    """Every line the client sent, tag dropped (a SASL answer line stays whole)."""
    return [line.split(b" ", 1)[1] if b" " in line else line
            for line in bytes(server.received).splitlines()]


@pytest.mark.parametrize("greeting, capabilities, expected", [
    pytest.param(b"* OK ready\r\n", b"IMAP4rev1 AUTH=PLAIN",
                 [b"CAPABILITY", b"AUTHENTICATE PLAIN", b"<answer>", b"CAPABILITY",
                  b'LIST "" "*"', b"LOGOUT"], id="nothing-offered"),
    pytest.param(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n",
                 b"IMAP4rev1 SASL-IR AUTH=PLAIN",
                 [b"AUTHENTICATE PLAIN <answer>", b"CAPABILITY", b'LIST "" "*"', b"LOGOUT"],
                 id="sasl-ir"),
])
def test_servers_without_the_shortcuts_still_work(make_repository, greeting, capabilities,
                                                  expected) -> None:
    """No capabilities in the greeting: asked once before and (no code in the tagged OK)
    once after login. No SASL-IR: the answer waits for the continuation. No LIST-STATUS: a
    plain LIST, whose lines carry the separator."""
    answer = base64.b64encode(b"\0someone\0pw-8d2f")
    with FakeImapServer(greeting, mailbox_responder(capabilities=capabilities)) as server:
        repository = make_repository(fake_options(server)).repository
        repository.connect()
        assert repository.list_folders() == ["INBOX"]
        assert repository.folder_states() is None
        repository.close()
    assert [line.replace(answer, b"<answer>") for line in sent_commands(server)] == expected


def test_closing_does_not_wait_for_logouts_answer(make_repository) -> None:
    release = threading.Event()
    base = mailbox_responder(capabilities=b"IMAP4rev1 AUTH=PLAIN")

    def respond(tag: bytes, line: bytes) -> bytes:
        if line.upper() == b"LOGOUT":
            release.wait(10)
            return b"* BYE\r\n" + tag + b" OK bye\r\n"
        return base(tag, line)

    with FakeImapServer(b"* OK ready\r\n", respond) as server:
        repository = make_repository(fake_options(server)).repository
        repository.connect()
        start = time.monotonic()
        repository.close()
        elapsed = time.monotonic() - start
        release.set()
    assert elapsed < 1.0
    assert bytes(server.received).endswith(b" LOGOUT\r\n")  # sent whole


def test_a_listed_folder_is_selected_in_the_same_round_trip_as_its_listing(
        imap_account, make_repository, plain) -> None:
    """After LIST-STATUS, a folder's state needs no SELECT of its own: the SELECT goes out with
    the listing, and a full listing and a listing by changes each cost one round trip."""
    uids = imap_account.seed("Work", [make_message(f"m{n}") for n in range(5)])
    server = imap_account.server
    with TurnCounter((server.host, server.port)) as counter:
        repository = make_repository(through(counter, plain(
            starttls="no", allow_plaintext_login="yes"))).repository
        repository.connect()
        states = repository.folder_states()
        assert states is not None
        with repository.open_folder("Work") as folder:
            since = folder.state()
            assert since == states["Work"]
            assert sorted(folder.list_messages()) == uids
        repository.close()  # as after every sync: the next one starts on a fresh connection
        imap_account.set_flags("Work", uids[:1], ["\\Seen"])
        repository.connect()
        repository.folder_states()
        with repository.open_folder("Work") as folder:
            assert folder.state().highestmodseq != since.highestmodseq
            changes = folder.list_changes(since)
        repository.close()
    assert changes is not None and list(changes.changed) == uids[:1] and changes.exists == 5
    # (LOGOUT is not waited for: the relay may stop before it sees it)
    for turns in counter.turns:
        assert [commands(turn) for turn in turns][:4] == [
            [b"AUTHENTICATE"], [b"ENABLE"], [b"LIST"], [b"SELECT", b"UID"]]
    assert len(counter.turns) == 2 and b"CHANGEDSINCE" in counter.turns[1][3]


def test_a_pipelined_select_of_a_missing_folder_is_one_error(imap_account, make_repository,
                                                              plain) -> None:
    from offlineimap.errors import FolderError
    from offlineimap.repository import FolderState

    repository = make_repository(plain(starttls="no", allow_plaintext_login="yes")).repository
    repository.connect()
    folder = repository.open_folder("Gone")
    folder.listed_state = FolderState(uidvalidity=1, uidnext=1, exists=0)
    folder.state()
    with pytest.raises(FolderError, match="SELECT Gone failed"):
        folder.list_messages()
    folder.close()
    with repository.open_folder("INBOX") as inbox:  # the connection is still in step
        inbox.state()
        assert inbox.list_messages() == {}
    repository.close()
