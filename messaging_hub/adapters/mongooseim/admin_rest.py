"""The native client of MongooseIM's admin REST API (6.5.0, removed in 6.6.0).

One method per documented one-to-one messages operation, named after the
method and path. Times on this API are whole Unix seconds; ``before`` is
sent rounded down to the second and is inclusive on the server.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

from ...transport import Response, Transport, path
from ._common import check_before, check_body, check_limit
from .jid import parse_jid
from .wire import AdminMessage, converter, to_seconds

__all__ = ["AdminRestAPI"]


class AdminRestAPI:
    """``/api/messages`` of the admin REST API (default ``http://localhost:8088/api``)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def messages_post(self, caller: str, to: str, body: str) -> None:
        """``POST /messages``: send a chat message from ``caller`` to ``to`` (204)."""
        payload = {
            "caller": str(parse_jid(caller, field="caller")),
            "to": str(parse_jid(to, field="to")),
            "body": check_body(body),
        }
        await self.transport.request("POST", "/messages", json_body=payload, idempotent=False)

    async def messages_owner_get(
        self, owner: str, *, limit: int | None = None, before: datetime | None = None
    ) -> list[AdminMessage]:
        """``GET /messages/{owner}``: the owner's last messages, oldest first."""
        response = await self._archive(owner, None, limit, before)
        return response.decode(converter, list[AdminMessage])

    async def messages_owner_with_get(
        self,
        owner: str,
        with_: str,
        *,
        limit: int | None = None,
        before: datetime | None = None,
    ) -> list[AdminMessage]:
        """``GET /messages/{owner}/{with}``: the last messages exchanged with one contact."""
        response = await self._archive(owner, with_, limit, before)
        return response.decode(converter, list[AdminMessage])

    def _archive(
        self, owner: str, with_: str | None, limit: int | None, before: datetime | None
    ) -> Awaitable[Response]:
        """The answer of one of the two GETs above (``with_`` picks which), undecoded."""
        jid = str(parse_jid(owner, field="owner"))
        if with_ is None:
            url = path("/messages/{owner}", owner=jid)
        else:
            url = path(
                "/messages/{owner}/{with_}", owner=jid, with_=str(parse_jid(with_, field="with"))
            )
        checked = check_before(before)
        params = {
            "limit": check_limit(limit),
            "before": None if checked is None else to_seconds(checked),
        }
        return self.transport.request("GET", url, params=params)

    def __repr__(self) -> str:
        return f"AdminRestAPI(base_url={str(self.transport.base_url)!r})"
