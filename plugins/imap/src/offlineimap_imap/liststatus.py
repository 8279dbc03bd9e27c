"""Every folder's UIDNEXT, MESSAGES and HIGHESTMODSEQ in one round trip (LIST-STATUS, RFC 5819).

A routine resync that finds nothing new must not cost a SELECT per folder: on a network each is
a round trip. Servers that advertise LIST-STATUS answer ``LIST "" "*" RETURN (STATUS (...))``
with a STATUS line per folder, which is exactly what the account needs to leave unchanged folders
alone without opening them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from offlineimap.repository import FolderState

if TYPE_CHECKING:
    from offlineimap_imap.connection import Connection

_ITEMS = {b"UIDVALIDITY": "uidvalidity", b"UIDNEXT": "uidnext", b"MESSAGES": "exists",
          b"HIGHESTMODSEQ": "highestmodseq"}


def folder_states(connection: Connection, reference: str) -> dict[str, FolderState] | None:
    """``{folder: FolderState}`` for every folder, or ``None`` when the server cannot say."""
    from imapclient import imap_utf7
    from imapclient.response_parser import parse_response

    client = connection.client
    capabilities = {cap.upper() for cap in client.capabilities()}
    if b"LIST-STATUS" not in capabilities:
        return None
    items = "MESSAGES UIDNEXT UIDVALIDITY"
    if b"CONDSTORE" in capabilities:
        items += " HIGHESTMODSEQ"
    imap = client._imap
    for key in ("LIST", "STATUS"):
        imap.untagged_responses.pop(key, None)
    quoted = '"' + reference.replace("\\", "\\\\").replace('"', '\\"') + '"'
    typ, _data = imap._simple_command("LIST", quoted, '"*"', "RETURN", f"(STATUS ({items}))")
    imap.untagged_responses.pop("LIST", None)
    lines = imap.untagged_responses.pop("STATUS", [])
    if typ != "OK" or not all(isinstance(line, bytes) for line in lines):
        return None  # a literal in a folder name: let the caller SELECT instead
    states: dict[str, FolderState] = {}
    for line in lines:
        name, values = parse_response([line])
        if not isinstance(values, tuple) or len(values) % 2:
            return None
        fields = {_ITEMS[key.upper()]: value for key, value in zip(values[::2], values[1::2],
                                                                   strict=True)
                  if isinstance(key, bytes) and key.upper() in _ITEMS and isinstance(value, int)}
        raw = name if isinstance(name, bytes) else str(name).encode()
        states[imap_utf7.decode(raw)] = FolderState(**fields)
    return states
