"""Authentication strategies: how each request proves who is calling.

Static schemes (bearer token, API-key headers, HTTP basic) just add
headers. :class:`OAuth2` holds a token obtained from a provider-specific
:class:`TokenGrant`, renews it shortly before it expires and once after a
401, and does so with a single request however many tasks are waiting
(a double-checked lock, as hikari's ``ClientCredentialsStrategy`` does).
When that request fails, the tasks that waited for it get its error (as
awaiting a failed future does) and the next call tries again.
"""

from __future__ import annotations

import base64
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import attrs

from ..errors import AuthenticationError
from ..secret import Secret

if TYPE_CHECKING:
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

    async def headers(self, transport: Transport) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}"}


class HeaderAuth(AuthStrategy):
    """Fixed headers, e.g. TextMagic's ``X-TM-Username`` / ``X-TM-Key``."""

    def __init__(self, headers: Mapping[str, Secret | str]) -> None:
        self._headers = dict(headers)

    async def headers(self, transport: Transport) -> dict[str, str]:
        return {
            name: value.reveal() if isinstance(value, Secret) else value
            for name, value in self._headers.items()
        }

    def __repr__(self) -> str:
        return f"HeaderAuth(headers={sorted(self._headers)!r})"


class BasicAuth(AuthStrategy):
    """HTTP Basic authentication."""

    def __init__(self, username: str, password: Secret | str) -> None:
        self.username = username
        self._password = Secret(password) if isinstance(password, str) else password

    async def headers(self, transport: Transport) -> dict[str, str]:
        return {"Authorization": basic_header(self.username, self._password)}

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r})"


def basic_header(username: str, password: Secret) -> str:
    """The value of an ``Authorization: Basic`` header."""
    pair = f"{username}:{password.reveal()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


@attrs.frozen
class Token:
    """An OAuth access token and what came with it; times are monotonic."""

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: float | None = None
    refresh_expires_at: float | None = None
    raw: Any = attrs.field(default=None, repr=False, eq=False)

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
        )

    def usable(self, now: float, margin: float) -> bool:
        """Whether the token is good for at least ``margin`` more seconds."""
        return self.expires_at is None or now + margin < self.expires_at

    def refreshable(self, now: float) -> bool:
        """Whether the refresh token may still be used."""
        if self.refresh_token is None:
            return False
        return self.refresh_expires_at is None or now < self.refresh_expires_at


class TokenGrant(Protocol):
    """A provider's token endpoint: obtain, refresh and revoke tokens."""

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

    ``refresh_margin`` renews that many seconds before expiry, so requests
    do not race the deadline. ``revoke_on_close`` revokes a token the
    library obtained itself when the client closes.
    """

    def __init__(
        self,
        grant: TokenGrant,
        *,
        refresh_margin: float = 60.0,
        revoke_on_close: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grant = grant
        self.refresh_margin = refresh_margin
        self.revoke_on_close = revoke_on_close
        self._clock = clock
        self._token: Token | None = None
        self._lock: anyio.Lock | None = None
        self._attempts = 0
        self._failed: tuple[Exception, TracebackType | None] | None = None
        self.renewals = 0

    @property
    def token(self) -> Token | None:
        """The current token, if one was obtained."""
        return self._token

    async def headers(self, transport: Transport) -> dict[str, str]:
        token = self._token
        if token is None or not token.usable(self._clock(), self.refresh_margin):
            token = await self._renew(stale=token, transport=transport)
        return {"Authorization": f"Bearer {token.access_token.reveal()}"}

    async def on_unauthorized(self, transport: Transport, sent: Mapping[str, str]) -> bool:
        current = self._token
        if current is None:
            return True
        if sent.get("Authorization") != f"Bearer {current.access_token.reveal()}":
            return True  # another task already replaced the refused token
        await self._renew(stale=current, transport=transport)
        return True

    async def _renew(self, *, stale: Token | None, transport: Transport) -> Token:
        if self._lock is None:
            self._lock = anyio.Lock()
        attempts_before = self._attempts
        async with self._lock:
            current = self._token
            # Checked again under the lock: whoever held it may have renewed.
            if (
                current is not None
                and current is not stale
                and current.usable(self._clock(), self.refresh_margin)
            ):
                return current
            failed = self._failed
            if failed is not None and self._attempts != attempts_before:
                # A renewal ran while this task waited and failed: share its
                # outcome instead of queueing one more doomed request each.
                raise failed[0].with_traceback(failed[1])
            self._attempts += 1
            self._failed = None
            try:
                token = await self._fetch(stale, transport)
            except Exception as exc:
                self._failed = (exc, exc.__traceback__)
                raise
            self._token = token
            self.renewals += 1
            return token

    async def _fetch(self, stale: Token | None, transport: Transport) -> Token:
        if stale is not None and stale.refreshable(self._clock()):
            try:
                return await self.grant.refresh(transport, stale)
            except AuthenticationError:
                pass  # refresh token refused: log in again
        return await self.grant.obtain(transport)

    async def aclose(self, transport: Transport) -> None:
        token, self._token = self._token, None
        if token is not None and self.revoke_on_close:
            # Revocation is best effort: shutdown must not fail because of it.
            with contextlib.suppress(Exception):
                await self.grant.revoke(transport, token)

    def __repr__(self) -> str:
        return f"OAuth2(grant={type(self.grant).__name__}, has_token={self._token is not None})"
