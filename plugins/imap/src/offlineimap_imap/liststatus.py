"""The folders, the separator and every folder's state from one LIST (LIST-STATUS, RFC 5819).

A routine resync that finds nothing new must not cost a SELECT per folder, nor a LIST per
question: on a network each command is a round trip. Servers that advertise LIST-STATUS answer
``LIST "" "*" RETURN (STATUS (...))`` with a LIST line (attributes, separator, name) and a
STATUS line (UIDNEXT, MESSAGES, HIGHESTMODSEQ...) per folder: everything the account needs to
pair folders and leave unchanged ones alone without opening them. Other servers get a plain
LIST (or LSUB for ``subscribedonly``), whose lines still carry the separator.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from offlineimap.repository import FolderState

if TYPE_CHECKING:
    from offlineimap_imap.connection import Connection

_ITEMS = {b"UIDVALIDITY": "uidvalidity", b"UIDNEXT": "uidnext", b"MESSAGES": "exists",
          b"HIGHESTMODSEQ": "highestmodseq"}
#: Mailbox attributes of names that are not mailboxes (RFC 3501, RFC 5258).
_NOT_SELECTABLE = {b"\\NOSELECT", b"\\NONEXISTENT"}


@dataclasses.dataclass(frozen=True)
class Listing:
    """What one LIST said."""

    #: Selectable folders, sorted, decoded from modified UTF-7.
    names: list[str]
    #: The hierarchy separator of the first line that had one; ``None``: no line had one.
    separator: str | None
    #: ``{folder: FolderState}``; ``None`` when the server cannot say (no LIST-STATUS).
    states: dict[str, FolderState] | None


def list_mailboxes(connection: Connection, reference: str, *, subscribed: bool = False
                   ) -> Listing:
    """LIST (LSUB when ``subscribed``) every folder under ``reference``, with STATUS where
    the server offers it.

    Raises imapclient's errors (see :func:`offlineimap_imap.protocol.guard`).
    """
    client = connection.client
    command = "LSUB" if subscribed else "LIST"
    arguments = [client._normalise_folder(reference), b'"*"']
    with_status = not subscribed and connection.has("LIST-STATUS")
    if with_status:
        items = "MESSAGES UIDNEXT UIDVALIDITY"
        if connection.has("CONDSTORE") or connection.has("QRESYNC"):
            items += " HIGHESTMODSEQ"
        arguments += [b"RETURN", f"(STATUS ({items}))".encode()]
    imap = client._imap
    for key in (command, "STATUS"):  # answers to earlier commands are not ours
        imap.untagged_responses.pop(key, None)
    typ, data = imap._simple_command(command, *arguments)
    lines = imap.untagged_responses.pop(command, [])
    status_lines = imap.untagged_responses.pop("STATUS", [])
    client._checkok(command.lower(), typ, data)
    listed = client._proc_folder_list(lines)
    names = [_folder_name(name) for flags, _delimiter, name in listed
             if not {flag.upper() for flag in flags} & _NOT_SELECTABLE]
    states = _states(status_lines) if with_status else None
    return Listing(sorted(names), _separator(listed), states)


def root_separator(connection: Connection) -> str | None:
    """The separator ``LIST "" ""`` tells (RFC 3501 6.3.8): for when no listed folder did."""
    return _separator(connection.client.list_folders("", ""))


def _separator(listed: list[tuple[Any, Any, Any]]) -> str | None:
    for _flags, delimiter, _name in listed:
        if delimiter:
            return delimiter.decode() if isinstance(delimiter, bytes) else str(delimiter)
    return None


def _folder_name(name: Any) -> str:
    """A LIST or STATUS mailbox name as text (imapclient decodes modified UTF-7 already where
    it parsed the line; a name that looks like a number parses as ``int``)."""
    from imapclient import imap_utf7

    if isinstance(name, bytes):
        return imap_utf7.decode(name)
    return str(name)


def _states(lines: list[Any]) -> dict[str, FolderState] | None:
    """``{folder: FolderState}`` from the STATUS lines; ``None`` if one makes no sense (the
    account then opens each folder instead of guessing)."""
    from imapclient.exceptions import ProtocolError
    from imapclient.response_parser import parse_response

    lines = [line for line in lines if line not in (b"", None)]
    if not lines:
        return {}
    try:
        tokens = parse_response(lines)  # literals (odd folder names) included
    except ProtocolError:
        return None
    if len(tokens) % 2:
        return None
    states: dict[str, FolderState] = {}
    for name, values in zip(tokens[::2], tokens[1::2], strict=True):
        if not isinstance(values, tuple) or len(values) % 2:
            return None
        fields = {_ITEMS[key.upper()]: value
                  for key, value in zip(values[::2], values[1::2], strict=True)
                  if isinstance(key, bytes) and key.upper() in _ITEMS and isinstance(value, int)}
        states[_folder_name(name)] = FolderState(**fields)
    return states
