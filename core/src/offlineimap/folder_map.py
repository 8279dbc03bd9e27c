"""Which remote folder goes with which local folder: nametrans, filters, creation.

Pure logic, OfflineIMAP's rules:

* A remote folder ``R`` is synced with the local folder
  ``remote_nametrans(R)`` with the remote separator replaced by the local one.
* A local folder ``L`` with no remote partner is created remotely as
  ``local_nametrans(L)`` with the separators swapped back, but only if translating that name
  forward again gives ``L``: a nametrans that does not round-trip would otherwise create a new
  folder on every run, forever.
* ``folderfilter`` is asked with untranslated names of its own repository; ``folderincludes``
  adds remote folders even if they are not listed; ``-f`` replaces both with an explicit list of
  remote folder names.
* The status cache of a pair is named after the remote folder's translated name, with the remote
  separator replaced by ``.``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

NameFn = Callable[[str], str]
FilterFn = Callable[[str], bool]


def identity(name: str) -> str:
    return name


def keep_all(_name: str) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class FolderPair:
    remote: str  #: name in the remote repository
    local: str  #: name in the local repository
    status: str  #: name of the status cache (remote translated name, ``.`` separated)
    create_remote: bool = False
    create_local: bool = False


@dataclasses.dataclass(frozen=True)
class SideNaming:
    """How one repository names and filters its folders."""

    sep: str
    nametrans: NameFn = identity
    folderfilter: FilterFn = keep_all
    can_create: bool = True


@dataclasses.dataclass
class FolderMap:
    pairs: list[FolderPair]
    #: one line per local folder that could not be mapped to a remote name
    problems: list[str]


def map_folders(
    remote_names: Iterable[str],
    local_names: Iterable[str],
    remote: SideNaming,
    local: SideNaming,
    *,
    includes: Iterable[str] = (),
    only: Iterable[str] | None = None,
    sort_key: Callable[[str], Any] | None = None,
) -> FolderMap:
    """Pair folders of both repositories.

    :param includes: ``folderincludes`` of the remote repository (synced even if unlisted).
    :param only: ``-f``: exactly these remote folder names, no filters.
    :param sort_key: ``foldersort`` as a key over remote translated names.
    """
    remote_set = set(remote_names)
    local_set = set(local_names)
    if only is not None:
        wanted = list(dict.fromkeys(only))
        selected_remote = [name for name in wanted if name in remote_set]
        missing_remote = [name for name in wanted if name not in remote_set]
    else:
        selected_remote = [name for name in remote_set if remote.folderfilter(name)]
        for name in includes:
            if name not in selected_remote:
                selected_remote.append(name)
        missing_remote = []

    def to_local(remote_name: str) -> str:
        return _swap(remote.nametrans(remote_name), remote.sep, local.sep)

    def status_name(remote_name: str) -> str:
        return _swap(remote.nametrans(remote_name), remote.sep, ".")

    pairs: dict[str, FolderPair] = {}
    for name in selected_remote:
        local_name = to_local(name)
        if local_name in pairs or (local_name not in local_set and not local.can_create):
            continue
        # folderincludes names are taken to exist even when LIST did not show them.
        pairs[local_name] = FolderPair(
            remote=name, local=local_name, status=status_name(name),
            create_local=local_name not in local_set,
        )

    problems: list[str] = []
    if only is None:
        for local_name in sorted(local_set - pairs.keys()):
            if not local.folderfilter(local_name):
                continue
            remote_name = _swap(local.nametrans(local_name), local.sep, remote.sep)
            if not remote.folderfilter(remote_name):
                continue
            if to_local(remote_name) != local_name:
                problems.append(
                    f"local folder {local_name!r} would be created remotely as "
                    f"{remote_name!r}, which nametrans maps back to {to_local(remote_name)!r}, "
                    "not to itself: fix nametrans in both repositories so that they reverse "
                    "each other (folder skipped)")
                continue
            if not remote.can_create:
                continue
            pairs[local_name] = FolderPair(
                remote=remote_name, local=local_name, status=status_name(remote_name),
                create_remote=remote_name not in remote_set,
            )
    else:
        for name in missing_remote:
            local_name = to_local(name)
            if local_name in local_set and local_name not in pairs:
                pairs[local_name] = FolderPair(remote=name, local=local_name,
                                               status=status_name(name),
                                               create_remote=remote.can_create)

    ordered = list(pairs.values())
    if sort_key is not None:
        ordered.sort(key=lambda pair: sort_key(remote.nametrans(pair.remote)))
    else:
        ordered.sort(key=lambda pair: pair.remote)
    return FolderMap(ordered, problems)


def _swap(name: str, old_sep: str, new_sep: str) -> str:
    return name if old_sep == new_sep else name.replace(old_sep, new_sep)
