"""``type = Gmail`` and ``type = GmailMaildir``: an IMAP and a Maildir repository that know labels.

``Gmail`` is ``IMAP`` with Gmail's defaults (``remotehost = imap.gmail.com``, ``ssl = yes``, port
993; the server's ``/`` separator and ``[Gmail]/...`` folders come from its LIST answer) and
OAuth2 tokens refreshed when needed. ``GmailMaildir`` is ``Maildir`` whose messages keep their
labels in a header. Label options are read from the *account*, as OfflineIMAP does:
``synclabels``, ``labelsheader``, ``ignorelabels``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from offlineimap.config import Section
from offlineimap.errors import ConfigError
from offlineimap.repository import RepositoryContext
from offlineimap_gmail import oauth2
from offlineimap_gmail.copies import CopyRegistry
from offlineimap_gmail.folder import GmailFolder, GmailMaildirFolder
from offlineimap_gmail.labels import DEFAULT_HEADER
from offlineimap_gmail.pairing import pairing
from offlineimap_imap.repository import IMAPRepository
from offlineimap_maildir.repository import MaildirRepository

#: What ``type = Gmail`` assumes when the section leaves it out.
GMAIL_DEFAULTS = {"remotehost": "imap.gmail.com", "ssl": "yes"}
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name: printable ASCII but ':'


@dataclasses.dataclass(frozen=True)
class LabelOptions:
    """``[Account X]`` options about labels (OfflineIMAP reads them from the account)."""

    synclabels: bool = False
    labelsheader: str = DEFAULT_HEADER
    ignorelabels: frozenset[str] = frozenset()

    @classmethod
    def for_account(cls, ctx: RepositoryContext) -> LabelOptions:
        account = ctx.config.section(f"Account {ctx.account}")
        header = account.get("labelsheader", DEFAULT_HEADER).strip()
        if not _HEADER_NAME.match(header):
            raise ConfigError(f"[{account.name}] labelsheader = {header!r}: expected a header "
                              "name such as X-Keywords")
        ignore = frozenset(re.split(r"\s*,\s*", account.get("ignorelabels", "").strip())) - {""}
        return cls(synclabels=bool(account.get_bool("synclabels", False)),
                   labelsheader=header, ignorelabels=ignore)


class DefaultedSection(Section):
    """A section view in which options the user left out take the given defaults."""

    def __init__(self, section: Section, defaults: dict[str, str]) -> None:
        super().__init__(section.config, section.name)
        self.defaults = defaults

    def has(self, option: str) -> bool:
        return super().has(option) or option in self.defaults

    def _raw(self, option: str, default: Any) -> Any:
        if not super().has(option) and option in self.defaults:
            return self.defaults[option]
        return super()._raw(option, default)


class GmailRepository(IMAPRepository):
    """``type = Gmail``."""

    folder_class = GmailFolder

    def __init__(self, ctx: RepositoryContext) -> None:
        ctx = dataclasses.replace(ctx, section=DefaultedSection(ctx.section, GMAIL_DEFAULTS))
        super().__init__(ctx)
        section = ctx.section
        self.labels = LabelOptions.for_account(ctx)
        self.trashfolder: str = section.get("trashfolder", "[Gmail]/Trash")
        self.spamfolder: str = section.get("spamfolder", "[Gmail]/Spam")
        # OfflineIMAP 8 accepts realdelete and ignores it: removing a message from a label
        # folder removes the label, and the message stays in [Gmail]/All Mail.
        section.get_bool("realdelete", False)
        if oauth2.configured(section):
            self.oauth2_token_provider = oauth2.TokenSource.for_section(section)

    def open_folder(self, name: str) -> GmailFolder:
        folder = super().open_folder(name)
        pairing.meet(self.ctx.account, folder)
        return folder

    def info(self) -> dict[str, Any]:
        facts = super().info()
        facts.update(synclabels=self.labels.synclabels, labelsheader=self.labels.labelsheader,
                     ignorelabels=sorted(self.labels.ignorelabels))
        return facts


class GmailMaildirRepository(MaildirRepository):
    """``type = GmailMaildir``: a Maildir whose folders sync labels with a Gmail remote."""

    folder_class = GmailMaildirFolder

    def __init__(self, ctx: RepositoryContext) -> None:
        super().__init__(ctx)
        self.labels = LabelOptions.for_account(ctx)
        account_dir = ctx.metadata_dir / f"Account-{ctx.account}"
        self.label_state_dir = account_dir / "GmailLabels"
        #: X-GM-MSGID -> local files holding the message, for the whole account
        self.copies = CopyRegistry(account_dir / "GmailMessages", fsync=self.options.fsync,
                                   warn=lambda text: ctx.events.warning(text, ctx.account))

    def open_folder(self, name: str) -> GmailMaildirFolder:
        folder = super().open_folder(name)
        assert isinstance(folder, GmailMaildirFolder)
        pairing.meet(self.ctx.account, folder)
        return folder
