"""``[mbnames]``: OfflineIMAP's per-account JSON files and the mailbox list built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offlineimap.config import Config
from offlineimap.errors import ConfigError
from offlineimap.events import Events
from offlineimap.mbnames import Mbnames, local_root


def make(tmp_path: Path, mbnames: str, accounts: str = "A, B") -> Mbnames:
    config = Config.from_string(
        f"[general]\naccounts = {accounts}\nmetadata = {tmp_path}/meta\n[mbnames]\n{mbnames}")
    return Mbnames(config, Events(None))


MUTT = ('enabled = yes\nfilename = {out}\nheader = "mailboxes "\n'
        'peritem = +%(accountname)s/%(foldername)s\nsep = " "\nfooter = "\\n"\n')


def test_list_of_every_account_sorted_and_filtered(tmp_path: Path) -> None:
    out = tmp_path / "mailboxes"
    names = make(tmp_path, MUTT.format(out=out)
                 + "folderfilter = lambda account, folder: not folder.startswith('Trash')\n")
    names.account_synced("B", ["INBOX", "Trash"], "/mail/b")
    names.account_synced("A", ["Sent", "INBOX"], "/mail/a")
    assert not out.exists(), "not incremental: written once at the end"
    names.finish()
    assert out.read_text() == "mailboxes +A/INBOX +A/Sent +B/INBOX\n"
    cache = json.loads((tmp_path / "meta" / "mbnames" / "A.json").read_text())
    assert cache[0] == {"accountname": "A", "foldername": "Sent", "localfolders": "/mail/a"}


def test_incremental_writes_after_each_account_and_sort_keyfunc(tmp_path: Path) -> None:
    out = tmp_path / "mailboxes"
    names = make(tmp_path, MUTT.format(out=out) + "incremental = yes\n"
                 "sort_keyfunc = lambda d: (d['foldername'] != 'INBOX', d['foldername'])\n")
    names.account_synced("A", ["Archive", "INBOX"], "")
    assert out.read_text() == "mailboxes +A/INBOX +A/Archive\n"


def test_prune_drops_accounts_no_longer_configured(tmp_path: Path) -> None:
    out = tmp_path / "mailboxes"
    names = make(tmp_path, MUTT.format(out=out))
    names.account_synced("Old", ["INBOX"], "")
    names.prune(["A", "B"])
    names.finish()
    assert out.read_text() == "mailboxes \n"


def test_disabled_removes_every_cache_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "mailboxes"
    make(tmp_path, MUTT.format(out=out)).account_synced("A", ["INBOX"], "")
    names = make(tmp_path, "enabled = no\n")
    names.prune(["A"])
    names.account_synced("A", ["INBOX"], "")
    names.finish()
    assert list((tmp_path / "meta" / "mbnames").iterdir()) == []


def test_missing_options_are_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[mbnames\] enabled = yes needs header, sep"):
        make(tmp_path, f"enabled = yes\nfilename = {tmp_path}/x\nperitem = %(foldername)s\n"
                       'footer = ""\n')


def test_local_root_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/me")
    assert local_root("~/Mail") == "/home/me/Mail"
    assert local_root(None) == ""
