"""TextMagic inbound: replies by polling ``/api/v2/replies``, and its callbacks.

TextMagic has no push stream. Inbound SMS ("replies", ``MessageIn``) are
read two ways:

* :class:`ReplyPollingSource`, the source of ``listen()``/``watch()``:
  pages ``GET /api/v2/replies`` newest first (``orderBy=id``,
  ``direction=desc``) down to the last reply handed out, and yields the new
  ones oldest first. Reply ids grow in arrival order, so replies stamped in
  the same second keep the order they arrived in. When nothing arrived, a
  poll is one request.
* :class:`ReplyWebhookReceiver`, for ``webhooks.aiohttp_app``/``asgi_app``:
  TextMagic POSTs a copy of the reply resource to the account's "Callback
  URL for incoming messages" (web app, API page; or ``inUrl`` of
  ``PUT /api/v2/callback/settings``) as JSON, urlencoded or multipart form
  data (the account's ``format`` setting ``j``/``u``/``m``).

TextMagic signs nothing: no signature, no shared secret, no token header.
So the receiver checks what can be checked. The callback URL you give
TextMagic ends in a secret path segment that only you and TextMagic know
(``token``); a call without it gets 403. The ``receiver`` must be one of the
account's receiving numbers when those are known (403 otherwise). With
``confirm`` (the default) the reply is read back from ``/api/v2/replies/{id}``
before a handler sees it, so a call cannot make up a message: the message
handed on is TextMagic's own copy.

Which conversation a reply belongs to: TextMagic's ``MessageIn`` names no
session (replies are not part of any message session). A reply that does
carry a ``sessionId`` keeps it; otherwise its ``session_id`` is
``phone-<sender digits>`` (see :func:`reply_session_id`): one stable
conversation per correspondent, as TextMagic's own chats are keyed by the
remote phone. It is not a TextMagic session id: ``history()`` and
``send(session_id=...)`` refuse it before any I/O.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.parser import BytesParser
from urllib.parse import parse_qsl

import attrs

from ...errors import InvalidRequest, MessagingError, NotFound
from ...inbound.source import Delivery, InboundSource
from ...inbound.webhooks import WebhookReceiver, WebhookRequest, WebhookResponse
from ...models import Address, AddressKind, Direction, Message, MessageKind, MessageStatus
from ...pagination import check_page_echo, walk_pages
from ...secret import Secret
from . import wire
from .api import MAX_PAGE_SIZE, REPLY_SESSION_PREFIX, TextMagicAPI

__all__ = [
    "ReplyCursor",
    "ReplyPollingSource",
    "ReplyWebhookReceiver",
    "reply_session_id",
    "reply_to_message",
]

log = logging.getLogger("messaging_hub.inbound.textmagic")

PROVIDER = "textmagic"
SESSION_PREFIX = REPLY_SESSION_PREFIX
"""Prefix of a conversation id derived from the sender's number."""
MIN_TOKEN_LENGTH = 16
"""The callback path token is the webhook's only secret: too short is guessable."""

_PHONE = re.compile(r"^\+?([1-9][0-9]{6,14})\Z")
_ID = re.compile(r"^[0-9]{1,18}\Z")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# -- mapping ------------------------------------------------------------------
def _digits(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    match = _PHONE.match(value.strip())
    return match.group(1) if match else None


def _address(value: str | None) -> Address | None:
    if not value:
        return None
    digits = _digits(value)
    if digits is not None:
        return Address("+" + digits, AddressKind.PHONE)
    return Address(value, AddressKind.USER)  # an alphanumeric sender


def reply_session_id(item: wire.MessageIn) -> str:
    """The conversation a reply belongs to: its ``sessionId`` if it names one,
    else ``phone-<sender's E.164 digits>`` (stable per correspondent)."""
    if item.session_id is not None:
        return str(item.session_id)
    sender = item.sender or ""
    return SESSION_PREFIX + (_digits(sender) or sender.strip())


def reply_to_message(item: wire.MessageIn, *, received: datetime | None = None) -> Message:
    """A shared inbound :class:`Message` from a wire ``MessageIn``.

    ``received`` stands in for an unreadable ``messageTime`` (default: now),
    so one odd reply cannot hold up every later one.
    """
    created = _parse_time(item.message_time)
    if created is None:
        log.warning("textmagic reply %s has no readable messageTime", item.id)
        created = received or datetime.now(UTC)
    receiver = _address(item.receiver)
    return Message(
        id=str(item.id),
        session_id=reply_session_id(item),
        provider=PROVIDER,
        created_at=created,
        direction=Direction.INBOUND,
        sender=_address(item.sender),
        recipients=(receiver,) if receiver else (),
        text=item.text or "",
        status=MessageStatus.RECEIVED,
        kind=MessageKind.SMS,
        raw=item,
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A zone-less stamp is read as UTC (the API answers with an offset).
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


# -- polling ------------------------------------------------------------------
@attrs.frozen
class ReplyCursor:
    """Where a reply listener stands.

    ``after_id``: replies with a larger id are new. Before the first id is
    known (a listener started with ``since``), ``since`` instead: replies
    stamped at or after it are new.
    """

    after_id: int | None = None
    since: datetime | None = None

    def is_new(self, item: wire.MessageIn) -> bool:
        """Whether ``item`` arrived after this cursor."""
        if self.after_id is not None:
            return item.id > self.after_id
        stamp = _parse_time(item.message_time)
        # An unreadable stamp cannot be placed: count it as new rather than lose it.
        return self.since is None or stamp is None or stamp >= self.since


class ReplyPollingSource(InboundSource):
    """Inbound replies for ``listen()``: polls ``GET /api/v2/replies``.

    ``start(None)`` fixes the newest reply id now (one request); ``start(since)``
    replays replies stamped at or after ``since``. Each ``catch_up`` reads
    pages of ``page_size`` newest first down to the cursor, then yields the
    new replies oldest first (by id, which is arrival order).
    """

    push = False

    def __init__(
        self, native: TextMagicAPI, *, poll_interval: float = 5.0, page_size: int = MAX_PAGE_SIZE
    ) -> None:
        if not poll_interval > 0:
            raise InvalidRequest(
                "poll_interval must be > 0", field="poll_interval", provider=PROVIDER
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(
                f"page_size must be 1..{MAX_PAGE_SIZE}", field="page_size", provider=PROVIDER
            )
        self.native = native
        self.poll_interval = poll_interval
        self.page_size = page_size

    async def start(self, since: datetime | None) -> ReplyCursor:
        """The cursor of the starting point: ``since``, or the newest reply now."""
        if since is not None:
            return ReplyCursor(since=since)
        page = await self.native.get_all_inbound_messages(
            page=1, limit=1, order_by="id", direction="desc"
        )
        return ReplyCursor(after_id=max((r.id for r in page.resources), default=0))

    async def catch_up(self, cursor: ReplyCursor) -> AsyncIterator[Delivery]:
        """Replies newer than ``cursor``, oldest first, each with the cursor after it."""
        fresh, boundary = await self._newer(cursor)
        if cursor.after_id is None:
            # A ``since`` cursor becomes an id cursor at the newest reply
            # older than ``since``: later polls stop there in one request.
            yield Delivery(None, ReplyCursor(after_id=boundary))
        for item in fresh:
            yield Delivery(reply_to_message(item), ReplyCursor(after_id=item.id))

    async def _newer(self, cursor: ReplyCursor) -> tuple[list[wire.MessageIn], int]:
        """The new replies in id order, and the id of the newest old one (0: none)."""

        async def page(number: int) -> tuple[list[wire.MessageIn], int | None]:
            answer = await self.native.get_all_inbound_messages(
                page=number, limit=self.page_size, order_by="id", direction="desc"
            )
            check_page_echo(number, answer.page, provider=PROVIDER, what="replies")
            return answer.resources, (number + 1 if number < answer.page_count else None)

        # Replies arriving during the walk push older ones onto later pages:
        # those come again and the walk drops them; nothing is skipped.
        found: dict[int, wire.MessageIn] = {}
        boundary = 0
        walk = walk_pages(page, first=1, key=_reply_id, provider=PROVIDER, what="replies")
        try:
            async for item in walk:
                if not cursor.is_new(item):
                    boundary = item.id
                    break
                found[item.id] = item
        finally:
            await walk.aclose()
        return [found[key] for key in sorted(found)], boundary


def _reply_id(item: wire.MessageIn) -> int:
    return item.id


# -- webhooks -----------------------------------------------------------------
class ReplyWebhookReceiver(WebhookReceiver):
    """TextMagic's inbound-message callbacks, checked and turned into messages.

    * ``token``: the secret last path segment of the callback URL you give
      TextMagic (at least 16 characters, e.g. ``secrets.token_urlsafe()``).
      Calls to any other path get 403.
    * ``receiving_numbers``: the account's numbers; a reply to another
      number gets 403. Empty: not checked (shared reply numbers).
    * ``confirm``: read the reply back from ``/api/v2/replies/{id}`` first.
      Unknown there (TextMagic's "Test" button, or a made-up id): answered
      200 with no message. API unreachable: 503, so it may be sent again.

    ``HEAD``/``GET`` on the callback URL answer 200 (URL validation).
    """

    def __init__(
        self,
        native: TextMagicAPI | None,
        *,
        token: str | Secret,
        receiving_numbers: Iterable[str] = (),
        confirm: bool = True,
    ) -> None:
        value = token.reveal() if isinstance(token, Secret) else token
        if not isinstance(value, str) or len(value) < MIN_TOKEN_LENGTH or "/" in value:
            raise InvalidRequest(
                f"token must be a str of at least {MIN_TOKEN_LENGTH} characters without '/'",
                field="token",
                provider=PROVIDER,
            )
        listed = [receiving_numbers] if isinstance(receiving_numbers, str) else receiving_numbers
        numbers: set[str] = set()
        for number in listed:
            digits = _digits(number)
            if digits is None:
                raise InvalidRequest(
                    f"receiving number {number!r} is not an E.164 number",
                    field="receiving_numbers",
                    provider=PROVIDER,
                )
            numbers.add(digits)
        if confirm and native is None:
            raise InvalidRequest("confirm needs the native client", provider=PROVIDER)
        self._token = value.encode()
        self.receiving_numbers = frozenset(numbers)
        self.confirm = confirm
        self.native = native

    def __repr__(self) -> str:
        numbers = sorted(self.receiving_numbers)
        return f"<ReplyWebhookReceiver numbers={numbers} confirm={self.confirm}>"

    async def handle(self, request: WebhookRequest) -> WebhookResponse:
        """Check the path token, the receiver and (``confirm``) the reply itself."""
        segments = [part for part in request.path.split("/") if part]
        given = segments[-1].encode("utf-8", "replace") if segments else b""
        if not secrets.compare_digest(given, self._token):
            return WebhookResponse.refuse(403, "unknown callback path")
        if request.method in ("HEAD", "GET"):
            return WebhookResponse(status=200)  # TextMagic checks the URL answers 200
        if request.method != "POST":
            return WebhookResponse.refuse(405, "POST only")
        fields = _read_fields(request)
        if isinstance(fields, WebhookResponse):
            return fields
        item = _reply_from_fields(fields)
        if isinstance(item, str):
            return WebhookResponse.refuse(400, item)
        receiver = _digits(item.receiver)
        if self.receiving_numbers and receiver not in self.receiving_numbers:
            return WebhookResponse.refuse(403, "receiver is not a number of this account")
        if self.confirm:
            assert self.native is not None
            try:
                stored = await self.native.get_inbound_message(item.id)
            except NotFound:
                log.info(
                    "textmagic callback for reply %s, which /api/v2/replies does not have "
                    "(a test call, a deleted reply or a made-up one): ignored",
                    item.id,
                )
                return WebhookResponse(status=200)
            except MessagingError as exc:
                log.warning("textmagic callback: reply %s could not be confirmed: %s", item.id, exc)
                return WebhookResponse.refuse(503, "could not confirm the reply; try again")
            if _digits(stored.sender) != _digits(item.sender):
                return WebhookResponse.refuse(403, "the reply does not match TextMagic's copy")
            if stored.session_id is None and item.session_id is not None:
                stored = attrs.evolve(stored, session_id=item.session_id)
            item = stored
        return WebhookResponse(status=200, messages=(reply_to_message(item),))


def _read_fields(request: WebhookRequest) -> Mapping[str, object] | WebhookResponse:
    """The callback's parameters from a JSON, urlencoded or multipart body."""
    content_type = request.headers.get("Content-Type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    try:
        if mime == "application/json" or mime.endswith("+json"):
            data = json.loads(request.body.decode("utf-8"))
            if not isinstance(data, dict):
                return WebhookResponse.refuse(400, "expected a JSON object")
            return data
        if mime == _FORM_TYPES[0]:
            pairs = parse_qsl(
                request.body.decode("ascii"),
                keep_blank_values=True,
                strict_parsing=bool(request.body),
                encoding="utf-8",
                errors="strict",
            )
            return _single_values(pairs)
        if mime == _FORM_TYPES[1]:
            return _multipart(content_type, request.body)
    except (ValueError, RecursionError, LookupError, MessageError):
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; the email
        # parser's own errors are MessageErrors: garbage is a 400, never a 500.
        return WebhookResponse.refuse(400, "unreadable body")
    return WebhookResponse.refuse(415, "expected JSON or form data")


def _single_values(pairs: Iterable[tuple[str, str]]) -> Mapping[str, object]:
    fields: dict[str, object] = {}
    for name, value in pairs:
        if name in fields:
            # Two values for one field: which one a handler would see is a guess.
            raise ValueError(f"repeated field {name!r}")
        fields[name] = value
    return fields


def _multipart(content_type: str, body: bytes) -> Mapping[str, object]:
    if any(ch in content_type for ch in "\r\n\0"):
        raise ValueError("bad Content-Type")
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not multipart")
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise ValueError("a part without a name or a value")
        pairs.append((name, payload.decode("utf-8")))
    return _single_values(pairs)


def _reply_from_fields(fields: Mapping[str, object]) -> wire.MessageIn | str:
    """A ``MessageIn`` from callback parameters, or why they are not one."""
    raw_id = fields.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not _ID.match(str(raw_id)):
        return "id: expected the numeric inbound message id"
    sender = fields.get("sender")
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)  # a JSON number
    if not isinstance(sender, str) or _digits(sender) is None:
        return "sender: expected a phone number"
    text = fields.get("text")
    if not isinstance(text, str):
        return "text: expected a string"
    receiver = fields.get("receiver")
    if isinstance(receiver, bool) or not isinstance(receiver, str | int | None):
        return "receiver: expected a phone number"
    stamp = fields.get("messageTime")
    if not isinstance(stamp, str) or _parse_time(stamp) is None:
        return "messageTime: expected an ISO 8601 time"
    session = fields.get("sessionId")
    return wire.MessageIn(
        id=int(raw_id),
        sender=sender,
        receiver=None if receiver is None else str(receiver),
        message_time=stamp,
        text=text,
        contact_id=_optional_int(fields.get("contactId")),
        first_name=_optional_str(fields.get("firstName")),
        last_name=_optional_str(fields.get("lastName")),
        avatar=_optional_str(fields.get("avatar")),
        session_id=_optional_int(session),
    )


def _optional_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _ID.match(value):
        return int(value)
    return None  # absent, empty or odd: these fields are extras


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
