"""Drawing a :class:`~offlineimap_ui.board.Snapshot` with curses.

Only the screen thread calls into this module, so curses (which is not thread-safe) is never
entered from two threads. Layout, top to bottom: a title bar with the keys, one row per account
(number, status box, name, its threads' lights, totals), one row per folder being copied (with a
progress bar), a rule, and the log pane filling the rest, newest line at the bottom.
"""

from __future__ import annotations

import curses
import textwrap

from offlineimap_ui.board import Activity, Snapshot

NAME_WIDTH = 12
KEYS = "q: quit   1-9: sync account now"
TOTALS_INDENT = 3  #: wrapped account totals start here, under the status box

# colour name -> (256-colour terminal, 8/16-colour terminal, attribute added on 8 colours)
_PALETTE: dict[str, tuple[int, int, int]] = {
    "gray": (244, curses.COLOR_WHITE, curses.A_DIM),
    "purple": (129, curses.COLOR_MAGENTA, 0),
    "cyan": (51, curses.COLOR_CYAN, 0),
    "green": (46, curses.COLOR_GREEN, 0),
    "blue": (33, curses.COLOR_BLUE, 0),
    "orange": (208, curses.COLOR_YELLOW, 0),
    "red": (196, curses.COLOR_RED, 0),
    "yellow": (226, curses.COLOR_YELLOW, curses.A_BOLD),
    "pink": (213, curses.COLOR_MAGENTA, curses.A_BOLD),
    "black": (0, curses.COLOR_BLACK, 0),
}


class Palette:
    """Curses attributes for the activity colours; plain attributes without colour support."""

    def __init__(self) -> None:
        self.attrs: dict[str, int] = {}
        self.colour = curses.has_colors()
        if not self.colour:
            return
        curses.start_color()
        background = -1
        try:
            curses.use_default_colors()
        except curses.error:
            background = curses.COLOR_BLACK
        rich = curses.COLORS >= 256
        for number, (name, (c256, c8, extra)) in enumerate(_PALETTE.items(), start=1):
            curses.init_pair(number, c256 if rich else c8, background)
            self.attrs[name] = curses.color_pair(number) | (0 if rich else extra)

    def text(self, colour: str) -> int:
        """Attribute for a log line of this colour (black text would vanish: use default)."""
        if not self.colour or colour in ("black", "countdown"):
            return curses.A_NORMAL
        return self.attrs[colour]

    def light(self, activity: Activity, now: float) -> int:
        """Attribute for a light: a reversed (filled) cell in the activity's colour."""
        flash_on = int(now * 2) % 2 == 0
        if activity is Activity.ENDED:
            return curses.A_DIM
        if not self.colour:
            if activity is Activity.SLEEPING:
                return curses.A_REVERSE if flash_on else curses.A_NORMAL
            return curses.A_REVERSE | curses.A_BOLD
        if activity is Activity.SLEEPING:
            return curses.A_REVERSE | self.attrs["red" if flash_on else "black"]
        return curses.A_REVERSE | self.attrs[activity.colour]


class Screen:
    """The curses screen of one Blinkenlights session."""

    def __init__(self, stdscr: curses.window, title: str) -> None:
        self.stdscr = stdscr
        self.title = title
        self.palette = Palette()

    def resized(self) -> None:
        """Take the terminal's new size (after ``KEY_RESIZE``) and repaint from scratch."""
        curses.update_lines_cols()
        self.stdscr.clear()

    def _put(self, y: int, x: int, text: str, attr: int = curses.A_NORMAL) -> int:
        """Write clipped to the screen; returns the column after the text."""
        height, width = self.stdscr.getmaxyx()
        if y >= height or x >= width - 1:
            return x
        text = text[: width - 1 - x]
        try:
            self.stdscr.addstr(y, x, text, attr)
        except curses.error:  # the bottom-right cell, or a resize racing the frame
            pass
        return x + len(text)

    def draw(self, snap: Snapshot, notice: str = "") -> None:
        """Paint one frame."""
        self.stdscr.erase()
        height, width = self.stdscr.getmaxyx()
        self._put(0, 0, self._title_bar(width, notice).ljust(width), curses.A_REVERSE)
        y = 1
        rows = [(str(n), row.lead(snap.now), row.name, row.totals())
                for n, row in enumerate(snap.accounts, start=1)]
        names = [row.name for row in snap.accounts]
        if any(light.account not in names for light in snap.lights):
            rows.append(("*", "[       ]", "*Control", ""))
            names.append(None)  # type: ignore[arg-type]
        for (number, lead, name, totals), key in zip(rows, names, strict=True):
            x = self._put(y, 0, f"{number}: {lead} {name[:NAME_WIDTH]:<{NAME_WIDTH}} ")
            for light in snap.lights:
                if (light.account if light.account in names else None) == key:
                    x = self._put(y, x, light.activity.letter,
                                  self.palette.light(light.activity, snap.now))
            y = self._totals(y, x, width, totals) + 1
        for progress in snap.folders:
            if y >= height - 2:
                break
            text = "  " + progress.describe(snap.now) + " "
            x = self._put(y, 0, text, self.palette.text("cyan"))
            self._bar(y, x, width - x - 1, progress.fraction())
            y += 1
        self._put(y, 0, "-" * (width - 1), curses.A_DIM)
        log_top = y + 1
        visible = snap.log[-max(0, height - log_top):] if height > log_top else []
        for offset, (colour, text) in enumerate(visible):
            self._put(log_top + offset, 0, text, self.palette.text(colour))
        self.stdscr.noutrefresh()
        curses.doupdate()

    def _totals(self, y: int, x: int, width: int, totals: str) -> int:
        """The account's totals after its lights, or wrapped on indented lines below when the
        terminal is too narrow, so the account summary is never cut off; returns the last
        line used."""
        if len(totals) + 2 <= width - 1 - x:
            self._put(y, x, f"  {totals}")
            return y
        for part in textwrap.wrap(totals, max(10, width - 1 - TOTALS_INDENT)):
            y += 1
            self._put(y, TOTALS_INDENT, part)
        return y

    def _title_bar(self, width: int, notice: str) -> str:
        """Title, the answer to the last key, the keys: on a narrow terminal the title gives
        way first, so the keys and the answer stay readable."""
        middle = f"{notice}   " if notice else ""
        for title in (self.title, "OfflineIMAP"):
            bar = f" {title}   {middle}{KEYS} "
            if len(bar) < width:
                break
        return bar

    def _bar(self, y: int, x: int, room: int, fraction: float) -> None:
        if room < 8:
            return
        inner = min(room - 2, 30)
        filled = round(inner * fraction)
        self._put(y, x, "[" + "#" * filled + "." * (inner - filled) + "]")

