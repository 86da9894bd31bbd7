"""Helpers the three native clients share: argument checks and decoding."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import cattrs

from ...errors import InvalidRequest, MalformedResponse
from .wire import converter

__all__ = ["check_before", "check_limit", "decode"]

PROVIDER = "mongooseim"
T = TypeVar("T")


def check_limit(limit: int | None) -> int | None:
    """``limit`` if it is a positive int (or None)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidRequest(
            f"limit must be a positive int, got {limit!r}", field="limit", provider=PROVIDER
        )
    return limit


def check_before(before: datetime | None) -> datetime | None:
    """``before`` if it is an aware datetime (or None)."""
    if before is None:
        return None
    if not isinstance(before, datetime) or before.tzinfo is None:
        raise InvalidRequest(
            "before must be a timezone-aware datetime", field="before", provider=PROVIDER
        )
    return before


def check_body(body: str) -> str:
    """``body`` if it is a string."""
    if not isinstance(body, str):
        raise InvalidRequest("body must be a str", field="body", provider=PROVIDER)
    return body


def decode(data: Any, cls: type[T], status: int) -> T:
    """Structure ``data`` as ``cls`` or raise MalformedResponse."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise MalformedResponse(
            f"unexpected payload for {getattr(cls, '__name__', cls)!s}",
            provider=PROVIDER,
            status=status,
        ) from exc
