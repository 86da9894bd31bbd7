"""HTTP transport: session lifecycle, auth, retries, pacing and error mapping."""

from .auth import (
    AuthStrategy,
    BasicAuth,
    BearerToken,
    HeaderAuth,
    NoAuth,
    OAuth2,
    Token,
    TokenGrant,
)
from .http import ErrorInfo, PoolLimits, Response, Timeouts, Transport, default_error_parser
from .paths import path, segment
from .ratelimit import GroupedRateLimiter, RateLimiter
from .retry import RetryPolicy, parse_retry_after

__all__ = [
    "AuthStrategy",
    "BasicAuth",
    "BearerToken",
    "ErrorInfo",
    "GroupedRateLimiter",
    "HeaderAuth",
    "NoAuth",
    "OAuth2",
    "PoolLimits",
    "RateLimiter",
    "Response",
    "RetryPolicy",
    "Timeouts",
    "Token",
    "TokenGrant",
    "Transport",
    "default_error_parser",
    "parse_retry_after",
    "path",
    "segment",
]
