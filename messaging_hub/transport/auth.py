"""Authentication strategies: how each request proves who is calling.

Static schemes (bearer token, API-key headers, HTTP basic) just add
headers. :class:`OAuth2` holds a token obtained from a provider-specific
:class:`TokenGrant`, renews it shortly before it expires and once after a
401, and does so with a single request however many tasks are waiting
(a double-checked lock, as hikari's ``ClientCredentialsStrategy`` does).
When that request fails, the tasks that waited for it get its error (as
awaiting a failed future does) and the next call tries again.

Renewal before expiry scales with the token's lifetime: it falls due in
the last ``min(refresh_margin, lifetime / 10)`` seconds, so a 45 s or a
5 s token is renewed once per lifetime. A renewal that is merely due never
holds up a request while the token is still valid: when another task is
already renewing, when the grant's rate-limit group (RingCentral's Auth
pacing) has no slot free, or when the renewal fails, the request goes out
with the current token. Only a missing, expired or refused token makes
requests wait for (and share the outcome of) the renewal.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import attrs

from ..errors import AuthenticationError, MessagingError
from ..secret import Secret
from .ratelimit import GroupedRateLimiter

if TYPE_CHECKING:
    from ..state.base import TokenStore
    from .http import Transport

__all__ = [
    "AuthStrategy",
    "BasicAuth",
    "BearerToken",
    "HeaderAuth",
    "NoAuth",
    "OAuth2",
    "Token",
    "TokenGrant",
]

log = logging.getLogger("messaging_hub.transport.auth")

# A token's last tenth is its renewal window (capped by ``refresh_margin``).
_LIFETIME_FRACTION = 0.1
# After a failed early renewal, wait at least this long before the next try.
_MIN_EARLY_RETRY = 1.0
# Access and refresh tokens remembered for scrubbing after they were replaced.
_REMEMBERED_TOKENS = 16


class AuthStrategy(ABC):
    """Adds credentials to requests and reacts to a 401."""

    @abstractmethod
    async def headers(self, transport: Transport) -> dict[str, str]:
        """The headers that authenticate the next request."""

    async def on_unauthorized(self, transport: Transport, sent: Mapping[str, str]) -> bool:
        """Called after a 401 to the request sent with ``sent`` headers.

        Returns whether retrying (with fresh :meth:`headers`) may succeed.
        """
        return False

    async def aclose(self, transport: Transport) -> None:  # noqa: B027 - optional hook
        """Release what the strategy obtained (e.g. revoke a token)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoAuth(AuthStrategy):
    """Sends no credentials."""

    async def headers(self, transport: Transport) -> dict[str, str]:
        return {}


class BearerToken(AuthStrategy):
    """A fixed ``Authorization: Bearer`` token (access token, API key, JWT)."""

    def __init__(self, token: Secret | str) -> None:
        self._token = Secret(token) if isinstance(token, str) else token
        self._header: tuple[Secret, str] | None = None

    async def headers(self, transport: Transport) -> dict[str, str]:
        cached = self._header
        if cached is None or cached[0] is not self._token:
            self._header = cached = (self._token, f"Bearer {self._token.reveal()}")
        return {"Authorization": cached[1]}


class HeaderAuth(AuthStrategy):
    """Fixed headers, e.g. TextMagic's ``X-TM-Username`` / ``X-TM-Key``."""

    def __init__(self, headers: Mapping[str, Secret | str]) -> None:
        self._headers = dict(headers)
        self._revealed: dict[str, str] | None = None

    async def headers(self, transport: Transport) -> dict[str, str]:
        if self._revealed is None:
            self._revealed = {
                name: value.reveal() if isinstance(value, Secret) else value
                for name, value in self._headers.items()
            }
        return dict(self._revealed)

    def __repr__(self) -> str:
        return f"HeaderAuth(headers={sorted(self._headers)!r})"


class BasicAuth(AuthStrategy):
    """HTTP Basic authentication."""

    def __init__(self, username: str, password: Secret | str) -> None:
        self.username = username
        self._password = Secret(password) if isinstance(password, str) else password
        self._header: tuple[str, Secret, str] | None = None

    async def headers(self, transport: Transport) -> dict[str, str]:
        cached = self._header
        if cached is None or cached[0] != self.username or cached[1] is not self._password:
            # Encoded once (again only if the credentials were replaced).
            value = basic_header(self.username, self._password)
            self._header = cached = (self.username, self._password, value)
        return {"Authorization": cached[2]}

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r})"


def basic_header(username: str, password: Secret) -> str:
    """The value of an ``Authorization: Basic`` header."""
    pair = f"{username}:{password.reveal()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


@attrs.frozen
class Token:
    """An OAuth access token and what came with it; times are monotonic.

    ``issued_at`` is when the token was received, so that its lifetime is
    known; :class:`OAuth2` fills it in when a grant leaves it out.
    """

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: float | None = None
    refresh_expires_at: float | None = None
    raw: Any = attrs.field(default=None, repr=False, eq=False)
    issued_at: float | None = None

    @classmethod
    def issued(
        cls,
        access_token: str,
        *,
        refresh_token: str | None = None,
        expires_in: float | None = None,
        refresh_token_expires_in: float | None = None,
        raw: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Token:
        """A token from a token endpoint's answer (lifetimes in seconds from now)."""
        now = clock()
        return cls(
            access_token=Secret(access_token),
            refresh_token=Secret(refresh_token) if refresh_token else None,
            expires_at=now + expires_in if expires_in else None,
            refresh_expires_at=now + refresh_token_expires_in if refresh_token_expires_in else None,
            raw=raw,
            issued_at=now,
        )

    @property
    def lifetime(self) -> float | None:
        """Seconds from issue to expiry, when both are known."""
        if self.expires_at is None or self.issued_at is None:
            return None
        return self.expires_at - self.issued_at

    def renewal_margin(self, margin: float) -> float:
        """How long before expiry to renew: ``margin``, at most a tenth of the lifetime."""
        lifetime = self.lifetime
        if lifetime is None:
            return margin
        return max(0.0, min(margin, lifetime * _LIFETIME_FRACTION))

    def renewal_due(self, now: float, margin: float) -> bool:
        """Whether the token is inside its renewal window (see :meth:`renewal_margin`)."""
        if self.expires_at is None:
            return False
        return now + self.renewal_margin(margin) >= self.expires_at

    def valid(self, now: float) -> bool:
        """Whether the token has not expired yet."""
        return self.expires_at is None or now < self.expires_at

    def usable(self, now: float, margin: float) -> bool:
        """Whether the token is good for at least ``margin`` more seconds."""
        return self.expires_at is None or now + margin < self.expires_at

    def rebased(self, now: float) -> Token:
        """This token with its times moved onto a clock that reads ``now`` at issue.

        A grant may time its tokens with another clock than the strategy
        that holds them; lifetimes are what count.
        """
        if self.issued_at is None:
            return attrs.evolve(self, issued_at=now)
        shift = now - self.issued_at
        return attrs.evolve(
            self,
            issued_at=now,
            expires_at=None if self.expires_at is None else self.expires_at + shift,
            refresh_expires_at=(
                None if self.refresh_expires_at is None else self.refresh_expires_at + shift
            ),
        )

    def refreshable(self, now: float) -> bool:
        """Whether the refresh token may still be used."""
        if self.refresh_token is None:
            return False
        return self.refresh_expires_at is None or now < self.refresh_expires_at


class TokenGrant(Protocol):
    """A provider's token endpoint: obtain, refresh and revoke tokens.

    A grant whose token requests are paced in a rate-limit group of their
    own may name it in a ``rate_group`` attribute (RingCentral: ``"Auth"``):
    :class:`OAuth2` then skips a renewal that is merely due while that group
    has no slot free.
    """

    async def obtain(self, transport: Transport) -> Token:
        """Get a new token from the primary credentials."""
        ...

    async def refresh(self, transport: Transport, token: Token) -> Token:
        """Exchange ``token``'s refresh token for a new token."""
        ...

    async def revoke(self, transport: Transport, token: Token) -> None:
        """Invalidate ``token`` at the provider (best effort)."""
        ...


class OAuth2(AuthStrategy):
    """A token from a :class:`TokenGrant`, renewed once under concurrency.

    ``refresh_margin`` renews that many seconds before expiry (at most a
    tenth of the token's lifetime), so requests do not race the deadline.
    ``revoke_on_close`` revokes a token the library obtained itself when the
    client closes. ``clock`` is monotonic; tokens are re-timed onto it.

    With a ``store`` (see :mod:`messaging_hub.state`) the token lives there
    under ``store_key``: every client on the store uses the same token, and
    the store lets one of them at a time renew it; the others take the
    token it stored. Tokens then keep the times the store gives them (on
    ``time.monotonic``), so ``clock`` must be that clock.
    """

    def __init__(
        self,
        grant: TokenGrant,
        *,
        refresh_margin: float = 60.0,
        revoke_on_close: bool = True,
        clock: Callable[[], float] = time.monotonic,
        store: TokenStore | None = None,
        store_key: str = "",
    ) -> None:
        self.grant = grant
        self.refresh_margin = refresh_margin
        self.revoke_on_close = revoke_on_close
        self._clock = clock
        self._store = store
        self._store_key = store_key
        self._token: Token | None = None
        self._refused: Token | None = None
        self._lock: anyio.Lock | None = None
        self._attempts = 0
        self._failed: tuple[Exception, TracebackType | None] | None = None
        # After a failed early renewal: no new early attempt before this time.
        self._early_retry_at = float("-inf")
        self.renewals = 0
        self._obtained: deque[Secret] = deque(maxlen=_REMEMBERED_TOKENS)

    @property
    def token(self) -> Token | None:
        """The current token, if one was obtained."""
        return self._token

    @property
    def obtained(self) -> tuple[Secret, ...]:
        """The access and refresh tokens obtained lately, the current ones included.

        For scrubbing provider text: a provider may quote a token it has
        already replaced (e.g. "refresh token ... was revoked"). Bounded, so
        a long-lived client with short tokens does not accumulate them.
        """
        return tuple(self._obtained)

    async def headers(self, transport: Transport) -> dict[str, str]:
        token = self._token
        now = self._clock()
        if token is None or token is self._refused or not token.valid(now):
            # A token the provider refused is as good as expired: requests
            # wait for its renewal instead of drawing one 401 each.
            token = await self._renew(stale=token, transport=transport, early=False)
        elif token.renewal_due(now, self.refresh_margin) and self._may_renew_early(transport, now):
            token = await self._renew(stale=token, transport=transport, early=True)
        return {"Authorization": f"Bearer {token.access_token.reveal()}"}

    def _may_renew_early(self, transport: Transport, now: float) -> bool:
        """Whether a request holding a valid but due token should renew it first."""
        if self._lock is not None and self._lock.locked():
            return False  # another task is renewing: the valid token serves meanwhile
        if now < self._early_retry_at:
            return False
        return self._pacing_delay(transport) <= 0

    def _pacing_delay(self, transport: Transport) -> float:
        """How long a token request would wait for the client-side rate limit."""
        limiter = transport.rate_limiter
        if isinstance(limiter, GroupedRateLimiter):
            group = getattr(self.grant, "rate_group", None)
            return limiter.delay(group if isinstance(group, str) else None)
        return 0.0 if limiter is None else limiter.delay()

    async def on_unauthorized(self, transport: Transport, sent: Mapping[str, str]) -> bool:
        current = self._token
        if current is None:
            return True
        if sent.get("Authorization") != f"Bearer {current.access_token.reveal()}":
            return True  # another task already replaced the refused token
        self._refused = current
        await self._renew(stale=current, transport=transport, early=False)
        return True

    async def _renew(self, *, stale: Token | None, transport: Transport, early: bool) -> Token:
        """Renew ``stale`` once however many tasks ask.

        ``early``: ``stale`` is valid but due; the caller may keep using it
        when renewing now would wait for pacing or fails.
        """
        if self._lock is None:
            self._lock = anyio.Lock()
        attempts_before = self._attempts
        async with self._lock:
            now = self._clock()
            current = self._token
            # Checked again under the lock: whoever held it may have renewed.
            if current is not None and current is not stale:
                if early and not current.renewal_due(now, self.refresh_margin):
                    return current
                if not early and current.valid(now):
                    return current
            fallback = current if early and current is not None and current.valid(now) else None
            if fallback is not None and (
                now < self._early_retry_at or self._pacing_delay(transport) > 0
            ):
                return fallback
            failed = self._failed
            if failed is not None and self._attempts != attempts_before:
                # A renewal ran while this task waited and failed: share its
                # outcome instead of queueing one more doomed request each.
                if fallback is not None:
                    return fallback
                raise failed[0].with_traceback(failed[1])
            self._attempts += 1
            self._failed = None
            try:
                if self._store is None:
                    token = (await self._fetch(current or stale, transport)).rebased(self._clock())
                else:
                    shared = await self._from_store(current or stale, transport, early=early)
                    if shared is None:
                        # Another process is renewing; the valid token serves meanwhile.
                        assert fallback is not None
                        return fallback
                    token = shared
            except Exception as exc:
                self._failed = (exc, exc.__traceback__)
                if fallback is not None and isinstance(exc, MessagingError):
                    return self._keep_after_failure(fallback, exc)
                raise
            self._token = token
            self._obtained.append(token.access_token)
            if token.refresh_token is not None:
                self._obtained.append(token.refresh_token)
            self._early_retry_at = float("-inf")
            self.renewals += 1
            return self._token

    def _keep_after_failure(self, token: Token, exc: MessagingError) -> Token:
        """After a failed early renewal: keep the valid ``token``, try again later."""
        now = self._clock()
        if not token.valid(now):
            raise exc
        left = (token.expires_at or now) - now
        # Halve what is left each time, so a provider that stays down sees
        # a handful of attempts, not one per request, before the expiry.
        self._early_retry_at = now + max(left / 2, _MIN_EARLY_RETRY)
        log.warning(
            "%s: renewing the access token failed (%s, HTTP %s); "
            "the current token stays in use for up to %.1f s",
            exc.provider or "oauth",
            type(exc).__name__,
            getattr(exc, "status", None),
            left,
            extra={"event": "token_renewal_failed", "provider": exc.provider},
        )
        return token

    async def _from_store(
        self, stale: Token | None, transport: Transport, *, early: bool
    ) -> Token | None:
        """The store's token if it serves better than ``stale``, else one the
        store lets this client fetch (``None``: someone else is renewing early)."""
        assert self._store is not None
        refused = None if stale is None else stale.access_token.reveal()

        def good(token: Token) -> bool:
            now = self._clock()
            if token.access_token.reveal() == refused or not token.valid(now):
                return False
            return not (early and token.renewal_due(now, self.refresh_margin))

        async def fetch(stored: Token | None) -> Token:
            token = await self._fetch(stored or stale, transport)
            return token.rebased(self._clock())

        return await self._store.renew(self._store_key, good=good, fetch=fetch, wait=not early)

    async def revoke(self, transport: Transport) -> None:
        """Revoke the current token at the provider and forget it (also in the
        store, so that the next request of any client logs in afresh)."""
        token, self._token = self._token, None
        if self._store is not None:
            await self._store.discard(self._store_key)
        if token is not None:
            await self.grant.revoke(transport, token)

    async def _fetch(self, stale: Token | None, transport: Transport) -> Token:
        if stale is not None and stale.refreshable(self._clock()):
            try:
                return await self.grant.refresh(transport, stale)
            except AuthenticationError:
                pass  # refresh token refused: log in again
        return await self.grant.obtain(transport)

    async def aclose(self, transport: Transport) -> None:
        token, self._token = self._token, None
        # A token in a shared store is still in use elsewhere: revoke() is explicit.
        if token is not None and self.revoke_on_close and self._store is None:
            # Revocation is best effort: shutdown must not fail because of it.
            with contextlib.suppress(Exception):
                await self.grant.revoke(transport, token)

    def __repr__(self) -> str:
        return f"OAuth2(grant={type(self.grant).__name__}, has_token={self._token is not None})"
