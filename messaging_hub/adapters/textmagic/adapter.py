"""The TextMagic adapter: the four unified operations on REST API v2.

What a TextMagic *session* is: every ``POST /api/v2/messages`` creates a new
message session (one send to one or more numbers); TextMagic has no way to
add a message to an existing session. So a unified conversation is a root
session plus its follow-ups:

* ``send`` without ``session_id`` starts a conversation; the receipt's
  ``session_id`` is the ``sessionId`` TextMagic made (as a string).
* ``send`` with ``session_id=X`` checks that session ``X`` exists (NotFound
  otherwise, before sending), sends with ``referenceId=X`` (the spec's
  "custom reference id for your application") and returns ``X`` again, the
  conversation's id; the session TextMagic made for this send is
  ``receipt.raw.session_id`` (use it for ``get_message_session_stat``).
* ``history(X)`` yields the messages of the sessions whose ``referenceId``
  is ``X``, newest session first, then those of ``X``. The follow-ups are
  found by reading the session list from the newest session down to ``X``
  (TextMagic cannot filter it): one request per 100 sessions the account
  made since ``X``. Each follow-up is read as soon as it is found, so a
  small ``limit`` stops early; ``follow_ups=False`` reads ``X`` alone.
  Inbound replies live at ``/api/v2/replies``, outside this API: history
  holds outbound messages only; ``listen()``/``watch()`` and the webhook
  receiver read replies (see :mod:`.push`).
* ``delete(X)`` deletes ``X`` and its follow-ups (the same walk).
* ``sessions()`` lists TextMagic's sessions as they are (follow-ups too).
  Any session of the account whose ``referenceId`` is ``X`` counts as a
  follow-up of ``X``: do not set ``referenceId`` to session ids yourself.

Large sends: more than 1,000 recipients make a *bulk session*, processed
later, answered ``202`` with no body (or ``201`` with a ``bulk`` link). The
receipt is then ``status=QUEUED`` with ``session_id="bulk-<bulk id>"``, or
the session id itself when the bulk was already processed. After a ``202``
the bulk is found in ``GET /api/v2/bulks`` as the newest one with the same
text and recipient count; bulk sends of this client wait for one another
meanwhile (smaller sends do not). If it cannot be found, ``send`` raises
``MalformedResponse`` (status 202) saying the message is queued: never a
"not sent" error. ``history``/``delete`` accept ``bulk-<id>`` and act on
the bulk's session once it exists (history of a still-queued bulk is empty;
deleting it raises Conflict).

Sending files is not offered: MMS files are uploaded in a separate call
first, so ``Capability.ATTACHMENTS`` is not declared.
"""

from __future__ import annotations

import functools
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Mapping,
)
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar

import aiohttp
import anyio
import attrs

from ...adapter import Adapter, Capability
from ...config import TransportOptions, structure_options
from ...datetimes import parse_timestamp
from ...errors import (
    ConfigError,
    Conflict,
    InvalidRequest,
    MalformedResponse,
    MessagingError,
    UnsupportedOperation,
)
from ...models import (
    Address,
    AddressKind,
    Direction,
    LazyRaw,
    Message,
    MessageKind,
    MessageStatus,
    Outgoing,
    Receipt,
    Session,
    build_message,
    has_control_characters,
)
from ...pagination import check_page_echo, walk_pages
from ...phones import options_phone, options_region
from ...secret import Secret
from ...state.base import SharedLimiter
from ...transport import AuthStrategy, BasicAuth, HeaderAuth, RateLimiter, Response
from . import wire
from .api import (
    E164_DIGITS,
    MAX_PAGE_SIZE,
    REPLY_SESSION_PREFIX,
    STATUS_LETTERS,
    BulkAccepted,
    TextMagicAPI,
    check_id,
    parse_error,
)
from .encoding import MAX_UNICODE_UNITS, is_gsm, max_units, units

if TYPE_CHECKING:
    from ...inbound.source import InboundSource
    from ...inbound.webhooks import WebhookReceiver

__all__ = ["TextMagicAdapter", "TextMagicOptions"]

PROVIDER = "textmagic"
BULK_THRESHOLD = 1000
"""More recipients than this make a bulk session (the send tutorial)."""

PACING_WINDOW = 1.05
"""Seconds in which at most ``requests_per_second`` requests start. TextMagic
counts requests as they arrive; the 5% margin absorbs network jitter (a
request on a new connection arriving later than the next one on a warm
connection) that would otherwise cost a 429 and a pause of every request."""

_BULK_REF = re.compile(r"^bulk-([0-9]{1,18})\Z")
_DIGITS = re.compile(r"^[0-9]{7,15}\Z")
_SENDER_ID = re.compile(r"[A-Za-z]")

T = TypeVar("T")

# Delivery status letters (the "Delivery status codes" table). i, p and h
# are in the enum without a documented meaning.
_STATUSES = {
    "q": MessageStatus.QUEUED,  # queued on the TextMagic server
    "s": MessageStatus.QUEUED,  # scheduled to be sent later
    "r": MessageStatus.SENT,  # sent to the mobile operator
    "a": MessageStatus.SENT,  # acknowledged by the operator
    "b": MessageStatus.SENT,  # queued by the operator
    "d": MessageStatus.DELIVERED,
    "e": MessageStatus.FAILED,  # error while sending
    "f": MessageStatus.FAILED,  # error while delivering
    "j": MessageStatus.FAILED,  # rejected by the operator
    "g": MessageStatus.FAILED,  # rejected: the contact unsubscribed
    "u": MessageStatus.UNKNOWN,
}


def _header_value(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    # Sent in the X-TM-Username header (or inside Basic auth): a line break
    # would end the header and start another.
    if not value.strip() or has_control_characters(value):
        raise ConfigError(
            f"{attribute.name} must be non-empty, without line breaks or control characters",
            key=attribute.name,
        )


def _auth_mode(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("headers", "basic"):
        raise ConfigError(
            f"{attribute.name} must be 'headers' or 'basic', got {value!r}", key=attribute.name
        )


@attrs.frozen(kw_only=True)
class TextMagicOptions(TransportOptions):
    """Options of ``connect("textmagic", ...)``."""

    username: str = attrs.field(validator=_header_value)
    api_key: Secret = attrs.field(repr=False)
    base_url: str = "https://rest.textmagic.com"
    from_number: str | None = None
    """Default sender: a number of the account (E.164, or national with
    ``default_region``) or an allowed sender ID (letters)."""
    default_region: str | None = None
    """The country national phone numbers are dialled in (``"US"``); unset,
    numbers need their country code (``+`` or ``00``)."""
    auth: str = attrs.field(default="headers", validator=_auth_mode)
    """``headers`` (X-TM-Username / X-TM-Key) or ``basic`` (HTTP Basic)."""
    requests_per_second: int = attrs.field(default=50, validator=attrs.validators.ge(1))
    """Client-side pacing; TextMagic answers 429 above 50 requests per second."""
    rate_limiting: bool = True
    """``False`` turns client-side pacing off (for a deployment that paces
    elsewhere, e.g. a gateway in front of several clients): the server's
    429s are still retried with backoff."""
    throttle_pause: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    """Seconds every request waits after a 429 without ``Retry-After``."""

    def __attrs_post_init__(self) -> None:
        region = options_region(self.default_region, provider=PROVIDER)
        object.__setattr__(self, "default_region", region)
        number = self.from_number
        if number is not None and _SENDER_ID.search(number) is None:
            # Digits: a phone number, put in E.164 like any other. A sender
            # ID has letters and goes as it is.
            number = options_phone(number, region, key="from_number", provider=PROVIDER)
            object.__setattr__(self, "from_number", number)
        if self.auth == "basic" and ":" in self.username:
            raise ConfigError(
                "username must not contain ':' with HTTP Basic auth",
                key="username",
                provider=PROVIDER,
            )

    def auth_strategy(self) -> AuthStrategy:
        """The auth strategy ``auth`` names."""
        if self.auth == "basic":
            return BasicAuth(self.username, self.api_key)
        return HeaderAuth({"X-TM-Username": self.username, "X-TM-Key": self.api_key})


@attrs.frozen
class _Ref:
    """A unified session id: a TextMagic session, or a bulk not yet resolved."""

    id: int
    bulk: bool = False


@attrs.frozen
class _Bulk:
    """A send queued as a bulk: its unified id and what TextMagic said."""

    unified_id: str
    raw: wire.BulkSession | wire.SendMessageResponse

    @classmethod
    def of(cls, bulk: wire.BulkSession) -> _Bulk:
        """``bulk``'s session id once it has one, else ``bulk-<id>``."""
        return cls(str(bulk.session.id) if bulk.session is not None else f"bulk-{bulk.id}", bulk)


def _ref(value: object, field: str = "session_id") -> _Ref:
    if isinstance(value, str):
        match = _BULK_REF.match(value)
        if match:
            return _Ref(int(match.group(1)), bulk=True)
    return _Ref(int(check_id(value, field)))


def _party(value: str | None) -> Address | None:
    return _sender_or_number(value) if value else None


# Cached: a session names the same few parties on every message (addresses
# are immutable, so one object serves them all).
@functools.lru_cache(maxsize=512)
def _sender_or_number(value: str) -> Address:
    digits = value.lstrip("+")
    if _DIGITS.match(digits) and not digits.startswith("0"):
        return Address("+" + digits, AddressKind.PHONE)
    return Address(value, AddressKind.USER)  # an alphanumeric sender ID


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _pause_on_429(limiter: SharedLimiter, pause: float) -> Callable[[Response, str | None], None]:
    """The response hook: TextMagic documents no Retry-After, so a 429
    without one holds every request of the account for ``pause`` seconds."""

    def on_response(response: Response, _: str | None) -> None:
        if response.status == 429 and "Retry-After" not in response.headers:
            limiter.pause_for(pause)

    return on_response


class TextMagicAdapter(Adapter[TextMagicAPI]):
    """TextMagic REST v2 message sessions behind the unified interface."""

    provider = PROVIDER
    capabilities = (
        Capability.SEND
        | Capability.SESSIONS
        | Capability.HISTORY
        | Capability.DELETE
        | Capability.GROUP
        | Capability.WEBHOOKS
    )
    # Replies live at /api/v2/replies, in no session's history.
    inbound_outside_history = True
    session_filters = frozenset()
    history_filters = frozenset({"statuses", "include_deleted", "follow_ups"})
    dials_phones = True

    def __init__(self, native: TextMagicAPI, options: TextMagicOptions) -> None:
        super().__init__(native)
        self.options = options
        self.default_region = options.default_region
        self._bulk_lock = anyio.Lock()

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
    ) -> Self:
        """Build the adapter from ``connect()`` options."""
        opts = structure_options(TextMagicOptions, options, provider=PROVIDER)
        account = opts.account_key(PROVIDER, opts.base_url, opts.username, opts.api_key)
        limiter: SharedLimiter | None = None
        if opts.rate_limiting:
            limiter = (
                RateLimiter(opts.requests_per_second, PACING_WINDOW)
                if opts.state is None
                else opts.state.limiter(account, opts.requests_per_second, PACING_WINDOW)
            )
        transport = opts.make_transport(
            provider=PROVIDER,
            base_url=opts.base_url,
            auth=opts.auth_strategy(),
            session=session,
            rate_limiter=limiter,
            error_parser=parse_error,
            on_response=None if limiter is None else _pause_on_429(limiter, opts.throttle_pause),
        )
        adapter = cls(TextMagicAPI(transport), opts)
        adapter._use_state(opts.state, account, idempotency_ttl=opts.idempotency_ttl)
        return adapter

    # -- send ----------------------------------------------------------------
    async def _send(self, outgoing: Outgoing) -> Receipt:
        if outgoing.kind not in (MessageKind.AUTO, MessageKind.SMS):
            raise UnsupportedOperation(f"{outgoing.kind.value} messages", provider=PROVIDER)
        phones = []
        for address in outgoing.to:
            number = address.value.lstrip("+")
            if address.kind is not AddressKind.PHONE or not E164_DIGITS.match(number):
                raise InvalidRequest(
                    f"{address.value!r}: TextMagic sends to phone numbers (E.164) only",
                    field="to",
                    provider=PROVIDER,
                )
            phones.append(number)
        self._check_text(outgoing.text)
        sender = self._sender(outgoing)
        root = (
            None if outgoing.session_id is None else await self._continued_root(outgoing.session_id)
        )
        # What send_message(text=, phones=, from_=, reference_id=) sends.
        body: dict[str, Any] = {"text": outgoing.text, "phones": ",".join(phones)}
        if root is not None:
            body["referenceId"] = root
        if sender is not None:
            body["from"] = sender
        native = self.native
        if len(phones) > BULK_THRESHOLD:
            # Bulk sends of this client one at a time, so that the bulk found
            # after a 202 is this send's (sends to fewer numbers never wait).
            async with self._bulk_lock:
                answer = await native._post_message(body)
                bulk = await self._bulk_of(answer, outgoing.text, len(phones))
        else:
            answer = await native._post_message(body)
            if isinstance(answer, wire.SendMessageResponse) and answer.type != "bulk":
                bulk = None  # a plain session (what _bulk_of says without a request)
            else:
                bulk = await self._bulk_of(answer, outgoing.text, len(phones))
        if bulk is not None:
            return Receipt(
                session_id=(outgoing.session_id if root is not None else None) or bulk.unified_id,
                provider=PROVIDER,
                status=MessageStatus.QUEUED,
                raw=bulk.raw,
            )
        assert isinstance(answer, wire.SendMessageResponse)
        if answer.session_id is None:
            raise MalformedResponse(
                f"the send answered type {answer.type!r} without a sessionId", provider=PROVIDER
            )
        continued = outgoing.session_id if root is not None else None
        return Receipt(
            session_id=continued or str(answer.session_id),
            provider=PROVIDER,
            status=MessageStatus.ACCEPTED,
            message_ids=(str(answer.message_id),) if answer.message_id is not None else (),
            raw=answer,
        )

    async def _continue_session(self, outgoing: Outgoing) -> Outgoing:
        """Recipients of the session ``outgoing`` continues: the number of a
        reply's ``phone-...`` conversation, or the receivers of a session's
        messages (up to one bulk's worth)."""
        session_id = outgoing.session_id or ""
        if session_id.startswith(REPLY_SESSION_PREFIX):
            digits = session_id[len(REPLY_SESSION_PREFIX) :]
            return attrs.evolve(outgoing, to=(Address.phone("+" + digits),))
        root = await self._continued_root(session_id)
        assert root is not None
        numbers: dict[str, None] = {}
        page = 1
        while True:
            listing = await self.native.get_messages_by_session_id(
                root, page=page, limit=MAX_PAGE_SIZE
            )
            numbers.update((m.receiver, None) for m in listing.resources if m.receiver)
            if len(numbers) > BULK_THRESHOLD:
                raise InvalidRequest(
                    f"session {session_id} has more than {BULK_THRESHOLD} recipients: "
                    "pass to=[...] to continue it",
                    field="to",
                    provider=PROVIDER,
                )
            if page >= listing.page_count or not listing.resources:
                break
            page += 1
        if not numbers:
            raise InvalidRequest(
                f"session {session_id} names nobody to write to: pass to=[...]",
                field="to",
                provider=PROVIDER,
            )
        return attrs.evolve(outgoing, to=tuple(Address.phone("+" + n) for n in numbers))

    async def _continued_root(self, session_id: str | None) -> int | None:
        """The TextMagic session a follow-up continues (checked before sending)."""
        if session_id is None or session_id.startswith(REPLY_SESSION_PREFIX):
            # A reply's conversation is its sender's number, not a TextMagic
            # session: the answer starts a session of its own.
            return None
        ref = _ref(session_id)
        if ref.bulk:
            root = await self._resolve(ref)
            if root is None:
                raise Conflict(
                    f"bulk {ref.id} is still being processed; continue it once it has a session",
                    provider=PROVIDER,
                )
            return root
        # A follow-up of a session that does not exist would be sent and then
        # belong to no conversation: NotFound, before anything goes out.
        await self.native.get_message_session(ref.id)
        return ref.id

    async def _bulk_of(
        self, answer: wire.SendMessageResponse | BulkAccepted, text: str, count: int
    ) -> _Bulk | None:
        """The bulk session a send was queued as, or None for a plain session.

        This runs after the send went out, so no failure here may look like
        a send that did not happen (a hub would send it again elsewhere).
        """
        if isinstance(answer, wire.SendMessageResponse):
            if answer.type != "bulk" or answer.bulk_id is None:
                return None
            try:  # only to give the session id if the bulk is already processed
                return _Bulk.of(await self.native.get_bulk_session(answer.bulk_id))
            except MessagingError:
                return _Bulk(f"bulk-{answer.bulk_id}", answer)
        # 202 without a body: the newest bulk of this text and size is ours
        # (bulk sends of this client are serialised; another client of the
        # account sending the same text to as many numbers at the same
        # moment could be taken for it).
        unidentified = (
            "the send was accepted and queued as a bulk (202) but the bulk could not be "
            "identified in /api/v2/bulks; do not resend it"
        )
        try:
            page = await self.native.get_all_bulk_sessions(page=1, limit=MAX_PAGE_SIZE)
        except MessagingError as exc:
            raise MalformedResponse(
                f"{unidentified} ({exc.message})", provider=PROVIDER, status=202
            ) from exc
        matches = [b for b in page.resources if b.text == text and b.items_total in (count, None)]
        if not matches:
            raise MalformedResponse(unidentified, provider=PROVIDER, status=202)
        return _Bulk.of(max(matches, key=lambda b: b.id))

    def _check_text(self, text: str) -> None:
        if len(text) <= MAX_UNICODE_UNITS // 2:
            return  # at most 2 units a character: fits in either alphabet, no scan needed
        used, allowed = units(text), max_units(text)
        if used > allowed:
            alphabet = "GSM 03.38" if is_gsm(text) else "Unicode"
            raise InvalidRequest(
                f"text takes {used} characters; TextMagic sends at most {allowed} "
                f"in {alphabet} (6 parts)",
                field="text",
                provider=PROVIDER,
            )

    def _sender(self, outgoing: Outgoing) -> str | None:
        sender = outgoing.sender
        if sender is not None:
            if sender.kind is AddressKind.PHONE:
                return sender.value.lstrip("+")
            if sender.kind is AddressKind.USER:
                return sender.value  # an alphanumeric sender ID
            raise InvalidRequest(
                "a TextMagic sender is a phone number or a sender ID",
                field="sender",
                provider=PROVIDER,
            )
        configured = self.options.from_number
        if not configured:
            return None  # the account's default sender
        # A number is in E.164 since connect(); TextMagic writes it without "+".
        return configured.lstrip("+") if configured.startswith("+") else configured.strip()

    # -- resolving ids ------------------------------------------------------------
    async def _resolve(self, ref: _Ref) -> int | None:
        """The TextMagic session id of ``ref`` (None: a bulk not processed yet)."""
        if not ref.bulk:
            return ref.id
        bulk = await self.native.get_bulk_session(ref.id)
        return bulk.session.id if bulk.session is not None else None

    async def _follow_ups(self, root: int) -> AsyncIterator[int]:
        """Ids of sessions sent with ``referenceId=root``, newest first.

        Reads the session list (newest first) from the top down to ``root``:
        one request per 100 sessions the account made since ``root``.
        """
        # Sessions made meanwhile shift the pages: the walk drops the repeats.
        pages = self._pages(self._session_page, MAX_PAGE_SIZE, _session_id, "sessions")
        try:
            async for item in pages:
                if item.id <= root:
                    return  # older than the root: follow-ups are always newer
                if item.reference_id == str(root):
                    yield item.id
        finally:
            await pages.aclose()

    async def _session_page(
        self, page: int, size: int
    ) -> tuple[list[wire.MessageSession], int, int]:
        answer = await self.native.get_all_message_sessions(page=page, limit=size)
        return answer.resources, answer.page, answer.page_count

    @staticmethod
    def _pages(
        fetch: Callable[[int, int], Awaitable[tuple[list[T], int, int]]],
        size: int,
        key: Callable[[T], Hashable],
        what: str,
    ) -> AsyncGenerator[T, None]:
        """Walk ``{page, pageCount}`` pages of a constant ``size`` (1..100), each item once.

        ``fetch(page, size)`` returns the resources, the page the answer
        names and ``pageCount``.

        ``pageCount`` alone says whether more follow: a short (or empty) page
        before it does not end the walk, and pages that stop bringing new
        items (a ``pageCount`` of a billion) end it with PagingStalled.
        """

        async def page(number: int) -> tuple[list[T], int | None]:
            items, answered, page_count = await fetch(number, size)
            check_page_echo(number, answered, provider=PROVIDER, what=what)
            return items, (number + 1 if number < page_count else None)

        return walk_pages(page, first=1, key=key, provider=PROVIDER, what=what)

    @staticmethod
    def _page_size(limit: int | None) -> int:
        # Constant across pages (page N starts at (N-1)*size), never over 100.
        return min(MAX_PAGE_SIZE, limit) if limit else MAX_PAGE_SIZE

    # -- sessions ----------------------------------------------------------------
    def _sessions(self, *, limit: int | None, **_: Any) -> AsyncIterator[Session]:
        size = self._page_size(limit)
        return self._map_sessions(self._pages(self._session_page, size, _session_id, "sessions"))

    async def _map_sessions(
        self, source: AsyncIterator[wire.MessageSession]
    ) -> AsyncIterator[Session]:
        async for item in source:
            yield self.to_session(item)

    def to_session(self, item: wire.MessageSession) -> Session:
        """A shared :class:`Session` from a wire ``MessageSession``.

        TextMagic's session does not name its recipients (only
        ``numbersCount``), so ``participants`` is empty.
        """
        return Session(
            id=str(item.id),
            provider=PROVIDER,
            name=item.title or None,
            kind=MessageKind.SMS if item.destination in (None, "t") else MessageKind.OTHER,
            last_activity=_time(item.start_time),
            last_text=item.text,
            raw=item,
        )

    # -- history ----------------------------------------------------------------
    def _history(
        self,
        session_id: str,
        *,
        limit: int | None,
        statuses: str | Iterable[str] | None = None,
        include_deleted: bool = False,
        follow_ups: bool = True,
        **_: Any,
    ) -> AsyncIterator[Message]:
        ref = _ref(session_id)
        wanted = _status_letters(statuses)
        size = self._page_size(limit)

        def fetch(one: int, page: int, n: int) -> Awaitable[tuple[list[Any], int, int]]:
            return self.native._session_message_records(
                one, page=page, limit=n, statuses=wanted, include_deleted=include_deleted or None
            )

        async def messages() -> AsyncIterator[dict[str, Any] | wire.MessageOut]:
            root = await self._resolve(ref)
            if root is None:
                return  # a bulk still queued has no messages yet
            # Each follow-up as soon as it is found (newest first), then the
            # root: a small ``limit`` stops reading early.
            # Message ids are unique across sessions: each session's walk
            # de-duplicates its own pages.
            if follow_ups:
                async for one in self._follow_ups(root):
                    async for item in self._pages(
                        functools.partial(fetch, one), size, _message_id, f"messages of {one}"
                    ):
                        yield item
            async for item in self._pages(
                functools.partial(fetch, root), size, _message_id, f"messages of {root}"
            ):
                yield item

        return self._map_messages(messages(), session_id)

    async def _map_messages(
        self, source: AsyncIterator[dict[str, Any] | wire.MessageOut], session_id: str
    ) -> AsyncIterator[Message]:
        # Plain JSON records are mapped as they are; the others were read
        # by the converter (it converted their odd values).
        from_record = self._message_from_record
        async for item in source:
            if isinstance(item, dict):
                yield from_record(item, session_id)
            else:
                yield self.to_message(item, session_id)

    def _message_from_record(self, item: dict[str, Any], session_id: str) -> Message:
        """:meth:`to_message` of a plain ``MessageOut`` record (see
        ``wire.plain_message_page``), read from the decoded JSON itself;
        ``raw`` becomes the ``MessageOut`` on first read."""
        get = item.get
        return _message_of(
            item["id"],
            get("messageTime"),
            session_id or str(get("sessionId") or ""),
            get("sender") or get("fromNumber"),
            get("receiver") or get("phone"),
            get("text"),
            get("status"),
            get("charsetLabel"),
            LazyRaw(item, _structure_message_out),
        )

    def to_message(self, item: wire.MessageOut, session_id: str | None = None) -> Message:
        """A shared :class:`Message` from a wire ``MessageOut`` (always outbound)."""
        return _message_of(
            item.id,
            item.message_time,
            session_id or str(item.session_id or ""),
            item.sender or item.from_number,
            item.receiver or item.phone,
            item.text,
            item.status,
            item.charset_label,
            item,
        )

    # -- delete -------------------------------------------------------------------
    async def _delete(self, target: str | Session | Message) -> None:
        value = target.id if isinstance(target, Session | Message) else target
        ref = _ref(value)
        root = await self._resolve(ref)
        if root is None:
            raise Conflict(
                f"bulk {ref.id} is still being processed and has no session to delete",
                provider=PROVIDER,
            )
        others = [one async for one in self._follow_ups(root)]
        if not others:
            await self.native.delete_message_session(root)  # 404 -> NotFound
        else:
            await self.native.get_message_session(root)  # NotFound if the root is gone
            await self.native.delete_message_sessions_bulk(ids=[root, *others])

    # -- inbound ----------------------------------------------------------------
    def inbound_source(self, **options: Any) -> InboundSource:
        """Replies polled from ``/api/v2/replies`` (history holds outbound only);
        options: ``poll_interval``, ``page_size`` (see :mod:`.push`)."""
        self._ensure_open()
        from .push import ReplyPollingSource  # push imports this package's api

        return ReplyPollingSource(self.native, **options)

    def webhook_receiver(self, **options: Any) -> WebhookReceiver:
        """The inbound-message callback receiver (see :mod:`.push`): ``token``
        (the callback URL's secret last segment), ``receiving_numbers``
        (default: ``from_number`` when it is a number), ``confirm``."""
        from .push import ReplyWebhookReceiver

        if "receiving_numbers" not in options:
            own = self.options.from_number
            options["receiving_numbers"] = (own,) if own and own.startswith("+") else ()
        return ReplyWebhookReceiver(self.native, **options)

    async def _aclose(self) -> None:
        await self.native.aclose()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<TextMagicAdapter username={self.options.username!r} {state}>"


def _session_id(item: wire.MessageSession) -> int:
    return item.id


def _message_id(item: dict[str, Any] | wire.MessageOut) -> Any:
    return item["id"] if isinstance(item, dict) else item.id


def _message_of(
    message_id: int,
    message_time: str | None,
    session_id: str,
    sender: str | None,
    receiver: str | None,
    text: str | None,
    status: str | None,
    charset_label: str | None,
    raw: wire.MessageOut | LazyRaw[wire.MessageOut],
) -> Message:
    """The shared :class:`Message` of a ``MessageOut``'s values (always outbound)."""
    created = _time(message_time)
    if created is None:
        raise MalformedResponse(
            f"message {message_id} has no readable messageTime ({message_time!r})",
            provider=PROVIDER,
        )
    to = _party(receiver)
    # Every field in Message's order, filled straight into the slots.
    return build_message(
        str(message_id),
        session_id,
        PROVIDER,
        created,
        Direction.OUTBOUND,
        _party(sender),
        (to,) if to else (),
        text or "",
        (),
        _STATUSES.get(status or "", MessageStatus.UNKNOWN),
        MessageKind.SMS if charset_label != "Voice" else MessageKind.OTHER,
        raw,
    )


def _structure_message_out(item: Any) -> wire.MessageOut:
    return wire.converter.structure(item, wire.MessageOut)


def _status_letters(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    letters = value.split(",") if isinstance(value, str) else list(value)
    letters = [v.strip() for v in letters]
    bad = [v for v in letters if v not in STATUS_LETTERS]
    if bad or not letters:
        raise InvalidRequest(
            f"statuses must be among {', '.join(sorted(STATUS_LETTERS))}",
            field="statuses",
            provider=PROVIDER,
        )
    return letters
