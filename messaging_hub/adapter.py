"""The provider-neutral client: four operations every adapter implements.

:class:`Adapter` is what :func:`messaging_hub.connect` returns. It checks
capabilities, input and the client's state before any I/O, then calls the
provider-specific ``_send`` / ``_sessions`` / ``_history`` / ``_delete``.
``adapter.native`` is the provider's full native client.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import aiohttp
import anyio
import attrs

from .errors import (
    ClientClosed,
    InvalidRequest,
    MalformedResponse,
    MessagingError,
    NotFound,
    SendInDoubt,
    StateUnavailable,
    UnsupportedOperation,
)
from .models import Direction, Message, MessageKind, MessageStatus, Outgoing, Receipt, Session
from .pagination import take
from .state.base import IdempotencyStore, ReservationState, SharedState
from .state.local import LocalState
from .transport.auth import OAuth2
from .transport.http import WRITES_ANSWERED

if TYPE_CHECKING:
    from .inbound.source import InboundSource
    from .inbound.webhooks import WebhookReceiver

__all__ = ["Adapter", "Capability"]

NativeT = TypeVar("NativeT")
T = TypeVar("T")

log = logging.getLogger("messaging_hub")

# How long a send waits for another send under the same idempotency key.
_PENDING_WAIT = 120.0
# How long an unanswered reservation is retried to be undone.
_ABANDON_FOR = 60.0


class Capability(enum.Flag):
    """What an adapter can do; test with ``Capability.DELETE in client.capabilities``."""

    SEND = enum.auto()
    SESSIONS = enum.auto()
    HISTORY = enum.auto()
    DELETE = enum.auto()
    ATTACHMENTS = enum.auto()
    """Send messages with files."""
    GROUP = enum.auto()
    """Send one message to several recipients in one conversation."""
    DERIVED_SESSIONS = enum.auto()
    """Sessions are derived from recent history, not stored by the provider."""
    MESSAGE_DELETE = enum.auto()
    """``delete`` also accepts a single :class:`Message`."""
    PUSH = enum.auto()
    """The provider pushes inbound messages: ``listen()`` needs no polling."""
    WEBHOOKS = enum.auto()
    """``webhooks.aiohttp_app``/``asgi_app`` can receive the provider's callbacks."""


class Adapter(ABC, Generic[NativeT]):
    """Base of every provider adapter; see the module docstring.

    Subclasses set ``provider``, ``capabilities``, ``session_filters`` and
    ``history_filters`` (the keyword filters they accept) and implement the
    underscored operations.
    """

    provider: ClassVar[str]
    capabilities: ClassVar[Capability]
    inbound_outside_history: ClassVar[bool] = False
    """Whether inbound messages are missing from ``history()`` (kept in a
    listing of their own): ``watch()`` then reads :meth:`inbound_source`."""
    session_filters: ClassVar[frozenset[str]] = frozenset()
    history_filters: ClassVar[frozenset[str]] = frozenset()
    dials_phones: ClassVar[bool] = False
    """Whether national phone numbers are resolved with :attr:`default_region`
    before sending (adapters without phones leave them to their own checks)."""
    default_region: str | None = None
    """The country national phone numbers are dialled in (the ``default_region``
    option); None: phone numbers must come with their country code."""

    idempotency_ttl: float = 86_400.0
    """How long a send's idempotency key is remembered (the ``idempotency_ttl`` option)."""

    def __init__(self, native: NativeT) -> None:
        self._native = native
        self._closed = False
        self._state: SharedState | None = None
        self._account_key = f"{self.provider}:{id(self):x}"
        self._background: set[asyncio.Task[None]] = set()

    def _use_state(
        self, state: SharedState | None, account_key: str, *, idempotency_ttl: float
    ) -> None:
        """Adopt the ``state`` option (from ``from_options``), named for this account."""
        self._state = state
        self._account_key = account_key
        self.idempotency_ttl = idempotency_ttl

    @property
    def state(self) -> SharedState:
        """What this client shares with others (the ``state`` option), or its own."""
        if self._state is None:
            self._state = LocalState()
        return self._state

    @property
    def account_key(self) -> str:
        """The name this client's provider account has in shared state (a digest)."""
        return self._account_key

    @classmethod
    @abstractmethod
    def from_options(
        cls, options: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
    ) -> Self:
        """Build the adapter from configuration options (raises ConfigError)."""

    @property
    def native(self) -> NativeT:
        """The provider's native client, one method per documented endpoint."""
        return self._native

    def native_as(self, cls: type[T]) -> T:
        """The native client, typed as ``cls``; for clients whose type a type
        checker cannot know (``hub["name"]``, ``connect(mapping)``)::

            api = hub["sms"].native_as(RingCentralAPI)  # a RingCentralAPI

        Raises :class:`UnsupportedOperation` when this client's native API is
        not a ``cls`` (the account is configured for another provider).
        """
        native = self._native
        if not isinstance(native, cls):
            raise UnsupportedOperation(
                f"native_as({cls.__name__})",
                provider=self.provider,
                detail=f"this client's native API is a {type(native).__name__}",
            )
        return native

    # -- the four operations ------------------------------------------------
    async def send(self, outgoing: Outgoing) -> Receipt:
        """Send a message; the receipt's ``session_id`` continues the conversation."""
        self._require(Capability.SEND, "send")
        if not isinstance(outgoing, Outgoing):
            raise InvalidRequest("send() takes an Outgoing", provider=self.provider)
        if outgoing.attachments and Capability.ATTACHMENTS not in self.capabilities:
            raise UnsupportedOperation("attachments", provider=self.provider)
        if not outgoing.to:
            outgoing = await self._continue_session(outgoing)
        if len(outgoing.to) > 1 and Capability.GROUP not in self.capabilities:
            raise UnsupportedOperation("sending to several recipients", provider=self.provider)
        if self.dials_phones and outgoing.is_national:
            outgoing = outgoing.in_region(self.default_region, provider=self.provider)
        if outgoing.idempotency_key is not None:
            return await self._send_once(outgoing, outgoing.idempotency_key)
        # Writes answered while this send runs (the transport appends to the
        # list): set here, not by a helper, so a send passes through one
        # coroutine less.
        answered: list[bool] = []
        token = WRITES_ANSWERED.set(answered)
        try:
            return await self._send(outgoing)
        except MalformedResponse as exc:
            if answered:
                # The provider accepted a request of this send and then
                # said something unreadable: the message may be out.
                exc.may_have_been_processed = True
            raise
        finally:
            WRITES_ANSWERED.reset(token)

    async def _send_once(self, outgoing: Outgoing, idempotency_key: str) -> Receipt:
        """Send ``outgoing`` unless its key was sent before (then its receipt)."""
        store = self.state.idempotency
        key = f"{self.account_key}:{idempotency_key}"
        ttl = self.idempotency_ttl
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + _PENDING_WAIT
        pause = 0.02
        while True:
            try:
                reservation = await store.reserve(key, holder=holder, ttl=ttl)
            except StateUnavailable as exc:
                # The reservation may still reach the state later: undo it then.
                self._abandon_later(store, key, holder)
                exc.provider = exc.provider or self.provider
                raise
            if reservation.state is ReservationState.NEW:
                break
            if reservation.state is ReservationState.DONE and reservation.receipt is not None:
                return _receipt_from_json(reservation.receipt, self.provider)
            if reservation.state is ReservationState.PENDING and time.monotonic() < deadline:
                await anyio.sleep(pause)
                pause = min(pause * 2, 0.5)
                continue
            detail = (
                "is still under way"
                if reservation.state is ReservationState.PENDING
                else "may have been delivered (its outcome is unknown)"
            )
            raise SendInDoubt(
                f"a send with idempotency key {idempotency_key!r} {detail}; not sending it again",
                provider=self.provider,
                key=idempotency_key,
            )
        try:
            # The send itself, its key taken off (its checks pass again).
            receipt = await self.send(attrs.evolve(outgoing, idempotency_key=None))
        except MessagingError as exc:
            if getattr(exc, "may_have_been_processed", False):
                await self._keep_in_doubt(store.mark_in_doubt(key, ttl=ttl), idempotency_key)
            else:
                await self._keep_in_doubt(store.release(key, holder=holder), idempotency_key)
            raise
        except BaseException:
            # Cancelled mid-send: it may have gone out.
            await self._keep_in_doubt(store.mark_in_doubt(key, ttl=ttl), idempotency_key)
            raise
        await self._keep_in_doubt(
            store.complete(key, _receipt_to_json(receipt), ttl=ttl), idempotency_key
        )
        return receipt

    def _abandon_later(self, store: IdempotencyStore, key: str, holder: str) -> None:
        """Keep trying (for a while, in the background) to undo a reservation
        whose answer never came, so that it cannot block its key."""

        async def abandon() -> None:
            give_up = time.monotonic() + _ABANDON_FOR
            while True:
                try:
                    await store.abandon(key, holder=holder)
                    return
                except StateUnavailable:
                    if time.monotonic() > give_up:
                        log.warning(
                            "%s: an unanswered idempotency reservation could not be "
                            "undone; its key may stay reserved",
                            self.provider,
                            extra={"event": "idempotency_unrecorded", "provider": self.provider},
                        )
                        return
                    await anyio.sleep(0.5)

        try:
            task = asyncio.get_running_loop().create_task(abandon())
        except RuntimeError:
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _keep_in_doubt(self, call: Awaitable[None], idempotency_key: str) -> None:
        """Record a send's outcome; when the state cannot, the key stays
        reserved (later sends with it raise SendInDoubt instead of resending)."""
        with anyio.CancelScope(shield=True):
            try:
                await call
            except StateUnavailable as exc:
                log.warning(
                    "%s: the outcome of the send with idempotency key %r could not be "
                    "recorded (%s); the key stays reserved",
                    self.provider,
                    idempotency_key,
                    exc.message,
                    extra={"event": "idempotency_unrecorded", "provider": self.provider},
                )

    def sessions(self, *, limit: int | None = None, **filters: Any) -> AsyncIterator[Session]:
        """Iterate over conversations, most recent first, paging transparently."""
        self._require(Capability.SESSIONS, "sessions")
        self._check_limit(limit)
        self._check_filters(filters, self.session_filters, "sessions")
        return take(self._sessions(limit=limit, **filters), limit)

    def history(
        self, session: str | Session, *, limit: int | None = None, **filters: Any
    ) -> AsyncIterator[Message]:
        """Iterate over one conversation's messages, newest first, each once."""
        self._require(Capability.HISTORY, "history")
        self._check_limit(limit)
        self._check_filters(filters, self.history_filters, "history")
        session_id = session.id if isinstance(session, Session) else session
        if not isinstance(session_id, str) or not session_id:
            raise InvalidRequest(
                "history() needs a session id", field="session", provider=self.provider
            )
        source = self._history(session_id, limit=limit, **filters)
        if limit is None and isinstance(source, AsyncGenerator):
            # Nothing to cap, and it closes like take() would close it: one
            # generator less for every message of a long walk.
            return source
        return take(source, limit)

    async def delete(self, target: str | Session | Message) -> None:
        """Delete a conversation (or, where supported, one message)."""
        self._require(Capability.DELETE, "delete")
        if isinstance(target, Message):
            if Capability.MESSAGE_DELETE not in self.capabilities:
                raise UnsupportedOperation("deleting a single message", provider=self.provider)
        elif isinstance(target, Session):
            pass
        elif not isinstance(target, str) or not target:
            raise InvalidRequest(
                "delete() takes a session id, a Session or a Message", provider=self.provider
            )
        await self._delete(target)

    # -- inbound ------------------------------------------------------------
    def inbound_source(self, **options: Any) -> InboundSource:
        """Where :func:`messaging_hub.listen` reads inbound messages from.

        Adapters whose provider pushes (or has an inbound listing) override
        it; the default polls recent conversations' history.
        """
        self._ensure_open()
        from .inbound.polling import HistoryPollingSource

        return HistoryPollingSource(self, **options)

    def webhook_receiver(self, **options: Any) -> WebhookReceiver:
        """The verifier/parser for the provider's webhook calls (see
        :mod:`messaging_hub.inbound.webhooks`); UnsupportedOperation where the
        provider has none."""
        raise UnsupportedOperation("receiving webhooks", provider=self.provider)

    # -- to implement -----------------------------------------------------
    @abstractmethod
    async def _send(self, outgoing: Outgoing) -> Receipt: ...

    async def _continue_session(self, outgoing: Outgoing) -> Outgoing:
        """``outgoing`` (a session id, no recipients) with the recipients filled in.

        By default, from the conversation's latest message (one history read):
        the recipients of our last message, or the sender of theirs; a pager
        conversation continues as pager messages. Adapters whose provider
        stores the participants override it.
        """
        session_id = outgoing.session_id or ""
        if Capability.HISTORY not in self.capabilities:
            raise InvalidRequest(
                f"{self.provider} needs the recipients to continue a conversation: "
                "pass to=[...] with the session_id",
                field="to",
                provider=self.provider,
            )
        latest = None
        async for message in self.history(session_id, limit=1):
            latest = message
        if latest is None:
            raise NotFound(
                f"conversation {session_id!r} has no messages to tell who is in it: pass to=[...]",
                provider=self.provider,
            )
        if latest.direction is Direction.OUTBOUND:
            to = latest.recipients
        else:
            to = (latest.sender,) if latest.sender is not None else ()
        if not to:
            raise InvalidRequest(
                f"conversation {session_id!r} names nobody to write to: pass to=[...]",
                field="to",
                provider=self.provider,
            )
        kind = outgoing.kind
        if kind is MessageKind.AUTO and latest.kind is MessageKind.PAGER:
            kind = MessageKind.PAGER
        return attrs.evolve(outgoing, to=to, kind=kind)

    def _sessions(self, *, limit: int | None, **filters: Any) -> AsyncIterator[Session]:
        raise UnsupportedOperation("sessions", provider=self.provider)

    def _history(
        self, session_id: str, *, limit: int | None, **filters: Any
    ) -> AsyncIterator[Message]:
        raise UnsupportedOperation("history", provider=self.provider)

    async def _delete(self, target: str | Session | Message) -> None:
        raise UnsupportedOperation("delete", provider=self.provider)

    @abstractmethod
    async def _aclose(self) -> None:
        """Close the native client's transport."""

    # -- lifecycle ----------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether the client was closed."""
        return self._closed

    async def revoke_token(self) -> None:
        """Revoke the OAuth token this client uses, at the provider and in
        shared state (clients then log in afresh); nothing for a fixed
        credential. ``aclose()`` revokes only a token nobody else shares."""
        self._ensure_open()
        transport = getattr(self._native, "transport", None)
        auth = getattr(transport, "auth", None)
        if transport is not None and isinstance(auth, OAuth2):
            await auth.revoke(transport)

    async def aclose(self) -> None:
        """Close connections (and revoke tokens the library obtained, unless shared)."""
        if not self._closed:
            self._closed = True
            for task in list(self._background):
                task.cancel()  # its key lapses with idempotency_ttl at worst
            for task in list(self._background):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._aclose()

    async def __aenter__(self) -> Self:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- checks -------------------------------------------------------------
    def _ensure_open(self) -> None:
        if self._closed:
            raise ClientClosed("this client was closed; create a new one", provider=self.provider)

    def _require(self, capability: Capability, operation: str) -> None:
        self._ensure_open()
        # ``capability in self.capabilities`` by the flags' bits: Flag.__contains__
        # is a Python-level call on every operation.
        bits = capability._value_
        if self.capabilities._value_ & bits != bits:
            raise UnsupportedOperation(operation, provider=self.provider)

    def _check_limit(self, limit: int | None) -> None:
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise InvalidRequest(
                f"limit must be a positive int or None, got {limit!r}",
                field="limit",
                provider=self.provider,
            )

    def _check_filters(self, filters: Mapping[str, Any], allowed: frozenset[str], op: str) -> None:
        unknown = sorted(set(filters) - allowed)
        if unknown:
            raise InvalidRequest(
                f"{op}() does not accept {', '.join(unknown)}; "
                f"accepted filters: {', '.join(sorted(allowed)) or 'none'}",
                field=unknown[0],
                provider=self.provider,
            )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} provider={self.provider!r} {state}>"


def _receipt_to_json(receipt: Receipt) -> str:
    return json.dumps(
        {
            "session_id": receipt.session_id,
            "provider": receipt.provider,
            "status": receipt.status.value,
            "message_ids": list(receipt.message_ids),
        }
    )


def _receipt_from_json(text: str, provider: str) -> Receipt:
    """A stored receipt (its ``raw`` answer is not kept)."""
    try:
        data = json.loads(text)
        return Receipt(
            session_id=str(data["session_id"]),
            provider=str(data["provider"]),
            status=MessageStatus(data["status"]),
            message_ids=tuple(str(i) for i in data["message_ids"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StateUnavailable(
            f"a stored receipt could not be read ({type(exc).__name__})", provider=provider
        ) from None
