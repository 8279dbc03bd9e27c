"""A real Dovecot IMAP server for tests, private to the test process.

Integration tests talk to a real server because the behaviour that breaks sync engines (UID
assignment, flag semantics, CONDSTORE, separators, TLS) is exactly what a mock leaves out. Each
:class:`Dovecot` runs ``/usr/sbin/dovecot -F`` from its own configuration in a temporary directory,
on two free loopback ports: a plain port offering STARTTLS (plaintext login allowed) and an IMAPS
port. Any user name logs in with :attr:`Dovecot.password`, so a test isolates itself by taking a
fresh user from :meth:`Dovecot.new_account`. Mail is stored as Maildir under the temporary
directory and survives :meth:`Dovecot.restart`.

When the tests run as root, Dovecot refuses to touch mail as UID 0, so mail processes run as
``nobody``; files written directly into :attr:`ImapAccount.mail_dir` must be chowned to
:attr:`Dovecot.mail_uid`/:attr:`Dovecot.mail_gid`.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from offlineimap_testing.account import ImapAccount
from offlineimap_testing.certs import CertificateFiles, write_test_pki

__all__ = ["DEFAULT_CAPABILITIES", "DOVECOT_BINARY", "Dovecot", "DovecotError", "ImapAccount"]

DOVECOT_BINARY = Path("/usr/sbin/dovecot")

#: What Dovecot 2.3 advertises after login with this configuration. ``capabilities_drop`` removes
#: entries from it; a test checks that the running server still advertises exactly this.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT", "SORT=DISPLAY",
    "THREAD=REFERENCES", "THREAD=REFS", "THREAD=ORDEREDSUBJECT", "MULTIAPPEND", "URL-PARTIAL",
    "CATENATE", "UNSELECT", "CHILDREN", "NAMESPACE", "UIDPLUS", "LIST-EXTENDED", "I18NLEVEL=1",
    "CONDSTORE", "QRESYNC", "ESEARCH", "ESORT", "SEARCHRES", "WITHIN", "CONTEXT=SEARCH",
    "LIST-STATUS", "BINARY", "MOVE", "SNIPPET=FUZZY", "PREVIEW=FUZZY", "PREVIEW", "STATUS=SIZE",
    "SAVEDATE", "LITERAL+", "NOTIFY",
)

_START_TIMEOUT = 10.0
_STOP_GRACE = 0.3
_USER_NAME = re.compile(r"[A-Za-z0-9._@-]+\Z")
_instances: itertools.count[int] = itertools.count(1)
_live: set[Dovecot] = set()  # not yet closed: stopped and deleted at interpreter exit


class DovecotError(RuntimeError):
    """Dovecot could not be started; the message carries the tail of its log."""


def _ephemeral_low() -> int:
    """The first port the kernel may hand to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free_ports(count: int) -> list[int]:
    """Distinct ports free right now, below the kernel's ephemeral range.

    A port from the ephemeral range could be taken by any outgoing connection's local end while
    the server is stopped, and a restart must get the same ports back; ports below the range
    are only ever taken by explicit binds. Held open together until all are chosen.
    """
    rng = random.SystemRandom()
    high = max(_ephemeral_low(), 12_000)
    sockets: list[socket.socket] = []
    try:
        while len(sockets) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", rng.randrange(10_000, high)))
            except OSError:
                sock.close()
                continue
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@functools.cache
def session_certificates() -> CertificateFiles:
    """The process-wide CA and server certificate, created on first use, removed at exit."""
    directory = Path(tempfile.mkdtemp(prefix="offlineimap-test-ca-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return write_test_pki(directory)


# Runs as `sh -c SCRIPT watchdog <group> <base_dir>`. Blocks until its stdin reaches end of file,
# which happens only when every copy of the write end is closed: when the test process died.
# The master may still be starting, so children it forks after the SIGTERM get the SIGKILL.
_WATCHDOG_SCRIPT = """
read _ignored
kill -TERM "-$1" 2>/dev/null
sleep 0.5
kill -KILL "-$1" 2>/dev/null
rm -rf -- "$2"
"""


def _watchdog(group: int, base_dir: Path) -> subprocess.Popen[bytes]:
    """A shell that ends the Dovecot process *group* and deletes *base_dir* if we die.

    The kernel closes the pipe to its stdin however the test process ends, even by SIGKILL, so
    no server outlives it. :meth:`Dovecot.stop` kills the watchdog first instead.
    """
    return subprocess.Popen(
        ["/bin/sh", "-c", _WATCHDOG_SCRIPT, "watchdog", str(group), str(base_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _group_alive(group: int) -> bool:
    """Whether a process of *group* still runs; zombies do not count.

    Children the master left behind are reparented to PID 1, which here reaps them late, so
    ``killpg(group, 0)`` would keep succeeding; zombies hold no sockets and no files.
    """
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_bytes().rpartition(b")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == group and fields[0] != b"Z":
            return True
    return False


def _base_parent() -> str | None:
    """Where servers keep their files: tmpfs when there is one, else the default temp dir.

    Dovecot's Maildir saves are bound by file-system metadata work: seeding 5,000 small
    messages takes 3.3 s on ext4 and 0.4 s on tmpfs.
    """
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def _mail_owner() -> tuple[int, int]:
    """The uid/gid mail processes run as: ourselves, or ``nobody`` when we are root."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return nobody.pw_uid, nobody.pw_gid


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


class Dovecot:
    """One private Dovecot instance; see the module docstring for what it offers.

    :param separator: the IMAP hierarchy separator, ``"."`` (Dovecot's Maildir++ default) or
        ``"/"``.
    :param capabilities_drop: capability names not to advertise after login (e.g.
        ``["UIDPLUS"]``), to emulate servers lacking them. Only the advertisement changes: the
        commands still work, as a client that honours CAPABILITY never sends them.
    :param imap_capability: the full post-login CAPABILITY string (Dovecot's ``imap_capability``
        setting, ``"+X"`` adds X); overrides ``capabilities_drop``.
    :param password: the one password every user has.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        separator: str = ".",
        capabilities_drop: Iterable[str] = (),
        imap_capability: str | None = None,
        password: str = "test-password",
    ) -> None:
        if separator not in (".", "/"):
            raise ValueError(f"separator must be '.' or '/', not {separator!r}")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", password):
            raise ValueError("password must be letters, digits, '.', '_' or '-'")
        dropped = {name.upper() for name in capabilities_drop}
        unknown = dropped - {name.upper() for name in DEFAULT_CAPABILITIES}
        if unknown:
            raise ValueError(f"unknown capabilities to drop: {sorted(unknown)}")
        if imap_capability is None and dropped:
            imap_capability = " ".join(
                name for name in DEFAULT_CAPABILITIES if name.upper() not in dropped
            )
        self.separator = separator
        self.password = password
        self.imap_capability = imap_capability
        self.mail_uid, self.mail_gid = _mail_owner()
        certificates = session_certificates()
        self.ca_cert: Path = certificates.ca_cert
        self._certificates = certificates
        self.base_dir = Path(tempfile.mkdtemp(prefix="offlineimap-dovecot-", dir=_base_parent()))
        self.base_dir.chmod(0o755)  # mail processes (not root) must reach the homes
        self.port, self.ssl_port = _free_ports(2)
        self._instance = f"oimap-test-{os.getpid()}-{next(_instances)}"
        self._process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._users = itertools.count(1)
        _live.add(self)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Dovecot {state} {self.host}:{self.port} imaps:{self.ssl_port} {self.base_dir}>"

    # -- paths ------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.base_dir / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        """Dovecot's own log (logins, errors, mail process messages)."""
        return self.base_dir / "dovecot.log"

    @property
    def home_root(self) -> Path:
        return self.base_dir / "home"

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Dovecot and return once both ports accept connections.

        A free port grabbed by someone else between choosing and binding is retried with new
        ports, unless the server has run before (a restart must keep its ports).
        """
        if self.running:
            return
        if not os.access(DOVECOT_BINARY, os.X_OK):
            raise DovecotError(f"{DOVECOT_BINARY} is missing: install the dovecot-imapd package")
        first_start = not self.config_path.exists()
        for attempt in range(3):
            try:
                self._start_once()
                return
            except DovecotError as error:
                in_use = "Address already in use" in str(error)
                if not (first_start and in_use) or attempt == 2:
                    raise
                self.port, self.ssl_port = _free_ports(2)

    def stop(self) -> None:
        """Stop Dovecot and every process it forked; mail and configuration stay."""
        process, self._process = self._process, None
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.kill()  # it must not delete the mail a restart needs
            watchdog.wait()
        if process is None:
            return
        group = process.pid  # the master leads its own process group
        # Children (login, imap) hold the listening sockets too: wait until all are gone, or a
        # restart on the same ports would fail. SIGTERM is repeated because a master that is
        # just starting may fork children after the first one; after a grace period SIGKILL
        # ends the rest (the log process waits for a second), which loses no mail: Dovecot
        # has written every change before it answers OK.
        deadline = time.monotonic() + _STOP_GRACE
        while process.poll() is None or _group_alive(group):
            signum = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signum)
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same mail."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and delete the temporary directory with all its mail."""
        self.stop()
        _live.discard(self)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- accounts ---------------------------------------------------------------------------

    def new_account(self, prefix: str = "user") -> ImapAccount:
        """A user nobody has logged in as yet on this server: an empty, isolated mailbox."""
        if not _USER_NAME.fullmatch(prefix):
            raise ValueError(f"user name prefix {prefix!r} has characters Dovecot refuses")
        while True:
            user = f"{prefix}{next(self._users)}"
            home = self.home_root / user
            if not home.exists():
                return ImapAccount(self, user, self.password, home / "Maildir")

    # -- internals --------------------------------------------------------------------------

    def _start_once(self) -> None:
        self._write_config()
        startup_log = self.base_dir / "startup.log"
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with startup_log.open("ab") as output:
            self._process = subprocess.Popen(
                [str(DOVECOT_BINARY), "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._watchdog = _watchdog(self._process.pid, self.base_dir)
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._started_up(log_offset):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DovecotError(
                    f"Dovecot did not start on ports {self.port}/{self.ssl_port}:\n"
                    f"startup output:\n{_tail(startup_log)}\n"
                    f"dovecot log {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.005)

    def _started_up(self, log_offset: int) -> bool:
        """Whether this start has logged "starting up" (after binding every listener)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(log_offset)
                return b" starting up " in log.read()
        except FileNotFoundError:
            return False

    def _write_config(self) -> None:
        for directory in ("run", "state"):
            (self.base_dir / directory).mkdir(exist_ok=True)
        self.home_root.mkdir(exist_ok=True)
        os.chown(self.home_root, self.mail_uid, self.mail_gid)
        self.config_path.write_text(self._render_config())

    def _mail_location(self) -> str:
        """Maildir++ (``.Sub.Folder`` directories) for ".", a directory tree for "/".

        Maildir++ stores the hierarchy with dots, so under a "/" separator it would refuse
        names with a dot such as ``Lists/python.dev``; servers with "/" allow them.
        """
        if self.separator == ".":
            return "maildir:~/Maildir"
        return "maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX"

    def _render_config(self) -> str:
        base = self.base_dir
        root = os.geteuid() == 0
        login_user = "dovenull" if root else pwd.getpwuid(os.geteuid()).pw_name
        internal_user = "dovecot" if root else login_user
        capability = (
            f"  imap_capability = {self.imap_capability}\n" if self.imap_capability else ""
        )
        return f"""# Generated by offlineimap_testing for one test server; see dovecot.py.
base_dir = {base}/run
state_dir = {base}/state
instance_name = {self._instance}
protocols = imap
listen = {self.host}
log_path = {self.log_path}
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {min(self.mail_uid, 100)}
ssl = yes
ssl_cert = <{self._certificates.server_cert}
ssl_key = <{self._certificates.server_key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_username_format = %u
mail_location = {self._mail_location()}
mail_fsync = never
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={self.mail_uid} gid={self.mail_gid} home={self.home_root}/%u
}}
namespace inbox {{
  inbox = yes
  separator = {self.separator}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = {self.ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: otherwise one wrong-password test delays every later login from
  # 127.0.0.1 by 2 s, doubling up to 15 s.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
{capability}}}
"""


@atexit.register
def _close_all() -> None:
    """Never leave a Dovecot or its mail behind when the test process exits normally."""
    for server in list(_live):
        server.close()
