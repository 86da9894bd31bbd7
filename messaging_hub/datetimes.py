"""Turning providers' many timestamp spellings into aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

__all__ = ["from_epoch", "parse_timestamp", "to_utc"]


def to_utc(value: datetime, assume: tzinfo = UTC) -> datetime:
    """``value`` in UTC; a naive value is read in ``assume``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=assume)
    return value.astimezone(UTC)


def parse_timestamp(value: str, assume: tzinfo = UTC) -> datetime:
    """Parse ISO 8601 / RFC 3339 (``Z`` or offset) or ``YYYY-MM-DD HH:MM:SS``.

    Zone-less values are read in ``assume`` (a provider's server timezone).
    Raises ``ValueError`` for anything else.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(text), assume)


def from_epoch(value: float, *, milliseconds: bool = False) -> datetime:
    """An aware UTC datetime from Unix seconds (or milliseconds)."""
    return datetime.fromtimestamp(value / 1000 if milliseconds else value, UTC)
