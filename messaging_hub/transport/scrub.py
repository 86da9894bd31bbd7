"""Removing secrets from text that came from a provider.

A provider (or a proxy, or a misconfigured test server) may repeat what it
was sent: an ``Authorization`` header, a form field, a query. Errors built
from its text therefore go through a :class:`Scrubber` that knows every
secret the client was configured with, every token it obtained, and the
credential headers of the request that failed, and replaces each (in the
spellings it could come back in: as sent, percent-encoded, JSON-escaped)
with ``***``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import attrs

from .. import errors

if TYPE_CHECKING:
    from .http import ErrorInfo

__all__ = ["MASK", "Scrubber", "credential_values"]

MASK = "***"
# Shorter values would blank out ordinary words; no credential is this short.
_MIN_SECRET = 3
# Provider error details nested deeper than this are dropped, not walked.
_MAX_DETAIL_DEPTH = 32

_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "x-tm-key", "x-api-key")


def _spellings(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    return {f for f in forms if len(f) >= _MIN_SECRET}


def credential_values(headers: Iterable[tuple[str, str]]) -> set[str]:
    """The secret parts of credential headers: the whole value, the token
    after the scheme, and for Basic the decoded ``user:password`` and password."""
    found: set[str] = set()
    for name, value in headers:
        if name.lower() not in _CREDENTIAL_HEADERS or not value:
            continue
        found.add(value)
        scheme, _, token = value.partition(" ")
        if token:
            found.add(token)
            if scheme.lower() == "basic":
                try:
                    pair = base64.b64decode(token, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    continue
                found.add(pair)
                found.add(pair.partition(":")[2])
    return found


class Scrubber:
    """Replaces known secrets with ``***`` in strings, data and errors."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also scrub ``secrets`` from now on."""
        for secret in secrets:
            if secret:
                self._forms |= _spellings(secret)

    def with_extra(self, secrets: Iterable[str]) -> Scrubber:
        """A scrubber for one request: these secrets and ``secrets``."""
        extra = set()
        for secret in secrets:
            if secret:
                extra |= _spellings(secret)
        if extra <= self._forms:
            return self
        other = Scrubber()
        other._forms = self._forms | extra
        return other

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced."""
        # Longest first, so a secret that contains another is masked whole.
        for form in sorted(self._forms, key=len, reverse=True):
            if form in value:
                value = value.replace(form, MASK)
        return value

    def data(self, value: Any) -> Any:
        """A copy of decoded JSON with secrets scrubbed from keys and strings.

        Data nested deeper than a sane error body is replaced by ``None``
        rather than walked (it is what the provider said, not what matters).
        """
        if isinstance(value, str):
            return self.text(value)
        if not isinstance(value, dict | list):
            return value
        return self._container(value, 0)

    def _container(self, value: Any, depth: int) -> Any:
        if depth >= _MAX_DETAIL_DEPTH:
            return None
        if isinstance(value, dict):
            return {self.text(str(k)): self._container(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self._container(v, depth + 1) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def error(self, exc: errors.MessagingError) -> errors.MessagingError:
        """Scrub ``exc``'s message, code, details and field errors in place."""
        exc.message = self.text(exc.message)
        exc.args = (exc.message,)
        if isinstance(exc, errors.ProviderError):
            if exc.code is not None:
                exc.code = self.text(exc.code)
            exc.details = self.data(exc.details)
        field_errors = getattr(exc, "field_errors", None)
        if isinstance(field_errors, dict):
            exc.field_errors = self.field_errors(field_errors)  # type: ignore[attr-defined]
        field = getattr(exc, "field", None)
        if isinstance(field, str):
            exc.field = self.text(field)  # type: ignore[attr-defined]
        return exc

    def field_errors(self, errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
        """Per-field messages with secrets scrubbed from names and texts."""
        return {self.text(k): [self.text(str(m)) for m in v] for k, v in errors.items()}

    def info(self, info: ErrorInfo) -> ErrorInfo:
        """A provider's parsed error body with every text scrubbed."""
        return attrs.evolve(
            info,
            code=None if info.code is None else self.text(info.code),
            message=None if info.message is None else self.text(info.message),
            details=self.data(info.details),
            field_errors=None
            if info.field_errors is None
            else self.field_errors(info.field_errors),
        )
