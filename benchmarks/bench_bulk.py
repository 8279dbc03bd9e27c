"""Seed big accounts fast: message files written straight into Dovecot's Maildir.

Seeding through IMAP costs about 16 s per 10,000 messages and generating a realistic corpus
about 45 s per 10,000, so 100,000 messages that way would take ten minutes before the first
measurement. Instead the cached 10,000-message corpus is reused: copy *k* of message *i* is the
same bytes with ``.r<k>`` added to its Message-ID (every message stays unique, sizes keep the
corpus's realistic spread), and the files go directly into the server's ``cur/`` directories
with the sizes Dovecot would record (``,S=`` on disk with LF, ``,W=`` with CRLF) and the flags in
the name. Dovecot then indexes them on the first SELECT, which here also asks for every
message's flags, size and date once, so its cache holds what a server in use would have.

The UID Dovecot gave each file is read back from its ``dovecot-uidlist``, which makes the model
exact without fetching anything. The same files can hold a few very large messages
(:func:`large_message`) for the peak-memory measurement: a folder of about 1 GB whose 50 MB
messages a tool must stream rather than hold several times over.
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench_server import (
    ARRIVALS,
    FOLDERS,
    Entry,
    Model,
    Template,
    digest,
    folder_sizes,
    initial_flags,
    load_corpus,
    message_id,
)
from bench_verify import remember

from offlineimap_testing.dovecot import Dovecot, ImapAccount
from offlineimap_testing.messages import make_message

#: Above this many messages seeding always goes through files.
BULK_THRESHOLD = 20_000
#: Distinct generated messages the copies are made from.
BASE_COUNT = 10_000
LARGE_FOLDER = "Large"
#: Small messages mixed into the large folder, between its large ones.
LARGE_FOLDER_SMALL = 200

_MESSAGE_ID_VALUE = re.compile(rb"^(Message-ID:[ \t]*<[^>@\r\n]+)", re.IGNORECASE | re.MULTILINE)

Seeded = tuple[bytes, str]  #: one message (CRLF) and its flag letters


def _renamed(message: bytes, tag: str) -> bytes:
    """*message* with *tag* added to its Message-ID's local part (empty tag: unchanged)."""
    if not tag:
        return message
    return _MESSAGE_ID_VALUE.sub(lambda match: match.group(1) + tag.encode(), message, count=1)


def bulk_corpus(count: int, seed: int, cache_dir: Path) -> tuple[Iterator[bytes], list[bytes]]:
    """*count* distinct realistic messages (a generator) and step c's arrivals."""
    distinct = min(count, BASE_COUNT)
    base = load_corpus(distinct + ARRIVALS, seed, cache_dir)

    def generate() -> Iterator[bytes]:
        for index in range(count):
            copy = index // distinct
            yield _renamed(base[index % distinct], f".r{copy}" if copy else "")

    return generate(), base[distinct:]


def large_message(index: int, size: int, seed: int) -> bytes:
    """A multipart message of about *size* bytes: a short note and one base64 attachment."""
    rng = random.Random(f"{seed}-large-{index}")
    boundary = f"=_large_{index}_{rng.getrandbits(32):08x}"
    payload = base64.encodebytes(rng.randbytes(size * 3 // 4)).replace(b"\n", b"\r\n")
    head = make_message(
        f"Large attachment {index}", body="", message_id=f"large-{seed}-{index}@bench.invalid",
        extra_headers={"Content-Type": f'multipart/mixed; boundary="{boundary}"'})
    return (head.removesuffix(b"\r\n")
            + f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
              f"The file you asked for.\r\n--{boundary}\r\n"
              f'Content-Type: application/octet-stream; name="big{index}.bin"\r\n'
              "Content-Transfer-Encoding: base64\r\n\r\n".encode()
            + payload + f"--{boundary}--\r\n".encode())


def large_folder(count: int, size: int, seed: int, cache_dir: Path) -> Iterator[bytes]:
    """*count* large messages with :data:`LARGE_FOLDER_SMALL` ordinary ones spread between."""
    small, _arrivals = bulk_corpus(LARGE_FOLDER_SMALL, seed + 1, cache_dir)
    per_gap = LARGE_FOLDER_SMALL // (count + 1)
    for index in range(count + 1):
        for _ in range(per_gap if index < count else LARGE_FOLDER_SMALL - per_gap * count):
            yield _renamed(next(small), ".large")
        if index < count:
            yield large_message(index, size, seed)


def _folder_dir(account: ImapAccount, folder: str) -> Path:
    return account.mail_dir if folder == "INBOX" else account.mail_dir / f".{folder}"


def _write_folder(server: Dovecot, directory: Path, messages: Iterable[Seeded],
                  serial: Iterator[int]) -> tuple[dict[str, tuple[str, str, str]], int]:
    """Write *messages* into ``cur/``; file base name -> (Message-ID, digest, flags), bytes."""
    written: dict[str, tuple[str, str, str]] = {}
    total = 0
    chown = os.geteuid() == 0 and server.mail_uid != 0
    for message, flags in messages:
        on_disk = message.replace(b"\r\n", b"\n")
        virtual_size = len(on_disk) + on_disk.count(b"\n")  # as sent over IMAP, with CRLF
        base = f"1700000000.M{next(serial)}P1.bench,S={len(on_disk)},W={virtual_size}"
        path = directory / "cur" / f"{base}:2,{flags}"
        with open(path, "xb") as handle:
            handle.write(on_disk)
        if chown:
            os.chown(path, server.mail_uid, server.mail_gid)
        written[base] = (message_id(message), digest(message), flags)
        remember(path, *written[base][:2])
        total += len(message)
    return written, total


def _uids(directory: Path) -> dict[str, int]:
    """File base name -> UID, from Dovecot's ``dovecot-uidlist`` (version 3)."""
    lines = (directory / "dovecot-uidlist").read_text().splitlines()
    if not lines or not lines[0].startswith("3 "):
        raise SystemExit(f"{directory}/dovecot-uidlist: unknown format {lines[:1]}")
    uids = {}
    for line in lines[1:]:
        number, _sep, rest = line.partition(" ")
        uids[rest.rpartition(":")[2]] = int(number)
    return uids


def seed_template_files(server: Dovecot, folders: dict[str, Iterable[Seeded]],
                        arrivals: list[bytes]) -> tuple[Template, float]:
    """A template account holding *folders*, indexed by Dovecot; and its size in MB."""
    account = server.new_account("template")
    with account.client() as client:  # Dovecot creates the Maildir++ directories
        client.select_folder("INBOX")
        for folder in folders:
            if folder != "INBOX":
                client.create_folder(folder)
    serial = iter(range(1, 1 << 62))
    model: Model = {}
    size = 0
    seen: set[str] = set()
    for folder, messages in folders.items():
        directory = _folder_dir(account, folder)
        written, folder_bytes = _write_folder(server, directory, messages, serial)
        size += folder_bytes
        with account.client() as client:  # index it, and cache what every sync asks for
            client.select_folder(folder, readonly=True)
            client._imap.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE INTERNALDATE)")
        uids = _uids(directory)
        model[folder] = {}
        for base, (mid, body_digest, flags) in written.items():
            if not mid or mid in seen:
                raise SystemExit(f"seeded message without a unique Message-ID: {mid!r}")
            seen.add(mid)
            model[folder][mid] = Entry(uids[base], body_digest, "".join(sorted(flags)))
    return Template(account, model, arrivals), size / 1e6


def bulk_template(server: Dovecot, count: int, seed: int, cache_dir: Path, large: int,
                  large_mb: int) -> tuple[Template, float]:
    """*count* messages over the ten folders, plus *large* messages of *large_mb* MB."""
    corpus, arrivals = bulk_corpus(count, seed, cache_dir)
    rng = random.Random(seed)

    def flagged(messages: Iterable[bytes]) -> Iterator[Seeded]:
        for message in messages:
            yield message, initial_flags(rng)

    folders: dict[str, Iterable[Seeded]] = {  # consumed one after another, in this order
        name: flagged(itertools.islice(corpus, size))
        for (name, _share), size in zip(FOLDERS, folder_sizes(count), strict=True)}
    if large:
        folders[LARGE_FOLDER] = flagged(large_folder(large, large_mb * 1_000_000, seed,
                                                     cache_dir))
    return seed_template_files(server, folders, arrivals)
