"""A typed facade over the event hooks, so call sites are checked and short."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from offlineimap.stats import FolderStats


class Events:
    """Broadcasts events to every listening plugin (the chosen UI among them).

    A listener that raises must not break a sync: its error is reported once as a warning by
    the listener's own absence of effect, never propagated into the engine.
    """

    def __init__(self, hook: pluggy.HookRelay | None) -> None:
        self._hook = hook

    def _call(self, name: str, **kwargs: Any) -> None:
        if self._hook is None:
            return
        try:
            getattr(self._hook, name)(**kwargs)
        except Exception:
            if name != "offlineimap_debug":
                import logging

                logging.getLogger("offlineimap").exception("event listener failed in %s", name)

    def account_start(self, account: str) -> None:
        self._call("offlineimap_account_start", account=account)

    def account_finish(self, account: str, stats: FolderStats, elapsed: float) -> None:
        self._call("offlineimap_account_finish", account=account, stats=stats, elapsed=elapsed)

    def connecting(self, account: str, repository: str, host: str, port: int) -> None:
        self._call("offlineimap_connecting", account=account, repository=repository, host=host,
                   port=port)

    def listing(self, account: str, folder: str, side: str) -> None:
        self._call("offlineimap_listing", account=account, folder=folder, side=side)

    def folder_start(self, account: str, folder: str, total: int, total_bytes: int) -> None:
        self._call("offlineimap_folder_start", account=account, folder=folder, total=total,
                   total_bytes=total_bytes)

    def folder_finish(self, account: str, folder: str, stats: FolderStats) -> None:
        self._call("offlineimap_folder_finish", account=account, folder=folder, stats=stats)

    def message_copied(self, account: str, folder: str, uid: int, source: str,
                       destination: str, size: int) -> None:
        self._call("offlineimap_message_copied", account=account, folder=folder, uid=uid,
                   source=source, destination=destination, size=size)

    def flags_changed(self, account: str, folder: str, side: str,
                      added: dict[str, list[int]], removed: dict[str, list[int]]) -> None:
        self._call("offlineimap_flags_changed", account=account, folder=folder, side=side,
                   added=added, removed=removed)

    def messages_deleted(self, account: str, folder: str, side: str, uids: list[int]) -> None:
        self._call("offlineimap_messages_deleted", account=account, folder=folder, side=side,
                   uids=uids)

    def sleeping(self, account: str, seconds: float) -> None:
        self._call("offlineimap_sleeping", account=account, seconds=seconds)

    def info(self, message: str, account: str | None = None) -> None:
        self._call("offlineimap_info", message=message, account=account)

    def warning(self, message: str, account: str | None = None) -> None:
        self._call("offlineimap_warning", message=message, account=account)

    def error(self, message: str, account: str | None = None,
              exc: BaseException | None = None) -> None:
        self._call("offlineimap_error", message=message, account=account, exc=exc)

    def debug(self, category: str, message: str) -> None:
        self._call("offlineimap_debug", category=category, message=message)
