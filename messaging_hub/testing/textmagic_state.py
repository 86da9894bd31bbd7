"""In-memory records and wire rules of the fake TextMagic server.

Written from the TextMagic REST API v2 documentation (the "Encoding",
"Restrictions and Limits" and "Outbound Messages" chapters and the
``MessageOut`` / ``MessageSession`` / ``MessageIn`` / ``BulkSession``
schemas), not from the library's adapter.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import attrs

__all__ = [
    "FINAL_STATUSES",
    "MAX_PARTS",
    "STATUSES",
    "FakeBulk",
    "FakeMessage",
    "FakeReply",
    "FakeSchedule",
    "FakeSession",
    "Recipient",
    "SendPlan",
    "count_parts",
    "country_of",
    "cut_to_parts",
    "format_time",
    "format_time_ms",
    "local_to_e164",
    "normalise_phone",
]

# Delivery status letters of MessageOut.status, and the final ones
# ("Delivery status callback": d, f, j, u; the status table adds e).
STATUSES = frozenset("qseradbfujiph")
FINAL_STATUSES = frozenset("defju")

# GSM 03.38 basic character set and its extension table (the extension
# characters are sent behind an escape, so they count twice).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

MAX_PARTS = 6  # "Textmagic allows sending 1 to 6 message parts"

# Calling codes the fake knows, for ``country`` and local-number handling.
_CALLING_CODES: dict[str, str] = {
    "1": "US", "7": "RU", "31": "NL", "33": "FR", "34": "ES", "39": "IT",
    "44": "GB", "45": "DK", "46": "SE", "47": "NO", "48": "PL", "49": "DE",
    "52": "MX", "55": "BR", "61": "AU", "81": "JP", "86": "CN", "91": "IN",
    "353": "IE", "372": "EE",
}  # fmt: skip
_COUNTRY_CODES: dict[str, str] = {v: k for k, v in _CALLING_CODES.items()} | {"CA": "1"}

_E164 = re.compile(r"\+?([1-9][0-9]{6,14})")


def format_time(moment: datetime) -> str:
    """TextMagic's timestamp form, e.g. ``2015-06-19T09:48:24+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


def format_time_ms(moment: datetime) -> str:
    """The ping form with milliseconds and ``Z``: ``2019-01-01T00:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def normalise_phone(value: str) -> str | None:
    """The digits of an E.164 number (``+`` optional), or None if malformed."""
    match = _E164.fullmatch(value.strip())
    return match.group(1) if match else None


def local_to_e164(value: str, country: str) -> str | None:
    """A local number made international with ``country``'s calling code."""
    code = _COUNTRY_CODES.get(country.upper())
    digits = value.strip()
    if code is None or not digits.isdigit():
        return None
    return normalise_phone(code + digits.lstrip("0"))


def country_of(phone: str) -> str | None:
    """The 2-letter country of an E.164 number (digits only), if known."""
    for length in (3, 2, 1):
        country = _CALLING_CODES.get(phone[:length])
        if country is not None:
            return country
    return None


def _is_gsm(text: str) -> bool:
    return all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text)


def _weight(char: str, gsm: bool) -> int:
    if gsm:
        return 2 if char in _GSM_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1  # UTF-16 surrogate pair


def count_parts(text: str) -> tuple[int, str]:
    """The SMS parts ``text`` needs and its charset (documented tables)."""
    gsm = _is_gsm(text)
    units = sum(_weight(c, gsm) for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    parts = 1 if units <= single else math.ceil(units / multi)
    return parts, "ISO-8859-1" if gsm else "UTF-16BE"


def cut_to_parts(text: str, parts: int) -> str:
    """``text`` cut so that it fits in ``parts`` parts (``cutExtra``)."""
    gsm = _is_gsm(text)
    single, multi = (160, 153) if gsm else (70, 67)
    capacity = single if parts == 1 else multi * parts
    used = 0
    for index, char in enumerate(text):
        used += _weight(char, gsm)
        if used > capacity:
            return text[:index]
    return text


@attrs.frozen
class Recipient:
    """One resolved recipient of a send."""

    phone: str
    contact_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None


@attrs.frozen
class SendPlan:
    """A validated ``POST /api/v2/messages`` ready to become messages."""

    text: str
    recipients: tuple[Recipient, ...]
    sender: str
    sender_is_number: bool
    reference_id: str | None
    destination: str
    max_parts: int
    cut_extra: bool
    create_chat: bool


@attrs.define
class FakeSession:
    """A message session (one per send)."""

    id: int
    start_time: datetime
    text: str | None
    reference_id: str | None
    destination: str
    numbers_count: int
    source: str = "A"
    title: str | None = None
    message_ids: list[int] = attrs.field(factory=list)


@attrs.define
class FakeMessage:
    """One outbound message (one per recipient of a session)."""

    id: int
    session_id: int
    sender: str
    sender_is_number: bool
    receiver: str
    text: str
    message_time: datetime
    parts_count: int
    charset: str
    price: float
    status: str = "q"
    reject_reason: str | None = None
    contact_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    deleted: bool = False
    tts: bool = False


@attrs.define
class FakeReply:
    """One inbound message (``MessageIn``) from a remote party."""

    id: int
    sender: str
    receiver: str
    text: str
    message_time: datetime
    session_id: int | None = None
    contact_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None


@attrs.define
class FakeBulk:
    """A bulk session: a send to more than 1,000 recipients, queued."""

    id: int
    created_at: datetime
    plan: SendPlan
    status: str = "n"
    session_id: int | None = None


@attrs.define
class FakeSchedule:
    """A send whose sending time is in the future."""

    id: int
    send_at: datetime
    plan: SendPlan
    rrule: str | None = None
    session_id: int | None = None
