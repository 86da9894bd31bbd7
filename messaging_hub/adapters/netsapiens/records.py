"""History pages read by msgspec into records (with the ``fast`` extra).

A page of ``Message`` objects decodes straight into :class:`MessageRecord`
structs, one per record, with every field of the wire ``Message`` (typed
``Any``: the values are what JSON gives, read afterwards exactly as from a
dict). That skips building a dict of all keys per record and the lookups
into it. ``raw`` is built from the record on first read
(:meth:`MessageRecord.wire`), the same wire ``Message`` the converter makes
of the JSON record.

Importing this module needs msgspec; the API falls back to dicts without it.
"""

from __future__ import annotations

from typing import Any

import attrs
import msgspec

from . import wire

__all__ = ["WIRE_KEYS", "MessageRecord", "read_records"]

WIRE_KEYS = {f.name: wire.wire_key(f.name) for f in attrs.fields(wire.Message)}
"""Each wire ``Message`` field and its JSON key."""


class MessageRecord(msgspec.Struct, rename=WIRE_KEYS):
    """One JSON record of a history page: the wire ``Message``'s fields, as given."""

    id: Any
    timestamp: Any = None
    type: Any = None
    domain: Any = None
    direction: Any = None
    from_number: Any = None
    from_user_id: Any = None
    from_video_attendee_id: Any = None
    from_user_agent: Any = None
    dialed: Any = None
    text: Any = None
    terminating_user_id: Any = None
    terminating_number: Any = None
    status: Any = None
    video_instance_id: Any = None
    media_type: Any = None
    media_size: Any = None
    deleted_datetime: Any = None
    deleted_timestamp: Any = None
    messagesession_reciever_hostname: Any = None
    messagesession_id: Any = None
    messagesession_participants: Any = None
    file_access_url: Any = None

    def wire(self) -> wire.Message:
        """The wire ``Message`` the converter reads from the same JSON record."""
        return wire.structure_message(msgspec.to_builtins(self))


_PAGE = msgspec.json.Decoder(list[MessageRecord])


def read_records(body: bytes) -> list[MessageRecord] | None:
    """The page's records, or ``None`` for a body they cannot be read from
    this way (the caller then reads it as JSON, with its errors): not a list
    of objects with an ``id``, or a record the converter would refuse."""
    try:
        records = _PAGE.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    for record in records:  # what wire.message_records_ok checks of a dict
        size = record.media_size
        if size is not None and type(size) is not int and not wire.loose_int_ok(size):
            return None
    return records
