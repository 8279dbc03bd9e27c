"""Entry point of offlineimap-ui: registers every interface under the names users type.

Every run imports every plugin's entry point but uses one UI, so each is registered by name and
imported only when chosen: a MachineUI run never loads curses, a Quiet run never the
MachineUI's encoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from offlineimap.hookspecs import hookimpl

if TYPE_CHECKING:
    from offlineimap.ui import UI

UIS: dict[str, str] = {
    "Blinkenlights": "offlineimap_ui.blinkenlights:Blinkenlights",
    "TTYUI": "offlineimap_ui.console:TTYUI",
    "Basic": "offlineimap_ui.console:Basic",
    "Quiet": "offlineimap_ui.console:Quiet",
    "MachineUI": "offlineimap_ui.machine:MachineUI",
    "Syslog": "offlineimap_ui.console:Syslog",
}


@hookimpl
def offlineimap_uis(register: Callable[[str, type[UI] | str], None]) -> None:
    """Provide Blinkenlights, TTYUI, Basic, Quiet, MachineUI and Syslog."""
    for name, reference in UIS.items():
        register(name, reference)
