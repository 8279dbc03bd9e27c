"""Entry point of offlineimap-ui: registers every interface under the names users type."""

from __future__ import annotations

from collections.abc import Callable

from offlineimap.hookspecs import hookimpl
from offlineimap.ui import UI
from offlineimap_ui.console import TTYUI, Basic, Quiet, Syslog
from offlineimap_ui.machine import MachineUI

#: Blinkenlights (curses) is named, not imported: only a run that chooses it pays for curses.
UIS: dict[str, type[UI] | str] = {
    "Blinkenlights": "offlineimap_ui.blinkenlights:Blinkenlights",
    "TTYUI": TTYUI,
    "Basic": Basic,
    "Quiet": Quiet,
    "MachineUI": MachineUI,
    "Syslog": Syslog,
}


@hookimpl
def offlineimap_uis(register: Callable[[str, type[UI] | str], None]) -> None:
    for name, cls in UIS.items():
        register(name, cls)
