"""Shared helpers of the MongooseIM adapter tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from messaging_hub.testing._server import RecordedRequest
from messaging_hub.testing.mongooseim import Api

APIS: tuple[Api, ...] = ("admin-rest", "client-rest", "graphql")
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def reads(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    """The archive reads among ``requests`` (REST GETs, GraphQL queries)."""

    def is_read(r: RecordedRequest) -> bool:
        if r.path.endswith("/graphql"):
            return "getLastMessages" in r.json()["query"]
        return r.method == "GET" and "/messages" in r.path

    return [r for r in requests if is_read(r)]


def before_sent(request: RecordedRequest) -> Any:
    """The ``before`` a read carried: a query string on REST, a variable on GraphQL."""
    if request.method == "GET":
        return request.query.get("before")
    return json.loads(request.body)["variables"].get("before")


async def native_read(
    native: object,
    owner: str,
    with_: str | None = None,
    *,
    limit: int | None = None,
    before: datetime | None = None,
) -> list[str | None]:
    """Read through whichever native client ``native`` is; the bodies, oldest first."""
    from messaging_hub.adapters.mongooseim import AdminRestAPI, ClientRestAPI, GraphQLAPI

    if isinstance(native, AdminRestAPI):
        if with_ is None:
            admin = await native.messages_owner_get(owner, limit=limit, before=before)
        else:
            admin = await native.messages_owner_with_get(owner, with_, limit=limit, before=before)
        return [r.body for r in admin]
    if isinstance(native, ClientRestAPI):
        if with_ is None:
            client = await native.get_messages(limit=limit, before=before)
        else:
            client = await native.get_messages_with(with_, limit=limit, before=before)
        return [r.body for r in client]
    assert isinstance(native, GraphQLAPI)
    payload = await native.get_last_messages(with_, limit, before)
    return [s.body for s in payload.stanzas or [] if s is not None]
