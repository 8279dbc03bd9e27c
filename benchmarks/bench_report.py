"""Turn run results into the Markdown report: machine, medians per tool and step, ratios.

The machine is shared and noisy, so every number is a median over ``--repeat`` runs (the range
follows in parentheses when there was more than one) and ratios are taken between medians of
the same invocation only.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

STEPS = ("a", "b", "c")
#: With ``--noop-again``: b2 is a second no-change resync right after b, the routine case (the
#: first resync after an initial sync may still have to compare the new local files once).
ALL_STEPS = ("a", "b", "b2", "c")
STEP_NAMES = {"a": "a initial", "b": "b no-op", "b2": "b2 no-op again", "c": "c incremental"}


def _steps(results: list[RunResult]) -> list[str]:
    """The steps these results include, in order."""
    present = {result.step for result in results}
    return [step for step in ALL_STEPS if step in present]


@dataclass
class RunResult:
    """One step of one tool run."""

    tool: str
    fsync: bool
    repeat: int
    step: str
    seconds: float
    peak_rss_kb: int
    exit_code: int
    problems: list[str] = field(default_factory=list)
    steal: float = 0.0  #: CPU steal during the step (see ``bench_tools.cpu_times``)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.problems


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().split()[1]
    dovecot = subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True,
                             text=True, check=False).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": f"{os.cpu_count()} (nproc), {cpu}",
        "memory": f"{int(memory) // 1024 // 1024} GiB",
        "kernel": f"Linux {platform.release()}",
        "python": platform.python_version(),
        "dovecot": dovecot,
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def _median(results: list[RunResult], attribute: str) -> float:
    return statistics.median(getattr(result, attribute) for result in results)


def _cell(results: list[RunResult]) -> str:
    if not results:
        return "\N{EN DASH}"
    text = f"{_median(results, 'seconds'):.2f} s"
    if len(results) > 1:
        low = min(result.seconds for result in results)
        high = max(result.seconds for result in results)
        text += f" ({low:.2f}\N{EN DASH}{high:.2f})"
    return text


def _select(results: list[RunResult], tool: str, fsync: bool, step: str) -> list[RunResult]:
    return [r for r in results if r.tool == tool and r.fsync == fsync and r.step == step]


def _tools(results: list[RunResult]) -> list[str]:
    return list(dict.fromkeys(result.tool for result in results))


def table(results: list[RunResult], fsync: bool, messages: int) -> str:
    steps = _steps(results)
    rows = ["| tool | msgs | " + " | ".join(STEP_NAMES[step] for step in steps)
            + " | peak RSS (a) | CPU steal | verified |", "|---" * (len(steps) + 5) + "|"]
    for tool in _tools(results):
        by_step = {step: _select(results, tool, fsync, step) for step in steps}
        if not by_step["a"]:
            continue
        all_runs = [r for step in steps for r in by_step[step]]
        failed = [r for r in all_runs if not r.ok]
        verdict = (f"all {len(all_runs)} steps correct" if not failed
                   else f"**{len(failed)} of {len(all_runs)} steps FAILED**")
        rss = _median(by_step["a"], "peak_rss_kb") / 1024
        cells = " | ".join(_cell(by_step[step]) for step in steps)
        steal = _median(all_runs, "steal")
        rows.append(f"| {tool} | {messages:,} | {cells} | {rss:.0f} MB | {steal:.0%} | "
                    f"{verdict} |")
    return "\n".join(rows)


def _ratio_row(results: list[RunResult], fsync: bool, top: str, bottom: str) -> str | None:
    cells = []
    for step in _steps(results):
        over, under = _select(results, top, fsync, step), _select(results, bottom, fsync, step)
        if not over or not under:
            return None
        ratio = _median(over, "seconds") / _median(under, "seconds")
        cells.append(f"{ratio:.1f}\N{MULTIPLICATION SIGN}")
    return f"| {top} / {bottom} | " + " | ".join(cells) + " |"


def ratios(results: list[RunResult], fsync: bool) -> str:
    """ours / mbsync (below 1 means we are faster) and OfflineIMAP 8 / ours."""
    tools = _tools(results)
    ours = [tool for tool in tools if tool.startswith("ours")]
    mbsync = [tool for tool in tools if tool == "mbsync"]
    old = [tool for tool in tools if tool.startswith("OfflineIMAP")]
    pairs = [(o, m) for o in ours for m in mbsync] + [(x, o) for x in old for o in ours]
    rows = [row for top, bottom in pairs
            if (row := _ratio_row(results, fsync, top, bottom)) is not None]
    if not rows:
        return ""
    steps = _steps(results)
    return "\n".join(["| ratio of medians | " + " | ".join(steps) + " |",
                      "|---" * (len(steps) + 1) + "|", *rows])


def problems(results: list[RunResult]) -> str:
    lines = []
    for result in results:
        if result.ok:
            continue
        where = f"{result.tool}, fsync {'on' if result.fsync else 'off'}, run {result.repeat + 1}"
        lines.append(f"- {where}, step {result.step}: exit {result.exit_code}")
        lines.extend(f"  - {problem}" for problem in result.problems)
    return "\n".join(lines)


def render(results: list[RunResult], info: dict[str, str], command: str, messages: int,
           size_mb: float, repeat: int, notes: list[str], *, rtt: float = 0.0,
           folders: int = 10) -> str:
    """The whole report as Markdown; *rtt* is the proxy's added round trip in ms (0: none)."""
    network = f", every tool through a proxy adding {rtt:g} ms round trip" if rtt else ""
    parts = [
        "## Benchmark results", "",
        f"`{command}`", "",
        f"- date: {info['date']}; load average at start: {info['load']}",
        f"- machine: {info['cpus']}, {info['memory']} RAM, {info['kernel']}, "
        f"Python {info['python']}",
        f"- server: Dovecot {info['dovecot']} on 127.0.0.1, plain IMAP{network}, "
        f"{folders} folders, {messages:,} messages ({size_mb:.0f} MB, realistic sizes)",
        f"- wall seconds, median of {repeat} run(s) (range in parentheses); peak RSS of the "
        "tool's process tree in step a; CPU steal: median share of CPU time the hypervisor "
        "gave other guests during the tool's steps (this is a VM on a shared host)", "",
    ]
    for fsync in (True, False):
        if not any(result.fsync == fsync for result in results):
            continue
        parts += [f"### fsync {'on' if fsync else 'off'}", "", table(results, fsync, messages),
                  ""]
        if ratio_text := ratios(results, fsync):
            parts += [ratio_text, ""]
    if failure_text := problems(results):
        parts += ["### Failures", "", failure_text, ""]
    if notes:
        parts += ["### Notes", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(parts)
