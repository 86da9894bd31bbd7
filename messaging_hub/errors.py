"""The error hierarchy: every failure the library reports is one of these.

::

    MessagingError
    ├── ConfigError              bad or missing configuration
    ├── InvalidRequest           bad input, raised before any network I/O
    ├── UnsupportedOperation     the provider cannot do this op (before I/O)
    ├── ClientClosed             the client was closed and refuses reuse
    ├── SendInDoubt              an idempotency key's earlier send may have
    │                            gone out: not sent again
    └── ProviderError            the provider answered with a failure
        ├── BadRequest           400/422 (also an InvalidRequest)
        ├── AuthenticationError  401, or a failed token grant
        ├── PermissionDenied     403
        ├── NotFound             404
        ├── Conflict             409
        ├── RateLimited          429 (retry_after in seconds, if given)
        ├── MalformedResponse    a body that is not what was promised (HTML,
        │   │                    truncated, too large, too deeply nested)
        │   └── PagingStalled    a paged listing that brings nothing new
        └── ProviderUnavailable  5xx, resets, timeouts, refused connections
            └── StateUnavailable the shared state (Redis) is down or slow

Each error carries the provider name and, when the provider answered, its
HTTP status, error code and message. Secrets never appear in messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequest",
    "ClientClosed",
    "ConfigError",
    "Conflict",
    "InvalidRequest",
    "MalformedResponse",
    "MessagingError",
    "NotFound",
    "PagingStalled",
    "PermissionDenied",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "SendInDoubt",
    "StateUnavailable",
    "UnsupportedOperation",
]


class MessagingError(Exception):
    """Root of every error raised by messaging-hub."""

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider

    def __str__(self) -> str:
        if self.provider:
            return f"[{self.provider}] {self.message}"
        return self.message


class ConfigError(MessagingError):
    """Configuration is missing, unknown or contradictory; ``key`` names it."""

    def __init__(
        self, message: str, *, key: str | None = None, provider: str | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.key = key


class InvalidRequest(MessagingError):
    """The request is malformed; raised before anything is sent.

    ``field`` names the offending input and ``field_errors`` holds
    per-field messages when the provider (or validation) gave several.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        field_errors: Mapping[str, list[str]] | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.field = field
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})


class UnsupportedOperation(MessagingError):
    """The provider cannot perform ``operation``; raised before any I/O."""

    def __init__(self, operation: str, *, provider: str, detail: str = "") -> None:
        text = f"{operation} is not supported"
        super().__init__(f"{text}: {detail}" if detail else text, provider=provider)
        self.operation = operation


class ClientClosed(MessagingError):
    """The client was closed; create a new one instead of reusing it."""


class ProviderError(MessagingError):
    """The provider reported a failure.

    ``status`` is the HTTP status (``None`` when no response came back),
    ``code`` the provider's own error code, ``details`` whatever else its
    error body said (field errors, sub-errors), secrets never included.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.status = status
        self.code = code
        self.details = details

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.status is not None:
            parts.append(f"(HTTP {self.status}")
            parts[-1] += f", code {self.code})" if self.code else ")"
        elif self.code:
            parts.append(f"(code {self.code})")
        return " ".join(parts)


class BadRequest(ProviderError, InvalidRequest):
    """The provider rejected the request as invalid (400, 422)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        listed = _field_errors_text(field_errors)
        if listed and listed not in message:
            message = f"{message}: {listed}"
        ProviderError.__init__(
            self, message, provider=provider, status=status, code=code, details=details
        )
        self.field = next(iter(field_errors), None) if field_errors else None
        self.field_errors = dict(field_errors or {})


def _field_errors_text(field_errors: Mapping[str, list[str]] | None, limit: int = 500) -> str:
    """``from: Sender ID ... is not allowed; text: too long``, cut at ``limit``."""
    if not field_errors:
        return ""
    text = "; ".join(
        f"{name}: {', '.join(str(m) for m in messages)}" if messages else str(name)
        for name, messages in field_errors.items()
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


class AuthenticationError(ProviderError):
    """Credentials were refused or a token could not be obtained."""


class PermissionDenied(ProviderError):
    """Authenticated, but not allowed to do this (403)."""


class NotFound(ProviderError):
    """The addressed resource does not exist (404)."""


class Conflict(ProviderError):
    """The request conflicts with the resource's state (409)."""


class RateLimited(ProviderError):
    """The provider throttled the request; ``retry_after`` is in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        provider: str | None = None,
        status: int | None = 429,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status, code=code, details=details)
        self.retry_after = retry_after


class MalformedResponse(ProviderError):
    """A response body could not be understood (HTML, truncated JSON, wrong shape).

    ``may_have_been_processed`` is true when the request was a send (or
    another non-idempotent call) that the provider accepted with a 2xx whose
    body could not be read: the message may have gone out, so neither the
    library nor the Hub sends it again.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        may_have_been_processed: bool = False,
    ) -> None:
        super().__init__(message, provider=provider, status=status, code=code, details=details)
        self.may_have_been_processed = may_have_been_processed


class PagingStalled(MalformedResponse):
    """A paged listing stopped making progress (a page with nothing new, a
    next-page link back to a page already read, endless empty pages); the
    walk ends with this error instead of looping."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed (5xx, reset, timeout).

    ``may_have_been_processed`` is true when the request may have reached
    the provider before the failure: a send in that state is not retried
    automatically, because retrying could deliver the message twice.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        may_have_been_processed: bool = True,
    ) -> None:
        super().__init__(message, provider=provider, status=status, code=code, details=details)
        self.may_have_been_processed = may_have_been_processed


class StateUnavailable(ProviderUnavailable):
    """The shared state (``state=``, e.g. Redis) did not answer in time or
    refused; raised before anything is sent when a send needed it, so
    ``may_have_been_processed`` is false unless said otherwise."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        may_have_been_processed: bool = False,
    ) -> None:
        super().__init__(
            message, provider=provider, may_have_been_processed=may_have_been_processed
        )


class SendInDoubt(MessagingError):
    """A send with this idempotency key was made before and may have gone
    out (its outcome is unknown, or it is still under way after the wait):
    the key stays reserved and the message is not sent again. Check the
    conversation's history before sending under a new key."""

    may_have_been_processed = True

    def __init__(self, message: str, *, provider: str | None = None, key: str) -> None:
        super().__init__(message, provider=provider)
        self.key = key
