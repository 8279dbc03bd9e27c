"""Start-up cost of the ``offlineimap`` command: ``--version`` and a no-change sync.

A routine resync of a small account does almost no I/O, so what it costs is the interpreter,
the imports and the plugin discovery. This measures exactly that, with the real console script
in a sandbox of its own (HOME, XDG_CACHE_HOME, a Maildir-to-Maildir account of a few folders)
and reports medians over ``--repeat`` runs each.

    /work/main/.venv/bin/python benchmarks/bench_startup.py --repeat 11

To measure another revision, put its source folders first on ``PYTHONPATH`` (the installed
entry points stay the same): ``git archive REV core plugins | tar -x -C /tmp/base`` and
``PYTHONPATH=$(ls -d /tmp/base/core/src /tmp/base/plugins/*/src | paste -sd:)``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OFFLINEIMAP = Path(sys.executable).with_name("offlineimap")


def make_account(root: Path, folders: int, messages: int) -> tuple[Path, dict[str, str]]:
    """A config syncing ``<root>/Remote`` (Maildir) to ``<root>/Mail``; its environment."""
    for f in range(folders):
        cur = root / "Remote" / f"Folder{f}" / "cur"
        for sub in ("cur", "new", "tmp"):
            (cur.parent / sub).mkdir(parents=True)
        for m in range(messages):
            (cur / f"1700000000.M{f}x{m}P1.bench:2,S").write_bytes(
                f"From: a@example.org\nSubject: {f}/{m}\n\nbody {m}\n".encode())
    config = root / "offlineimaprc"
    config.write_text(
        f"[general]\naccounts = Bench\nmetadata = {root / 'metadata'}\n\n"
        "[Account Bench]\nlocalrepository = Local\nremoterepository = Remote\n\n"
        f"[Repository Local]\ntype = Maildir\nlocalfolders = {root / 'Mail'}\n\n"
        f"[Repository Remote]\ntype = Maildir\nlocalfolders = {root / 'Remote'}\n")
    (root / "home").mkdir()
    env = {**os.environ, "HOME": str(root / "home"), "XDG_CACHE_HOME": str(root / "cache"),
           "XDG_CONFIG_HOME": str(root / "home" / ".config")}
    return config, env


def timings(command: list[str], env: dict[str, str], repeat: int
            ) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of ``repeat`` runs, each checked to exit 0.

    CPU time is reported beside wall time because the machine is shared: other people's load
    stretches wall time but hardly what the process itself spends.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {proc.returncode}: {proc.stderr}")
    return walls, cpus


def modules_imported(command: list[str], env: dict[str, str]) -> int:
    """How many modules one run imports: unlike times, the same on a busy machine."""
    script = command[1:] if command[0] == sys.executable else command  # the console script
    proc = subprocess.run([sys.executable, "-X", "importtime", *script], env=env,
                          capture_output=True, text=True, check=True)
    return sum(line.startswith("import time:") for line in proc.stderr.splitlines()) - 1


def report(label: str, command: list[str], env: dict[str, str], repeat: int) -> str:
    walls, cpus = timings(command, env, repeat)
    return (f"{label:<24} wall median {statistics.median(walls) * 1000:6.1f} ms "
            f"(min {min(walls) * 1000:6.1f}), CPU median {statistics.median(cpus) * 1000:6.1f} ms"
            f" (min {min(cpus) * 1000:6.1f}), n={len(walls)}; "
            f"{modules_imported(command, env)} modules imported")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--folders", type=int, default=3)
    parser.add_argument("--messages", type=int, default=20, help="per folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config, env = make_account(Path(tmp), args.folders, args.messages)
        sync = [str(OFFLINEIMAP), "-c", str(config), "-o", "-u", "quiet"]
        timings(sync, env, 1)  # the initial sync, and stevedore's cache written
        print(report("python -c pass", [sys.executable, "-c", "pass"], env, args.repeat))
        print(report("offlineimap --version", [str(OFFLINEIMAP), "--version"], env,
                     args.repeat))
        print(report(f"no-change sync ({args.folders}x{args.messages})", sync, env, args.repeat))


if __name__ == "__main__":
    main()
