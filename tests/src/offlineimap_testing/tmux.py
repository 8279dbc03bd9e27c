"""A program in a real terminal for UI tests: a private tmux server runs it in a window of a given
size; tests read the screen with ``capture-pane`` and type with ``send-keys``.

Curses and password prompts only show their real behaviour on a real tty (cbreak, no echo,
SIGWINCH on resize, the terminal given back on exit), so the UI tests drive them through tmux
rather than a pipe. Each ``TmuxTerminal`` owns its own server socket (``tmux -L``), so tests
running in parallel never see each other's windows and a test's cleanup kills only its own.

The program runs under a small ``sh`` wrapper in ``workdir`` that leaves three files there:

* ``pid``: the program's process id (the wrapper execs it, so signals reach it directly);
* ``stty``: ``stty -a`` taken right after the program ended, to check the terminal modes it
  left behind (``assert_restored``);
* ``exit``: ``EXIT=<status>``, written last, so once it exists ``stty`` is complete.

The wrapper then prints the same ``EXIT=<status>`` line and keeps the window open for a minute,
so a test can still read what the program left on the screen after it exited.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

#: Variables the wrapper exports explicitly from ``env``: the ones a program finds its
#: configuration, cache and commands by. The window's environment comes from tmux's global
#: environment, which a long-lived default server would not share with the test.
EXPORTED = ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "PATH")
#: Seconds between two looks at the screen or at a file being waited for.
POLL = 0.05
SESSION = "t"


class TmuxTerminal:
    """``command`` (argv prefix) run in a tmux window of its own; see the module docstring.

    ``env`` is the environment of every tmux call and so of the program (default: this
    process's); ``timeout`` is the default deadline of every wait in seconds; ``joined`` makes
    ``screen`` join wrapped lines (``capture-pane -J``), so a long line reads as one line.
    Use it as a context manager (or call ``close``) in a fixture, so the program and the tmux
    server never outlive the test.
    """

    def __init__(self, workdir: Path, command: Sequence[str], *,
                 env: Mapping[str, str] | None = None, timeout: float = 20,
                 joined: bool = False) -> None:
        self.workdir = workdir
        self.command = [str(part) for part in command]
        self.env = dict(os.environ if env is None else env)
        self.timeout = timeout
        self.joined = joined
        # pid and the temporary directory's names: unique across parallel runs and workers
        self.socket = f"oi-{os.getpid()}-{workdir.parent.name}-{workdir.name}"

    def __enter__(self) -> TmuxTerminal:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def tmux(self, *args: str) -> str:
        """Run one tmux command against this terminal's server; its standard output."""
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, env=self.env).stdout

    def start(self, *args: str, term: str = "screen-256color", width: int = 120,
              height: int = 36) -> None:
        """Run ``command`` followed by ``args`` in ``workdir``, in a ``width`` x ``height``
        window with ``TERM=term`` (``LINES``/``COLUMNS`` unset: the window size is the truth)."""
        q = shlex.quote
        exports = "".join(f"export {key}={q(self.env[key])}\n" for key in EXPORTED
                          if key in self.env)
        pid, stty, status = (q(str(self.workdir / name)) for name in ("pid", "stty", "exit"))
        script = self.workdir / "run.sh"
        script.write_text(
            f"{exports}unset LINES COLUMNS\nexport TERM={q(term)}\n"
            f"sh -c 'echo $$ > \"$0\"; exec \"$@\"' {pid} {shlex.join([*self.command, *args])}\n"
            f"status=$?\nstty -a > {stty}\n"
            f"echo EXIT=$status > {status}\necho EXIT=$status\nsleep 60\n")
        self.tmux("new-session", "-d", "-s", SESSION, "-c", str(self.workdir),
                  "-x", str(width), "-y", str(height), f"sh {q(str(script))}")

    def screen(self, escapes: bool = False) -> str:
        """The visible screen as text; with ``escapes``, colours and attributes as escape
        sequences (``-e``)."""
        flags = [*(["-J"] if self.joined else []), *(["-e"] if escapes else [])]
        return self.tmux("capture-pane", "-p", *flags, "-t", SESSION)

    def wait_for(self, predicate: Callable[[str], object], what: str,
                 timeout: float | None = None, escapes: bool = False) -> str:
        """The first screen ``predicate`` accepts; fails naming ``what`` and showing the last
        screen once ``timeout`` (default: the terminal's) has passed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            text = self.screen(escapes)
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what}; screen:\n{text}")
            time.sleep(POLL)

    def wait_text(self, needle: str, timeout: float | None = None) -> str:
        """The first screen containing ``needle``."""
        return self.wait_for(lambda text: needle in text, repr(needle), timeout)

    def keys(self, *keys: str) -> None:
        """Type ``keys`` (tmux key names such as ``Enter`` or literal text)."""
        self.tmux("send-keys", "-t", SESSION, *keys)

    def resize(self, width: int, height: int) -> None:
        """Resize the window, which sends the program SIGWINCH."""
        self.tmux("resize-window", "-t", SESSION, "-x", str(width), "-y", str(height))

    @property
    def pid(self) -> int:
        """The program's process id, once the wrapper has written it."""
        return int(self._wait_file("pid", "the program's pid file", self.timeout))

    def exit_status(self, timeout: float | None = None) -> str:
        """``EXIT=<status>`` once the program has ended."""
        return self._wait_file("exit", "the program to exit",
                               self.timeout if timeout is None else timeout)

    def assert_restored(self) -> None:
        """The program gave the terminal back in canonical mode with echo (not cbreak or
        noecho), as ``stty -a`` saw it right after the program ended."""
        modes = (self.workdir / "stty").read_text().split()
        assert "icanon" in modes and "echo" in modes, modes

    def close(self) -> None:
        """Kill the program if it is still running, then the tmux server (idempotent)."""
        if (self.workdir / "pid").exists() and not (self.workdir / "exit").exists():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended since we looked
                pass
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       env=self.env)

    def _wait_file(self, name: str, what: str, timeout: float) -> str:
        """The stripped, non-empty content of ``workdir/name``; the wrapper writes it with a
        plain redirection, so an empty file means "not yet"."""
        path = self.workdir / name
        deadline = time.monotonic() + timeout
        while not path.exists() or not path.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                     f"screen:\n{self.screen()}")
            time.sleep(POLL)
        return path.read_text().strip()
