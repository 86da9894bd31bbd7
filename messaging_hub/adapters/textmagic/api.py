"""The native TextMagic REST v2 client: one method per documented operation.

Method names are the spec's operation ids in snake_case; parameters are
the spec's names in snake_case (``from`` is ``from_``, also accepted as
``sender``). Ids are checked to be numeric and percent-encoded into paths;
``limit`` must be 1..100 (the server silently turns anything else into 10,
so it is refused here, before any I/O).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import attrs
from multidict import CIMultiDictProxy

from ...errors import InvalidRequest
from ...transport import ErrorInfo, Response, Transport, path
from ...transport.body import loads_or_none
from .wire import (
    BulkPage,
    BulkSession,
    DeleteBulk,
    InboundPage,
    MessageIn,
    MessageOut,
    MessagePage,
    MessageSession,
    PingResponse,
    SendMessageRequest,
    SendMessageResponse,
    SessionPage,
    SessionStat,
    converter,
    plain_message_page,
    plain_send_response,
)

__all__ = [
    "E164_DIGITS",
    "MAX_PAGE_SIZE",
    "STATUS_LETTERS",
    "BulkAccepted",
    "TextMagicAPI",
    "check_id",
    "parse_error",
]

REPLY_SESSION_PREFIX = "phone-"
"""Conversation ids of inbound replies, which TextMagic ties to no session:
``phone-<sender's digits>`` (see the adapter's push module)."""

PROVIDER = "textmagic"
MAX_PAGE_SIZE = 100
"""The largest ``limit`` the server honours ("Restrictions and Limits")."""
MAX_PARTS = 6
"""``partsCount``: "Textmagic allows sending 1 to 6 message parts"."""
STATUS_LETTERS = frozenset("qseradbfujiph")
INBOUND_ORDER_FIELDS = frozenset(
    {"id", "sender", "receiver", "messageTime", "firstName", "lastName"}
)
"""Sort keys ``GET /api/v2/replies`` accepts in ``orderBy``."""
"""The ``statuses`` enum of the spec."""

_ID = re.compile(r"^[0-9]{1,18}\Z")
E164_DIGITS = re.compile(r"^\+?[1-9][0-9]{6,14}\Z")
"""A phone number as TextMagic takes it: E.164, the leading + optional."""

T = TypeVar("T")


@attrs.frozen
class BulkAccepted:
    """``202 Accepted`` with no body: a send to more than 1,000 recipients was
    queued as a bulk session; find it with :meth:`TextMagicAPI.get_all_bulk_sessions`."""

    status: int = 202


def check_id(value: object, field: str = "id") -> str:
    """``value`` as a decimal id string, or InvalidRequest (TextMagic ids are integers)."""
    if isinstance(value, bool):
        raise InvalidRequest(
            f"{value!r} is not a TextMagic {field}", field=field, provider=PROVIDER
        )
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and _ID.match(value):
        return value
    raise InvalidRequest(
        f"{value!r} is not a TextMagic {field} (a decimal number)", field=field, provider=PROVIDER
    )


def _page_args(page: int | None, limit: int | None) -> dict[str, int | None]:
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise InvalidRequest("page must be an int >= 1", field="page", provider=PROVIDER)
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE
    ):
        # The server would silently use 10 instead: refuse rather than mislead.
        raise InvalidRequest(
            f"limit must be an int in 1..{MAX_PAGE_SIZE}", field="limit", provider=PROVIDER
        )
    return {"page": page, "limit": limit}


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def _csv(value: str | Iterable[str | int] | None, field: str) -> str | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    items = [item.strip() for item in items]
    if not items or any(not item for item in items):
        raise InvalidRequest(f"{field} must not have empty items", field=field, provider=PROVIDER)
    return ",".join(items)


def _statuses(value: str | Iterable[str] | None) -> str | None:
    joined = _csv(value, "statuses")
    if joined is not None and not set(joined.split(",")) <= STATUS_LETTERS:
        raise InvalidRequest(
            f"statuses must be among {', '.join(sorted(STATUS_LETTERS))}",
            field="statuses",
            provider=PROVIDER,
        )
    return joined


def _phones(value: str | Iterable[str] | None, local: bool | None) -> str | None:
    joined = _csv(value, "phones")
    if joined is None or local:
        return joined
    numbers = [n.lstrip("+") for n in joined.split(",")]
    bad = [n for n in numbers if not E164_DIGITS.match(n)]
    if bad:
        raise InvalidRequest(
            f"{bad[0]!r} is not an E.164 number (TextMagic takes no local formats)",
            field="phones",
            provider=PROVIDER,
        )
    return ",".join(numbers)


def parse_error(status: int, body: bytes, headers: CIMultiDictProxy[str]) -> ErrorInfo:
    """Read TextMagic's ``{code, message, errors: {common, fields}}`` error body."""
    data = loads_or_none(body)
    if data is None:
        return ErrorInfo()
    if not isinstance(data, dict):
        return ErrorInfo(message=data if isinstance(data, str) else None)
    code = data.get("code")
    message = data.get("message")
    message = str(message) if message is not None else None
    errors = data.get("errors")
    fields: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        common = [str(c) for c in errors.get("common") or [] if c]
        if common:
            message = f"{message}: {'; '.join(common)}" if message else "; ".join(common)
        raw_fields = errors.get("fields")
        if isinstance(raw_fields, dict):
            for name, texts in raw_fields.items():
                listed = texts if isinstance(texts, list) else [texts]
                fields[str(name)] = [str(t) for t in listed]
    return ErrorInfo(
        code=None if code is None else str(code),
        message=message,
        details=data,
        field_errors=fields or None,
    )


class TextMagicAPI:
    """Every documented TextMagic v2 operation on sessions, messages and bulks."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _get(self, url: str, cls: type[T], params: dict[str, Any] | None = None) -> T:
        response = await self.transport.request("GET", url, params=params)
        return response.decode(converter, cls)

    # -- account --------------------------------------------------------------
    async def ping(self) -> PingResponse:
        """Check the credentials and the connection (``GET /api/v2/ping``)."""
        return await self._get("/api/v2/ping", PingResponse)

    # -- sending ----------------------------------------------------------------
    async def send_message(
        self,
        *,
        text: str | None = None,
        template_id: int | None = None,
        sending_time: int | None = None,
        sending_date_time: str | None = None,
        sending_timezone: str | None = None,
        contacts: str | Iterable[int | str] | None = None,
        lists: str | Iterable[int | str] | None = None,
        phones: str | Iterable[str] | None = None,
        cut_extra: bool | None = None,
        parts_count: int | None = None,
        reference_id: int | None = None,
        from_: str | None = None,
        sender: str | None = None,
        rrule: str | None = None,
        create_chat: bool | None = None,
        tts: bool | None = None,
        local: bool | None = None,
        local_country: str | None = None,
        destination: str | None = None,
        resources: str | None = None,
    ) -> SendMessageResponse | BulkAccepted:
        """Send a message (``POST /api/v2/messages``).

        Returns the link response (201), or :class:`BulkAccepted` when the
        server queued a bulk session and answered 202 with no body.
        Not retried on failures after the request may have been sent.
        """
        if text is None and template_id is None:
            raise InvalidRequest("give text or template_id", field="text", provider=PROVIDER)
        if contacts is None and lists is None and phones is None:
            raise InvalidRequest(
                "give phones, contacts or lists", field="phones", provider=PROVIDER
            )
        if from_ is not None and sender is not None and from_ != sender:
            raise InvalidRequest("from_ and sender disagree", field="from", provider=PROVIDER)
        if parts_count is not None and (
            isinstance(parts_count, bool) or not 1 <= parts_count <= MAX_PARTS
        ):
            raise InvalidRequest(
                f"parts_count must be 1..{MAX_PARTS}", field="parts_count", provider=PROVIDER
            )
        if destination is not None and destination not in ("mms", "tts"):
            raise InvalidRequest(
                "destination must be 'mms' or 'tts'", field="destination", provider=PROVIDER
            )
        body = SendMessageRequest(
            text=text,
            template_id=template_id,
            sending_time=sending_time,
            sending_date_time=sending_date_time,
            sending_timezone=sending_timezone,
            contacts=_csv(contacts, "contacts"),
            lists=_csv(lists, "lists"),
            phones=_phones(phones, local),
            cut_extra=cut_extra,
            parts_count=parts_count,
            reference_id=reference_id,
            from_=from_ if from_ is not None else sender,
            rrule=rrule,
            create_chat=create_chat,
            tts=tts,
            local=local,
            local_country=local_country,
            destination=destination,
            resources=resources,
        )
        return await self._post_message(converter.unstructure(body))

    async def _post_message(self, body: dict[str, Any]) -> SendMessageResponse | BulkAccepted:
        """``POST /api/v2/messages`` with ``body`` as it goes on the wire
        (:meth:`send_message` builds it; the adapter builds its own, from
        numbers it has checked, without the converter's round trips)."""
        response = await self.transport.request(
            "POST", "/api/v2/messages", json_body=body, idempotent=False
        )
        if response.status == 202 and not response.body.strip():
            return BulkAccepted()
        plain = plain_send_response(response.json())
        return plain if plain is not None else response.decode(converter, SendMessageResponse)

    # -- sessions ----------------------------------------------------------------
    async def get_all_message_sessions(
        self, *, page: int | None = None, limit: int | None = None
    ) -> SessionPage:
        """One page of all message sessions (``GET /api/v2/sessions``)."""
        return await self._get("/api/v2/sessions", SessionPage, _page_args(page, limit))

    async def get_message_session(self, id: int | str) -> MessageSession:
        """One session's details (``GET /api/v2/sessions/{id}``)."""
        url = path("/api/v2/sessions/{id}", id=check_id(id, "session_id"))
        return await self._get(url, MessageSession)

    async def get_message_session_stat(
        self, id: int | str, *, include_deleted: bool | None = None
    ) -> SessionStat:
        """A session's message counts by state (``GET /api/v2/sessions/{id}/stat``)."""
        url = path("/api/v2/sessions/{id}/stat", id=check_id(id, "session_id"))
        return await self._get(url, SessionStat, {"includeDeleted": _flag(include_deleted)})

    async def get_messages_by_session_id(
        self,
        id: int | str,
        *,
        page: int | None = None,
        limit: int | None = None,
        statuses: str | Iterable[str] | None = None,
        include_deleted: bool | None = None,
    ) -> MessagePage:
        """One page of a session's messages (``GET /api/v2/sessions/{id}/messages``)."""
        response = await self._session_messages(id, page, limit, statuses, include_deleted)
        return response.decode(converter, MessagePage)

    def _session_messages(
        self,
        id: int | str,
        page: int | None,
        limit: int | None,
        statuses: str | Iterable[str] | None,
        include_deleted: bool | None,
    ) -> Awaitable[Response]:
        """The answer of :meth:`get_messages_by_session_id`, undecoded."""
        url = path("/api/v2/sessions/{id}/messages", id=check_id(id, "session_id"))
        params = _page_args(page, limit) | {
            "statuses": _statuses(statuses),
            "includeDeleted": _flag(include_deleted),
        }
        return self.transport.request("GET", url, params=params)

    async def _session_message_records(
        self,
        id: int | str,
        *,
        page: int,
        limit: int,
        statuses: list[str] | None,
        include_deleted: bool | None,
    ) -> tuple[list[dict[str, Any]] | list[MessageOut], int, int]:
        """:meth:`get_messages_by_session_id` for a history walk: the page's
        messages as the decoded JSON objects when ``plain_message_page``
        accepts the page (the walk maps them itself), else as the converter
        reads them (with its errors); and the page's ``page`` and ``pageCount``."""
        response = await self._session_messages(id, page, limit, statuses, include_deleted)
        data = response.json()
        if plain_message_page(data):
            return data["resources"], data["page"], data["pageCount"]
        answer = response.decode(converter, MessagePage)
        return answer.resources, answer.page, answer.page_count

    async def delete_message_session(self, id: int | str) -> None:
        """Delete a session and its messages (``DELETE /api/v2/sessions/{id}``, 204)."""
        url = path("/api/v2/sessions/{id}", id=check_id(id, "session_id"))
        await self.transport.request("DELETE", url)

    async def delete_message_sessions_bulk(
        self, *, ids: Iterable[int | str] | str | None = None, all: bool = False
    ) -> None:
        """Delete several sessions, or all of them (``POST /api/v2/sessions/delete``, 204)."""
        joined = None
        if ids is not None:
            items = ids.split(",") if isinstance(ids, str) else list(ids)
            if not items:
                raise InvalidRequest("ids must not be empty", field="ids", provider=PROVIDER)
            joined = ",".join(
                check_id(i.strip() if isinstance(i, str) else i, "ids") for i in items
            )
        if joined is None and not all:
            raise InvalidRequest("give ids or all=True", field="ids", provider=PROVIDER)
        body = DeleteBulk(ids=joined, all=1 if all else 0)
        # Deleting the same ids twice leaves the same state: safe to retry.
        await self.transport.request(
            "POST",
            "/api/v2/sessions/delete",
            json_body=converter.unstructure(body),
            idempotent=True,
        )

    # -- bulk sessions -------------------------------------------------------------
    async def get_all_bulk_sessions(
        self, *, page: int | None = None, limit: int | None = None
    ) -> BulkPage:
        """One page of bulk sessions (``GET /api/v2/bulks``)."""
        return await self._get("/api/v2/bulks", BulkPage, _page_args(page, limit))

    async def get_bulk_session(self, id: int | str) -> BulkSession:
        """A bulk session's progress (``GET /api/v2/bulks/{id}``)."""
        url = path("/api/v2/bulks/{id}", id=check_id(id, "bulk_id"))
        return await self._get(url, BulkSession)

    # -- inbound messages (replies) --------------------------------------------
    async def get_all_inbound_messages(
        self,
        *,
        page: int | None = None,
        limit: int | None = None,
        order_by: str | None = None,
        direction: str | None = None,
    ) -> InboundPage:
        """One page of received messages (``GET /api/v2/replies``).

        Not in the trimmed sessions spec but in TextMagic's full API: replies
        are not part of any session, so a bot reads them here, e.g. newest
        first with ``order_by="id", direction="desc"``.
        """
        if order_by is not None and order_by not in INBOUND_ORDER_FIELDS:
            raise InvalidRequest(
                f"order_by must be one of {', '.join(sorted(INBOUND_ORDER_FIELDS))}",
                field="order_by",
                provider=PROVIDER,
            )
        if direction is not None and direction not in ("asc", "desc"):
            raise InvalidRequest("direction must be asc or desc", field="direction",
                                 provider=PROVIDER)  # fmt: skip
        params = _page_args(page, limit) | {"orderBy": order_by, "direction": direction}
        return await self._get("/api/v2/replies", InboundPage, params)

    async def get_inbound_message(self, id: int | str) -> MessageIn:
        """One received message (``GET /api/v2/replies/{id}``)."""
        url = path("/api/v2/replies/{id}", id=check_id(id, "id"))
        return await self._get(url, MessageIn)

    async def delete_inbound_message(self, id: int | str) -> None:
        """Delete one received message (``DELETE /api/v2/replies/{id}``, 204)."""
        url = path("/api/v2/replies/{id}", id=check_id(id, "id"))
        await self.transport.request("DELETE", url)

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()

    def __repr__(self) -> str:
        return f"TextMagicAPI({self.transport!r})"
