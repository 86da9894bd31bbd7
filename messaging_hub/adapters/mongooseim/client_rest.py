"""The native client of MongooseIM's client REST API (6.5.0, removed in 6.6.0).

The user authenticates with Basic ``user@host:password`` and acts as
themselves. Times on this API are Unix milliseconds; ``before`` is sent
rounded down to the millisecond and is inclusive on the server.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

from ...transport import Response, Transport, path
from ._common import check_before, check_body, check_limit
from .jid import parse_jid
from .wire import ClientMessage, SentMessage, converter, to_millis

__all__ = ["ClientRestAPI"]


class ClientRestAPI:
    """``/messages`` of the client REST API (default ``http://localhost:8089/api``)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def send_message(self, to: str, body: str) -> SentMessage:
        """``POST /messages``: send a chat message; returns its id."""
        payload = {"to": str(parse_jid(to, field="to")), "body": check_body(body)}
        response = await self.transport.request(
            "POST", "/messages", json_body=payload, idempotent=False
        )
        return response.decode(converter, SentMessage)

    async def get_messages(
        self, *, limit: int | None = None, before: datetime | None = None
    ) -> list[ClientMessage]:
        """``GET /messages``: the user's recent messages with anyone, oldest first."""
        response = await self._archive(None, limit, before)
        return response.decode(converter, list[ClientMessage])

    async def get_messages_with(
        self, with_: str, *, limit: int | None = None, before: datetime | None = None
    ) -> list[ClientMessage]:
        """``GET /messages/{with}``: the recent messages exchanged with one user."""
        response = await self._archive(with_, limit, before)
        return response.decode(converter, list[ClientMessage])

    def _archive(
        self, with_: str | None, limit: int | None, before: datetime | None
    ) -> Awaitable[Response]:
        """The answer of one of the two GETs above (``with_`` picks which), undecoded."""
        if with_ is None:
            url = "/messages"
        else:
            url = path("/messages/{with_}", with_=str(parse_jid(with_, field="with")))
        checked = check_before(before)
        params = {
            "limit": check_limit(limit),
            "before": None if checked is None else to_millis(checked),
        }
        return self.transport.request("GET", url, params=params)

    def __repr__(self) -> str:
        return f"ClientRestAPI(base_url={str(self.transport.base_url)!r})"
