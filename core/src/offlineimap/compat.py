"""Every option of OfflineIMAP 8.0.3's ``offlineimap.conf``, and what this version does with it.

A configuration written for OfflineIMAP must be read without surprises: every option of its
sample configuration (8.0.3) is either implemented, or accepted with a one-line notice saying
what happens instead; options of older releases (``realdelete``, ``[ui.Curses.Blinkenlights]``)
are accepted the same way. Nothing here ever stops a run: ``offlineimap --check-config``
prints the notices of :func:`config_notices` (validated values are :mod:`offlineimap.validate`'s
job), and a sync reads the options it implements and leaves the rest alone.

:data:`OPTIONS` is the table, keyed by the kind of section (``general``, ``mbnames``,
``Account``, ``Repository``) and the option name. ``customflag_<letter>`` stands for the 26
options of its pattern. The table is checked against OfflineIMAP's file by
``tests/test_offlineimap_conf.py`` through ``tests/fixtures/offlineimap8/offlineimap.conf.full``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offlineimap.config import Config


class Support(enum.Enum):
    IMPLEMENTED = "implemented"
    ACCEPTED = "accepted"  #: in 8.0.3, not acted upon here: a notice says what happens instead
    OBSOLETE = "obsolete"  #: from releases before 8.0.3, which no longer documents it
    EXTENSION = "extension"  #: not in OfflineIMAP 8.0.3; this version's own


@dataclasses.dataclass(frozen=True)
class Option:
    support: Support
    #: Why, for anything but IMPLEMENTED: the end of the notice line.
    note: str = ""


_I = Option(Support.IMPLEMENTED)


def _accepted(note: str) -> Option:
    return Option(Support.ACCEPTED, note)


def _obsolete(note: str) -> Option:
    return Option(Support.OBSOLETE, note)


def _extension(note: str) -> Option:
    return Option(Support.EXTENSION, note)


_CUSTOMFLAG = re.compile(r"customflag_[a-z]\Z")

OPTIONS: dict[str, dict[str, Option]] = {
    "general": {
        "metadata": _I, "accounts": _I, "maxsyncaccounts": _I, "ui": _I, "pythonfile": _I,
        "socktimeout": _I, "fsync": _I,
        "ignore-readonly": _accepted(
            "has no effect here: changes meant for a readonly repository are skipped without "
            "a warning per message"),
        # set by the command line (--dry-run, --ignore-keyring, --update-keyring), as in 8.0.3
        "dry-run": _I, "ignore-keyring": _I, "update-keyring": _I,
        "status_backend": _I,  # OfflineIMAP 6 read it here; the account's value wins
        "mass_delete_guard": _extension("the default for every account's mass_delete_guard"),
        "ui_timestamps": _extension("prefixes the Basic and TTYUI lines with the time"),
    },
    "mbnames": {
        name: _I for name in ("enabled", "filename", "header", "peritem", "sep", "footer",
                              "incremental", "folderfilter", "sort_keyfunc")
    },
    "Account": {
        "localrepository": _I, "remoterepository": _I, "autorefresh": _I, "quick": _I,
        "presynchook": _I, "postsynchook": _I, "maxsize": _I, "maxage": _I,
        "maildir-windows-compatible": _I, "synclabels": _I, "labelsheader": _I,
        "ignorelabels": _I,
        "filterheaders": _accepted(
            "not implemented: messages are stored byte for byte as the server sends them"),
        "proxy": _accepted(
            "not implemented: connections go out directly (a system-wide SOCKS wrapper such "
            "as torsocks works)"),
        "authproxy": _accepted("not implemented: authentication uses the direct connection"),
        "utf8foldernames": _accepted(
            "not implemented: folder names are used exactly as the server lists them"),
        "status_backend": _I,  # 8.0.3 refused it; plain and sqlite both work here
        "mass_delete_guard": _extension(
            "refuses a sync that would delete more than this percentage of a folder"),
        "fullsync_every": _extension(
            "hours between full listings of a folder on a CONDSTORE server (default 24; 0: "
            "every sync); in between, unchanged folders are skipped and changed ones listed "
            "by their changes"),
    },
    "Repository": {
        # every type
        "type": _I, "sep": _I, "nametrans": _I, "folderfilter": _I, "folderincludes": _I,
        "foldersort": _I, "createfolders": _I, "sync_deletes": _I, "readonly": _I,
        "startdate": _I,
        # Maildir, GmailMaildir
        "localfolders": _I, "restoreatime": _I, "utime_from_header": _I,
        "filename_use_mail_timestamp": _I,
        "customflag_x": _accepted(
            "not implemented: IMAP keywords are not mapped to Maildir letters a-z; they stay "
            "on the server"),
        # IMAP, Gmail
        "remotehost": _I, "remotehosteval": _I, "remoteport": _I, "remoteporteval": _I,
        "remoteuser": _I, "remoteusereval": _I, "remotepass": _I, "remotepasseval": _I,
        "remotepassfile": _I, "remote_identity": _I, "auth_mechanisms": _I,
        "ssl": _I, "starttls": _I, "sslclientcert": _I, "sslclientkey": _I,
        "sslcacertfile": _I, "cert_fingerprint": _I, "ssl_version": _I, "tls_level": _I,
        "oauth2_client_id": _I, "oauth2_client_secret": _I, "oauth2_client_id_eval": _I,
        "oauth2_client_secret_eval": _I, "oauth2_access_token": _I,
        "oauth2_access_token_eval": _I, "oauth2_refresh_token": _I,
        "oauth2_refresh_token_eval": _I, "oauth2_request_url": _I,
        "reference": _I, "idlefolders": _I, "maxconnections": _I, "expunge": _I,
        "subscribedonly": _I, "newmail_hook": _I, "trashfolder": _I,
        "holdconnectionopen": _accepted(
            "no effect: connections live for one sync; idlefolders keep their own open"),
        "keepalive": _accepted(
            "no effect: idlefolders connections renew IDLE every idlerenew minutes instead"),
        "ipv6": _accepted("no effect: the address family follows the system resolver"),
        "allow_nonstandard_capabilities": _accepted(
            "no effect: only standard capabilities are used"),
        "preauthtunnel": _accepted(
            "not implemented: connect over the network (remotehost, ssl or starttls)"),
        "transporttunnel": _accepted(
            "not implemented: connect over the network (remotehost, ssl or starttls)"),
        "decodefoldernames": _accepted(
            "not implemented (OfflineIMAP 8 deprecates it): folder names are used as listed"),
        "usecompression": _accepted(
            "not implemented: messages travel uncompressed (no COMPRESS=DEFLATE)"),
        "singlethreadperfolder": _accepted(
            "no effect: each folder is always synced by a single worker"),
        "dynamic_folderfilter": _accepted(
            "always on here: folders are listed and filtered afresh at every sync"),
        "retrycount": _accepted(
            "no effect: an upload that fails is retried at the next sync, without duplicates"),
        "copy_ignore_eval": _accepted(
            "not implemented: every message is copied (maxage, maxsize and startdate limit "
            "what is)"),
        "realdelete": _obsolete(
            "obsolete since OfflineIMAP 7: deleting from a Gmail label folder removes the "
            "label and the message stays in All Mail"),
        "spamfolder": _extension("the Gmail spam folder's name, for other languages"),
        "idlerenew": _extension("minutes between IDLE renewals (default 29)"),
        "allow_plaintext_login": _extension(
            "lets LOGIN, PLAIN and XOAUTH2 send the password without TLS (refused by default)"),
    },
}

#: Notice for ``[ui.*]`` sections (``[ui.Curses.Blinkenlights]`` of OfflineIMAP 6).
UI_SECTION_NOTE = ("obsolete section: user interfaces are chosen with [general] ui or -u and "
                   "take no options of their own")


def lookup(kind: str, option: str) -> Option | None:
    """The table's entry for ``option`` in a section of ``kind``, ``None`` when unknown."""
    table = OPTIONS.get(kind, {})
    if _CUSTOMFLAG.match(option):
        option = "customflag_x"
    return table.get(option)


def section_kind(name: str) -> str | None:
    """``general``, ``mbnames``, ``Account``, ``Repository`` or ``ui`` (``None``: unknown)."""
    if name in ("general", "mbnames"):
        return name
    if name.startswith("ui.") or name == "ui":
        return "ui"
    kind = name.split(" ", 1)[0]
    return kind if kind in ("Account", "Repository") and " " in name else None


def own_options(config: Config, section: str) -> list[str]:
    """Options written in ``section`` itself, not inherited from ``[DEFAULT]`` (where
    OfflineIMAP's sample keeps interpolation helpers such as ``gmailtrashfolder``)."""
    parser = config.parser
    defaults = parser.defaults()
    return [option for option in parser.options(section)
            if option not in defaults
            or parser.get(section, option, raw=True) != defaults[option]]


def section_notices(config: Config, section: str) -> list[str]:
    """One line per option of ``section`` that is accepted but not acted upon, or unknown."""
    kind = section_kind(section)
    if kind == "ui":
        return [f"[{section}]: {UI_SECTION_NOTE}"]
    if kind is None:
        return [f"[{section}]: not a section OfflineIMAP or this version reads; ignored"]
    lines = []
    for option in own_options(config, section):
        entry = lookup(kind, option)
        if entry is None:
            lines.append(f"[{section}] {option}: not an option of OfflineIMAP 8.0.3 nor of "
                         "offlineimap-core; ignored unless a plugin reads it (a typo?)")
        elif entry.support in (Support.ACCEPTED, Support.OBSOLETE):
            lines.append(f"[{section}] {option}: accepted, {entry.note}")
    return lines


def config_notices(config: Config, sections: list[str]) -> list[str]:
    """Notices for ``sections`` (those that exist), then for every ``[ui.*]`` and unknown
    section of the file: what :func:`section_notices` says, in that order."""
    names = [name for name in sections if config.has_section(name)]
    names += [name for name in config.parser.sections()
              if name not in names and section_kind(name) in ("ui", None)]
    return [line for name in names for line in section_notices(config, name)]
