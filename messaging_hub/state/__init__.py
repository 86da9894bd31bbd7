"""Shared state for many processes on one provider account (``state=``).

``connect(..., state=mh.RedisState.from_url(url, namespace="acme"))`` in
every worker shares the OAuth token, the rate budgets, sends made under an
idempotency key and the claims that split inbound messages between bot
replicas. Without ``state`` each client keeps all of it to itself
(:class:`LocalState`).
"""

from .base import (
    ClaimOutcome,
    ClaimStore,
    IdempotencyStore,
    Reservation,
    ReservationState,
    SharedLimiter,
    SharedState,
    TokenStore,
)
from .local import LocalState
from .redis_state import RedisState

__all__ = [
    "ClaimOutcome",
    "ClaimStore",
    "IdempotencyStore",
    "LocalState",
    "RedisState",
    "Reservation",
    "ReservationState",
    "SharedLimiter",
    "SharedState",
    "TokenStore",
]
