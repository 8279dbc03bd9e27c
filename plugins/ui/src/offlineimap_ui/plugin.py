"""Entry point of offlineimap-ui: registers every interface under the names users type."""

from __future__ import annotations

from collections.abc import Callable

from offlineimap.hookspecs import hookimpl
from offlineimap.ui import UI

from offlineimap_ui.blinkenlights import Blinkenlights
from offlineimap_ui.console import TTYUI, Basic, Quiet, Syslog
from offlineimap_ui.machine import MachineUI

UIS: dict[str, type[UI]] = {
    "Blinkenlights": Blinkenlights,
    "TTYUI": TTYUI,
    "Basic": Basic,
    "Quiet": Quiet,
    "MachineUI": MachineUI,
    "Syslog": Syslog,
}


@hookimpl
def offlineimap_uis(register: Callable[[str, type[UI]], None]) -> None:
    for name, cls in UIS.items():
        register(name, cls)
