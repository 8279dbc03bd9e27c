"""Password providers: config options, ~/.netrc then /etc/netrc, the keyring, the UI, in order.

The keyring tests install a real backend class into the real ``keyring`` package (its
documented way to add backends) and restore the previous one afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from offlineimap import passwords
from offlineimap.config import Config
from offlineimap.errors import AuthenticationError, ConfigError
from offlineimap.hookspecs import hookimpl
from offlineimap.passwords import PasswordRequest, netrc_entry, resolve_password, resolve_user
from offlineimap.plugins import PluginHost


class MemoryKeyring(KeyringBackend):
    """A keyring backend holding its secrets in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, secrets: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.secrets = secrets
        self.asked: list[tuple[str, str]] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.asked.append((service, username))
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.secrets[(service, username)]


class StuckKeyring(MemoryKeyring):
    """A backend that never answers, like a locked desktop keyring waiting for a dialog."""

    release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(10)
        return "too late"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(passwords, "SYSTEM_NETRC", tmp_path / "etc-netrc")
    return home


@pytest.fixture
def system_netrc(home: Path) -> Path:
    return passwords.SYSTEM_NETRC


@pytest.fixture(autouse=True)
def keyring_backend() -> Iterator[None]:
    """Whatever a test installs, the process's keyring is the fail backend again afterwards."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def _netrc(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def _request(text: str, *, user: str | None = "me", host: str | None = "imap.example.org",
             general: str = "") -> PasswordRequest:
    config = Config.from_string(f"[general]\n{general}\n[Repository r]\n" + text)
    return PasswordRequest(repository="r", section=config.section("Repository r"), user=user,
                           host=host, port=993)


def _host(*extra: object) -> PluginHost:
    host = PluginHost()
    host.add("core.passwords", passwords, distribution="offlineimap-core")
    for index, plugin in enumerate(extra):
        host.add(f"extra{index}", plugin, distribution="tests")
    host.finish()
    return host


# -- configuration options ----------------------------------------------------------------------


def test_config_options_in_order(home: Path) -> None:
    (home / "pass").write_text("from-file\nsecond line\n")
    _netrc(home / ".netrc", "machine imap.example.org login me password from-netrc\n")
    everything = ("remotepasseval = 'from-' + 'eval'\nremotepass = plain\n"
                  "remotepassfile = ~/pass\n")
    assert passwords.offlineimap_get_password(_request(everything)) == "from-eval"
    without_eval = "remotepass = plain\nremotepassfile = ~/pass\n"
    assert passwords.offlineimap_get_password(_request(without_eval)) == "plain"
    assert passwords.offlineimap_get_password(_request("remotepassfile = ~/pass\n")) == (
        "from-file")
    assert passwords.offlineimap_get_password(_request("")) == "from-netrc"


def test_remotepasseval_returning_none_falls_through() -> None:
    request = _request("remotepasseval = None\nremotepass = fallback\n")
    assert passwords.offlineimap_get_password(request) == "fallback"


def test_unreadable_remotepassfile_is_one_line(home: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^\[Repository r\] remotepassfile = {home}/gone: "
                                          "cannot read: No such file or directory$"):
        passwords.offlineimap_get_password(_request("remotepassfile = ~/gone\n"))


# -- netrc ---------------------------------------------------------------------------------------


def test_netrc_matches_host_and_user(home: Path, system_netrc: Path) -> None:
    _netrc(home / ".netrc", "machine imap.example.org login me password p1\n"
                            "machine other.example.org login you password p2\n")
    assert netrc_entry("imap.example.org", "me") == ("me", "p1")
    assert netrc_entry("imap.example.org", None) == ("me", "p1")
    assert netrc_entry("other.example.org", "you") == ("you", "p2")
    assert netrc_entry("imap.example.org", "someone-else") is None
    assert netrc_entry("unknown.example.org", None) is None


def test_home_netrc_before_system_netrc(home: Path, system_netrc: Path) -> None:
    _netrc(system_netrc, "machine imap.example.org login me password system\n"
                         "machine only-system.example.org login me password sys2\n")
    assert netrc_entry("imap.example.org", "me") == ("me", "system")  # no ~/.netrc yet
    _netrc(home / ".netrc", "machine imap.example.org login me password home\n")
    assert netrc_entry("imap.example.org", "me") == ("me", "home")
    assert netrc_entry("only-system.example.org", "me") == ("me", "sys2")


def test_user_mismatch_in_home_netrc_goes_on_to_system_netrc(home: Path,
                                                              system_netrc: Path) -> None:
    _netrc(home / ".netrc", "machine imap.example.org login alice password a\n")
    _netrc(system_netrc, "machine imap.example.org login bob password b\n")
    assert netrc_entry("imap.example.org", "bob") == ("bob", "b")
    assert netrc_entry("imap.example.org", "carol") is None


def test_netrc_default_entry(home: Path) -> None:
    _netrc(home / ".netrc", "default login me password fallback\n")
    assert netrc_entry("anything.example.org", "me") == ("me", "fallback")


def test_broken_netrc_is_one_line(home: Path) -> None:
    _netrc(home / ".netrc", "machine imap.example.org login me password p\nbogus token\n")
    with pytest.raises(ConfigError, match=rf"^{home}/.netrc, line 2: bad \w+ token .bogus.$"):
        netrc_entry("imap.example.org", "me")


def test_netrc_needs_a_host(home: Path) -> None:
    _netrc(home / ".netrc", "default login me password fallback\n")
    assert passwords.offlineimap_get_password(_request("", host=None)) is None


# -- user names ----------------------------------------------------------------------------------


def test_resolve_user_order(home: Path) -> None:
    _netrc(home / ".netrc", "machine imap.example.org login netrc-user password p\n")
    config = Config.from_string(
        "[Repository a]\nremoteusereval = 'eval-' + 'user'\nremoteuser = plain\n"
        "[Repository b]\nremoteuser = plain\nremotehost = imap.example.org\n"
        "[Repository c]\nremotehost = imap.example.org\n"
        "[Repository d]\nremotehosteval = 'imap.' + 'example.org'\n"
        "[Repository e]\nremotehost = elsewhere.example.org\n")
    assert resolve_user(config.section("Repository a")) == "eval-user"
    assert resolve_user(config.section("Repository b")) == "plain"
    assert resolve_user(config.section("Repository c")) == "netrc-user"
    assert resolve_user(config.section("Repository d")) == "netrc-user"
    assert resolve_user(config.section("Repository e")) is None
    # A driver with a built-in host (Gmail) passes it.
    assert resolve_user(config.section("Repository e"), "imap.example.org") == "netrc-user"


# -- keyring -------------------------------------------------------------------------------------


def test_keyring_answers_after_netrc(home: Path) -> None:
    backend = MemoryKeyring({("imap.example.org", "me"): "from-keyring"})
    keyring.set_keyring(backend)
    assert passwords.offlineimap_get_password(_request("")) == "from-keyring"
    assert backend.asked == [("imap.example.org", "me")]
    _netrc(home / ".netrc", "machine imap.example.org login me password from-netrc\n")
    assert passwords.offlineimap_get_password(_request("")) == "from-netrc"
    assert passwords.offlineimap_get_password(_request("remotepass = conf\n")) == "conf"
    assert len(backend.asked) == 1  # asked only when nothing before it answered


def test_keyring_needs_user_and_host(home: Path) -> None:
    backend = MemoryKeyring({("imap.example.org", "me"): "secret"})
    keyring.set_keyring(backend)
    assert passwords.offlineimap_get_password(_request("", user=None)) is None
    assert backend.asked == []


def test_fail_backend_is_not_asked(home: Path) -> None:
    assert isinstance(keyring.get_keyring(), fail.Keyring)
    assert passwords.keyring_password("imap.example.org", "me") is None


def test_backend_without_priority_is_skipped(home: Path) -> None:
    class Unusable(MemoryKeyring):
        priority = 0  # type: ignore[assignment]

    backend = Unusable({("imap.example.org", "me"): "secret"})
    keyring.set_keyring(backend)
    assert passwords.keyring_password("imap.example.org", "me") is None
    assert backend.asked == []


def test_stuck_keyring_is_given_up_on(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "KEYRING_TIMEOUT", 0.2)
    keyring.set_keyring(StuckKeyring({}))
    try:
        assert passwords.keyring_password("imap.example.org", "me") is None
    finally:
        StuckKeyring.release.set()


def test_keyring_backend_error_is_no_answer(home: Path) -> None:
    class Broken(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise RuntimeError("dbus went away")

    keyring.set_keyring(Broken({}))
    assert passwords.keyring_password("imap.example.org", "me") is None


# -- the whole chain through pluggy --------------------------------------------------------------


def test_resolve_password_asks_providers_then_ui(home: Path) -> None:
    class Prompting:
        asked: list[str] = []

        @staticmethod
        @hookimpl
        def offlineimap_prompt_password(request: PasswordRequest) -> str:
            Prompting.asked.append(request.repository)
            return "typed"

    host = _host(Prompting)
    assert resolve_password(host.hook, _request("remotepass = conf\n")) == "conf"
    assert Prompting.asked == []
    assert resolve_password(host.hook, _request("")) == "typed"
    assert Prompting.asked == ["r"]


def test_plugin_provider_can_go_first(home: Path) -> None:
    class Vault:
        @staticmethod
        @hookimpl(tryfirst=True)
        def offlineimap_get_password(request: PasswordRequest) -> str | None:
            return "vault" if request.host == "imap.example.org" else None

    host = _host(Vault)
    assert resolve_password(host.hook, _request("remotepass = conf\n")) == "vault"
    assert resolve_password(host.hook, _request("remotepass = conf\n", host="x")) == "conf"


def test_no_password_anywhere_is_one_line(home: Path) -> None:
    with pytest.raises(AuthenticationError) as err:
        resolve_password(_host().hook, _request(""))
    message = str(err.value)
    assert message.startswith("[Repository r] no password: set remotepass, remotepassfile or "
                              "remotepasseval")
    assert "~/.netrc" in message and "keyring" in message and "\n" not in message


def test_ignore_keyring_skips_it(home: Path) -> None:
    backend = MemoryKeyring({("imap.example.org", "me"): "from-keyring"})
    keyring.set_keyring(backend)
    request = _request("", general="ignore-keyring = yes\n")
    assert passwords.offlineimap_get_password(request) is None
    assert backend.asked == []


def test_update_keyring_keeps_the_typed_password(home: Path) -> None:
    class Stored(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            self.secrets[(service, username)] = password

    class Prompting:
        @staticmethod
        @hookimpl
        def offlineimap_prompt_password(request: PasswordRequest) -> str:
            return "typed"

    backend = Stored({})
    keyring.set_keyring(backend)
    host = _host(Prompting)
    assert resolve_password(host.hook, _request("", general="update-keyring = yes\n")) == "typed"
    assert backend.secrets == {("imap.example.org", "me"): "typed"}
    assert resolve_password(host.hook, _request("")) == "typed"  # now from the keyring
    assert backend.asked[-1] == ("imap.example.org", "me")


def test_eval_results_in_bytes_are_text(home: Path) -> None:
    assert passwords.offlineimap_get_password(
        _request("remotepasseval = b'secret'\n")) == "secret"
    assert passwords.resolve_user(_request("remoteusereval = b'me'\n").section) == "me"
