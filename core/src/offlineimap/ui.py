"""The base class of user interfaces.

A UI plugin registers subclasses through ``offlineimap_uis``. Core instantiates the chosen one
and registers the *instance* as a pluggy plugin, so it receives every event hook it implements
(``offlineimap_folder_start``, ``offlineimap_message_copied``, ...; see
:mod:`offlineimap.hookspecs`). Methods below are the ones core calls directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offlineimap.config import Config


class UI:
    """A user interface: event listener plus the run's owner of the terminal."""

    #: Whether the UI can ask for a password (it then implements ``offlineimap_prompt_password``).
    can_prompt: bool = False

    def __init__(self, config: Config, *, logfile: str | None = None,
                 debug: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.logfile = logfile
        self.debug_types = debug

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold the terminal for the duration of the run (Blinkenlights sets up curses here).

        Core runs every sync inside this context; leaving it restores the terminal."""
        yield

    def close(self) -> None:
        """Release log files and handlers. Called once by core after :meth:`session` ends."""

    def account_keys(self, accounts: list[str]) -> None:
        """Tell the UI the accounts in order, so a digit key can sync account N now."""
