"""The native client of MongooseIM's GraphQL API: the ``stanza`` category.

User methods go to the user endpoint (``:5561/api/graphql``, Basic
``user@host:password``); ``admin_*`` methods to an admin endpoint
(``:5551`` global or ``:5541`` domain admin). Documents are constants and
every user input travels in ``variables``, never inside the query text.
Reads are POSTs too, so they are marked idempotent for the transport to
retry them; mutations are not.

A resolver error comes back with **HTTP 200** and an ``errors`` list: the
transport sees success, so every answer is checked here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, TypeVar, cast

from ... import errors
from ...errors import MalformedResponse
from ...transport import Transport
from ._common import check_before, check_body, check_limit, decode
from .errors import raise_graphql_errors
from .jid import parse_jid
from .wire import SendStanzaPayload, StanzasPayload, format_datetime

__all__ = ["GraphQLAPI"]

PROVIDER = "mongooseim"
log = logging.getLogger("messaging_hub.adapters.mongooseim")
T = TypeVar("T")

_STANZAS = "stanzas { sender timestamp stanza_id stanza } limit"

SEND_MESSAGE = (
    "mutation SendMessage($from: JID, $to: JID!, $body: String!) "
    "{ stanza { sendMessage(from: $from, to: $to, body: $body) { id } } }"
)
GET_LAST_MESSAGES = (
    "query GetLastMessages($with: JID, $limit: PosInt, $before: DateTime) "
    "{ stanza { getLastMessages(with: $with, limit: $limit, before: $before) "
    f"{{ {_STANZAS} }} }} }}"
)
ADMIN_SEND_MESSAGE = (
    "mutation AdminSendMessage($from: JID!, $to: JID!, $body: String!) "
    "{ stanza { sendMessage(from: $from, to: $to, body: $body) { id } } }"
)
ADMIN_GET_LAST_MESSAGES = (
    "query AdminGetLastMessages($caller: JID!, $with: JID, $limit: PosInt, $before: DateTime) "
    "{ stanza { getLastMessages(caller: $caller, with: $with, limit: $limit, before: $before) "
    f"{{ {_STANZAS} }} }} }}"
)


def _jid(value: str | None, field: str) -> str | None:
    return None if value is None else str(parse_jid(value, field=field))


class GraphQLAPI:
    """``stanza.sendMessage`` and ``stanza.getLastMessages``, user and admin variants."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        # The endpoint is the base URL itself (no trailing slash): pass it whole.
        self.endpoint = str(transport.base_url)

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        idempotent: bool = False,
    ) -> Any:
        """POST a document; returns ``data``, raising the typed error for ``errors``."""
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name is not None:
            body["operationName"] = operation_name
        response = await self.transport.request(
            "POST", self.endpoint, json_body=body, idempotent=idempotent
        )
        data = response.json()
        if not isinstance(data, dict):
            raise MalformedResponse(
                "a GraphQL answer must be an object", provider=PROVIDER, status=response.status
            )
        result = data.get("data")
        if data.get("errors"):
            stanza = result.get("stanza") if isinstance(result, dict) else None
            if not isinstance(stanza, dict) or any(v is None for v in stanza.values()):
                try:
                    raise_graphql_errors(data, response.status)
                except errors.MessagingError as exc:
                    # Resolver messages are the server's text: scrub it of secrets.
                    raise self.transport.scrub_error(exc) from None
            log.warning(
                "MongooseIM GraphQL answered data with errors: %s",
                self.transport.scrubber.data(data["errors"]),
            )
        return result

    async def _field(
        self,
        query: str,
        name: str,
        field: str,
        variables: dict[str, Any],
        cls: type[T],
        *,
        idempotent: bool,
    ) -> T:
        value = await self._field_value(query, name, field, variables, idempotent=idempotent)
        if cls is SendStanzaPayload and type(value) is dict:
            sent = value.get("id")
            if sent is None or type(sent) is str:
                # What the converter makes of the usual answer, without it.
                return cast(T, SendStanzaPayload(sent))
        return decode(value, cls, 200)

    async def _field_value(
        self, query: str, name: str, field: str, variables: dict[str, Any], *, idempotent: bool
    ) -> Any:
        """``data.stanza.<field>`` of the answer as decoded JSON (not null)."""
        data = await self.execute(query, variables, operation_name=name, idempotent=idempotent)
        try:
            value = data["stanza"][field]
        except (TypeError, KeyError):
            raise MalformedResponse(
                f"the answer has no data.stanza.{field}", provider=PROVIDER, status=200
            ) from None
        if value is None:
            raise MalformedResponse(
                f"data.stanza.{field} is null without an error", provider=PROVIDER, status=200
            )
        return value

    # -- user schema --------------------------------------------------------
    async def send_message(
        self, to: str, body: str, *, from_: str | None = None
    ) -> SendStanzaPayload:
        """``stanza.sendMessage(from?, to, body)`` as the authenticated user."""
        variables = {"from": _jid(from_, "from"), "to": _jid(to, "to"), "body": check_body(body)}
        return await self._field(
            SEND_MESSAGE,
            "SendMessage",
            "sendMessage",
            _drop_none(variables),
            SendStanzaPayload,
            idempotent=False,
        )

    async def get_last_messages(
        self,
        with_: str | None = None,
        limit: int | None = None,
        before: datetime | None = None,
    ) -> StanzasPayload:
        """``stanza.getLastMessages(with?, limit?, before?)``: the user's archive, oldest first."""
        return decode(await self._last_messages(None, with_, limit, before), StanzasPayload, 200)

    # -- admin schema -------------------------------------------------------
    async def admin_send_message(self, from_: str, to: str, body: str) -> SendStanzaPayload:
        """Admin ``stanza.sendMessage(from, to, body)``: send on a user's behalf."""
        variables = {"from": _jid(from_, "from"), "to": _jid(to, "to"), "body": check_body(body)}
        return await self._field(
            ADMIN_SEND_MESSAGE,
            "AdminSendMessage",
            "sendMessage",
            variables,
            SendStanzaPayload,
            idempotent=False,
        )

    async def admin_get_last_messages(
        self,
        caller: str,
        with_: str | None = None,
        limit: int | None = None,
        before: datetime | None = None,
    ) -> StanzasPayload:
        """Admin ``stanza.getLastMessages(caller, with?, limit?, before?)``."""
        return decode(await self._last_messages(caller, with_, limit, before), StanzasPayload, 200)

    async def _last_messages(
        self,
        caller: str | None,
        with_: str | None,
        limit: int | None,
        before: datetime | None,
    ) -> Any:
        """The ``StanzasPayload`` of :meth:`admin_get_last_messages` (a ``caller``)
        or :meth:`get_last_messages` (none) as decoded JSON."""
        variables = {
            "caller": None if caller is None else _jid(caller, "caller"),
            "with": _jid(with_, "with"),
            "limit": check_limit(limit),
            "before": _datetime(before),
        }
        if caller is None:
            query, name = GET_LAST_MESSAGES, "GetLastMessages"
        else:
            query, name = ADMIN_GET_LAST_MESSAGES, "AdminGetLastMessages"
        return await self._field_value(
            query, name, "getLastMessages", _drop_none(variables), idempotent=True
        )

    def __repr__(self) -> str:
        return f"GraphQLAPI(base_url={str(self.transport.base_url)!r})"


def _datetime(value: datetime | None) -> str | None:
    checked = check_before(value)
    return None if checked is None else format_datetime(checked)


def _drop_none(variables: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in variables.items() if v is not None}
