"""OAuth2: token refresh against a local endpoint, and XOAUTH2 logins of the real program."""

from __future__ import annotations

import pytest
from token_endpoint import TokenEndpoint

from offlineimap.config import Config
from offlineimap.errors import AuthenticationError, ConfigError
from offlineimap_gmail.oauth2 import TokenSource, configured

USER = "me@gmail.com"


def section(text: str):
    return Config.from_string(f"[Repository R]\n{text}").section("Repository R")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint():
    with TokenEndpoint(["tok-1", "tok-2", "tok-3"]) as server:
        yield server


def refreshing(endpoint, extra: str = "") -> str:
    return (f"oauth2_client_id = cid\noauth2_client_secret = csecret\n"
            f"oauth2_refresh_token = refresh-secret\noauth2_request_url = {endpoint.url}\n"
            + extra)


def test_refresh_posts_the_grant_and_caches_until_expiry(endpoint) -> None:
    clock = Clock()
    source = TokenSource.for_section(section(refreshing(endpoint)), clock=clock)
    assert source.token() == "tok-1"
    assert endpoint.requests == [{"grant_type": "refresh_token", "client_id": "cid",
                                  "client_secret": "csecret", "refresh_token": "refresh-secret",
                                  "content-type": "application/x-www-form-urlencoded"}]
    clock.now += 3000
    assert source.token() == "tok-1"  # 600 s left: still good
    clock.now += 550
    assert source.token() == "tok-2"  # under a minute left: refreshed before it expires
    source.invalidate()
    assert source.token() == "tok-3"
    assert source.refreshes == 3


def test_configured_access_token_first_then_refresh(endpoint) -> None:
    source = TokenSource.for_section(section(refreshing(endpoint, "oauth2_access_token = given\n")))
    assert source.token() == "given"
    assert source.token() == "given"
    assert endpoint.requests == []
    source.invalidate()
    assert source.token() == "tok-1"


def test_eval_options(endpoint) -> None:
    text = (f"oauth2_client_id_eval = 'c' + 'id'\noauth2_client_secret_eval = b'csecret'\n"
            f"oauth2_refresh_token_eval = 'refresh-' + 'secret'\n"
            f"oauth2_request_url = {endpoint.url}\n")
    assert configured(section(text))
    assert TokenSource.for_section(section(text)).token() == "tok-1"
    assert endpoint.requests[0]["client_id"] == "cid"


def test_refused_refresh_is_one_line_without_secrets(endpoint) -> None:
    text = refreshing(endpoint).replace("refresh-secret", "revoked-rt")
    source = TokenSource.for_section(section(text))
    with pytest.raises(AuthenticationError) as caught:
        source.token()
    text = str(caught.value)
    assert "invalid_grant" in text and "HTTP 400" in text and "\n" not in text
    assert "revoked-rt" not in text and "csecret" not in text


def test_unreachable_endpoint_and_missing_options() -> None:
    with pytest.raises(AuthenticationError, match="failed"):
        TokenSource.for_section(section("oauth2_client_id = c\noauth2_refresh_token = r\n"
                            "oauth2_request_url = http://127.0.0.1:9/token\n")).token()
    with pytest.raises(ConfigError, match="oauth2_client_id is not set"):
        TokenSource.for_section(section("oauth2_refresh_token = r\n")).token()
    with pytest.raises(AuthenticationError, match="no oauth2_refresh_token"):
        source = TokenSource.for_section(section("oauth2_access_token = a\n"))
        source.token()
        source.invalidate()
        source.token()
    assert not configured(section("remotepass = x\n"))


def test_answer_without_token(endpoint) -> None:
    endpoint.error = (200, {"token_type": "Bearer"})
    with pytest.raises(AuthenticationError, match="no access_token"):
        TokenSource.for_section(section(refreshing(endpoint))).token()


# -- the real program ---------------------------------------------------------------------


def test_xoauth2_login_with_refreshed_token(sandbox, gmail, endpoint) -> None:
    from gmail_messages import make_message

    gmail.tokens = {"tok-1": USER}
    gmail.store.add(make_message(1), labels=["\\Inbox"])
    sandbox.write_config(remote=sandbox.remote(refreshing(endpoint)), account="")
    out = sandbox.run("-d", "imap").out
    assert gmail.tokens_used == ["tok-1"]
    assert len(endpoint.requests) == 1
    assert sandbox.file_with("INBOX", b"<m1@")
    assert "AUTHENTICATE" in out  # the trace is on, with the token masked
    for secret in ("tok-1", "refresh-secret", "csecret"):
        assert secret not in out


def test_expired_access_token_is_refreshed_once(sandbox, gmail, endpoint) -> None:
    gmail.tokens = {"tok-1": USER}
    sandbox.write_config(remote=sandbox.remote(
        refreshing(endpoint, "oauth2_access_token = expired-token\n")), account="")
    sandbox.run()
    assert gmail.failed_logins == 1
    assert gmail.tokens_used == ["tok-1"]
    assert len(endpoint.requests) == 1


def test_refused_refreshed_token_fails_with_one_line(sandbox, gmail, endpoint) -> None:
    gmail.tokens = {}
    sandbox.write_config(remote=sandbox.remote(refreshing(endpoint)), account="")
    run = sandbox.run(check=False)
    assert run.code != 0
    assert "AUTHENTICATIONFAILED" in run.out and "Traceback" not in run.out
    assert gmail.failed_logins == 2  # the first token, then one fresh one: no loop


def test_plain_imap_repository_with_oauth2_refresh(sandbox, gmail, endpoint) -> None:
    """``type = IMAP`` gets refreshed tokens through the ``oauth2_refresh`` config function."""
    from gmail_messages import make_message

    gmail.tokens = {"tok-1": USER}
    gmail.store.add(make_message(1), labels=["\\Inbox"])
    remote = (f"type = IMAP\nremotehost = {gmail.host}\nremoteport = {gmail.port}\nssl = no\n"
              f"starttls = no\nallow_plaintext_login = yes\nremoteuser = {USER}\n"
              "folderfilter = lambda f: f == 'INBOX'\n"
              f"oauth2_access_token_eval = oauth2_refresh(client_id='cid', "
              f"refresh_token='refresh-secret', request_url='{endpoint.url}')\n")
    sandbox.write_config(remote=remote, account="")
    sandbox.run()
    assert gmail.tokens_used == ["tok-1"]
    assert endpoint.requests[0]["client_id"] == "cid"
    assert sandbox.file_with("INBOX", b"<m1@")
