"""One user's mailbox on a fixture Dovecot: log in, seed messages, and read them back.

Tests arrange server state through these helpers and assert on it afterwards, so they must be
fast (MULTIAPPEND with non-synchronising literals: seeding thousands of messages costs one round
trip per batch) and exact (bodies come back as the raw bytes the server stores).
"""

from __future__ import annotations

import re
import socket
import ssl as ssl_module
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from imapclient import IMAPClient

if TYPE_CHECKING:
    from offlineimap_testing.dovecot import Dovecot

__all__ = ["ImapAccount", "SeedMessage"]

SeedMessage = bytes | tuple[bytes, Iterable[str | bytes]]
"""A message to seed: raw RFC 822 bytes, optionally with the flags to store it with."""

_BATCH_MESSAGES = 500
_BATCH_BYTES = 16 * 1024 * 1024
_APPENDUID = re.compile(rb"\[APPENDUID \d+ ([0-9:,]+)\]")
_SESSION_FLAGS = frozenset({"\\Recent"})  # differs per session: meaningless in assertions


def _as_str(flag: str | bytes) -> str:
    return flag.decode("ascii") if isinstance(flag, bytes) else flag


def parse_uid_set(text: str | bytes) -> list[int]:
    """Expand an IMAP UID set such as ``3:5,9`` into ``[3, 4, 5, 9]`` (``5:3`` means ``3:5``)."""
    raw = text.decode("ascii") if isinstance(text, bytes) else text
    uids: list[int] = []
    for part in raw.split(","):
        first, _, last = part.partition(":")
        low, high = sorted((int(first), int(last or first)))
        uids.extend(range(low, high + 1))
    return uids


def _batches(messages: Iterable[SeedMessage]) -> Iterator[list[dict[str, object]]]:
    """Group messages into APPEND items, bounded in count and bytes to cap memory per command."""
    batch: list[dict[str, object]] = []
    size = 0
    for message in messages:
        body, flags = (message, ()) if isinstance(message, bytes) else message
        item: dict[str, object] = {"msg": body}
        flag_names = [_as_str(flag) for flag in flags]
        if flag_names:
            item["flags"] = flag_names
        batch.append(item)
        size += len(body)
        if len(batch) >= _BATCH_MESSAGES or size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _append(client: IMAPClient, folder: str, batch: list[dict[str, object]]) -> list[bytes]:
    """Append *batch*; return the responses carrying APPENDUID.

    One MULTIAPPEND (one round trip) when the server advertises it, else one APPEND per message,
    so seeding also works on servers made to hide MULTIAPPEND.
    """
    if client.has_capability("MULTIAPPEND"):
        _typ, data = client.multiappend(folder, batch)
        return [data[0] if data else b""]
    return [client.append(folder, item["msg"], item.get("flags", ())) for item in batch]


@dataclass
class ImapAccount:
    """A user on a :class:`~offlineimap_testing.dovecot.Dovecot` server.

    ``mail_dir`` is the server-side Maildir root, for white-box checks of what Dovecot stored.
    """

    server: Dovecot
    user: str
    password: str
    mail_dir: Path = field(repr=False)

    def client(self, ssl: bool = False, starttls: bool = False) -> IMAPClient:
        """A logged-in IMAPClient (a context manager that logs out).

        :param ssl: connect to the IMAPS port instead of the plain one.
        :param starttls: upgrade the plain connection with STARTTLS before logging in.
        Both TLS forms verify the server certificate against the fixture CA.
        """
        if ssl and starttls:
            raise ValueError("choose IMAPS (ssl=True) or STARTTLS (starttls=True), not both")
        context = ssl_module.create_default_context(cafile=str(self.server.ca_cert))
        port = self.server.ssl_port if ssl else self.server.port
        client = IMAPClient(self.server.host, port=port, ssl=ssl, ssl_context=context, timeout=30)
        try:
            if starttls:
                client.starttls(context)
            client.login(self.user, self.password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def seed(self, folder: str, messages: Iterable[SeedMessage]) -> list[int]:
        """Append *messages* to *folder* (created if missing); return their UIDs in order."""
        uids: list[int] = []
        with self.client() as client:
            # imapclient writes each literal and its separator separately: without TCP_NODELAY,
            # Nagle's algorithm stalls every message of a batch.
            client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for batch in _batches(messages):
                batch_uids: list[int] = []
                for response in _append(client, folder, batch):
                    match = _APPENDUID.search(response)
                    if match is None:
                        raise AssertionError(f"APPEND to {folder!r}: no APPENDUID in {response!r}")
                    batch_uids.extend(parse_uid_set(match.group(1)))
                if len(batch_uids) != len(batch):
                    raise AssertionError(f"{len(batch)} messages appended, UIDs {batch_uids}")
                uids.extend(batch_uids)
        return uids

    def messages(self, folder: str) -> dict[int, tuple[frozenset[str], bytes]]:
        """Every message of *folder* as ``uid -> (flags, full body bytes)``, read-only.

        ``\\Recent`` is left out: it depends on which session looked first, not on the message.
        """
        with self.client() as client:
            selected = client.select_folder(folder, readonly=True)
            uids = client.search("ALL") if selected.get(b"EXISTS") else []
            fetched = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
        return {
            uid: (
                frozenset(_as_str(flag) for flag in data[b"FLAGS"]) - _SESSION_FLAGS,
                data[b"BODY[]"],
            )
            for uid, data in fetched.items()
        }

    def folders(self) -> list[str]:
        """The names of all folders (INBOX included), sorted, as the server spells them."""
        with self.client() as client:
            return sorted(name for _flags, _sep, name in client.list_folders())

    def delete(self, folder: str, uids: Iterable[int]) -> None:
        """Remove messages for good: STORE \\Deleted, then UID EXPUNGE of just those UIDs."""
        targets = list(uids)
        with self.client() as client:
            client.select_folder(folder)
            client.add_flags(targets, [b"\\Deleted"], silent=True)
            client.expunge(targets)

    def set_flags(
        self, folder: str, uids: Iterable[int], flags: Iterable[str | bytes], add: bool = True
    ) -> None:
        """Add *flags* to the messages (``add=True``) or remove them from the messages (False)."""
        targets = list(uids)
        flag_list = [_as_str(flag) for flag in flags]
        with self.client() as client:
            client.select_folder(folder)
            if add:
                client.add_flags(targets, flag_list, silent=True)
            else:
                client.remove_flags(targets, flag_list, silent=True)
