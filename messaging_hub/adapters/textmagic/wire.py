"""TextMagic REST v2 wire models and the one cattrs converter that reads/writes them.

Field names on the wire are camelCase (``startTime``, ``sessionId``); the
converter renames every field to snake_case, so no code here or in the
client juggles dicts. ``from`` (a Python keyword) is ``from_``.
Nullable spec fields default to ``None`` so a trimmed answer still reads.
"""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ...wirecheck import plain_check

__all__ = [
    "BulkPage",
    "BulkSession",
    "DeleteBulk",
    "InboundPage",
    "MessageIn",
    "MessageOut",
    "MessagePage",
    "MessageSenderSource",
    "MessageSession",
    "PingResponse",
    "SendMessageRequest",
    "SendMessageResponse",
    "SessionPage",
    "SessionStat",
    "SessionSummary",
    "converter",
    "plain_message_page",
]


@attrs.frozen
class MessageSession:
    """A ``MessageSession``: one send and its recipients."""

    id: int
    start_time: str | None = None
    text: str | None = None
    source: str | None = None
    """O (Online), A (API), M (Messenger), E (Email to SMS), X (Distribution lists)."""
    reference_id: str | None = None
    price: float | None = None
    numbers_count: int | None = None
    destination: str | None = None
    """t (text SMS), s (text-to-speech), v (voice broadcast)."""
    initiator_id: int | None = None
    title: str | None = None


@attrs.frozen
class SessionSummary:
    """``MessageOut.session``: the short session embedded in a message."""

    id: int | None = None
    start_time: str | None = None
    text: str | None = None
    price: float | None = None
    numbers_count: int | None = None
    destination: str | None = None
    source: str | None = None
    reference_id: str | None = None
    initiator_id: int | None = None


@attrs.frozen
class MessageSenderSource:
    """``MessageOut.senderSource``: the number or sender ID a message went out from."""

    id: int | None = None
    phone: str | None = None
    type: str | None = None
    country_id: str | None = None
    label: str | None = None
    status: str | None = None
    carrier_status: str | None = None


@attrs.frozen
class MessageOut:
    """A ``MessageOut``: one outbound message of a session."""

    id: int
    message_time: str | None = None
    status: str | None = None
    text: str | None = None
    sender: str | None = None
    receiver: str | None = None
    reject_reason: str | None = None
    contact_id: int | None = None
    session_id: int | None = None
    avatar: str | None = None
    deleted: bool | None = None
    charset: str | None = None
    charset_label: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country: str | None = None
    phone: str | None = None
    price: float | None = None
    parts_count: int | None = None
    from_email: str | None = None
    from_number: str | None = None
    sender_source: MessageSenderSource | None = None
    session: SessionSummary | None = None


@attrs.frozen
class MessageIn:
    """A ``MessageIn``: one inbound message (a reply) from ``/api/v2/replies``."""

    id: int
    sender: str | None = None
    receiver: str | None = None
    message_time: str | None = None
    text: str | None = None
    contact_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    avatar: str | None = None
    email: str | None = None
    contact_user_id: int | None = None
    user_id: int | None = None
    session_id: int | None = None
    """Not in the documented ``MessageIn``; read when an answer carries it."""


@attrs.frozen
class InboundPage:
    """``GetAllInboundMessagesPaginatedResponse``: one page of inbound messages."""

    page: int
    page_count: int
    limit: int
    resources: list[MessageIn]


@attrs.frozen
class SessionPage:
    """``GetAllMessageSessionsPaginatedResponse``: one page of sessions."""

    page: int
    page_count: int
    limit: int
    resources: list[MessageSession]


@attrs.frozen
class MessagePage:
    """``GetMessagesBySessionIdPaginatedResponse``: one page of a session's messages."""

    page: int
    page_count: int
    limit: int
    resources: list[MessageOut]


@attrs.frozen
class SessionStat:
    """``GetMessageSessionStatResponse``: message counts of a session by state."""

    failed: int
    delivered: int
    accepted: int
    rejected: int
    scheduled: int
    all: int
    sent: int


@attrs.frozen
class SendMessageResponse:
    """``SendMessageResponse``: the link answer of ``POST /api/v2/messages``.

    ``type`` is ``message`` (one recipient), ``session`` (several),
    ``schedule`` or ``bulk``; the ids that do not apply are null.
    """

    id: int
    href: str
    type: str
    session_id: int | None = None
    bulk_id: int | None = None
    message_id: int | None = None
    schedule_id: int | None = None
    chat_id: int | None = None


@attrs.frozen
class BulkSession:
    """A ``BulkSession``: a send to more than 1,000 recipients, processed later.

    ``status``: n (new), w (work in progress), f (failed), c (completed),
    s (suspended); ``session`` appears once processing created it.
    """

    id: int
    status: str
    items_processed: int | None = None
    items_total: int | None = None
    created_at: str | None = None
    session: MessageSession | None = None
    text: str | None = None


@attrs.frozen
class BulkPage:
    """``GetAllBulkSessionsPaginatedResponse``: one page of bulk sessions."""

    page: int
    page_count: int
    limit: int
    resources: list[BulkSession]


@attrs.frozen
class PingResponse:
    """``PingResponse``."""

    ping: str
    user_id: int | None = None
    utc_date_time: str | None = None


@attrs.frozen
class SendMessageRequest:
    """The body of ``POST /api/v2/messages`` (``sendMessage_request``)."""

    text: str | None = None
    template_id: int | None = None
    sending_time: int | None = None
    sending_date_time: str | None = None
    sending_timezone: str | None = None
    contacts: str | None = None
    lists: str | None = None
    phones: str | None = None
    cut_extra: bool | None = None
    parts_count: int | None = None
    reference_id: int | None = None
    from_: str | None = None
    rrule: str | None = None
    create_chat: bool | None = None
    tts: bool | None = None
    local: bool | None = None
    local_country: str | None = None
    destination: str | None = None
    resources: str | None = None


@attrs.frozen
class DeleteBulk:
    """The body of the bulk deletes: ``{ids: "1,2,3", all: 0|1}``."""

    ids: str | None = None
    all: int | None = None


def camel(name: str) -> str:
    """``start_time`` -> ``startTime``; ``from_`` -> ``from``."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.capitalize() for part in rest)


def _register(conv: cattrs.Converter, cls: type[Any], *, omit_none: bool = False) -> None:
    # Typed Any: cattrs' stubs do not model per-attribute override keywords.
    renames: dict[str, Any] = {f.name: override(rename=camel(f.name)) for f in attrs.fields(cls)}
    conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **renames))
    unstructure = make_dict_unstructure_fn(cls, conv, **renames)
    if omit_none:
        # Unset optional fields are left out rather than sent as null.
        def without_none(obj: Any) -> dict[str, Any]:
            return {k: v for k, v in unstructure(obj).items() if v is not None}

        conv.register_unstructure_hook(cls, without_none)
    else:
        conv.register_unstructure_hook(cls, unstructure)


def _strict_int(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise ValueError(f"expected a boolean, got {value!r}")


def _loose_str(value: Any, _: Any) -> str:
    # referenceId is an integer in requests but a string in sessions.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(str, _loose_str)
    conv.register_structure_hook(bool, _bool)
    for cls in (
        MessageSession,
        SessionSummary,
        MessageSenderSource,
        MessageOut,
        MessageIn,
        SessionStat,
        SendMessageResponse,
        BulkSession,
        PingResponse,
    ):
        _register(conv, cls)
    for page in (SessionPage, MessagePage, BulkPage, InboundPage):
        _register(conv, page)
    _register(conv, SendMessageRequest, omit_none=True)
    _register(conv, DeleteBulk, omit_none=True)
    return conv


converter = _make_converter()
"""The converter for every TextMagic wire class."""

plain_message_page = plain_check(MessagePage, camel)
"""Whether a decoded ``GetMessagesBySessionIdPaginatedResponse`` is plain (see
:mod:`messaging_hub.wirecheck`): the converter reads it, and each message's
values are those of its ``MessageOut``."""

_SEND_IDS = ("sessionId", "bulkId", "messageId", "scheduleId", "chatId")


def plain_send_response(data: Any) -> SendMessageResponse | None:
    """``data`` read as the converter reads a :class:`SendMessageResponse`
    (the same object), without it; ``None`` where the converter would fail
    (it then reads the answer and says why)."""
    if type(data) is not dict or "id" not in data or "href" not in data or "type" not in data:
        return None
    try:
        ids = [None if (v := data.get(k)) is None else _strict_int(v, int) for k in _SEND_IDS]
        return SendMessageResponse(
            _strict_int(data["id"], int),
            _loose_str(data["href"], str),
            _loose_str(data["type"], str),
            *ids,
        )
    except ValueError:
        return None
