"""The benchmark's server side: a realistic corpus, a seeded template account, per-run clones.

Seeding 10,000 messages through IMAP costs about 16 s and generating them about 45 s, so both
happen once per invocation: the corpus is cached on disk, the template account is seeded once
with MULTIAPPEND, and every tool run gets a fresh account whose server Maildir is a copy of the
template's (message files hard-linked: Dovecot only ever renames or unlinks them; its index and
UID list files copied, because Dovecot rewrites those in place). Each clone is then opened once
over IMAP so Dovecot re-reads the copied directories before any timing starts.

The :class:`Model` is what the server must hold and what every tool must mirror: folder ->
Message-ID -> (UID, body digest, flag letters). Step c changes the server and the model together.
"""

from __future__ import annotations

import copy
import hashlib
import os
import random
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from offlineimap_testing.dovecot import Dovecot, ImapAccount
from offlineimap_testing.messages import realistic_corpus

#: The ten server folders and their share (percent) of the messages.
FOLDERS: tuple[tuple[str, int], ...] = (
    ("INBOX", 25), ("Archive", 20), ("Sent", 10), ("Drafts", 2), ("Trash", 5),
    ("Lists.python", 12), ("Lists.debian", 8), ("Work", 8), ("Work.projects", 6),
    ("Receipts", 4),
)
#: Step c: this many new messages arrive, split between these folders.
ARRIVALS = 100
ARRIVAL_FOLDERS = ("INBOX", "Lists.python")
#: Step c: this fraction of all messages changes flags on the server.
FLAG_CHANGE_FRACTION = 0.01

IMAP_FLAG = {"S": "\\Seen", "R": "\\Answered", "F": "\\Flagged", "D": "\\Draft"}
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*<([^>\r\n]+)>", re.IGNORECASE | re.MULTILINE)
_LENGTH = struct.Struct(">I")


def message_id(data: bytes) -> str:
    """The Message-ID (without brackets) from the header of *data*, or ``""``."""
    end = data.find(b"\n\n")
    if end < 0:
        end = data.find(b"\r\n\r\n")
    match = _MESSAGE_ID.search(data, 0, end if end >= 0 else len(data))
    return match.group(1).decode("ascii", "replace") if match else ""


def digest(data: bytes) -> str:
    """Body digest that ignores line endings: IMAP sends CRLF, Maildirs may store LF."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


@dataclass(frozen=True)
class Entry:
    uid: int
    digest: str
    flags: str  #: sorted flag letters, e.g. "RS"


Model = dict[str, dict[str, Entry]]


def load_corpus(count: int, seed: int, cache_dir: Path) -> list[bytes]:
    """*count* realistic messages, generated once and then read back from *cache_dir*."""
    cache = cache_dir / f"corpus-{count}-{seed}.bin"
    if cache.exists():
        data = cache.read_bytes()
        messages, offset = [], 0
        while offset < len(data):
            (size,) = _LENGTH.unpack_from(data, offset)
            messages.append(data[offset + 4:offset + 4 + size])
            offset += 4 + size
        if len(messages) == count:
            return messages
    messages = list(realistic_corpus(count, seed))
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".part")
    with partial.open("wb") as handle:
        for message in messages:
            handle.write(_LENGTH.pack(len(message)))
            handle.write(message)
    partial.replace(cache)
    return messages


def folder_sizes(count: int) -> list[int]:
    sizes = [max(1, count * share // 100) for _name, share in FOLDERS]
    sizes[0] += count - sum(sizes)
    if sizes[0] < 1:
        raise SystemExit(f"--messages must be at least {len(FOLDERS)}")
    return sizes


def initial_flags(rng: random.Random) -> str:
    """A mailbox's usual mix: mostly read, some answered or flagged, some unread."""
    roll = rng.random()
    if roll < 0.70:
        return "S"
    if roll < 0.78:
        return "RS"
    if roll < 0.83:
        return "FS"
    if roll < 0.85:
        return "F"
    return ""


@dataclass
class Template:
    """The seeded account every run copies, its model, and step c's new messages."""

    account: ImapAccount
    model: Model
    arrivals: list[bytes]

    @property
    def total(self) -> int:
        return sum(len(messages) for messages in self.model.values())


def seed_template(server: Dovecot, corpus: list[bytes], seed: int) -> Template:
    """Seed a new account with all but the last :data:`ARRIVALS` messages of *corpus*."""
    messages, arrivals = corpus[:-ARRIVALS], corpus[-ARRIVALS:]
    rng = random.Random(seed)
    account = server.new_account("template")
    model: Model = {}
    start = 0
    for (folder, _share), size in zip(FOLDERS, folder_sizes(len(messages)), strict=True):
        chunk = messages[start:start + size]
        start += size
        flags = [initial_flags(rng) for _ in chunk]
        uids = account.seed(folder, [
            (body, [IMAP_FLAG[letter] for letter in letters])
            for body, letters in zip(chunk, flags, strict=True)])
        model[folder] = {}
        for body, letters, uid in zip(chunk, flags, uids, strict=True):
            mid = message_id(body)
            if not mid or any(mid in seen for seen in model.values()):
                raise SystemExit(f"corpus message without a unique Message-ID: {mid!r}")
            model[folder][mid] = Entry(uid, digest(body), letters)
    return Template(account, model, arrivals)


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link message files (never changed in place), copy Dovecot's own files."""
    if Path(source).parent.name in ("cur", "new"):
        os.link(source, target)
    else:
        shutil.copy2(source, target)


def clone(server: Dovecot, template: Template) -> tuple[ImapAccount, Model]:
    """A fresh account holding exactly the template's mail, indexed, and its own model copy."""
    account = server.new_account("run")
    source_home = template.account.mail_dir.parent
    target_home = account.mail_dir.parent
    shutil.copytree(source_home, target_home, copy_function=_link_or_copy)
    for directory, subdirs, files in os.walk(target_home):
        for name in (directory, *(os.path.join(directory, n) for n in subdirs + files)):
            os.chown(name, server.mail_uid, server.mail_gid)
    with account.client() as client:  # Dovecot notices the copied directories now, not timed
        for folder in template.model:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if len(uids) != len(template.model[folder]):
                raise SystemExit(f"clone of {folder!r} has {len(uids)} messages, expected "
                                 f"{len(template.model[folder])}")
    return account, copy.deepcopy(template.model)


def remove_account(account: ImapAccount) -> None:
    shutil.rmtree(account.mail_dir.parent, ignore_errors=True)


def _toggle(flags: str, letter: str) -> str:
    changed = set(flags) ^ {letter}
    return "".join(sorted(changed))


def change_server(account: ImapAccount, model: Model, arrivals: list[bytes],
                  seed: int) -> int:
    """Step c's server changes: 1% of messages change flags, :data:`ARRIVALS` arrive.

    Half of the chosen messages toggle \\Seen, the other half \\Flagged, through IMAP STORE (so
    Dovecot's MODSEQs move as they would for a mail client). Returns the number changed.
    """
    rng = random.Random(seed + 1)
    everything = sorted((folder, mid) for folder, entries in model.items() for mid in entries)
    chosen = rng.sample(everything, max(1, int(len(everything) * FLAG_CHANGE_FRACTION)))
    stores: dict[tuple[str, str, bool], list[int]] = {}
    for index, (folder, mid) in enumerate(chosen):
        entry = model[folder][mid]
        letter = "S" if index % 2 == 0 else "F"
        adding = letter not in entry.flags
        stores.setdefault((folder, letter, adding), []).append(entry.uid)
        model[folder][mid] = Entry(entry.uid, entry.digest, _toggle(entry.flags, letter))
    with account.client() as client:
        for (folder, letter, adding), uids in sorted(stores.items()):
            client.select_folder(folder)
            if adding:
                client.add_flags(uids, [IMAP_FLAG[letter]], silent=True)
            else:
                client.remove_flags(uids, [IMAP_FLAG[letter]], silent=True)
    half = len(arrivals) // 2 + len(arrivals) % 2
    for folder, batch in zip(ARRIVAL_FOLDERS, (arrivals[:half], arrivals[half:]), strict=True):
        uids = account.seed(folder, batch)
        for body, uid in zip(batch, uids, strict=True):
            model[folder][message_id(body)] = Entry(uid, digest(body), "")
    return len(chosen)


def server_counts(account: ImapAccount, folders: list[str]) -> dict[str, int]:
    """How many messages Dovecot reports in each folder (IMAP STATUS)."""
    with account.client() as client:
        return {folder: int(client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])
                for folder in folders}
