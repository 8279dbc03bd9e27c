"""The tools under test: their configuration files, their command lines, and how runs are timed.

Every tool gets the same server, the same fsync setting and plain IMAP on 127.0.0.1, and a
sandbox of its own (HOME, Maildir root, metadata) so no user configuration leaks in.

Timing: wall seconds from spawn to exit. Peak RSS: GNU time (``/usr/bin/time``) runs the tool
and reports the ``ru_maxrss`` of its reaped child, the peak resident set of the largest single
process in the tool's tree; all three tools run as one process (OfflineIMAP and ours with
threads), so that is the peak of the whole tree. The small intermediate process matters: Linux
charges a child's ``ru_maxrss`` with the high-water mark of the address space it had before
``exec``, so a tool spawned straight from this benchmark (holding a 200 MB corpus) would be
reported at 200 MB or more, even through ``posix_spawn``. Forked from GNU time instead, it
starts from about 1 MB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

OURS = Path(sys.executable).with_name("offlineimap")
MBSYNC = Path("/usr/bin/mbsync")
TIME = Path("/usr/bin/time")
OFFLINEIMAP8_VERSION = "8.0.3"
RUN_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_kb: int
    exit_code: int
    #: share of the machine's CPU time the hypervisor gave to other guests meanwhile (0-1)
    steal: float = 0.0


def cpu_times() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs so far, from ``/proc/stat``.

    This machine is a VM on a shared host: when the host is busy, ``steal`` (time our virtual
    CPUs wanted to run and could not) reaches 70-90%, and every wall time stretches with it.
    Reports show it so a slow run can be told from a slow tool.
    """
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_between(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of CPU time stolen between two :func:`cpu_times` readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Sandbox:
    """One tool run's private directories."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def mail(self) -> Path:
        return self.root / "Mail"

    @property
    def config(self) -> Path:
        return self.root / "config"

    def create(self) -> None:
        for path in (self.home, self.mail):
            path.mkdir(parents=True)

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if key in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_CACHE_HOME=str(self.home / ".cache"))
        return env


@dataclass(frozen=True)
class Tool:
    """One benchmarked configuration: ``kind`` is ours, mbsync or offlineimap8."""

    kind: str
    maxconnections: int = 1
    executable: Path | None = None
    #: Source directories put first on PYTHONPATH (ours from a fixed commit), if any.
    python_path: tuple[Path, ...] = ()

    @property
    def label(self) -> str:
        if self.kind == "mbsync":
            return "mbsync"
        name = "ours" if self.kind == "ours" else "OfflineIMAP 8.0.3"
        return f"{name}, maxconnections {self.maxconnections}"

    def env(self, sandbox: Sandbox) -> dict[str, str]:
        env = sandbox.env()
        if self.python_path:
            env["PYTHONPATH"] = os.pathsep.join(str(path) for path in self.python_path)
        return env

    def write_config(self, sandbox: Sandbox, server: Server, fsync: bool) -> list[str]:
        """Write this tool's configuration into *sandbox*; return the command that syncs."""
        if self.kind == "mbsync":
            sandbox.config.write_text(_mbsyncrc(sandbox, server, fsync))
            return [str(MBSYNC), "-c", str(sandbox.config), "-q", "-a"]
        sandbox.config.write_text(_offlineimaprc(sandbox, server, fsync, self.maxconnections))
        executable = self.executable or OURS
        return [str(executable), "-c", str(sandbox.config), "-o", "-u", "basic"]


def export_ours(repository: Path, revision: str, target: Path) -> tuple[tuple[Path, ...], str]:
    """Extract *revision* of this project into *target*; its source directories and commit.

    Other engineers change the working tree while a long benchmark runs; measuring a commit
    keeps every run of one invocation on the same code. The project's virtual environment
    still provides the dependencies and entry points (its editable installs name the same
    import packages, which PYTHONPATH then finds in *target* first).
    """
    commit = subprocess.run(["git", "-C", str(repository), "rev-parse", "--short", revision],
                            capture_output=True, text=True, check=True).stdout.strip()
    target.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(repository), "archive", commit],
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive {commit} failed")
    sources = (target / "core" / "src", *sorted(target.glob("plugins/*/src")))
    return sources, commit


def _offlineimaprc(sandbox: Sandbox, server: Server, fsync: bool, maxconnections: int) -> str:
    """One configuration that both OfflineIMAP 8.0.3 and ours read the same way."""
    return f"""[general]
accounts = Bench
metadata = {sandbox.root}/metadata
fsync = {"yes" if fsync else "no"}

[Account Bench]
localrepository = Local
remoterepository = Remote

[Repository Local]
type = Maildir
localfolders = {sandbox.mail}

[Repository Remote]
type = IMAP
remotehost = {server.host}
remoteport = {server.port}
remoteuser = {server.user}
remotepass = {server.password}
ssl = no
starttls = no
allow_plaintext_login = yes
maxconnections = {maxconnections}
"""


def _mbsyncrc(sandbox: Sandbox, server: Server, fsync: bool) -> str:
    """Two-way sync of every folder, creating them locally, as ``mbsync -a`` users set it up."""
    return f"""FSync {"yes" if fsync else "no"}

IMAPStore remote
Host {server.host}
Port {server.port}
User {server.user}
Pass {server.password}
SSLType None
AuthMechs LOGIN

MaildirStore local
Path {sandbox.mail}/
Inbox {sandbox.mail}/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
Sync All
SyncState *
"""


def measure(command: list[str], env: dict[str, str], log: Path) -> Measurement:
    """Run *command* to completion; wall seconds and the peak RSS of its process tree."""
    if not TIME.exists():
        raise SystemExit(f"{TIME} is missing: install GNU time (Debian package 'time')")
    usage = log.with_suffix(".rss")
    with log.open("ab") as output:
        output.write(f"$ {' '.join(command)}\n".encode())
        output.flush()
        start = time.perf_counter()
        cpu_before = cpu_times()
        process = subprocess.Popen([str(TIME), "-f", "%M", "-o", str(usage), *command],
                                   env=env, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        timer = threading.Timer(RUN_TIMEOUT, _kill_group, (process.pid,))
        timer.start()
        try:
            code = process.wait()
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        steal = steal_between(cpu_before, cpu_times())
    lines = usage.read_text().split()
    usage.unlink()
    return Measurement(seconds, int(lines[-1]) if lines else 0, code, steal)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def ensure_offlineimap8(venv: Path) -> tuple[Path | None, str]:
    """OfflineIMAP 8.0.3 in its own virtual environment, installed from PyPI if missing.

    Returns its executable, or None and the reason it could not be had. Never touches the
    project's environment: the two would fight over the import name ``offlineimap``.
    """
    executable = venv / "bin" / "offlineimap"
    if _version(executable) == OFFLINEIMAP8_VERSION:
        return executable, ""
    print(f"installing OfflineIMAP {OFFLINEIMAP8_VERSION} into {venv} ...", flush=True)
    steps = (["python3", "-m", "venv", str(venv)],
             [str(venv / "bin" / "pip"), "install", "-q", f"offlineimap=={OFFLINEIMAP8_VERSION}"])
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            return None, f"`{' '.join(step)}` failed: {' '.join(tail)}"
    if _version(executable) != OFFLINEIMAP8_VERSION:
        return None, f"{executable} does not report version {OFFLINEIMAP8_VERSION}"
    return executable, ""


def _version(executable: Path) -> str:
    if not executable.exists():
        return ""
    result = subprocess.run([str(executable), "--version"], capture_output=True, text=True,
                            check=False)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def mbsync_version() -> str:
    result = subprocess.run([str(MBSYNC), "--version"], capture_output=True, text=True,
                            check=False)
    return result.stdout.strip()
