"""The smallest faithful stand-in for Gmail's IMAP server, for tests: no Gmail can be reached here.

It speaks the IMAP4rev1 subset that imapclient and ``offlineimap_imap`` use, over plain TCP on
127.0.0.1, one thread per connection: CAPABILITY, NOOP, ID, NAMESPACE, LOGOUT, LOGIN,
AUTHENTICATE (XOAUTH2 and PLAIN), LIST/LSUB, SUBSCRIBE, CREATE, SELECT/EXAMINE, UNSELECT,
CLOSE, FETCH and UID FETCH (UID FLAGS RFC822.SIZE INTERNALDATE BODY[] BODY.PEEK[] RFC822
X-GM-LABELS X-GM-MSGID X-GM-THRID), STORE and UID STORE of FLAGS and X-GM-LABELS (``+``, ``-``,
replace, ``.SILENT``), APPEND (synchronising and LITERAL+ literals, answering APPENDUID), EXPUNGE
and UID EXPUNGE.

What it models, following Google's "IMAP Extensions" page
(https://developers.google.com/workspace/gmail/imap/imap-extensions):

* ``X-GM-EXT-1`` in CAPABILITY announces the extensions; Gmail also announces UIDPLUS and
  LITERAL+, and offers ``AUTH=XOAUTH2`` (https://developers.google.com/workspace/gmail/imap/
  xoauth2-protocol): the client sends ``user=<u>^Aauth=Bearer <token>^A^A``; a refused token is
  answered with a continuation holding a base64 JSON error, to which the client answers an empty
  line, and then ``NO [AUTHENTICATIONFAILED]``.
* One store of messages keyed by ``X-GM-MSGID`` (a 64-bit number, the same in every folder).
  Labels are the folders: a message is in folder ``L`` when it has label ``L``; ``INBOX`` is the
  label ``\\Inbox``, ``[Gmail]/Sent Mail`` ``\\Sent``, ``[Gmail]/Starred`` ``\\Starred``,
  ``[Gmail]/Drafts`` ``\\Draft``, ``[Gmail]/Important`` ``\\Important``, ``[Gmail]/Trash``
  ``\\Trash`` and ``[Gmail]/Spam`` ``\\Spam``; ``[Gmail]/All Mail`` holds every message that is
  in neither Trash nor Spam. LIST answers carry the special-use attributes (``\\All``,
  ``\\Sent``, ...) and ``[Gmail]`` is ``\\Noselect``.
* ``FETCH X-GM-LABELS`` lists a message's labels, system labels as atoms and the others as
  strings in modified UTF-7; ``STORE [+-]X-GM-LABELS`` changes them (a new label creates its
  folder). Flags belong to the message, so they are the same in every folder.
* Expunging a message from a label folder removes that label (the message stays in All Mail);
  expunging it from All Mail, Trash or Spam deletes it. APPEND to a folder gives the message
  that folder's label.

Simplifications (documented, not hidden): each folder's UIDs are assigned when a command next
looks at it, so a message that gains a label while a folder is selected shows up at the next
command without an unsolicited EXISTS; labels of folders "moved" elsewhere are not announced with
EXPUNGE to other connections; no IDLE, SEARCH, CONDSTORE, COPY/MOVE, or threads beyond
``X-GM-THRID = X-GM-MSGID``. No TLS: tests point ``ssl = no`` at it.
"""

from __future__ import annotations

import base64
import calendar
import dataclasses
import itertools
import json
import re
import socketserver
import threading
import time
from collections.abc import Iterable

from imapclient import imap_utf7

ALL_MAIL = "[Gmail]/All Mail"
SYSTEM_LABELS = {
    "INBOX": "\\Inbox", "[Gmail]/Sent Mail": "\\Sent", "[Gmail]/Starred": "\\Starred",
    "[Gmail]/Drafts": "\\Draft", "[Gmail]/Important": "\\Important",
    "[Gmail]/Trash": "\\Trash", "[Gmail]/Spam": "\\Spam",
}
SPECIAL_USE = {ALL_MAIL: "\\All", "[Gmail]/Sent Mail": "\\Sent", "[Gmail]/Starred": "\\Flagged",
               "[Gmail]/Drafts": "\\Drafts", "[Gmail]/Important": "\\Important",
               "[Gmail]/Trash": "\\Trash", "[Gmail]/Spam": "\\Junk"}
CAPABILITIES = ("IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS "
                "LITERAL+ AUTH=XOAUTH2 AUTH=PLAIN")
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r\n$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ImapError(Exception):
    """A command failed: ``NO`` (or ``BAD``) with this text."""

    def __init__(self, text: str, kind: str = "NO") -> None:
        super().__init__(text)
        self.kind = kind


@dataclasses.dataclass
class Message:
    msgid: int
    body: bytes
    flags: set[str]
    labels: set[str]
    internaldate: float


@dataclasses.dataclass
class Mailbox:
    uidvalidity: int
    uidnext: int = 1
    uids: dict[int, int] = dataclasses.field(default_factory=dict)  #: uid -> msgid


class GmailStore:
    """Gmail's data model; every method takes the lock, so tests may call them any time."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.messages: dict[int, Message] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self._msgids = itertools.count(1_600_000_000_000_000_001)
        self._validities = itertools.count(1)
        for name in ("INBOX", ALL_MAIL, *SYSTEM_LABELS):
            self.create(name)

    # -- labels and folders ---------------------------------------------------------------

    def create(self, name: str) -> None:
        with self.lock:
            if name not in self.mailboxes:
                self.mailboxes[name] = Mailbox(uidvalidity=next(self._validities))

    @staticmethod
    def label_of(mailbox: str) -> str | None:
        """The label that puts a message in ``mailbox`` (``None`` for All Mail)."""
        return None if mailbox == ALL_MAIL else SYSTEM_LABELS.get(mailbox, mailbox)

    def _members(self, mailbox: str) -> set[int]:
        if mailbox == ALL_MAIL:
            return {mid for mid, msg in self.messages.items()
                    if not msg.labels & {"\\Trash", "\\Spam"}}
        label = self.label_of(mailbox)
        return {mid for mid, msg in self.messages.items() if label in msg.labels}

    def refresh(self, mailbox: str) -> Mailbox:
        """Give new members of ``mailbox`` UIDs and drop those that left it."""
        with self.lock:
            box = self.mailboxes[mailbox]
            members = self._members(mailbox)
            for uid, mid in list(box.uids.items()):
                if mid not in members:
                    del box.uids[uid]
            for mid in sorted(members - set(box.uids.values())):
                box.uids[box.uidnext] = mid
                box.uidnext += 1
            return box

    # -- messages (also the tests' seeding and inspection API) -----------------------------

    def add(self, body: bytes, labels: Iterable[str] = ("\\Inbox",), flags: Iterable[str] = (),
            internaldate: float | None = None) -> int:
        """Store a message with these labels; return its X-GM-MSGID."""
        with self.lock:
            msgid = next(self._msgids)
            self.messages[msgid] = Message(msgid, body, set(flags), set(labels),
                                           time.time() if internaldate is None else internaldate)
            for label in labels:
                self.create(self.mailbox_of(label))
            return msgid

    @staticmethod
    def mailbox_of(label: str) -> str:
        for mailbox, system in SYSTEM_LABELS.items():
            if system.lower() == label.lower():
                return mailbox
        return label

    def change_labels(self, msgid: int, add: Iterable[str] = (), remove: Iterable[str] = ()
                      ) -> None:
        with self.lock:
            labels = self.messages[msgid].labels
            for label in add:
                labels.add(label)
                self.create(self.mailbox_of(label))
            labels.difference_update(remove)

    def labels(self, msgid: int) -> set[str]:
        with self.lock:
            return set(self.messages[msgid].labels)

    def uid_of(self, mailbox: str, msgid: int) -> int:
        with self.lock:
            box = self.refresh(mailbox)
            return next(uid for uid, mid in box.uids.items() if mid == msgid)

    def find(self, needle: bytes) -> int:
        """The X-GM-MSGID of the one message whose bytes contain ``needle``."""
        with self.lock:
            hits = [mid for mid, msg in self.messages.items() if needle in msg.body]
        if len(hits) != 1:
            raise LookupError(f"{len(hits)} messages contain {needle!r}")
        return hits[0]


def _mutf7(name: bytes) -> str:
    return imap_utf7.decode(name)


def _wire(text: str) -> bytes:
    encoded = imap_utf7.encode(text)
    if re.fullmatch(rb"\\?[A-Za-z0-9_.\-]+", encoded):
        return encoded
    return b'"' + encoded.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _date(seconds: float) -> bytes:
    t = time.gmtime(seconds)
    return (f'"{t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year} '
            f'{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"').encode()


def _parse_date(text: bytes) -> float:
    day, month, rest = text.decode().strip().split("-", 2)
    year, clock, zone = rest.split(" ")
    hour, minute, second = (int(part) for part in clock.split(":"))
    offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60 * (-1 if zone[0] == "-" else 1)
    moment = (int(year), _MONTHS.index(month.capitalize()) + 1, int(day), hour, minute, second)
    return float(calendar.timegm(moment) - offset)


class Literal(bytes):
    """A literal argument ({n} followed by n bytes)."""


def tokenize(parts: list[bytes | Literal]) -> list[object]:
    """Atoms and strings as bytes, literals as :class:`Literal`, lists as Python lists."""
    stack: list[list[object]] = [[]]
    for part in parts:
        if isinstance(part, Literal):
            stack[-1].append(part)
            continue
        i, text = 0, part
        while i < len(text):
            char = text[i:i + 1]
            if char in b" \r\n":
                i += 1
            elif char == b"(":
                stack.append([])
                i += 1
            elif char == b")":
                done = stack.pop()
                stack[-1].append(done)
                i += 1
            elif char == b'"':
                out, i = bytearray(), i + 1
                while text[i:i + 1] != b'"':
                    if text[i:i + 1] == b"\\":
                        i += 1
                    out += text[i:i + 1]
                    i += 1
                stack[-1].append(bytes(out))
                i += 1
            else:
                start, depth = i, 0
                while i < len(text) and (depth or text[i:i + 1] not in b" ()\r\n"):
                    depth += {b"[": 1, b"]": -1}.get(text[i:i + 1], 0)
                    i += 1
                stack[-1].append(text[start:i])
    return stack[0]


class Handler(socketserver.StreamRequestHandler):
    """One client connection."""

    server: GmailDouble

    def setup(self) -> None:
        super().setup()
        self.user: str | None = None
        self.selected: str | None = None
        self.readonly = False

    def send(self, data: bytes) -> None:
        self.wfile.write(data)

    def line(self, text: str | bytes) -> None:
        self.send((text.encode() if isinstance(text, str) else text) + b"\r\n")

    def read_command(self) -> list[bytes | Literal] | None:
        parts: list[bytes | Literal] = []
        while True:
            line = self.rfile.readline()
            if not line:
                return None
            match = _LITERAL.search(line)
            if not match:
                parts.append(line)
                return parts
            parts.append(line[:match.start()])
            if not match.group(2):
                self.line("+ go ahead")
            parts.append(Literal(self.rfile.read(int(match.group(1)))))

    def handle(self) -> None:
        self.line("* OK Gimap ready for requests from 127.0.0.1 (gmail double)")
        while True:
            parts = self.read_command()
            if parts is None:
                return
            tokens = tokenize(parts)
            if len(tokens) < 2:
                self.line(b"* BAD empty command")
                continue
            tag, name, args = tokens[0], bytes(tokens[1]).upper(), tokens[2:]
            uid = name == b"UID"
            if uid:
                name, args = bytes(args[0]).upper(), args[1:]
            self.server.commands.append(name.decode() if not uid else "UID " + name.decode())
            try:
                with self.server.store.lock:
                    text = getattr(self, "do_" + name.decode().lower(),
                                   self.unknown)(args, uid=uid)
                self.line(tag + b" OK " + (text or b"Success"))
            except ImapError as exc:
                self.line(tag + f" {exc.kind} {exc}".encode())
            if name == b"LOGOUT":
                return

    def unknown(self, args: list[object], uid: bool) -> bytes:
        raise ImapError("Unknown command", "BAD")

    # -- any state -----------------------------------------------------------------------

    def do_capability(self, args: list[object], uid: bool) -> None:
        self.line("* CAPABILITY " + CAPABILITIES)

    def do_noop(self, args: list[object], uid: bool) -> None:
        return None

    def do_id(self, args: list[object], uid: bool) -> None:
        self.line('* ID ("name" "GImap" "vendor" "Google, Inc.")')

    def do_namespace(self, args: list[object], uid: bool) -> None:
        self.line('* NAMESPACE (("" "/")) NIL NIL')

    def do_logout(self, args: list[object], uid: bool) -> bytes:
        self.line("* BYE LOGOUT Requested")
        return b"73 good day (Success)"

    # -- authentication ------------------------------------------------------------------

    def _refuse(self) -> None:
        self.server.failed_logins += 1
        raise ImapError("[AUTHENTICATIONFAILED] Invalid credentials (Failure)")

    def do_login(self, args: list[object], uid: bool) -> bytes:
        user, password = (bytes(arg).decode() for arg in args[:2])
        if self.server.passwords.get(user) != password:
            self._refuse()
        self.user = user
        return f"{user} authenticated (Success)".encode()

    def do_authenticate(self, args: list[object], uid: bool) -> bytes:
        mechanism = bytes(args[0]).upper()
        self.line("+ ")
        answer = base64.b64decode(self.rfile.readline().strip() or b"")
        if mechanism == b"PLAIN":
            _authz, user, password = answer.decode().split("\0")
            if self.server.passwords.get(user) != password:
                self._refuse()
        elif mechanism == b"XOAUTH2":
            fields = dict(item.split("=", 1) for item in answer.decode().split("\1") if item)
            user = fields.get("user", "")
            token = fields.get("auth", "").removeprefix("Bearer ")
            if self.server.tokens.get(token) != user:
                error = {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}
                self.line(b"+ " + base64.b64encode(json.dumps(error).encode()))
                self.rfile.readline()  # the client's empty answer
                self._refuse()
            self.server.tokens_used.append(token)
        else:
            raise ImapError("Unsupported mechanism", "BAD")
        self.user = user
        return f"{user} authenticated (Success)".encode()

    def _authenticated(self) -> None:
        if self.user is None:
            raise ImapError("Command not valid in this state", "BAD")

    # -- folders -------------------------------------------------------------------------

    def do_list(self, args: list[object], uid: bool) -> None:
        self._authenticated()
        reference, pattern = (_mutf7(bytes(arg)) for arg in args[:2])
        if not pattern:
            self.line('* LIST (\\Noselect) "/" ""')
            return
        regex = re.compile(re.escape(reference + pattern).replace(r"\*", ".*")
                           .replace("%", "[^/]*") + "$")
        names = sorted({*self.server.store.mailboxes, "[Gmail]"})
        for name in names:
            if not regex.match(name):
                continue
            if name == "[Gmail]":
                flags = "\\Noselect \\HasChildren"
            else:
                flags = " ".join(filter(None, ["\\HasNoChildren", SPECIAL_USE.get(name)]))
            self.line(f'* LIST ({flags}) "/" '.encode() + _wire(name))

    do_lsub = do_list
    do_xlist = do_list

    def do_subscribe(self, args: list[object], uid: bool) -> None:
        self._authenticated()

    def do_create(self, args: list[object], uid: bool) -> None:
        self._authenticated()
        name = _mutf7(bytes(args[0])).rstrip("/")
        if name in self.server.store.mailboxes or name == "[Gmail]":
            raise ImapError("[ALREADYEXISTS] Duplicate folder name (Failure)")
        self.server.store.create(name)

    def _mailbox(self, arg: object) -> str:
        name = _mutf7(bytes(arg))
        if name.upper() == "INBOX":
            name = "INBOX"
        if name not in self.server.store.mailboxes:
            raise ImapError("[NONEXISTENT] Unknown Mailbox: " + name + " (Failure)")
        return name

    def do_select(self, args: list[object], uid: bool, readonly: bool = False) -> bytes:
        self._authenticated()
        self.selected = None
        name = self._mailbox(args[0])
        box = self.server.store.refresh(name)
        self.selected, self.readonly = name, readonly
        self.line("* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Forwarded)")
        self.line("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen "
                  "$Forwarded \\*)] Flags permitted.")
        self.line(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid.")
        self.line(f"* {len(box.uids)} EXISTS")
        self.line("* 0 RECENT")
        self.line(f"* OK [UIDNEXT {box.uidnext}] Predicted next UID.")
        mode = b"[READ-ONLY] " if readonly else b"[READ-WRITE] "
        return mode + name.encode() + b" selected"

    def do_examine(self, args: list[object], uid: bool) -> bytes:
        return self.do_select(args, uid, readonly=True)

    def do_unselect(self, args: list[object], uid: bool) -> None:
        self.selected = None

    def do_close(self, args: list[object], uid: bool) -> None:
        if self.selected is not None and not self.readonly:
            self._expunge(None, announce=False)
        self.selected = None

    # -- messages ------------------------------------------------------------------------

    def _box(self) -> tuple[Mailbox, list[int]]:
        if self.selected is None:
            raise ImapError("Command not valid in this state", "BAD")
        box = self.server.store.refresh(self.selected)
        return box, sorted(box.uids)

    def _resolve(self, sequence_set: bytes, uid: bool) -> list[tuple[int, int]]:
        """``(sequence number, uid)`` of the messages a set names."""
        _, uids = self._box()
        numbers = uids if uid else list(range(1, len(uids) + 1))
        biggest = numbers[-1] if numbers else 0
        wanted: set[int] = set()
        for part in sequence_set.decode().split(","):
            first, _, last = part.partition(":")
            low = biggest if first == "*" else int(first)
            high = low if not last else (biggest if last == "*" else int(last))
            low, high = min(low, high), max(low, high)
            wanted.update(n for n in numbers if low <= n <= high)
        result = []
        for seq, message_uid in enumerate(uids, 1):
            if (message_uid if uid else seq) in wanted:
                result.append((seq, message_uid))
        return result

    def _fetch_line(self, seq: int, uid: int, items: list[bytes]) -> bytes:
        msg = self.server.store.messages[self.server.store.mailboxes[self.selected].uids[uid]]
        out = [b"UID %d" % uid]
        for item in items:
            if item == b"UID":
                continue
            if item == b"FLAGS":
                out.append(b"FLAGS (" + " ".join(sorted(msg.flags)).encode() + b")")
            elif item == b"X-GM-LABELS":
                out.append(b"X-GM-LABELS (" + b" ".join(
                    _wire(label) for label in sorted(msg.labels)) + b")")
            elif item in (b"X-GM-MSGID", b"X-GM-THRID"):
                out.append(item + b" %d" % msg.msgid)
            elif item == b"RFC822.SIZE":
                out.append(b"RFC822.SIZE %d" % len(msg.body))
            elif item == b"INTERNALDATE":
                out.append(b"INTERNALDATE " + _date(msg.internaldate))
            elif item in (b"BODY[]", b"BODY.PEEK[]", b"RFC822"):
                name = b"RFC822" if item == b"RFC822" else b"BODY[]"
                self.server.body_fetches.append(msg.msgid)
                out.append(name + b" {%d}\r\n" % len(msg.body) + msg.body)
            else:
                raise ImapError("Unsupported FETCH item " + item.decode(), "BAD")
        return b"* %d FETCH (" % seq + b" ".join(out) + b")"

    def do_fetch(self, args: list[object], uid: bool) -> None:
        spec = args[1]
        items = [bytes(item).upper() for item in (spec if isinstance(spec, list) else [spec])]
        for seq, message_uid in self._resolve(bytes(args[0]), uid):
            self.line(self._fetch_line(seq, message_uid, items))

    def do_store(self, args: list[object], uid: bool) -> None:
        if self.readonly:
            raise ImapError("STORE attempt on READ-ONLY folder (Failure)")
        operation = bytes(args[1]).upper()
        values = args[2] if isinstance(args[2], list) else [args[2]]
        silent = operation.endswith(b".SILENT")
        operation = operation.removesuffix(b".SILENT")
        mode, kind = (operation[:1], operation[1:]) if operation[:1] in b"+-" else (b"", operation)
        store = self.server.store
        for seq, message_uid in self._resolve(bytes(args[0]), uid):
            msg = store.messages[store.mailboxes[self.selected].uids[message_uid]]
            if kind == b"FLAGS":
                target, names = msg.flags, {bytes(v).decode() for v in values}
            elif kind == b"X-GM-LABELS":
                target, names = msg.labels, {_mutf7(bytes(v)) for v in values}
                for label in names:
                    store.create(store.mailbox_of(label))
            else:
                raise ImapError("Unsupported STORE item", "BAD")
            if mode == b"+":
                target |= names
            elif mode == b"-":
                target -= names
            else:
                target.clear()
                target |= names
            if not silent:
                self.line(self._fetch_line(seq, message_uid, [kind]))

    def _expunge(self, only: set[int] | None, announce: bool = True) -> None:
        box, uids = self._box()
        store = self.server.store
        label = store.label_of(self.selected)
        for seq, message_uid in reversed(list(enumerate(uids, 1))):
            msg = store.messages[box.uids[message_uid]]
            if "\\Deleted" not in msg.flags or (only is not None and message_uid not in only):
                continue
            msg.flags.discard("\\Deleted")
            if label is None or label in ("\\Trash", "\\Spam"):
                del store.messages[msg.msgid]
            else:
                msg.labels.discard(label)
            del box.uids[message_uid]
            if announce:
                self.line(f"* {seq} EXPUNGE")

    def do_expunge(self, args: list[object], uid: bool) -> None:
        if self.readonly:
            raise ImapError("EXPUNGE attempt on READ-ONLY folder (Failure)")
        only = {u for _, u in self._resolve(bytes(args[0]), True)} if uid else None
        self._expunge(only)

    def do_append(self, args: list[object], uid: bool) -> bytes:
        self._authenticated()
        name = self._mailbox(args[0])
        rest = args[1:]
        flags: list[object] = rest.pop(0) if rest and isinstance(rest[0], list) else []
        date = rest.pop(0) if len(rest) > 1 else None
        body = rest[0]
        if not isinstance(body, Literal):
            raise ImapError("APPEND needs a literal", "BAD")
        store = self.server.store
        label = store.label_of(name)
        msgid = store.add(bytes(body), [label] if label else [],
                          {bytes(flag).decode() for flag in flags},
                          _parse_date(bytes(date)) if date is not None else None)
        box = store.mailboxes[name]
        return b"[APPENDUID %d %d] (Success)" % (box.uidvalidity, store.uid_of(name, msgid))


class GmailDouble(socketserver.ThreadingTCPServer):
    """The server: ``with GmailDouble({"me@gmail.com": "pw"}) as gmail: gmail.port``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, passwords: dict[str, str] | None = None,
                 tokens: dict[str, str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.store = GmailStore()
        self.passwords = dict(passwords or {})
        #: valid XOAUTH2 access tokens -> the user each belongs to
        self.tokens = dict(tokens or {})
        self.tokens_used: list[str] = []
        self.failed_logins = 0
        self.commands: list[str] = []
        #: the X-GM-MSGID of every message body sent, in order
        self.body_fetches: list[int] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return self.server_address[0]

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> GmailDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

