"""Benchmark ours against mbsync and OfflineIMAP 8.0.3 on a real Dovecot, and check each result.

Run with the project's interpreter (it needs ``offlineimap_testing`` for the Dovecot fixture)::

    /work/main/.venv/bin/python benchmarks/bench.py --messages 10000 \\
        --tools ours,mbsync,offlineimap8 --fsync on --repeat 3

For each tool configuration and repeat: a fresh account (a copy of one seeded template), then
step a (initial sync into an empty Maildir), b (resync with nothing changed) and c (resync after
1% of the messages changed flags on the server and 100 new ones arrived), each timed and then
verified on both sides. Prints a Markdown report and writes it to ``--output``; exits 1 if any
run failed or any result was wrong. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pstats
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench_bulk import BULK_THRESHOLD, LARGE_FOLDER, bulk_template
from bench_proxy import DelayProxy
from bench_report import ALL_STEPS, STEPS, RunResult, machine, render
from bench_server import (
    ARRIVALS,
    Template,
    change_server,
    clone,
    load_corpus,
    remove_account,
    seed_template,
    server_counts,
)
from bench_tools import (
    Measurement,
    Sandbox,
    Server,
    Tool,
    ensure_offlineimap8,
    export_ours,
    mbsync_version,
    measure,
)
from bench_verify import verify

from offlineimap_testing.dovecot import Dovecot

HERE = Path(__file__).resolve().parent
KINDS = ("ours", "mbsync", "offlineimap8")
#: Seconds between the end of one step and the start of the next. mbsync sleeps until the
#: clock second changes when a Maildir directory changed in the current second (its guard
#: against timestamp granularity), which back-to-back runs would time; real syncs are minutes
#: apart. The same pause applies to every tool.
SETTLE_SECONDS = 1.1
QUICK_MESSAGES = 1000


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers: {text!r}")
    return values


def _kinds(text: str) -> list[str]:
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown tools {unknown}; choose from {list(KINDS)}")
    return kinds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000,
                        help="messages on the server before step c (default 10000)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_MESSAGES} messages, one repeat")
    parser.add_argument("--tools", type=_kinds, default=list(KINDS),
                        help="comma-separated: ours,mbsync,offlineimap8 (default all)")
    parser.add_argument("--fsync", choices=("on", "off", "both"), default="on",
                        help="the same fsync setting for every tool (default on)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool (default 1)")
    parser.add_argument("--maxconnections", type=_int_list, default=[1, 4],
                        help="ours: maxconnections values to measure (default 1,4)")
    parser.add_argument("--oi8-maxconnections", type=_int_list, default=[1],
                        help="OfflineIMAP 8.0.3: maxconnections values (default 1)")
    parser.add_argument("--ours-rev", metavar="REV",
                        help="measure ours at this git commit (e.g. HEAD) instead of the "
                        "working tree, so others' edits cannot change it mid-run")
    parser.add_argument("--profile", action="store_true",
                        help="run ours under cProfile (main thread only: use --maxconnections 1) "
                        "and write each step's profile and top functions to RESULTS_DIR/profiles")
    parser.add_argument("--rtt", type=float, default=0.0, metavar="MS",
                        help="run every tool through a local proxy adding MS/2 ms of delay in "
                        "each direction (default 0: straight to Dovecot)")
    parser.add_argument("--seed-files", action="store_true",
                        help="seed the server by writing Maildir files instead of IMAP APPEND "
                        f"(always above {BULK_THRESHOLD:,} messages or with --large)")
    parser.add_argument("--large", type=int, default=0, metavar="N",
                        help=f"add a folder {LARGE_FOLDER!r} with N messages of --large-mb MB "
                        "(and 200 small ones), for peak memory")
    parser.add_argument("--large-mb", type=int, default=50, help="size of each large message")
    parser.add_argument("--noop-again", action="store_true",
                        help="add step b2: a second no-change resync right after b")
    parser.add_argument("--seed", type=int, default=1, help="corpus and change seed")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md",
                        help="where to write the Markdown report (default benchmarks/RESULTS.md)")
    parser.add_argument("--no-output", action="store_true", help="print the report only")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results",
                        help="corpus cache, tool logs and raw JSON (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.repeat = QUICK_MESSAGES, 1
    if args.messages < 10 or args.repeat < 1:
        parser.error("--messages must be at least 10 and --repeat at least 1")
    if args.rtt < 0 or args.large < 0 or args.large_mb < 1:
        parser.error("--rtt and --large must not be negative, --large-mb at least 1")
    args.seed_files = args.seed_files or args.large > 0 or args.messages > BULK_THRESHOLD
    return args


def build_tools(args: argparse.Namespace, notes: list[str], work: Path) -> list[Tool]:
    tools: list[Tool] = []
    for kind in args.tools:
        if kind == "ours":
            python_path: tuple[Path, ...] = ()
            if args.ours_rev:
                python_path, commit = export_ours(HERE.parent, args.ours_rev, work / "ours-src")
                notes.append(f"ours: commit {commit}")
            else:
                notes.append(f"ours: working tree at {_describe()}")
            tools += [Tool("ours", count, python_path=python_path)
                      for count in args.maxconnections]
        elif kind == "mbsync":
            tools.append(Tool("mbsync"))
            notes.append(f"mbsync: {mbsync_version()}, `Sync All`, `Create Near`, "
                         "`SubFolders Verbatim`, `SSLType None`")
        else:
            executable, reason = ensure_offlineimap8(HERE / ".venv-offlineimap8")
            if executable is None:
                print(f"OfflineIMAP 8.0.3 left out: {reason}", file=sys.stderr)
                notes.append(f"OfflineIMAP 8.0.3 could not be installed: {reason}")
                continue
            tools += [Tool("offlineimap8", count, executable)
                      for count in args.oi8_maxconnections]
    return tools


def _describe() -> str:
    result = subprocess.run(["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown commit"


def _profiled(command: list[str], profile: Path) -> list[str]:
    """*command* (ours) run under cProfile, which writes *profile* when it exits."""
    return [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "offlineimap",
            *command[1:]]


def _summarise(profile: Path) -> None:
    """The top functions by own and by cumulative time, beside the profile."""
    with profile.with_suffix(".txt").open("w") as out:
        stats = pstats.Stats(str(profile), stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


def run_tool(server: Dovecot, port: int, template: Template, tool: Tool, fsync: bool,
             repeat: int, work: Path, logs: Path, args: argparse.Namespace,
             profiles: Path | None) -> list[RunResult]:
    """Steps a, b and c for one tool on a fresh copy of the template account.

    The tool connects to *port* on the server's host: Dovecot's own, or the delay proxy's.
    """
    account, model = clone(server, template)
    slug = f"{tool.kind}-mc{tool.maxconnections}-fsync-{'on' if fsync else 'off'}-{repeat + 1}"
    sandbox = Sandbox(work / slug)
    sandbox.create()
    command = tool.write_config(
        sandbox, Server(server.host, port, account.user, account.password), fsync)
    log = logs / f"{slug}.log"
    log.unlink(missing_ok=True)
    results = []
    finished = 0.0
    try:
        for step in ALL_STEPS if args.noop_again else STEPS:
            if step == "c":
                change_server(account, model, template.arrivals, args.seed)
            time.sleep(max(0.0, finished + SETTLE_SECONDS - time.monotonic()))
            profile = profiles / f"{slug}-{step}.prof" if profiles and tool.kind == "ours" else None
            measured: Measurement = measure(
                _profiled(command, profile) if profile else command, tool.env(sandbox), log)
            finished = time.monotonic()
            if profile:
                _summarise(profile)
            found = verify(model, account.mail_dir, sandbox.mail,
                           server_counts(account, list(model)))
            result = RunResult(tool.label, fsync, repeat, step, measured.seconds,
                               measured.peak_rss_kb, measured.exit_code, found,
                               measured.steal)
            results.append(result)
            verdict = "ok" if result.ok else f"FAILED (exit {result.exit_code}; see {log})"
            print(f"{tool.label:<36} fsync {'on ' if fsync else 'off'} run {repeat + 1} "
                  f"step {step}: {result.seconds:8.2f} s {result.peak_rss_kb / 1024:6.0f} MB "
                  f"steal {result.steal:4.0%}  {verdict}", flush=True)
            for problem in found:
                print(f"    {problem}", flush=True)
    finally:
        remove_account(account)
        shutil.rmtree(sandbox.root, ignore_errors=True)
    return results


def _steal_summary(results: list[RunResult]) -> str:
    """Median and highest CPU steal over the timed steps."""
    if not results:
        return "none measured"
    steals = sorted(result.steal for result in results)
    return f"median {steals[len(steals) // 2]:.0%}, highest {steals[-1]:.0%}"


def _seed(server: Dovecot, args: argparse.Namespace) -> tuple[Template, float]:
    """The template account every run copies, and its size in MB."""
    cache = args.results_dir / "cache"
    if args.seed_files:
        return bulk_template(server, args.messages, args.seed, cache, args.large,
                             args.large_mb)
    corpus = load_corpus(args.messages + ARRIVALS, args.seed, cache)
    size_mb = sum(len(message) for message in corpus[:-ARRIVALS]) / 1e6
    return seed_template(server, corpus, args.seed), size_mb


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/bench.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    notes: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="offlineimap-bench-"))
    try:
        return _run(args, command, notes, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, command: str, notes: list[str], work: Path) -> int:
    tools = build_tools(args, notes, work)
    if not tools:
        print("no tool to benchmark", file=sys.stderr)
        return 1
    info = machine()
    started = time.perf_counter()
    logs = args.results_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    profiles = args.results_dir / "profiles" if args.profile else None
    if profiles:
        profiles.mkdir(parents=True, exist_ok=True)
    fsyncs = {"on": [True], "off": [False], "both": [True, False]}[args.fsync]
    results: list[RunResult] = []
    with Dovecot() as server:
        seeding = time.perf_counter()
        template, size_mb = _seed(server, args)
        how = "Maildir files" if args.seed_files else "IMAP MULTIAPPEND"
        print(f"seeded {template.total:,} messages ({size_mb:.0f} MB) through {how} in "
              f"{time.perf_counter() - seeding:.1f} s", flush=True)
        notes.append(f"server seeded through {how}")
        proxy = DelayProxy((server.host, server.port), args.rtt) if args.rtt else None
        with proxy or contextlib.nullcontext():
            port = proxy.port if proxy else server.port
            for fsync in fsyncs:
                for repeat in range(args.repeat):
                    for tool in tools:
                        results += run_tool(server, port, template, tool, fsync, repeat, work,
                                            logs, args, profiles)
        if proxy:
            notes.append(f"every tool connected through a proxy adding {args.rtt / 2:g} ms "
                         f"each way ({args.rtt:g} ms round trip); {proxy.connections} "
                         f"connections in all; proxy timing: {proxy.lateness()}")
    notes.append(f"whole benchmark took {time.perf_counter() - started:.0f} s; CPU steal (time "
                 "the hypervisor gave other guests) during the timed steps: "
                 + _steal_summary(results))
    report = render(results, info, command, template.total, size_mb, args.repeat, notes,
                    rtt=args.rtt, folders=len(template.model))
    print("\n" + report)
    if not args.no_output:
        args.output.write_text(report)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        raw = args.results_dir / f"{stamp}.json"
        raw.write_text(json.dumps({"command": command, "machine": info,
                                   "results": [asdict(result) for result in results]},
                                  indent=1))
        print(f"report written to {args.output}; raw results in {raw}")
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
