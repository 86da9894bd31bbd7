"""One backend per MongooseIM API: send one chat message, read one archive page.

Each turns its API's records into :class:`Row` objects (a dedupe key, a
stamp in the API's own time unit, the counterpart and the shared
:class:`~messaging_hub.models.Message`), so the adapter pages and groups
the same way whichever API is configured.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from ...datetimes import parse_timestamp
from ...models import (
    Address,
    AddressKind,
    Direction,
    LazyRaw,
    Message,
    MessageKind,
    MessageStatus,
    build_message,
)
from ._common import decode
from .admin_rest import AdminRestAPI
from .client_rest import ClientRestAPI
from .graphql import GraphQLAPI
from .jid import Jid
from .wire import (
    EPOCH,
    AdminMessage,
    ClientMessage,
    StanzaMap,
    StanzasPayload,
    converter,
    from_millis,
    from_seconds,
    plain_admin_messages,
    plain_client_messages,
    plain_stanzas,
    stanza_body,
    stanza_element,
    to_millis,
    to_seconds,
)

__all__ = ["AdminRestBackend", "Backend", "ClientRestBackend", "GraphQLBackend", "Row"]

PROVIDER = "mongooseim"


@attrs.frozen
class Row:
    """One archived message as the adapter pages through it."""

    key: Hashable
    stamp: int
    peer: str | None
    """The counterpart's bare JID, lower-cased; None when the API does not say."""
    message: Message


def bare(jid: str | None) -> str:
    """The bare, lower-cased form of a JID string from the server."""
    return _bare(jid) if jid else ""


# Cached: an archive names the same few JIDs on every message.
@functools.lru_cache(maxsize=512)
def _bare(jid: str) -> str:
    return jid.split("/", 1)[0].lower()


@functools.lru_cache(maxsize=512)
def _jid_address(jid: str) -> Address:
    return Address(jid, AddressKind.JID)


class Backend(Protocol):
    """What the adapter needs from an API."""

    slack: int
    """How far past a page's oldest stamp to ask next (rounded stamps need 1)."""

    async def send(self, to: Jid, text: str) -> tuple[tuple[str, ...], Any]:
        """Send a chat message; the ids the API returned and its raw answer."""
        ...

    async def page(
        self, peer: Jid | None, before: int | None, limit: int
    ) -> tuple[Sequence[Row], bool | None]:
        """Rows (oldest first) stamped at or before ``before``, and whether more may follow.

        True: the page is full. False: that was all. None: the page is short,
        but the API does not say whether the server's ``max_result_limit`` cut it.
        """
        ...


def _message(
    id: str,
    peer: str | None,
    sender: str | None,
    recipient: str | None,
    created_at: datetime,
    text: str | None,
    outbound: bool,
    raw: Any,
) -> Message:
    # Every field in Message's order, filled straight into the slots.
    return build_message(
        id,
        peer or "",
        PROVIDER,
        created_at,
        Direction.OUTBOUND if outbound else Direction.INBOUND,
        _jid_address(sender) if sender else None,
        (_jid_address(recipient),) if recipient else (),
        text or "",
        (),
        MessageStatus.SENT if outbound else MessageStatus.RECEIVED,
        MessageKind.CHAT,
        raw,
    )


def _rest_more(count: int, limit: int) -> bool | None:
    """REST does not say the limit it applied: a short page may be the server's cap."""
    return True if count >= limit else None


class AdminRestBackend:
    """Admin REST: the owner is the ``caller``; stamps are whole (rounded) seconds.

    Its records carry no recipient, so the counterpart of a message the
    owner sent is known only when reading one conversation.
    """

    slack = 1

    def __init__(self, native: AdminRestAPI, owner: Jid) -> None:
        self.native = native
        self.owner = owner

    async def send(self, to: Jid, text: str) -> tuple[tuple[str, ...], Any]:
        await self.native.messages_post(self.owner.bare, str(to), text)
        return (), None

    async def page(
        self, peer: Jid | None, before: int | None, limit: int
    ) -> tuple[Sequence[Row], bool | None]:
        when = None if before is None else from_seconds(before)
        response = await self.native._archive(
            self.owner.bare, None if peer is None else peer.bare, limit, when
        )
        data = response.json()
        rows = self._plain_rows(data, peer) if plain_admin_messages(data) else None
        if rows is None:
            items = response.decode(converter, list[AdminMessage])
            rows = [self._row(item, peer) for item in items]
        return rows, _rest_more(len(rows), limit)

    def _plain_rows(self, items: list[dict[str, Any]], peer: Jid | None) -> list[Row] | None:
        """The rows of plain records; None where a stamp has no datetime (the
        converter then reads the page and says why)."""
        try:
            created = [from_seconds(i["timestamp"]) for i in items]
        except OverflowError:
            return None
        return [
            self._row_of(
                i["sender"],
                i["timestamp"],
                when,
                i.get("message_id"),
                i.get("body"),
                LazyRaw(i, _admin_message),
                peer,
            )
            for i, when in zip(items, created, strict=True)
        ]

    def _row(self, item: AdminMessage, peer: Jid | None) -> Row:
        return self._row_of(
            item.sender,
            to_seconds(item.timestamp),
            item.timestamp,
            item.message_id,
            item.body,
            item,
            peer,
        )

    def _row_of(
        self,
        sender: str,
        stamp: int,
        created: datetime,
        message_id: str | None,
        body: str | None,
        raw: AdminMessage | LazyRaw[AdminMessage],
        peer: Jid | None,
    ) -> Row:
        sender_bare = bare(sender)
        outbound = sender_bare == self.owner.key
        other = peer.key if peer is not None else (None if outbound else sender_bare)
        message = _message(
            message_id or f"{stamp}:{sender}",
            other,
            sender,
            other if outbound else self.owner.bare,
            created,
            body,
            outbound,
            raw,
        )
        return Row((message_id, stamp, sender, body), stamp, other, message)


class ClientRestBackend:
    """Client REST: the authenticated user is the owner; stamps are milliseconds."""

    slack = 1  # stamps are rounded down: a message shown at t may lie up to 1 ms later

    def __init__(self, native: ClientRestAPI, owner: Jid) -> None:
        self.native = native
        self.owner = owner

    async def send(self, to: Jid, text: str) -> tuple[tuple[str, ...], Any]:
        sent = await self.native.send_message(str(to), text)
        return (sent.id,), sent

    async def page(
        self, peer: Jid | None, before: int | None, limit: int
    ) -> tuple[Sequence[Row], bool | None]:
        when = None if before is None else from_millis(before)
        response = await self.native._archive(None if peer is None else peer.bare, limit, when)
        data = response.json()
        rows = self._plain_rows(data) if plain_client_messages(data) else None
        if rows is None:
            items = response.decode(converter, list[ClientMessage])
            rows = [self._row(item) for item in items]
        return rows, _rest_more(len(rows), limit)

    def _plain_rows(self, items: list[dict[str, Any]]) -> list[Row] | None:
        """The rows of plain records; None where a stamp has no datetime (the
        converter then reads the page and says why)."""
        try:
            created = [from_millis(i["timestamp"]) for i in items]
        except OverflowError:
            return None
        return [
            self._row_of(
                i["from"],
                i["to"],
                i["timestamp"],
                when,
                i.get("id"),
                i.get("body"),
                LazyRaw(i, _client_message),
            )
            for i, when in zip(items, created, strict=True)
        ]

    def _row(self, item: ClientMessage) -> Row:
        return self._row_of(
            item.from_, item.to, to_millis(item.timestamp), item.timestamp, item.id, item.body, item
        )

    def _row_of(
        self,
        sender: str,
        to: str,
        stamp: int,
        created: datetime,
        message_id: str | None,
        body: str | None,
        raw: ClientMessage | LazyRaw[ClientMessage],
    ) -> Row:
        outbound = bare(sender) == self.owner.key
        other = bare(to if outbound else sender)
        message = _message(
            message_id or f"{stamp}:{sender}",
            other,
            sender,
            to,
            created,
            body,
            outbound,
            raw,
        )
        return Row((message_id, stamp, sender, to, body), stamp, other, message)


class GraphQLBackend:
    """GraphQL, as the user (``role="user"``) or as an admin acting for the owner.

    Stamps are exact microseconds and ``stanza_id`` is the archive id, so a
    message is recognised exactly.
    """

    slack = 0

    def __init__(self, native: GraphQLAPI, owner: Jid, *, admin: bool) -> None:
        self.native = native
        self.owner = owner
        self.admin = admin

    async def send(self, to: Jid, text: str) -> tuple[tuple[str, ...], Any]:
        if self.admin:
            sent = await self.native.admin_send_message(self.owner.bare, str(to), text)
        else:
            sent = await self.native.send_message(str(to), text)
        return ((sent.id,) if sent.id else ()), sent

    async def page(
        self, peer: Jid | None, before: int | None, limit: int
    ) -> tuple[Sequence[Row], bool | None]:
        when = None if before is None else EPOCH + timedelta(microseconds=before)
        value = await self.native._last_messages(
            self.owner.bare if self.admin else None,
            None if peer is None else peer.bare,
            limit,
            when,
        )
        rows = self._plain_rows(value) if plain_stanzas(value) else None
        if rows is None:
            payload = decode(value, StanzasPayload, 200)
            listed: list[Any] = payload.stanzas or []
            applied = payload.limit
            rows = [self._row(item) for item in listed if item is not None]
        else:
            listed = value.get("stanzas") or []
            applied = value.get("limit")
        # ``limit`` in the answer is what the server applied (after max_result_limit).
        # A stanza nulled by a field error still counts: the page was that long.
        applied = applied if applied else limit
        return rows, len(listed) >= min(applied, limit)

    def _plain_rows(self, payload: dict[str, Any]) -> list[Row] | None:
        """The rows of a plain payload; None where a timestamp is not a
        DateTime (the converter then reads the payload and says why)."""
        items = [i for i in payload.get("stanzas") or () if i is not None]
        try:
            created = [
                None if (t := i.get("timestamp")) is None else parse_timestamp(t) for i in items
            ]
        except (ValueError, OverflowError):
            return None
        return [
            self._row_of(
                i.get("sender"), when, i.get("stanza_id"), i.get("stanza"), LazyRaw(i, _stanza)
            )
            for i, when in zip(items, created, strict=True)
        ]

    def _row(self, item: StanzaMap) -> Row:
        return self._row_of(item.sender, item.timestamp, item.stanza_id, item.stanza, item)

    def _row_of(
        self,
        sender: str | None,
        created: datetime | None,
        stanza_id: str | None,
        stanza: str | None,
        raw: StanzaMap | LazyRaw[StanzaMap],
    ) -> Row:
        created = created or EPOCH
        stamp = (created - EPOCH) // timedelta(microseconds=1)
        outbound = bare(sender) == self.owner.key
        element = stanza_element(stanza)  # parsed once for its "to" and body
        to = None if element is None else element.get("to")
        other = bare(to if outbound else sender) or None
        message = _message(
            stanza_id or f"{stamp}:{sender}",
            other,
            sender,
            to,
            created,
            stanza_body(element),
            outbound,
            raw,
        )
        key = stanza_id or (stamp, sender, stanza)
        return Row(key, stamp, other, message)


def _admin_message(data: Any) -> AdminMessage:
    return converter.structure(data, AdminMessage)


def _client_message(data: Any) -> ClientMessage:
    return converter.structure(data, ClientMessage)


def _stanza(data: Any) -> StanzaMap:
    return converter.structure(data, StanzaMap)
