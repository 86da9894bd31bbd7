"""What clients share between processes: the protocols behind ``state=``.

A client keeps four kinds of state that matter once several processes use
one provider account: its OAuth token (:class:`TokenStore`), its rate
budgets (:class:`SharedLimiter`), the sends it has made under an
idempotency key (:class:`IdempotencyStore`) and the inbound messages a
replica has taken on (:class:`ClaimStore`). :class:`SharedState` hands them
out, namespaced by account. :class:`~messaging_hub.state.LocalState` (the
default) keeps them in the process; :class:`~messaging_hub.state.RedisState`
shares them through Redis.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from ..transport.auth import Token

__all__ = [
    "ClaimOutcome",
    "ClaimStore",
    "IdempotencyStore",
    "Reservation",
    "ReservationState",
    "SharedLimiter",
    "SharedState",
    "TokenStore",
]


class TokenStore(Protocol):
    """Where an OAuth token lives, and the one place it is renewed.

    Token times are on the caller's monotonic clock (stores that keep
    tokens elsewhere convert them).
    """

    async def renew(
        self,
        key: str,
        *,
        good: Callable[[Token], bool],
        fetch: Callable[[Token | None], Awaitable[Token]],
        wait: bool = True,
    ) -> Token | None:
        """The stored token under ``key`` if ``good`` says it serves, else a new one.

        A new token comes from ``fetch`` (given the stored token, whose
        refresh token it may use) by one caller at a time across everyone
        sharing the store; the others wait and take what it stored. With
        ``wait=False`` a caller that finds someone else renewing gets
        ``None`` at once (it keeps its own valid token meanwhile).
        """
        ...

    async def discard(self, key: str) -> None:
        """Forget the token under ``key`` (after it was revoked)."""
        ...


@runtime_checkable
class SharedLimiter(Protocol):
    """At most ``limit`` requests in any ``window`` seconds, for everyone
    sharing it; the transport's pacing interface.

    ``delay``, ``pause_for``, ``pause_until`` and ``resize`` are synchronous
    (the transport calls them from response hooks): a shared implementation
    answers ``delay`` from what it last learnt and passes pauses on
    in the background.
    """

    limit: int
    window: float

    def delay(self) -> float:
        """How long an acquisition starting now would wait (an estimate if shared)."""
        ...

    async def acquire(self, *, report: bool = False) -> object | None:
        """Wait until a request may start, then count it.

        With ``report`` the caller will call :meth:`answered` with the ticket
        returned (``None``: nothing to report).
        """
        ...

    def answered(self, ticket: object) -> None:
        """The request ``acquire`` gave ``ticket`` to has its answer (or failed).

        A shared limiter counts a request from its answer on: the provider
        counted it on arrival, which lies between the two.
        """
        ...

    def pause_until(self, deadline: float) -> None:
        """Hold every acquisition until ``deadline`` (monotonic)."""
        ...

    def pause_for(self, seconds: float) -> None:
        """Hold every acquisition for ``seconds`` from now."""
        ...

    def resize(self, limit: int, window: float) -> None:
        """Adopt a limit the provider announced."""
        ...


class ReservationState(enum.Enum):
    """What an idempotency key stands for when a send asks for it."""

    NEW = "new"
    """Nobody used the key: the caller now holds it and sends."""
    PENDING = "pending"
    """Another send with the key is under way."""
    DONE = "done"
    """A send with the key succeeded; its receipt is stored."""
    IN_DOUBT = "in_doubt"
    """A send with the key failed in a way that may have delivered it."""


@attrs.frozen
class Reservation:
    """The answer to :meth:`IdempotencyStore.reserve`."""

    state: ReservationState
    receipt: str | None = None
    """The stored receipt (JSON text) when ``state`` is DONE."""


class IdempotencyStore(Protocol):
    """Remembers sends by idempotency key, so a key is sent at most once."""

    async def reserve(self, key: str, *, holder: str, ttl: float) -> Reservation:
        """Take ``key`` for ``holder``'s send (atomically), or say who has it."""
        ...

    async def complete(self, key: str, receipt: str, *, ttl: float) -> None:
        """The send under ``key`` succeeded: keep its receipt for ``ttl`` seconds."""
        ...

    async def release(self, key: str, *, holder: str) -> None:
        """``holder``'s send under ``key`` certainly failed: a retry may send."""
        ...

    async def abandon(self, key: str, *, holder: str) -> None:
        """``holder``'s :meth:`reserve` got no answer: undo it if it took
        effect, and make sure it cannot take effect later."""
        ...

    async def mark_in_doubt(self, key: str, *, ttl: float) -> None:
        """The send under ``key`` may have gone out: keep the key reserved."""
        ...


class ClaimOutcome(enum.Enum):
    """What :meth:`ClaimStore.claim` found."""

    MINE = "mine"
    """The caller now handles the message."""
    TAKEN = "taken"
    """Another replica is handling it (ask again after its claim expires)."""
    DONE = "done"
    """It was handled."""


class ClaimStore(Protocol):
    """Hands each inbound message to one replica, with an expiring claim."""

    async def claim(self, key: str, owner: str, *, ttl: float) -> ClaimOutcome:
        """Claim ``key`` for ``owner`` for ``ttl`` seconds, unless taken or done."""
        ...

    async def extend(self, key: str, owner: str, *, ttl: float) -> bool:
        """Keep ``owner``'s claim alive for ``ttl`` more seconds; False if lost."""
        ...

    async def finish(self, key: str, *, ttl: float) -> None:
        """``key`` was handled: remember that for ``ttl`` seconds."""
        ...


class SharedState(ABC):
    """Gives clients their token store, limiters, idempotency and claims.

    Pass one to ``connect(..., state=...)``; clients of the same provider
    account (same credentials and base URL) then share what it holds.
    ``shared`` says whether other processes see it too: shared tokens are
    not revoked when a client closes, and ``listen()``/``watch()`` claim
    each message so that replicas split them.
    """

    shared: bool = False

    @property
    @abstractmethod
    def tokens(self) -> TokenStore:
        """The token store."""

    @abstractmethod
    def limiter(self, key: str, limit: int, window: float) -> SharedLimiter:
        """The rate limiter named ``key`` (created with ``limit``/``window``)."""

    @property
    @abstractmethod
    def idempotency(self) -> IdempotencyStore:
        """The idempotency store."""

    @property
    @abstractmethod
    def claims(self) -> ClaimStore:
        """The claim store."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections (the state stays usable until then)."""
