"""MongooseIM wire models and the one cattrs converter that reads them.

Each API spells time its own way, and the converter turns all of them into
aware UTC datetimes: admin REST sends Unix seconds, client REST Unix
milliseconds, GraphQL RFC 3339 strings (``2024-05-01T12:00:00.000000Z``).
Renames (``from`` -> ``from_``) live in the converter too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from ...datetimes import parse_timestamp
from ...wirecheck import list_of, plain_check

__all__ = [
    "EPOCH",
    "AdminMessage",
    "ClientMessage",
    "SendStanzaPayload",
    "SentMessage",
    "StanzaMap",
    "StanzasPayload",
    "converter",
    "format_datetime",
    "from_millis",
    "from_seconds",
    "plain_admin_messages",
    "plain_client_messages",
    "plain_stanzas",
    "stanza_body",
    "stanza_element",
    "to_millis",
    "to_seconds",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_seconds(value: datetime) -> int:
    """Whole Unix seconds (rounded down) of an aware datetime."""
    return (value - EPOCH) // timedelta(seconds=1)


def to_millis(value: datetime) -> int:
    """Whole Unix milliseconds (rounded down) of an aware datetime."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def from_seconds(value: int) -> datetime:
    """The aware UTC datetime of Unix seconds (exact, no float rounding)."""
    return EPOCH + timedelta(seconds=value)


def from_millis(value: int) -> datetime:
    """The aware UTC datetime of Unix milliseconds (exact)."""
    return EPOCH + timedelta(milliseconds=value)


def format_datetime(value: datetime) -> str:
    """A GraphQL ``DateTime``: RFC 3339 in UTC with microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.frozen
class AdminMessage:
    """A ``record`` of the admin REST ``messageList``."""

    sender: str
    timestamp: datetime
    message_id: str | None = None
    body: str | None = None


@attrs.frozen
class ClientMessage:
    """A client REST ``RecvMessage``."""

    from_: str
    to: str
    timestamp: datetime
    id: str | None = None
    body: str | None = None
    thread: str | None = None
    parent: str | None = None
    properties: dict[str, str] | None = None


@attrs.frozen
class SentMessage:
    """A client REST ``ResourceID``: the id of a message just sent."""

    id: str


@attrs.frozen
class StanzaMap:
    """A GraphQL ``StanzaMap``: one archived stanza.

    ``stanza_id`` is the archive (MAM) id; the stanza's own ``id`` attribute,
    its ``to`` and ``body`` are read from the XML on demand.
    """

    sender: str | None = None
    timestamp: datetime | None = None
    stanza_id: str | None = None
    stanza: str | None = None

    @property
    def to(self) -> str | None:
        """The stanza's ``to`` attribute."""
        element = stanza_element(self.stanza)
        return None if element is None else element.get("to")

    @property
    def message_id(self) -> str | None:
        """The stanza's ``id`` attribute (what ``sendMessage`` returned)."""
        element = stanza_element(self.stanza)
        return None if element is None else element.get("id")

    @property
    def body(self) -> str | None:
        """The text of the stanza's ``<body/>``."""
        return stanza_body(stanza_element(self.stanza))


def stanza_element(stanza: str | None) -> ET.Element | None:
    """The parsed XML of an archived stanza, or None when there is none or it is not XML."""
    if not stanza:
        return None
    try:
        # The XML comes from the server's own archive; expat refuses entity bombs.
        return ET.fromstring(stanza)  # noqa: S314
    except ET.ParseError:
        return None


def stanza_body(element: ET.Element | None) -> str | None:
    """The text of a parsed stanza's ``<body/>``."""
    if element is None:
        return None
    for child in element:
        if child.tag == "body" or child.tag.endswith("}body"):
            return child.text or ""
    return None


@attrs.frozen
class StanzasPayload:
    """A GraphQL ``StanzasPayload``: archived stanzas (oldest first) and the limit applied."""

    stanzas: list[StanzaMap | None] | None = None
    limit: int | None = None


@attrs.frozen
class SendStanzaPayload:
    """A GraphQL ``SendStanzaPayload``: the id of the stanza sent."""

    id: str | None = None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer timestamp, got {value!r}")
    return value


def _seconds(value: Any, _: type) -> datetime:
    return from_seconds(_int(value))


def _millis(value: Any, _: type) -> datetime:
    return from_millis(_int(value))


def _rfc3339(value: Any, _: type) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected a DateTime string, got {value!r}")
    return parse_timestamp(value)


def _str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(
        AdminMessage,
        make_dict_structure_fn(AdminMessage, conv, timestamp=override(struct_hook=_seconds)),
    )
    conv.register_structure_hook(
        ClientMessage,
        make_dict_structure_fn(
            ClientMessage,
            conv,
            from_=override(rename="from"),
            timestamp=override(struct_hook=_millis),
        ),
    )
    conv.register_structure_hook(
        StanzaMap,
        make_dict_structure_fn(
            StanzaMap,
            conv,
            timestamp=override(struct_hook=lambda v, _: None if v is None else _rfc3339(v, _)),
        ),
    )
    return conv


converter = _make_converter()
"""Structures every MongooseIM payload."""


def _client_key(name: str) -> str:
    return "from" if name == "from_" else name


# What each API's history answer is when it is plain (see messaging_hub.wirecheck);
# the timestamps are converted by the caller, as the converter would.
plain_admin_messages = list_of(
    plain_check(AdminMessage, converted={(AdminMessage, "timestamp"): frozenset({int})})
)
plain_client_messages = list_of(
    plain_check(
        ClientMessage, _client_key, converted={(ClientMessage, "timestamp"): frozenset({int})}
    )
)
plain_stanzas = plain_check(
    StanzasPayload, converted={(StanzaMap, "timestamp"): frozenset({str, type(None)})}
)
