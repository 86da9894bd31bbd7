"""The RingCentral adapter: the four unified operations on the Platform API.

``send`` picks the endpoint from what is sent: ``MessageKind.FAX`` sends a
fax (the attachments are the documents, the text goes on the cover page);
phone numbers get an SMS, or an MMS when files are attached; extension
numbers get a company pager message. A conversation is RingCentral's
``conversationId`` (an int64 above 2**53, always handled as a decimal
string). ``sessions`` lists the latest message of each conversation,
``history`` one conversation's messages, both newest first and over the
whole mailbox (the API's default window is only 24 hours, so an explicit
early ``dateFrom``, ``history_since``, is always sent). ``delete`` removes a
conversation, or one message.

Spec operation -> native method: listMessages ``list_messages``,
deleteMessageByFilter ``delete_messages_by_filter``, readMessage
``load_message``, updateMessage ``update_message``, patchMessage
``patch_message``, deleteMessage ``delete_message``, readMessageContent
``load_message_attachment``, syncMessages ``sync_messages``,
createSMSMessage ``send_sms``, createMMS ``send_mms``,
createInternalTextMessage ``send_internal_message``, createFaxMessage
``send_fax_message`` (+ ``resend_fax_message``), listFaxCoverPages
``get_fax_cover_pages``, getToken ``get_token``, revokeToken
``revoke_token``, authorize/authorize2 ``authorize_url``/``authorize``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import aiohttp
import attrs
import cattrs

from ...adapter import Adapter, Capability
from ...config import TransportOptions, structure_options
from ...datetimes import parse_timestamp
from ...errors import ConfigError, InvalidRequest, MalformedResponse, UnsupportedOperation
from ...models import (
    Address,
    AddressKind,
    Attachment,
    Direction,
    LazyRaw,
    Message,
    MessageKind,
    MessageStatus,
    Outgoing,
    Receipt,
    Session,
    build_message,
)
from ...phones import is_e164, options_phone, options_region
from ...secret import Secret
from ...transport import AuthStrategy, BearerToken, GroupedRateLimiter, OAuth2
from ...transport.http import checked_base_url
from . import wire
from .api import (
    DIRECTIONS,
    MAX_PAGER_TEXT,
    MAX_SMS_TEXT,
    MESSAGE_TYPES,
    FilePart,
    RingCentralAPI,
    check_conversation_id,
    check_date,
    check_enums,
    check_message_id,
    utf16_length,
)
from .auth import JwtGrant, PasswordGrant, RingCentralGrant
from .errors import parse_error
from .ratelimit import DEFAULT_LIMITS, RateLimitHeaders, normalise_group

if TYPE_CHECKING:
    from ...inbound.source import InboundSource
    from ...inbound.webhooks import WebhookReceiver

__all__ = ["RingCentralAdapter", "RingCentralOptions"]

PROVIDER = "ringcentral"
PAGE_SIZE = 100
EPOCH = "1970-01-01T00:00:00Z"


def _rate_limits(value: Mapping[str, tuple[int, float]]) -> dict[str, tuple[int, float]]:
    """Group names normalised (``medium`` -> ``Medium``) and values checked."""
    out: dict[str, tuple[int, float]] = {}
    for name, (limit, window) in value.items():
        group = normalise_group(str(name))
        if group is None:
            raise ConfigError(
                f"rate_limits: unknown throttling group {name!r} (Light, Medium, Heavy, Auth)",
                key="rate_limits",
                provider=PROVIDER,
            )
        if limit < 1 or window <= 0:
            raise ConfigError(
                f"rate_limits[{name!r}] needs a limit >= 1 and a window > 0 seconds",
                key="rate_limits",
                provider=PROVIDER,
            )
        out[group] = (int(limit), float(window))
    return out


def _check_since(instance: Any, attribute: Any, value: str) -> None:
    try:
        moment = parse_timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"{value!r} is not an ISO 8601 date-time", key=attribute.name) from None
    if moment > datetime.now(UTC):
        raise ConfigError("history_since lies in the future", key=attribute.name)


@attrs.frozen(kw_only=True)
class RingCentralOptions(TransportOptions):
    """Options of ``connect("ringcentral", ...)``.

    App credentials ``client_id`` and ``client_secret``, and exactly one
    user credential: ``jwt`` (JWT grant), ``username``/``password``
    (+ ``extension``; the legacy password grant), or an ``access_token``
    obtained elsewhere (used as is: never refreshed nor revoked).
    ``rate_limits`` overrides the usage-plan groups, e.g.
    ``{"Medium": [5, 2]}``; ``rate_limiting=False`` turns client-side
    pacing off (the server's 429s are still honoured).
    """

    client_id: str | None = None
    client_secret: Secret | None = attrs.field(default=None, repr=False)
    jwt: Secret | None = attrs.field(default=None, repr=False)
    username: str | None = None
    password: Secret | None = attrs.field(default=None, repr=False)
    extension: str | None = None
    access_token: Secret | None = attrs.field(default=None, repr=False)
    base_url: str = "https://platform.ringcentral.com"
    media_base_url: str = "https://media.ringcentral.com"
    account_id: str = "~"
    extension_id: str = "~"
    from_number: str | None = None
    """The SMS/MMS sender; in E.164, or national with ``default_region``."""
    default_region: str | None = None
    """The country national phone numbers are dialled in (``"US"``); unset,
    numbers need their country code (``+`` or ``00``)."""
    rate_limits: dict[str, tuple[int, float]] = attrs.field(factory=dict)
    rate_limiting: bool = True
    history_since: str = attrs.field(default=EPOCH, validator=_check_since)
    """How far back ``sessions`` and ``history`` look (ISO 8601)."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "rate_limits", _rate_limits(self.rate_limits))
        given = []
        if self.jwt is not None:
            given.append("jwt")
        if self.username is not None or self.password is not None:
            given.append("username" if self.username is not None else "password")
        if self.access_token is not None:
            given.append("access_token")
        if not given:
            raise ConfigError(
                "give jwt, username/password, or access_token", key="jwt", provider=PROVIDER
            )
        if len(given) > 1:
            raise ConfigError(
                f"contradictory credentials: {' and '.join(given)} are both set",
                key=given[1],
                provider=PROVIDER,
            )
        if self.extension is not None and "username" not in given and "password" not in given:
            raise ConfigError(
                "extension only goes with the password grant", key="extension", provider=PROVIDER
            )
        if given[0] in ("username", "password"):
            for key in ("username", "password"):
                if getattr(self, key) is None:
                    raise ConfigError(f"the password grant needs {key}", key=key, provider=PROVIDER)
        if given[0] != "access_token":
            for key in ("client_id", "client_secret"):
                if not getattr(self, key):
                    raise ConfigError(f"the OAuth grant needs {key}", key=key, provider=PROVIDER)
        region = options_region(self.default_region, provider=PROVIDER)
        object.__setattr__(self, "default_region", region)
        number = options_phone(self.from_number, region, key="from_number", provider=PROVIDER)
        object.__setattr__(self, "from_number", number)

    def grant(self) -> RingCentralGrant | None:
        """The OAuth grant these credentials call for (``None`` for a given token)."""
        if self.client_id is None or self.client_secret is None:
            return None
        if self.jwt is not None:
            return JwtGrant(self.client_id, self.client_secret, assertion=self.jwt)
        if self.username is not None and self.password is not None:
            return PasswordGrant(
                self.client_id,
                self.client_secret,
                username=self.username,
                password=self.password,
                extension=self.extension,
            )
        return None

    def identity(self) -> str:
        """The account these options reach, as named in shared state."""
        return self.account_key(
            PROVIDER,
            self.base_url,
            self.client_id,
            self.jwt,
            self.username,
            self.extension,
            self.access_token,
            self.account_id,
            self.extension_id,
        )

    def auth(self) -> AuthStrategy:
        """The auth strategy: OAuth2 over the grant, or the given bearer token."""
        if self.access_token is not None:
            return BearerToken(self.access_token)
        grant = self.grant()
        assert grant is not None
        if self.state is None:
            return OAuth2(grant)
        return OAuth2(grant, store=self.state.tokens, store_key=self.identity())

    def limiter(self) -> GroupedRateLimiter:
        """The client-side pacing per usage-plan group (shared with ``state``)."""
        state, account = self.state, self.identity()
        return GroupedRateLimiter(
            {**DEFAULT_LIMITS, **self.rate_limits},
            factory=(
                None
                if state is None
                else lambda group, limit, window: state.limiter(f"{account}:{group}", limit, window)
            ),
        )


# -- mapping wire -> shared models -------------------------------------------------

_STATUSES = {
    "Queued": MessageStatus.QUEUED,
    "Sent": MessageStatus.SENT,
    "Delivered": MessageStatus.DELIVERED,
    "DeliveryFailed": MessageStatus.FAILED,
    "SendingFailed": MessageStatus.FAILED,
    "Received": MessageStatus.RECEIVED,
}
_KINDS = {
    "SMS": MessageKind.SMS,
    "Pager": MessageKind.PAGER,
    "Fax": MessageKind.FAX,
    "VoiceMail": MessageKind.VOICEMAIL,
}
_DIRECTIONS = {"Inbound": Direction.INBOUND, "Outbound": Direction.OUTBOUND}
_EPOCH = datetime.fromtimestamp(0, UTC)


def _party(info: wire.CallerInfo | None) -> Address | None:
    if info is None:
        return None
    return _party_of(info.phone_number, info.extension_number, info.extension_id)


# Cached: a conversation names the same few parties on every message
# (addresses are immutable, so one object serves them all).
@functools.lru_cache(maxsize=512)
def _party_of(
    phone_number: str | None, extension_number: str | None, extension_id: str | None
) -> Address | None:
    if phone_number:
        # What the provider reports is kept as it is: E.164 is a phone
        # number; anything else (a short code, a national form) is not
        # guessed into a country.
        kind = AddressKind.PHONE if is_e164(phone_number) else AddressKind.USER
        return Address(phone_number, kind)
    if extension_number:
        return Address(extension_number, AddressKind.EXTENSION)
    if extension_id:
        return Address(extension_id, AddressKind.USER)
    return None


def _record_party(info: dict[str, Any] | None) -> Address | None:
    """:func:`_party` of a plain ``CallerInfo`` record (see :func:`message_from_record`)."""
    if info is None:
        return None
    get = info.get
    return _party_of(get("phoneNumber"), get("extensionNumber"), get("extensionId"))


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _kind(item: wire.MessageInfo) -> MessageKind:
    return _kind_of(item.type, (a.type for a in item.attachments))


def _kind_of(type_: str | None, attachment_types: Iterable[str | None]) -> MessageKind:
    kind = _KINDS.get(type_ or "", MessageKind.OTHER)
    if kind is MessageKind.SMS and "MmsAttachment" in attachment_types:
        return MessageKind.MMS
    return kind


def _status(item: wire.MessageInfo) -> MessageStatus:
    return _status_of(item.availability, item.direction, item.read_status, item.message_status)


def _status_of(
    availability: str | None,
    direction: str | None,
    read_status: str | None,
    message_status: str | None,
) -> MessageStatus:
    if availability in ("Deleted", "Purged"):
        return MessageStatus.DELETED
    if direction == "Inbound" and read_status == "Read":
        return MessageStatus.READ
    return _STATUSES.get(message_status or "", MessageStatus.UNKNOWN)


def _message_info(data: Any) -> wire.MessageInfo:
    """A send's answer as ``MessageInfo``, built when ``Receipt.raw`` is first read."""
    try:
        return wire.structure_message_info(data)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, RecursionError):
        pass
    # Raised outside the except block: cattrs' errors quote the values.
    raise MalformedResponse("the answer is not a valid MessageInfo", provider=PROVIDER)


def to_message(item: wire.MessageInfo) -> Message:
    """A shared :class:`Message` from a message-store record."""
    attachments = tuple(
        Attachment.received(
            a.content_type,
            filename=a.name,
            size=a.size,
            url=a.uri,
            id=str(a.id),
        )
        for a in item.attachments
        if a.type != "Text"  # the SMS/pager body itself; its text is the subject
    )
    recipients = tuple([p for r in item.to if (p := _party(r)) is not None])
    return _message_of(
        item.id,
        item.conversation_key or "",
        item.creation_time,
        item.direction,
        _party(item.from_),
        recipients,
        item.type,
        item.subject,
        item.cover_page_text,
        attachments,
        [a.type for a in item.attachments],
        _status(item),
        item,
    )


def message_from_record(item: dict[str, Any]) -> Message:
    """:func:`to_message` of a plain ``MessageInfo`` record (of a page that
    ``wire.plain_message_list`` accepts), read from the decoded JSON itself;
    ``raw`` becomes the ``MessageInfo`` on first read."""
    get = item.get
    attachments: tuple[Attachment, ...] = ()
    types: list[str | None] = []
    files = get("attachments")
    if files:
        types = [a.get("type") for a in files]
        attachments = tuple(
            Attachment.received(
                a.get("contentType"),
                filename=a.get("fileName") or a.get("filename"),
                size=a.get("size"),
                url=a.get("uri"),
                id=str(a["id"]),
            )
            for a, kind in zip(files, types, strict=True)
            if kind != "Text"  # the SMS/pager body itself; its text is the subject
        )
    recipients = tuple([p for r in get("to") or () if (p := _record_party(r)) is not None])
    # conversation_key: the conversation's id string, else conversationId's digits.
    conversation = get("conversation")
    session_id = conversation.get("id") if conversation is not None else None
    if not session_id:
        number = get("conversationId")
        session_id = "" if number is None else str(number)
    direction = get("direction")
    return _message_of(
        item["id"],
        session_id,
        get("creationTime"),
        direction,
        _record_party(get("from")),
        recipients,
        get("type"),
        get("subject"),
        get("coverPageText"),
        attachments,
        types,
        _status_of(get("availability"), direction, get("readStatus"), get("messageStatus")),
        LazyRaw(item, wire.structure_message_info),
    )


def _message_of(
    message_id: int,
    session_id: str,
    creation_time: str | None,
    direction: str | None,
    sender: Address | None,
    recipients: tuple[Address, ...],
    type_: str | None,
    subject: str | None,
    cover_page_text: str | None,
    attachments: tuple[Attachment, ...],
    attachment_types: list[str | None],
    status: MessageStatus,
    raw: wire.MessageInfo | LazyRaw[wire.MessageInfo],
) -> Message:
    """The shared :class:`Message` of a ``MessageInfo``'s values."""
    # Every field in Message's order, filled straight into the slots.
    return build_message(
        str(message_id),
        session_id,
        PROVIDER,
        _time(creation_time) or _EPOCH,
        _DIRECTIONS.get(direction or "", Direction.UNKNOWN),
        sender,
        recipients,
        (subject or "") if type_ != "Fax" else (cover_page_text or ""),
        attachments,
        status,
        _kind_of(type_, attachment_types),
        raw,
    )


def to_session(item: wire.MessageInfo) -> Session:
    """A shared :class:`Session` from the latest message of a conversation."""
    inbound = item.direction == "Inbound"
    remote = [_party(item.from_)] if inbound else [_party(r) for r in item.to]
    return Session(
        id=item.conversation_key or str(item.id),
        provider=PROVIDER,
        participants=tuple(p for p in remote if p is not None),
        kind=_kind(item),
        last_activity=_time(item.creation_time),
        last_text=item.subject,
        raw=item,
    )


class RingCentralAdapter(Adapter[RingCentralAPI]):
    """RingCentral SMS, MMS, pager and fax behind the unified interface."""

    provider = PROVIDER
    capabilities = (
        Capability.SEND
        | Capability.SESSIONS
        | Capability.HISTORY
        | Capability.DELETE
        | Capability.ATTACHMENTS
        | Capability.GROUP
        | Capability.MESSAGE_DELETE
        | Capability.PUSH
        | Capability.WEBHOOKS
    )
    session_filters = frozenset({"message_type", "since"})
    history_filters = frozenset({"direction", "since", "until"})
    dials_phones = True

    def __init__(self, native: RingCentralAPI, options: RingCentralOptions) -> None:
        super().__init__(native)
        self.options = options
        self.default_region = options.default_region

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
    ) -> Self:
        """Build the adapter from ``connect()`` options."""
        opts = structure_options(RingCentralOptions, options, provider=PROVIDER)
        # The token also goes to this host: held to the same rules as base_url.
        checked_base_url(opts.media_base_url, key="media_base_url", provider=PROVIDER)
        limiter = opts.limiter()
        transport = opts.make_transport(
            provider=PROVIDER,
            base_url=opts.base_url,
            auth=opts.auth(),
            session=session,
            rate_limiter=limiter if opts.rate_limiting else None,
            error_parser=parse_error,
            allowed_origins=(opts.media_base_url,),
            on_response=RateLimitHeaders(limiter) if opts.rate_limiting else None,
        )
        try:
            native = RingCentralAPI(
                transport,
                account_id=opts.account_id,
                extension_id=opts.extension_id,
                media_base_url=opts.media_base_url,
                client=opts.grant(),
                default_region=opts.default_region,
            )
        except InvalidRequest as exc:
            raise ConfigError(exc.message, key=exc.field, provider=PROVIDER) from None
        adapter = cls(native, opts)
        adapter._use_state(opts.state, opts.identity(), idempotency_ttl=opts.idempotency_ttl)
        return adapter

    # -- send ----------------------------------------------------------------
    async def _send(self, outgoing: Outgoing) -> Receipt:
        if outgoing.session_id is not None:
            check_conversation_id(outgoing.session_id)
        kinds = {a.kind for a in outgoing.to}
        requested = outgoing.kind
        if requested in (MessageKind.CHAT, MessageKind.VOICEMAIL, MessageKind.OTHER):
            raise UnsupportedOperation(f"sending {requested.value} messages", provider=PROVIDER)
        if kinds - {AddressKind.PHONE, AddressKind.EXTENSION}:
            raise InvalidRequest(
                "RingCentral sends to phone numbers (E.164) or extension numbers",
                field="to",
                provider=PROVIDER,
            )
        if len(kinds) > 1:
            raise InvalidRequest(
                "one message cannot mix phone numbers and extensions",
                field="to",
                provider=PROVIDER,
            )
        if AddressKind.EXTENSION in kinds and requested is MessageKind.AUTO:
            # A short number is as likely a mistyped phone number as an
            # extension: a pager message only when asked for.
            short = next(a.value for a in outgoing.to if a.kind is AddressKind.EXTENSION)
            raise InvalidRequest(
                f"{short!r} is not a phone number: to page extension {short}, pass "
                "kind=MessageKind.PAGER; phone numbers need E.164 (+...) or default_region",
                field="to",
                provider=PROVIDER,
            )
        files = [
            FilePart(a.content or b"", a.content_type, a.filename) for a in outgoing.attachments
        ]
        item: wire.MessageInfo | wire.SentRecord
        if requested is MessageKind.FAX:
            item = await self._send_fax(outgoing, kinds, files)
        elif AddressKind.EXTENSION in kinds or requested is MessageKind.PAGER:
            item = await self._send_pager(outgoing, kinds, files)
        else:
            item = await self._send_text(outgoing, files)
        # Faxes have no conversation: the fax's own id stands in for it.
        session_id = item.conversation_key or str(item.id)
        return Receipt(
            session_id=session_id,
            provider=PROVIDER,
            status=_STATUSES.get(item.message_status or "", MessageStatus.ACCEPTED),
            message_ids=(str(item.id),),
            raw=LazyRaw(item.data, _message_info) if isinstance(item, wire.SentRecord) else item,
        )

    def _check_text(self, text: str, limit: int) -> None:
        if utf16_length(text) > limit:
            raise InvalidRequest(
                f"text is {utf16_length(text)} UTF-16 units; RingCentral allows {limit}",
                field="text",
                provider=PROVIDER,
            )

    async def _send_text(
        self, outgoing: Outgoing, files: list[FilePart]
    ) -> wire.MessageInfo | wire.SentRecord:
        if outgoing.kind is MessageKind.MMS and not files:
            raise InvalidRequest(
                "an MMS needs an attachment", field="attachments", provider=PROVIDER
            )
        self._check_text(outgoing.text, MAX_SMS_TEXT)
        sender = self._sender(outgoing)
        numbers = list(outgoing.to)  # Addresses: the native client does not parse them again
        if files:
            return await self.native.send_mms(
                from_number=sender, to=numbers, attachments=files, text=outgoing.text or None
            )
        if len(numbers) > 1:
            raise InvalidRequest(
                "an SMS goes to one number; attach a file to send a group MMS",
                field="to",
                provider=PROVIDER,
            )
        [number] = numbers
        if (
            outgoing.text
            and number.kind is AddressKind.PHONE
            and not number.is_national
            and sender.kind is AddressKind.PHONE
            and not sender.is_national
        ):
            # What send_sms would check again was checked here already.
            return await self.native._send_checked_sms(
                from_number=sender.value, to=number.value, text=outgoing.text
            )
        return await self.native.send_sms(from_number=sender, to=numbers, text=outgoing.text)

    async def _send_pager(
        self, outgoing: Outgoing, kinds: set[AddressKind], files: list[FilePart]
    ) -> wire.MessageInfo:
        if AddressKind.EXTENSION not in kinds:
            raise InvalidRequest(
                "pager messages go to extension numbers", field="to", provider=PROVIDER
            )
        if files:
            raise InvalidRequest(
                "pager messages carry no attachments", field="attachments", provider=PROVIDER
            )
        if outgoing.kind in (MessageKind.SMS, MessageKind.MMS):
            raise InvalidRequest("SMS and MMS go to phone numbers", field="to", provider=PROVIDER)
        self._check_text(outgoing.text, MAX_PAGER_TEXT)
        return await self.native.send_internal_message(
            text=outgoing.text, to=[a.value for a in outgoing.to]
        )

    async def _send_fax(
        self, outgoing: Outgoing, kinds: set[AddressKind], files: list[FilePart]
    ) -> wire.MessageInfo:
        if kinds != {AddressKind.PHONE}:
            raise InvalidRequest("faxes go to phone numbers", field="to", provider=PROVIDER)
        if not files:
            raise InvalidRequest(
                "a fax needs at least one document attachment",
                field="attachments",
                provider=PROVIDER,
            )
        return await self.native.send_fax_message(
            to=list(outgoing.to),
            attachments=files,
            cover_page_text=outgoing.text or None,
        )

    def _sender(self, outgoing: Outgoing) -> Address:
        if outgoing.sender is not None:
            if outgoing.sender.kind is not AddressKind.PHONE:
                raise InvalidRequest(
                    "an SMS sender must be a phone number", field="sender", provider=PROVIDER
                )
            return outgoing.sender
        if self.options.from_number:
            # In E.164 since connect(): not parsed again on every send.
            return Address(self.options.from_number, AddressKind.PHONE)
        raise InvalidRequest(
            "SMS needs a sender number: set from_number in the config or Outgoing.sender",
            field="sender",
            provider=PROVIDER,
        )

    # -- sessions --------------------------------------------------------------
    def _since(self, value: Any) -> str | datetime:
        if value is None:
            return self.options.history_since
        if isinstance(value, datetime | str):
            return value
        raise InvalidRequest("since must be a datetime or ISO 8601 string", field="since",
                             provider=PROVIDER)  # fmt: skip

    def _sessions(self, *, limit: int | None, **options: Any) -> AsyncIterator[Session]:
        message_type = options.get("message_type")
        filters: dict[str, Any] = {
            "distinct_conversations": True,
            # Only SMS and pager messages belong to conversations.
            "message_type": message_type if message_type is not None else ["SMS", "Pager"],
            "date_from": self._since(options.get("since")),
        }
        self._validate(filters)
        return self._map_sessions(filters, limit)

    def _validate(self, filters: dict[str, Any]) -> None:
        # Run the native client's checks now, so bad input fails before any I/O.
        if "message_type" in filters:
            check_enums(filters["message_type"], MESSAGE_TYPES, "message_type")
        if "direction" in filters:
            check_enums(filters["direction"], DIRECTIONS, "direction")
        for key in ("date_from", "date_to"):
            if key in filters:
                check_date(filters[key], key)

    async def _map_sessions(
        self, filters: dict[str, Any], limit: int | None
    ) -> AsyncIterator[Session]:
        per_page = PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit))
        source = self.native.iter_messages(per_page=per_page, **filters)
        # Remembering every conversation already yielded is inherent to "the
        # latest message of each conversation": O(sessions yielded), not
        # O(messages read). Repeated messages are dropped by the walk's
        # bounded window before they get here.
        yielded: set[str] = set()
        async for item in source:
            conversation = item.conversation_key
            if conversation is None or conversation in yielded:
                continue
            yielded.add(conversation)
            yield to_session(item)

    # -- history ---------------------------------------------------------------
    def _history(
        self, session_id: str, *, limit: int | None, **options: Any
    ) -> AsyncIterator[Message]:
        filters: dict[str, Any] = {
            "conversation_id": check_conversation_id(session_id),
            "date_from": self._since(options.get("since")),
        }
        if options.get("direction") is not None:
            filters["direction"] = options["direction"]
        if options.get("until") is not None:
            filters["date_to"] = options["until"]
        self._validate(filters)
        return self._map_messages(filters, limit)

    async def _map_messages(
        self, filters: dict[str, Any], limit: int | None
    ) -> AsyncIterator[Message]:
        per_page = PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit))
        # Page numbers shift when messages arrive while we read: the walk
        # drops the repeats (see RingCentralAPI.iter_messages).
        # Plain JSON records are mapped as they are; the others were read
        # by the converter (it converted their odd values).
        async for item in self.native._history_records(per_page=per_page, **filters):
            yield message_from_record(item) if isinstance(item, dict) else to_message(item)

    # -- delete ---------------------------------------------------------------
    async def _delete(self, target: str | Session | Message) -> None:
        if isinstance(target, Message):
            await self.native.delete_message(check_message_id(target.id))
            return
        session_id = target.id if isinstance(target, Session) else target
        await self.native.delete_messages_by_filter(
            conversation_id=check_conversation_id(session_id)
        )

    # -- inbound ---------------------------------------------------------------
    def inbound_source(self, **options: Any) -> InboundSource:
        """Push over RingCentral's WebSocket gateway, catching up by message-sync
        (options: see :class:`~.push.RingCentralPushSource`)."""
        self._ensure_open()
        from .push import RingCentralPushSource  # push imports this module

        try:
            return RingCentralPushSource(self, **options)
        except (TypeError, ValueError) as exc:  # an unknown or out-of-range option
            raise InvalidRequest(f"listen() options: {exc}", provider=PROVIDER) from None

    def webhook_receiver(self, **options: Any) -> WebhookReceiver:
        """The webhook receiver (``verification_token=``: the token given when the
        WebHook subscription was created, see ``native.create_webhook_subscription``)."""
        from .push import RingCentralWebhookReceiver

        try:
            return RingCentralWebhookReceiver(**options)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"webhook options: {exc}", provider=PROVIDER) from None

    async def _aclose(self) -> None:
        await self.native.aclose()
