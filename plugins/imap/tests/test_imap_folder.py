"""Folder operations against a real Dovecot: every change checked through a second client."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from offlineimap.errors import FolderError
from offlineimap.repository import FolderState, NewMessage
from offlineimap_testing.messages import make_message

pytestmark = pytest.mark.dovecot


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_list_and_fetch_are_byte_identical(connected, imap_account) -> None:
    bodies = [make_message(f"message {n}", size=2_000 + 500 * n) for n in range(20)]
    bodies.append(make_message("bare\rcarriage and trailing spaces   ", body="x\r\ny  \r\n"))
    uids = imap_account.seed("INBOX", bodies[:10] + [(body, ["\\Seen"]) for body in bodies[10:]])
    with connected.repository.open_folder("INBOX") as folder:
        state = folder.state()
        listing = folder.list_messages()
        fetched = dict(folder.fetch(list(reversed(uids))))
    assert state.exists == len(bodies) and state.uidnext == uids[-1] + 1
    assert state.uidvalidity and state.highestmodseq
    assert sorted(listing) == uids
    assert all(listing[uid].flags == frozenset("S") for uid in uids[10:])
    assert all(listing[uid].size == len(body) for uid, body in zip(uids, bodies, strict=True))
    server = imap_account.messages("INBOX")
    assert {uid: digest(body) for uid, body in fetched.items()} == {
        uid: digest(body) for uid, (_flags, body) in server.items()}
    assert {uid: digest(body) for uid, body in fetched.items()} == {
        uid: digest(body) for uid, body in zip(uids, bodies, strict=True)}


def test_fetch_skips_vanished_uids_and_does_not_mark_seen(connected, imap_account) -> None:
    uids = imap_account.seed("INBOX", [make_message(f"m{n}") for n in range(3)])
    imap_account.delete("INBOX", [uids[1]])
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        assert [uid for uid, _ in folder.fetch(uids)] == [uids[0], uids[2]]
    assert all(not flags for flags, _ in imap_account.messages("INBOX").values())


def test_min_uid_limits_the_listing(connected, imap_account) -> None:
    uids = imap_account.seed("INBOX", [make_message(f"m{n}") for n in range(5)])
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        assert sorted(folder.list_messages(min_uid=uids[3])) == uids[3:]
        assert folder.list_messages(min_uid=uids[-1] + 10) == {}


def test_empty_folder(connected) -> None:
    with connected.repository.open_folder("INBOX") as folder:
        assert folder.state().exists == 0
        assert folder.list_messages() == {}
        assert list(folder.fetch([1, 2])) == []


def test_save_converts_bare_lf_only_and_returns_appenduid(connected, imap_account) -> None:
    crlf = make_message("already crlf")
    lf = b"Subject: from maildir\n\nline one\nline two\r\n"
    messages = [
        NewMessage(uid=-1, body=crlf, flags=frozenset("SF"), internaldate=1_600_000_000.0),
        NewMessage(uid=-2, body=lf, flags=frozenset(), internaldate=None),
        NewMessage(uid=7, body=crlf.replace(b"already", b"passed"), flags=frozenset("PRD")),
    ]
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        result = folder.save_messages(messages)
        listing = folder.list_messages()
    assert [given for given, _ in result] == [-1, -2, 7]
    server = imap_account.messages("INBOX")
    new = dict(result)
    assert server[new[-1]] == (frozenset({"\\Seen", "\\Flagged"}), crlf)
    assert server[new[-2]][1] == b"Subject: from maildir\r\n\r\nline one\r\nline two\r\n"
    assert server[new[7]][0] == frozenset({"$Forwarded", "\\Answered", "\\Draft"})
    assert listing[new[-1]].internaldate == 1_600_000_000.0
    assert listing[new[7]].flags == frozenset("PRD")


@pytest.mark.parametrize("dropped", [[], ["MULTIAPPEND"], ["MULTIAPPEND", "LITERAL+"]])
def test_a_refused_message_fails_alone(dovecot_factory, make_repository, options_for,
                                       dropped) -> None:
    server = dovecot_factory(capabilities_drop=dropped)
    imap_account = server.new_account()
    connected = make_repository(options_for(imap_account))
    connected.repository.connect()
    good = [make_message(f"good {n}") for n in range(3)]
    messages = [NewMessage(uid=-1, body=good[0], flags=frozenset()),
                NewMessage(uid=-2, body=b"", flags=frozenset()),  # Dovecot refuses empty mail
                NewMessage(uid=-3, body=good[1], flags=frozenset()),
                NewMessage(uid=-4, body=good[2], flags=frozenset())]
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        result = folder.save_messages(messages)
    assert [given for given, _ in result] == [-1, -3, -4]
    assert sorted(body for _, body in imap_account.messages("INBOX").values()) == sorted(good)
    assert len(connected.events.warnings) == 1 and "message -2" in connected.events.warnings[0]


def test_change_flags_round_trip(connected, imap_account) -> None:
    uids = imap_account.seed("INBOX", [(make_message(f"m{n}"), ["\\Flagged", "Keep"])
                                       for n in range(6)])
    changes = {uid: (frozenset("SR"), frozenset("F")) for uid in uids[:4]}
    changes[uids[4]] = (frozenset("T"), frozenset())
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        folder.change_flags(changes)
        listing = folder.list_messages()
    server = imap_account.messages("INBOX")
    for uid in uids[:4]:
        assert server[uid][0] == {"\\Seen", "\\Answered", "Keep"}
    assert server[uids[4]][0] == {"\\Flagged", "\\Deleted", "Keep"}
    assert server[uids[5]][0] == {"\\Flagged", "Keep"}
    assert listing[uids[4]].flags == frozenset("FT")  # \Deleted messages are listed with T


def test_delete_expunges_only_its_own_messages(connected, imap_account) -> None:
    uids = imap_account.seed("INBOX", [make_message(f"m{n}") for n in range(4)])
    imap_account.set_flags("INBOX", [uids[0]], ["\\Deleted"])  # another client's business
    with connected.repository.open_folder("INBOX") as folder:
        folder.state()
        folder.delete_messages([uids[1], uids[2]])
        assert sorted(folder.list_messages()) == [uids[0], uids[3]]
    server = imap_account.messages("INBOX")
    assert sorted(server) == [uids[0], uids[3]]
    assert server[uids[0]][0] == {"\\Deleted"}


def test_create_and_use_a_non_ascii_folder(connected, imap_account) -> None:
    name = "Archiv.Grüße €"
    connected.repository.create_folder(name)
    connected.repository.create_folder(name)  # exists already: fine
    assert name in connected.repository.list_folders()
    assert name in imap_account.folders()
    body = make_message("umlauts")
    with connected.repository.open_folder(name) as folder:
        folder.state()
        [(_, uid)] = folder.save_messages([NewMessage(uid=-1, body=body, flags=frozenset())])
        assert dict(folder.fetch([uid])) == {uid: body}


def test_slash_separator(dovecot_factory, make_repository, options_for) -> None:
    server = dovecot_factory(separator="/")
    account = server.new_account()
    repository = make_repository(options_for(account)).repository
    repository.connect()
    assert repository.sep == "/"
    repository.create_folder("Lists/python.dev")
    assert "Lists/python.dev" in repository.list_folders()
    account.seed("Lists/python.dev", [make_message("hi")])
    with repository.open_folder("Lists/python.dev") as folder:
        assert folder.state().exists == 1


def test_subscribedonly_lists_subscriptions(imap_account, make_repository, plain) -> None:
    with imap_account.client() as client:
        client.create_folder("Hidden")
    imap_account.seed("Other", [make_message("x")])
    repository = make_repository(plain(subscribedonly="yes")).repository
    repository.connect()
    assert "Hidden" not in repository.list_folders()
    repository.create_folder("Shown")
    assert "Shown" in repository.list_folders()


def test_missing_folder_is_a_folder_error(connected) -> None:
    with connected.repository.open_folder("Nope") as folder, pytest.raises(FolderError) as err:
        folder.state()
    assert "Nope" in str(err.value) and "\n" not in str(err.value)


def test_readonly_examines_and_refuses_writes(imap_account, make_repository, plain) -> None:
    uids = imap_account.seed("INBOX", [make_message("keep")])
    repository = make_repository(plain(readonly="yes")).repository
    repository.connect()
    with repository.open_folder("INBOX") as folder:
        assert isinstance(folder.state(), FolderState)
        assert sorted(folder.list_messages()) == uids
        for call in (lambda: folder.delete_messages(uids),
                     lambda: folder.change_flags({uids[0]: (frozenset("S"), frozenset())}),
                     lambda: folder.save_messages([])):
            with pytest.raises(FolderError, match="readonly"):
                call()
    assert sorted(imap_account.messages("INBOX")) == uids


def test_folders_sync_in_parallel_up_to_maxconnections(imap_account, make_repository,
                                                       plain) -> None:
    for name in ("A", "B", "C"):
        imap_account.seed(name, [make_message(f"{name}{n}") for n in range(3)])
    built = make_repository(plain(maxconnections="2"))
    repository = built.repository
    repository.connect()
    active = 0
    peak = 0
    lock = threading.Lock()
    results: dict[str, int] = {}

    def sync(name: str) -> None:
        nonlocal active, peak
        with repository.open_folder(name) as folder:
            with lock:
                active += 1
                peak = max(peak, active)
            folder.state()
            results[name] = len(dict(folder.fetch(list(folder.list_messages()))))
            time.sleep(0.2)
            with lock:
                active -= 1

    threads = [threading.Thread(target=sync, args=(name,)) for name in ("A", "B", "C")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"A": 3, "B": 3, "C": 3}
    assert peak == 2
    assert len(built.events.connecting) == 2


@pytest.mark.parametrize("dropped", [["UIDPLUS"], ["LITERAL+"], ["MULTIAPPEND"],
                                     ["UIDPLUS", "MULTIAPPEND", "LITERAL+"]])
def test_upload_without_uidplus_or_literal_plus(dovecot_factory, make_repository, options_for,
                                                dropped) -> None:
    server = dovecot_factory(capabilities_drop=dropped)
    account = server.new_account()
    repository = make_repository(options_for(account)).repository
    repository.connect()
    bodies = [make_message(f"m{n}") for n in range(5)]
    bodies.append(b"Subject: no message id\r\n\r\nbody\r\n")
    with repository.open_folder("INBOX") as folder:
        folder.state()
        result = folder.save_messages(
            [NewMessage(uid=-n - 1, body=body, flags=frozenset("S"))
             for n, body in enumerate(bodies)])
    server_messages = account.messages("INBOX")
    assert [given for given, _ in result] == [-1, -2, -3, -4, -5, -6]
    assert {uid: server_messages[uid][1] for _, uid in result} == {
        uid: bodies[-given - 1] for given, uid in result}


@pytest.mark.parametrize(("expunge", "left"), [("yes", 1), ("no", 3)])
def test_delete_without_uidplus_follows_expunge(dovecot_factory, make_repository, options_for,
                                                expunge, left) -> None:
    server = dovecot_factory(capabilities_drop=["UIDPLUS"])
    account = server.new_account()
    uids = account.seed("INBOX", [make_message(f"m{n}") for n in range(3)])
    repository = make_repository(options_for(account, expunge=expunge)).repository
    repository.connect()
    with repository.open_folder("INBOX") as folder:
        folder.state()
        folder.delete_messages(uids[:2])
    server_messages = account.messages("INBOX")
    assert len(server_messages) == left
    assert all("\\Deleted" in flags for uid, (flags, _) in server_messages.items()
               if uid in uids[:2])


def test_list_changes_reports_new_reflagged_and_vanished(connected, imap_account) -> None:
    """QRESYNC against Dovecot: only what changed after the recorded HIGHESTMODSEQ comes back."""
    uids = imap_account.seed("INBOX", [make_message(f"m{n}") for n in range(10)])
    with connected.repository.open_folder("INBOX") as folder:
        since = folder.state()
        assert folder.list_changes(since) is not None
    imap_account.set_flags("INBOX", uids[2:4], ["\\Flagged"])
    imap_account.delete("INBOX", uids[5:7])
    late = make_message("late")
    (new,) = imap_account.seed("INBOX", [late])
    with connected.repository.open_folder("INBOX") as folder:
        state = folder.state()
        changes = folder.list_changes(since)
        assert changes is not None
        assert sorted(changes.changed) == [*uids[2:4], new]
        assert all(changes.changed[uid].flags == frozenset("F") for uid in uids[2:4])
        assert changes.changed[new].size == len(late)
        assert all(uid in changes.vanished for uid in uids[5:7])
        assert not any(uid in changes.vanished for uid in [*uids[:5], *uids[7:], new])
        assert folder.list_changes(state).changed == {}
        other_validity = FolderState(uidvalidity=(since.uidvalidity or 0) + 1,
                                     highestmodseq=since.highestmodseq)
        assert folder.list_changes(other_validity) is None
        assert folder.list_changes(FolderState(uidvalidity=since.uidvalidity)) is None


def test_a_finished_folder_hands_its_connection_on_after_its_last_fetch(
        imap_account, make_repository, plain) -> None:
    inbox = imap_account.seed("INBOX", [make_message(f"i{n}") for n in range(3)])
    imap_account.seed("Next", [make_message(f"n{n}") for n in range(2)])
    built = make_repository(plain(maxconnections="1"))
    repository = built.repository
    repository.connect()
    with repository.open_folder("INBOX") as folder:
        folder.state()
        folder.list_messages()
        folder.finish(after_fetch=True)
        fetched = folder.fetch(inbox)
        first = next(fetched)  # the whole answer is read: the connection is free again
        # The pool refuses this thread a second connection unless the first came back.
        with repository.open_folder("Next") as following:
            following.state()
            assert len(following.list_messages()) == 2
        assert [first[0], *(uid for uid, _ in fetched)] == inbox
        with pytest.raises(FolderError, match="closed"):
            folder.list_messages()
    assert len(built.events.connecting) == 1


def test_finish_without_a_fetch_gives_the_connection_back_at_once(connected) -> None:
    repository = connected.repository
    with repository.open_folder("INBOX") as folder:
        folder.state()
        folder.list_messages()
        folder.finish()
        # The pool refuses this thread a second connection unless the first came back.
        repository.release_connection(repository.pool.acquire())
        with pytest.raises(FolderError, match="closed"):
            folder.list_messages()
