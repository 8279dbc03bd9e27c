"""Security through the real ``offlineimap`` command: what reaches the wire, the screen, the disk.

* No password leaves the machine unencrypted unless ``allow_plaintext_login = yes``: not when
  the server lacks STARTTLS (a man in the middle stripping it from the greeting), not when
  ``starttls = yes`` cannot be honoured, not when the TLS handshake fails. A scripted server
  (:mod:`offlineimap_testing.fakeserver`) records every byte the client sends.
* Passwords appear in no output: stdout, stderr and the ``-l`` log of a real sync with
  ``-d imap,maildir,thread``, neither as written nor base64-encoded (SASL PLAIN).
* The metadata directory is private (0700) and the status caches in it are the user's alone.
* A configuration file or ``pythonfile`` that other users may change is warned about.
"""

from __future__ import annotations

import base64
import os
import stat

import pytest

from offlineimap_testing.convergence import converged
from offlineimap_testing.fakeserver import (
    FakeImapServer,
    Hangup,
    capability_responder,
    mailbox_responder,
)

pytestmark = pytest.mark.dovecot

SECRET = "Sekr1t-pass-7f3e"
NO_STARTTLS = b"IMAP4rev1 AUTH=PLAIN LOGIN"


def fake_remote(server: FakeImapServer, extra: str = "") -> str:
    return (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
            f"remoteuser = someone\nremotepass = {SECRET}\n{extra}")


def refused(run, *words: str) -> None:
    assert run.code != 0, run.text
    assert "Traceback" not in run.text and SECRET not in run.text, run.text
    assert any(all(w in line for w in words) for line in run.text.splitlines()
               if "ERROR" in line), run.text


@pytest.mark.parametrize("extra, words", [
    pytest.param("", ("not sending the password unencrypted", "allow_plaintext_login"),
                 id="stripped-starttls"),
    pytest.param("starttls = yes\n", ("does not offer STARTTLS",), id="starttls-required"),
    pytest.param("auth_mechanisms = LOGIN\n", ("not sending the password unencrypted",),
                 id="login-only"),
])
def test_no_password_sent_without_tls(sandbox, extra, words) -> None:
    greeting = b"* OK [CAPABILITY " + NO_STARTTLS + b"] fake ready\r\n"
    with FakeImapServer(greeting, capability_responder(NO_STARTTLS)) as server:
        sandbox.write_config(fake_remote(server, extra))
        run = sandbox.run(expect=None)
    refused(run, *words)
    wire = bytes(server.received)
    assert SECRET.encode() not in wire and b"LOGIN" not in wire.upper().replace(b"LOGOUT", b"")
    assert b"AUTHENTICATE" not in wire.upper()


def test_a_failed_starttls_handshake_never_falls_back(sandbox) -> None:
    """The server accepts STARTTLS, then talks plaintext garbage: the run stops there."""
    offered = NO_STARTTLS + b" STARTTLS"
    answer = capability_responder(offered)

    def respond(tag: bytes, line: bytes) -> bytes:
        if line.upper() == b"STARTTLS":
            raise Hangup(tag + b" OK begin TLS now\r\nthis is not a TLS record\r\n")
        return answer(tag, line)

    greeting = b"* OK [CAPABILITY " + offered + b"] fake ready\r\n"
    with FakeImapServer(greeting, respond) as server:
        sandbox.write_config(fake_remote(server, "allow_plaintext_login = yes\n"))
        run = sandbox.run(expect=None)
    refused(run, "TLS")
    assert SECRET.encode() not in bytes(server.received)


def test_plaintext_login_to_dovecot_needs_the_option(sandbox, imap_account,
                                                     make_messages) -> None:
    """Against the real server's plain port: refused by default, synced once allowed."""
    imap_account.seed("INBOX", make_messages(2))
    server = imap_account.server
    base = (f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
            f"starttls = no\nremoteuser = {imap_account.user}\n"
            f"remotepass = {imap_account.password}\n")
    sandbox.write_config(base)
    run = sandbox.run(expect=None)
    assert run.code == 1 and "Traceback" not in run.text
    assert "not sending the password unencrypted" in run.text
    assert not sandbox.mail.exists() or not sandbox.local_files("INBOX")
    sandbox.write_config(base + "allow_plaintext_login = yes\n")
    sandbox.run()
    converged(sandbox, imap_account, ["INBOX"])


@pytest.mark.parametrize("tls, mechanisms", [
    pytest.param("starttls = yes\nsslcacertfile = {ca}\n", "PLAIN", id="starttls-plain"),
    pytest.param("starttls = no\nallow_plaintext_login = yes\n", "LOGIN", id="cleartext-login"),
])
def test_passwords_never_in_any_output(sandbox, dovecot_factory, make_messages, tls,
                                       mechanisms) -> None:
    server = dovecot_factory(password=SECRET)
    account = server.new_account()
    account.seed("INBOX", make_messages(3))
    log = sandbox.root / "offlineimap.log"
    sandbox.write_config(
        f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
        f"remoteuser = {account.user}\nremotepass = {SECRET}\n"
        f"auth_mechanisms = {mechanisms}\n" + tls.format(ca=server.ca_cert))
    run = sandbox.run("-d", "imap,maildir,thread", "-l", str(log))
    converged(sandbox, account, ["INBOX"])
    logged = log.read_text()
    assert "LOGIN" in logged or "AUTHENTICATE" in logged  # the trace covers the login
    plain = base64.b64encode(f"\0{account.user}\0{SECRET}".encode()).decode()
    for text in (run.out, run.err, logged):
        for secret in (SECRET, plain, plain.rstrip("=")):
            assert secret not in text


def test_oauth2_tokens_never_in_any_output(sandbox) -> None:
    """XOAUTH2 against a scripted server that records what the client sent."""
    token = "ya29.Tok3n-" + SECRET
    capabilities = b"IMAP4rev1 SASL-IR AUTH=XOAUTH2 UIDPLUS"
    greeting = b"* OK [CAPABILITY " + capabilities + b"] fake ready\r\n"
    log = sandbox.root / "offlineimap.log"
    with FakeImapServer(greeting, mailbox_responder(capabilities=capabilities)) as server:
        sandbox.write_config(fake_remote(server, "allow_plaintext_login = yes\nauth_mechanisms"
                                         f" = XOAUTH2\noauth2_access_token = {token}\n"))
        run = sandbox.run("-d", "imap,maildir,thread", "-l", str(log))
    sent = bytes(server.received)
    payload = base64.b64encode(f"user=someone\1auth=Bearer {token}\1\1".encode())
    assert payload in sent  # the token did go to the server, so the trace had it to hide
    logged = log.read_text()
    assert "AUTHENTICATE" in logged
    for text in (run.out, run.err, logged):
        assert token not in text and payload.decode() not in text


@pytest.mark.parametrize("backend", ["sqlite", "plain"])
def test_metadata_is_private(sandbox, imap_account, make_messages, backend) -> None:
    imap_account.seed("INBOX", make_messages(2))
    server = imap_account.server
    sandbox.write_config(
        f"type = IMAP\nremotehost = {server.host}\nremoteport = {server.port}\nssl = no\n"
        f"starttls = no\nallow_plaintext_login = yes\nremoteuser = {imap_account.user}\n"
        f"remotepass = {imap_account.password}\n", account=f"status_backend = {backend}\n")
    old = os.umask(0o022)  # the usual umask: would leave everything world-readable
    try:
        sandbox.run()
    finally:
        os.umask(old)
    assert stat.S_IMODE(sandbox.metadata.stat().st_mode) == 0o700
    entries = list(sandbox.metadata.rglob("*"))  # status caches, validity, sync states, lock
    assert any(p.is_file() for p in entries) and any(p.is_dir() for p in entries)
    for path in entries:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert not mode & 0o007, f"{path} is open to other users ({oct(mode)})"


@pytest.mark.parametrize("which", ["config", "pythonfile"])
def test_files_others_can_change_are_warned_about(sandbox, which) -> None:
    helper = sandbox.root / "helpers.py"
    helper.write_text("def keep(name):\n    return True\n")
    sandbox.write_config("type = Maildir\nlocalfolders = ~/remote\n",
                         general=f"pythonfile = {helper}\n")
    target = sandbox.config if which == "config" else helper
    target.chmod(0o600)
    clean = sandbox.run("--check-config")
    assert "WARNING" not in clean.text
    target.chmod(0o666)
    run = sandbox.run("--check-config")
    warnings = [line for line in run.text.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and str(target) in warnings[0] and "other users" in warnings[0]
