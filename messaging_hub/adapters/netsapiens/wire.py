"""NetSapiens v2 wire models and the cattrs converter that reads/writes them.

Field names on the wire are kebab-case (``messagesession-id``,
``from-number``); the converter renames every field, so the classes use
snake_case. The recorded examples are loosely typed (numbers where the
schema says strings, ``-timestamp`` where it says ``-datetime``): the
``LooseStr`` hook accepts both, and both spellings are fields here.
"""

from __future__ import annotations

import json
from typing import Any, NewType, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

__all__ = [
    "Accepted",
    "AccessToken",
    "Message",
    "MessageSend",
    "MessageSession",
    "converter",
]

LooseStr = NewType("LooseStr", str)
"""A string field that providers also send as a number or boolean."""


@attrs.frozen
class MessageSession:
    """A ``Messagesession`` object."""

    messagesession_id: str
    user: LooseStr | None = None
    domain: str | None = None
    messagesession_remote: LooseStr | None = None
    messagesession_muted: str | None = None
    messagesession_sms_number: LooseStr | None = None
    messagesession_last_datetime: str | None = None
    messagesession_last_timestamp: str | None = None
    messagesession_start_datetime: str | None = None
    messagesession_start_timestamp: str | None = None
    messagesession_last_message: LooseStr | None = None
    messagesession_last_sender: LooseStr | None = None
    messagesession_last_status: str | None = None
    messagesession_last_email_reminder_datetime: str | None = None
    messagesession_last_email_reminder_timestamp: str | None = None
    messagesession_reciever_hostname: str | None = None
    messagesession_queue_termination: str | None = None
    messagesession_queue_status: str | None = None
    messagesession_queue_session_id: str | None = None
    messagesession_agent_start_datetime: str | None = None
    messagesession_agent_start_timestamp: str | None = None
    messagesession_last_type: str | None = None
    messagesession_last_media_type: str | None = None
    messagesession_last_media_size: int | None = None
    messagesession_type: str | None = None
    messagesession_name: str | None = None
    messagesession_participants: LooseStr | None = None

    @property
    def last_activity(self) -> str | None:
        """The last-activity time under either documented spelling."""
        return self.messagesession_last_datetime or self.messagesession_last_timestamp

    @property
    def started(self) -> str | None:
        """The start time under either documented spelling."""
        return self.messagesession_start_datetime or self.messagesession_start_timestamp


@attrs.frozen
class Message:
    """A ``Message`` object of a message session."""

    id: LooseStr
    timestamp: str | None = None
    type: str | None = None
    domain: str | None = None
    direction: str | None = None
    from_number: LooseStr | None = None
    from_user_id: str | None = None
    from_video_attendee_id: str | None = None
    from_user_agent: str | None = None
    dialed: LooseStr | None = None
    text: LooseStr | None = None
    terminating_user_id: str | None = None
    terminating_number: LooseStr | None = None
    status: str | None = None
    video_instance_id: str | None = None
    media_type: str | None = None
    media_size: int | None = None
    deleted_datetime: str | None = None
    deleted_timestamp: str | None = None
    messagesession_reciever_hostname: str | None = None
    messagesession_id: str | None = None
    messagesession_participants: LooseStr | None = None
    file_access_url: str | None = None


@attrs.frozen
class MessageSend:
    """The body of every send operation (``MessageSend``)."""

    type: str
    message: str
    destination: str | list[str]
    from_number: str | None = None
    data: str | None = None
    mime_type: str | None = None
    size: int | None = None


@attrs.frozen
class Accepted:
    """``{"code": 202, "message": "Accepted"}``."""

    code: int
    message: str


@attrs.frozen
class AccessToken:
    """The ``AccessToken`` answer of ``POST /tokens``."""

    access_token: str = attrs.field(repr=False)
    expires_in: int | None = None
    token_type: str | None = None
    refresh_token: str | None = attrs.field(default=None, repr=False)
    username: str | None = None
    user: str | None = None
    domain: str | None = None
    uid: str | None = None
    scope: str | None = None
    client_id: str | None = None
    apiversion: str | None = None


def _loose_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    # The schema allows arrays and objects for message text; keep them readable.
    return json.dumps(value, separators=(",", ":"))


def _loose_int(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if value == "":
        return 0  # recorded payloads send "" for "no media"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _optional_str(value: Any, _: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return str(value)


def _optional_loose_str(value: Any, _: Any) -> str | None:
    return None if value is None else _loose_str(value, None)


def _optional_int(value: Any, _: Any) -> int | None:
    return None if value is None else _loose_int(value, None)


def _destination(value: Any, _: Any) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("destination must be a string or a list of strings")


def _wire_name(name: str) -> str:
    return name.replace("_", "-")


def wire_key(name: str) -> str:
    """The JSON key of the wire ``Message`` field ``name``."""
    # One recorded example spells this key with a trailing space.
    return "file-access-url " if name == "file_access_url" else _wire_name(name)


T = TypeVar("T")


def _kebab(conv: cattrs.Converter, cls: type[Any], *, omit_none: bool = False) -> None:
    key = wire_key if cls is Message else _wire_name
    renames: dict[str, Any] = {f.name: override(rename=key(f.name)) for f in attrs.fields(cls)}
    conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **renames))
    conv.register_unstructure_hook(
        cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=omit_none, **renames)
    )


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(LooseStr, _loose_str)
    conv.register_structure_hook(int, _loose_int)
    # Direct hooks for the optional fields: cattrs' generic Optional handling
    # was most of the decoding time of a long history.
    conv.register_structure_hook(str | None, _optional_str)
    conv.register_structure_hook(LooseStr | None, _optional_loose_str)
    conv.register_structure_hook(int | None, _optional_int)
    for cls in (MessageSession, Message, Accepted):
        _kebab(conv, cls)
    conv.register_structure_hook(str | list[str], _destination)
    _kebab(conv, MessageSend, omit_none=True)
    # OAuth fields are snake_case on the wire already.
    return conv


converter = _make_converter()
"""The converter for every NetSapiens wire class."""


# -- reading answers without building wire objects ------------------------------
# The send path and the history walk read a few fields straight from the
# decoded JSON; these give the same values (and accept exactly the same
# records) as the converter, which then builds the typed object only when
# someone reads ``raw``.


def wire_str(value: Any) -> str | None:
    """A ``str | None`` field as the converter reads it."""
    return value if value is None or type(value) is str else _optional_str(value, None)


def wire_loose_str(value: Any) -> str | None:
    """A ``LooseStr | None`` field as the converter reads it."""
    return value if value is None or type(value) is str else _optional_loose_str(value, None)


def loose_str(value: Any) -> str:
    """A required ``LooseStr`` field as the converter reads it."""
    return _loose_str(value, None)


def loose_int(value: Any) -> int:
    """An ``int`` field as the converter reads it (ValueError when it cannot)."""
    return _loose_int(value, None)


def loose_int_ok(value: Any) -> bool:
    """Whether the converter reads ``value`` as an ``int`` field."""
    try:
        _loose_int(value, None)
    except ValueError:
        return False
    return True


def message_records_ok(items: list[Any]) -> bool:
    """Whether the converter reads every one of ``items`` as a :class:`Message`
    without error (one loop over the page, no call per usual record)."""
    for item in items:
        if type(item) is not dict or "id" not in item:
            return False
        size = item.get("media-size")
        if size is not None and type(size) is not int and not loose_int_ok(size):
            return False
    return True


def plain_accepted(data: Any) -> Accepted | None:
    """``data`` as :class:`Accepted`, read as the converter would, when it is
    the plain ``{"code": ..., "message": "..."}``; ``None`` for anything else
    (for the converter to read or refuse)."""
    if type(data) is not dict or "code" not in data or type(data.get("message")) is not str:
        return None
    try:
        code = _loose_int(data["code"], None)
    except ValueError:
        return None
    return Accepted(code=code, message=data["message"])


def structure_message(item: Any) -> Message:
    """``item`` (a record :func:`message_records_ok` accepted) as a :class:`Message`."""
    return converter.structure(item, Message)
