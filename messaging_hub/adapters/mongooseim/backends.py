"""One backend per MongooseIM API: send one chat message, read one archive page.

Each turns its API's records into :class:`Row` objects (a dedupe key, a
stamp in the API's own time unit, the counterpart and the shared
:class:`~messaging_hub.models.Message`), so the adapter pages and groups
the same way whichever API is configured.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from ...models import Address, AddressKind, Direction, Message, MessageKind, MessageStatus
from .admin_rest import AdminRestAPI
from .client_rest import ClientRestAPI
from .graphql import GraphQLAPI
from .jid import Jid
from .wire import (
    EPOCH,
    AdminMessage,
    ClientMessage,
    StanzaMap,
    from_millis,
    from_seconds,
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
    return (jid or "").split("/", 1)[0].lower()


def _address(jid: str | None) -> tuple[Address, ...]:
    return (Address(jid, AddressKind.JID),) if jid else ()


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
    owner: Jid,
    *,
    id: str,
    peer: str | None,
    sender: str | None,
    recipient: str | None,
    created_at: datetime,
    text: str | None,
    raw: Any,
) -> Message:
    outbound = bare(sender) == owner.key
    return Message(
        id=id,
        session_id=peer or "",
        provider=PROVIDER,
        created_at=created_at,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        sender=Address(sender, AddressKind.JID) if sender else None,
        recipients=_address(recipient),
        text=text or "",
        status=MessageStatus.SENT if outbound else MessageStatus.RECEIVED,
        kind=MessageKind.CHAT,
        raw=raw,
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
        if peer is None:
            items = await self.native.messages_owner_get(self.owner.bare, limit=limit, before=when)
        else:
            items = await self.native.messages_owner_with_get(
                self.owner.bare, peer.bare, limit=limit, before=when
            )
        return [self._row(item, peer) for item in items], _rest_more(len(items), limit)

    def _row(self, item: AdminMessage, peer: Jid | None) -> Row:
        stamp = to_seconds(item.timestamp)
        outbound = bare(item.sender) == self.owner.key
        other = peer.key if peer is not None else (None if outbound else bare(item.sender))
        message = _message(
            self.owner,
            id=item.message_id or f"{stamp}:{item.sender}",
            peer=other,
            sender=item.sender,
            recipient=other if outbound else self.owner.bare,
            created_at=item.timestamp,
            text=item.body,
            raw=item,
        )
        return Row((item.message_id, stamp, item.sender, item.body), stamp, other, message)


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
        if peer is None:
            items = await self.native.get_messages(limit=limit, before=when)
        else:
            items = await self.native.get_messages_with(peer.bare, limit=limit, before=when)
        return [self._row(item) for item in items], _rest_more(len(items), limit)

    def _row(self, item: ClientMessage) -> Row:
        stamp = to_millis(item.timestamp)
        outbound = bare(item.from_) == self.owner.key
        other = bare(item.to if outbound else item.from_)
        message = _message(
            self.owner,
            id=item.id or f"{stamp}:{item.from_}",
            peer=other,
            sender=item.from_,
            recipient=item.to,
            created_at=item.timestamp,
            text=item.body,
            raw=item,
        )
        return Row((item.id, stamp, item.from_, item.to, item.body), stamp, other, message)


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
        with_ = None if peer is None else peer.bare
        if self.admin:
            payload = await self.native.admin_get_last_messages(self.owner.bare, with_, limit, when)
        else:
            payload = await self.native.get_last_messages(with_, limit, when)
        listed = payload.stanzas or []
        # ``limit`` in the answer is what the server applied (after max_result_limit).
        # A stanza nulled by a field error still counts: the page was that long.
        applied = payload.limit if payload.limit else limit
        rows = [self._row(item) for item in listed if item is not None]
        return rows, len(listed) >= min(applied, limit)

    def _row(self, item: StanzaMap) -> Row:
        created = item.timestamp or EPOCH
        stamp = (created - EPOCH) // timedelta(microseconds=1)
        outbound = bare(item.sender) == self.owner.key
        to = item.to
        other = bare(to if outbound else item.sender) or None
        message = _message(
            self.owner,
            id=item.stanza_id or f"{stamp}:{item.sender}",
            peer=other,
            sender=item.sender,
            recipient=to,
            created_at=created,
            text=item.body,
            raw=item,
        )
        key = item.stanza_id or (stamp, item.sender, item.stanza)
        return Row(key, stamp, other, message)
