"""OAuth sessions and usage-plan rate limiting for the fake RingCentral server."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

__all__ = ["DEFAULT_RATE_LIMITS", "OAuthSession", "RateLimit", "RateLimiter", "TokenStore"]


@attrs.frozen
class RateLimit:
    """``limit`` requests per ``window`` seconds for one throttling group."""

    limit: int
    window: float


# docs/basics/rate-limits.md: the default usage plan, per user per app.
DEFAULT_RATE_LIMITS: Mapping[str, RateLimit] = {
    "Light": RateLimit(50, 60.0),
    "Medium": RateLimit(40, 60.0),
    "Heavy": RateLimit(10, 60.0),
    "Auth": RateLimit(5, 60.0),
}


@attrs.define
class _Window:
    started: float
    used: int = 0


@attrs.frozen
class RateDecision:
    """The outcome of counting one request against its group."""

    group: str
    limit: int
    remaining: int
    window: float
    retry_after: int | None

    def headers(self) -> dict[str, str]:
        """The ``X-Rate-Limit-*`` headers (plus ``Retry-After`` when refused)."""
        headers = {
            # The docs' samples write the group in lower case ("heavy").
            "X-Rate-Limit-Group": self.group.lower(),
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Window": str(max(1, math.ceil(self.window))),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    """Fixed windows per throttling group, timed with a monotonic clock so
    that tests can use short windows and real sleeps."""

    def __init__(
        self,
        limits: Mapping[str, RateLimit | tuple[int, float]] | None = None,
        *,
        enabled: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits: dict[str, RateLimit] = dict(DEFAULT_RATE_LIMITS)
        for group, value in (limits or {}).items():
            name = group.capitalize()
            self.limits[name] = value if isinstance(value, RateLimit) else RateLimit(*value)
        self.enabled = enabled
        self._monotonic = monotonic
        self._windows: dict[str, _Window] = {}

    def _window(self, group: str) -> _Window:
        now = self._monotonic()
        window = self._windows.get(group)
        if window is None or now - window.started >= self.limits[group].window:
            window = _Window(started=now)
            self._windows[group] = window
        return window

    def peek(self, group: str) -> RateDecision:
        """The current state of ``group`` without counting a request."""
        rule, window = self.limits[group], self._window(group)
        return RateDecision(group, rule.limit, max(0, rule.limit - window.used), rule.window, None)

    def take(self, group: str) -> RateDecision:
        """Count one request; ``retry_after`` is set when it is refused."""
        rule, window = self.limits[group], self._window(group)
        if self.enabled and window.used >= rule.limit:
            left = rule.window - (self._monotonic() - window.started)
            return RateDecision(group, rule.limit, 0, rule.window, max(1, math.ceil(left)))
        window.used += 1
        return RateDecision(group, rule.limit, max(0, rule.limit - window.used), rule.window, None)

    def reset(self) -> None:
        """Start every window afresh."""
        self._windows.clear()


@attrs.define
class OAuthSession:
    """One OAuth session: the current access/refresh token pair."""

    id: str
    grant_type: str
    endpoint_id: str
    access_token: str
    refresh_token: str
    access_expires: datetime
    refresh_expires: datetime
    access_token_ttl: int
    refresh_token_ttl: int
    revoked: bool = False


class TokenStore:
    """Issued tokens, looked up by access or refresh token."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.sessions: list[OAuthSession] = []
        self._by_access: dict[str, OAuthSession] = {}
        self._by_refresh: dict[str, OAuthSession] = {}
        self._expired: set[str] = set()

    def issue(
        self, grant_type: str, endpoint_id: str, access_ttl: int, refresh_ttl: int
    ) -> OAuthSession:
        """Open a new session with a fresh token pair."""
        now = self._clock()
        session = OAuthSession(
            id=secrets.token_urlsafe(12),
            grant_type=grant_type,
            endpoint_id=endpoint_id,
            access_token=_token(),
            refresh_token=_token(),
            access_expires=now + timedelta(seconds=access_ttl),
            refresh_expires=now + timedelta(seconds=refresh_ttl),
            access_token_ttl=access_ttl,
            refresh_token_ttl=refresh_ttl,
        )
        self.sessions.append(session)
        self._by_access[session.access_token] = session
        self._by_refresh[session.refresh_token] = session
        return session

    def rotate(self, session: OAuthSession, access_ttl: int) -> None:
        """Refresh: both tokens are replaced, the old pair stops working."""
        now = self._clock()
        self._by_access.pop(session.access_token, None)
        self._by_refresh.pop(session.refresh_token, None)
        session.access_token, session.refresh_token = _token(), _token()
        session.access_token_ttl = access_ttl
        session.access_expires = now + timedelta(seconds=access_ttl)
        session.refresh_expires = now + timedelta(seconds=session.refresh_token_ttl)
        self._by_access[session.access_token] = session
        self._by_refresh[session.refresh_token] = session

    def by_refresh(self, token: str) -> OAuthSession | None:
        """The live session whose refresh token is ``token``."""
        session = self._by_refresh.get(token)
        if session is None or session.revoked or session.refresh_expires <= self._clock():
            return None
        return session

    def check_access(self, token: str) -> str | None:
        """``None`` if ``token`` is a valid access token, else why not:
        ``"unknown"`` or ``"expired"``."""
        session = self._by_access.get(token)
        if session is None or session.revoked:
            return "unknown"
        if token in self._expired or session.access_expires <= self._clock():
            return "expired"
        return None

    def revoke(self, token: str) -> bool:
        """Revoke the whole session that ``token`` (access or refresh) belongs to."""
        session = self._by_access.get(token) or self._by_refresh.get(token)
        if session is None:
            return False
        session.revoked = True
        return True

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired (refresh tokens stay valid)."""
        self._expired.update(self._by_access)

    @property
    def live_access_tokens(self) -> list[str]:
        """Access tokens that would be accepted now."""
        return [t for t in self._by_access if self.check_access(t) is None]


def _token() -> str:
    # Shaped like RingCentral's opaque tokens (URL-safe base64).
    return "U0pDMDFQMDFQQVMwMnw" + secrets.token_urlsafe(30)
