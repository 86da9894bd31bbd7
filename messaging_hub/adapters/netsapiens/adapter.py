"""The NetSapiens adapter: the four unified operations on ns-api v2.

``send`` picks the message type from what is sent: extensions/user ids get
``chat`` (``chat-media`` with a file), phone numbers get ``sms`` (``mms``
with a file); several recipients make a group message. A new conversation
gets a client-made session id (40 random letters, digits and underscores,
as the spec demands at least 32). NetSapiens timestamps have no zone: they
are read in the configured ``timezone`` and returned in UTC.
"""

from __future__ import annotations

import functools
import operator
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self, cast
from zoneinfo import ZoneInfo

import aiohttp
import attrs

from ...adapter import Adapter, Capability
from ...config import TransportOptions, structure_options
from ...datetimes import parse_timestamp
from ...errors import ConfigError, InvalidRequest, NotFound, UnsupportedOperation
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
from ...pagination import offset_pages
from ...phones import options_phone, options_region
from ...secret import Secret
from ...transport import AuthStrategy, BearerToken, OAuth2
from . import wire
from .api import NetSapiensAPI, check_session_id
from .auth import PasswordGrant
from .wire import wire_loose_str, wire_str

if TYPE_CHECKING:
    from .records import MessageRecord

__all__ = ["NetSapiensAdapter", "NetSapiensOptions"]

PROVIDER = "netsapiens"
SESSION_ID_LENGTH = 40
# NetSapiens documents no limits; these are the carrier-side norms for
# concatenated SMS (10 segments) and a generous cap for chat.
MAX_SMS_TEXT = 1600
MAX_CHAT_TEXT = 10_000
PAGE_SIZE = 100
_UTC_ZONE = ZoneInfo("UTC")
_UNSUPPORTED_KINDS = frozenset({MessageKind.PAGER, MessageKind.FAX, MessageKind.VOICEMAIL})
_EPOCH = datetime.fromtimestamp(0, UTC)


@attrs.frozen(kw_only=True)
class NetSapiensOptions(TransportOptions):
    """Options of ``connect("netsapiens", ...)``.

    Exactly one credential: ``access_token``, ``api_key``, or the OAuth
    password grant (``client_id``, ``client_secret``, ``username``,
    ``password``).
    """

    base_url: str
    domain: str = "~"
    user: str = "~"
    access_token: Secret | None = None
    api_key: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    from_number: str | None = None
    """The SMS sender; in E.164, or national with ``default_region``."""
    default_region: str | None = None
    """The country national phone numbers are dialled in (``"US"``); unset,
    numbers need their country code (``+`` or ``00``)."""
    timezone: ZoneInfo = attrs.field(factory=lambda: ZoneInfo("UTC"))

    def __attrs_post_init__(self) -> None:
        grant = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
        }
        given = [k for k in ("access_token", "api_key") if getattr(self, k) is not None]
        if any(v is not None for v in grant.values()):
            missing = [k for k, v in grant.items() if v is None]
            if missing:
                raise ConfigError(f"the password grant needs {', '.join(missing)}", key=missing[0])
            given.append("client_id")
        if not given:
            raise ConfigError(
                "give access_token, api_key, or client_id/client_secret/username/password",
                key="access_token",
            )
        if len(given) > 1:
            raise ConfigError(
                f"contradictory credentials: {' and '.join(given)} are both set", key=given[1]
            )
        region = options_region(self.default_region, provider=PROVIDER)
        object.__setattr__(self, "default_region", region)
        number = options_phone(self.from_number, region, key="from_number", provider=PROVIDER)
        object.__setattr__(self, "from_number", number)

    def auth(self) -> AuthStrategy:
        """The auth strategy these credentials call for."""
        if self.access_token is not None:
            return BearerToken(self.access_token)
        if self.api_key is not None:
            return BearerToken(self.api_key)
        assert self.client_id and self.client_secret and self.username and self.password
        grant = PasswordGrant(self.client_id, self.client_secret, self.username, self.password)
        if self.state is None:
            return OAuth2(grant)
        return OAuth2(grant, store=self.state.tokens, store_key=self.identity())

    def identity(self) -> str:
        """The account these options reach, as named in shared state."""
        return self.account_key(
            PROVIDER,
            self.base_url,
            self.domain,
            self.user,
            self.access_token,
            self.api_key,
            self.client_id,
            self.username,
        )


def new_session_id() -> str:
    """A fresh random message-session id."""
    # 30 random bytes in URL-safe base64 are 40 characters; the spec allows
    # only letters, digits and "_", so "-" becomes "_" (about 234 bits remain).
    return secrets.token_urlsafe(SESSION_ID_LENGTH * 3 // 4).replace("-", "_")


def _wire_number(address: Address) -> str:
    # NetSapiens writes numbers as bare digits with the country code.
    return address.value.lstrip("+")


_CACHE_SIZE = 512


# Cached by wire spelling: a conversation names the same few parties on
# every message (addresses are immutable, so one object serves them all).
@functools.lru_cache(maxsize=_CACHE_SIZE)
def _party(value: str) -> Address:
    value = value.strip()
    if "@" in value:
        return Address(value, AddressKind.USER)
    digits = value.lstrip("+")
    ascii_digits = digits.isascii() and digits.isdigit()
    if ascii_digits and len(digits) >= 7:
        return Address("+" + digits, AddressKind.PHONE)
    if ascii_digits:
        return Address(digits, AddressKind.EXTENSION)
    return Address(value, AddressKind.USER)


def _parties(value: str | None) -> tuple[Address, ...]:
    return _party_list(value) if value else ()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _party_list(value: str) -> tuple[Address, ...]:
    return tuple(_party(v) for v in value.split(",") if v.strip())


_message_id: Callable[[Message], str] = operator.attrgetter("id")


_KINDS = {
    "chat": MessageKind.CHAT,
    "chat-media": MessageKind.CHAT,
    "group-chat": MessageKind.CHAT,
    "sms": MessageKind.SMS,
    "group-sms": MessageKind.SMS,
    "mms": MessageKind.MMS,
}

_STATUSES = {
    "sending": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "unread": MessageStatus.RECEIVED,
    "received": MessageStatus.RECEIVED,
    "failed": MessageStatus.FAILED,
    "error": MessageStatus.FAILED,
}


class NetSapiensAdapter(Adapter[NetSapiensAPI]):
    """NetSapiens ns-api v2 message sessions behind the unified interface."""

    provider = PROVIDER
    capabilities = (
        Capability.SEND
        | Capability.SESSIONS
        | Capability.HISTORY
        | Capability.DELETE
        | Capability.ATTACHMENTS
        | Capability.GROUP
    )
    session_filters = frozenset({"domain_wide"})
    history_filters = frozenset()
    dials_phones = True

    def __init__(self, native: NetSapiensAPI, options: NetSapiensOptions) -> None:
        super().__init__(native)
        self.options = options
        self.default_region = options.default_region
        # Zone-less timestamps are UTC already: no zone conversion to make.
        self._utc = options.timezone is _UTC_ZONE
        # The direction of messages by sender, for records that give none.
        self._directions: dict[str, Direction] = {}

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
    ) -> Self:
        """Build the adapter from ``connect()`` options."""
        opts = structure_options(NetSapiensOptions, options, provider=PROVIDER)
        transport = opts.make_transport(
            provider=PROVIDER, base_url=opts.base_url, auth=opts.auth(), session=session
        )
        try:
            native = NetSapiensAPI(transport, domain=opts.domain, user=opts.user)
        except InvalidRequest as exc:
            raise ConfigError(exc.message, key=exc.field, provider=PROVIDER) from None
        adapter = cls(native, opts)
        adapter._use_state(opts.state, opts.identity(), idempotency_ttl=opts.idempotency_ttl)
        return adapter

    # -- send ----------------------------------------------------------------
    async def _send(self, outgoing: Outgoing) -> Receipt:
        session_id = (
            check_session_id(outgoing.session_id) if outgoing.session_id else new_session_id()
        )
        kind = self._kind_for(outgoing)
        limit = MAX_CHAT_TEXT if kind is MessageKind.CHAT else MAX_SMS_TEXT
        if len(outgoing.text) > limit:
            raise InvalidRequest(
                f"text is {len(outgoing.text)} characters; NetSapiens {kind.value} "
                f"messages are limited to {limit} here",
                field="text",
                provider=PROVIDER,
            )
        if len(outgoing.attachments) > 1:
            raise InvalidRequest(
                "NetSapiens sends one file per message", field="attachments", provider=PROVIDER
            )
        api = self.native
        file = outgoing.attachments[0] if outgoing.attachments else None
        if kind is MessageKind.CHAT:
            targets = [a.value for a in outgoing.to]
            if file is not None:
                assert file.content is not None
                await api.send_message_media_chat(
                    session_id,
                    destination=targets[0] if len(targets) == 1 else targets,
                    message=outgoing.text,
                    data=file.content,
                    mime_type=file.content_type,
                )
            elif len(targets) == 1:
                await api.send_message_chat(
                    session_id, destination=targets[0], message=outgoing.text
                )
            else:
                await api.send_message_group_chat(
                    session_id, destination=targets, message=outgoing.text
                )
        else:
            numbers = [_wire_number(a) for a in outgoing.to]
            sender = self._sender(outgoing)
            if file is not None:
                assert file.content is not None
                await api.send_message_mms(
                    session_id,
                    destination=numbers[0] if len(numbers) == 1 else numbers,
                    message=outgoing.text,
                    from_number=sender,
                    data=file.content,
                    mime_type=file.content_type,
                )
            elif len(numbers) == 1:
                await api.send_message_sms(
                    session_id, destination=numbers[0], message=outgoing.text, from_number=sender
                )
            else:
                await api.send_message_group_sms(
                    session_id, destination=numbers, message=outgoing.text, from_number=sender
                )
        return Receipt(session_id, PROVIDER, MessageStatus.ACCEPTED)

    async def _continue_session(self, outgoing: Outgoing) -> Outgoing:
        """Write to the session's remote parties (one GET of the session)."""
        session_id = check_session_id(outgoing.session_id or "")
        found = await self.native.get_message_session_for_user(session_id)
        if not found:
            raise NotFound(f"no message session {session_id!r}", provider=PROVIDER, status=404)
        remote = _parties(found[0].messagesession_remote)
        if not remote:
            raise InvalidRequest(
                f"session {session_id!r} names nobody to write to: pass to=[...]",
                field="to",
                provider=PROVIDER,
            )
        return attrs.evolve(outgoing, to=remote)

    def _kind_for(self, outgoing: Outgoing) -> MessageKind:
        phones = 0
        for address in outgoing.to:
            if address.kind is AddressKind.PHONE:
                phones += 1
        requested = outgoing.kind
        if requested in _UNSUPPORTED_KINDS:
            raise UnsupportedOperation(f"{requested.value} messages", provider=PROVIDER)
        if phones == len(outgoing.to):
            if requested is MessageKind.CHAT:
                raise InvalidRequest(
                    "chat messages go to extensions or user ids, not phone numbers",
                    field="to",
                    provider=PROVIDER,
                )
            return MessageKind.SMS
        if phones:
            raise InvalidRequest(
                "one message cannot mix phone numbers with extensions or user ids",
                field="to",
                provider=PROVIDER,
            )
        if requested in (MessageKind.SMS, MessageKind.MMS):
            raise InvalidRequest("SMS and MMS go to phone numbers", field="to", provider=PROVIDER)
        return MessageKind.CHAT

    def _sender(self, outgoing: Outgoing) -> str:
        if outgoing.sender is not None:
            if outgoing.sender.kind is not AddressKind.PHONE:
                raise InvalidRequest(
                    "an SMS sender must be a phone number", field="sender", provider=PROVIDER
                )
            return _wire_number(outgoing.sender)
        if self.options.from_number:
            return self.options.from_number.lstrip("+")  # in E.164 since connect()
        raise InvalidRequest(
            "SMS needs a sender number: set from_number in the config or Outgoing.sender",
            field="sender",
            provider=PROVIDER,
        )

    # -- sessions --------------------------------------------------------------
    def _sessions(
        self, *, limit: int | None, domain_wide: bool = False, **_: Any
    ) -> AsyncIterator[Session]:
        async def page(offset: int, size: int) -> list[wire.MessageSession]:
            if domain_wide:
                return await self.native.get_message_sessions_for_domain(limit=size, start=offset)
            return await self.native.get_message_sessions_for_user(limit=size, start=offset)

        return self._map_sessions(
            offset_pages(
                page,
                page_size=PAGE_SIZE,
                limit=limit,
                key=lambda s: s.messagesession_id,
                provider=PROVIDER,
                what="message sessions",
            )
        )

    async def _map_sessions(
        self, source: AsyncIterator[wire.MessageSession]
    ) -> AsyncIterator[Session]:
        async for item in source:
            yield self.to_session(item)

    def to_session(self, item: wire.MessageSession) -> Session:
        """A shared :class:`Session` from a wire ``Messagesession``."""
        participants = _parties(item.messagesession_participants) or _parties(
            item.messagesession_remote
        )
        kind = _KINDS.get(item.messagesession_type or "") or _KINDS.get(
            item.messagesession_last_type or "", MessageKind.OTHER
        )
        return Session(
            id=item.messagesession_id,
            provider=PROVIDER,
            participants=participants,
            name=item.messagesession_name or None,
            kind=kind,
            last_activity=self._time(item.last_activity),
            last_text=item.messagesession_last_message,
            raw=item,
        )

    # -- history --------------------------------------------------------------
    def _history(self, session_id: str, *, limit: int | None, **_: Any) -> AsyncIterator[Message]:
        check_session_id(session_id)
        from_record = self._message_from_record
        from_fields = self._message_from_fields

        async def page(offset: int, size: int) -> list[Message]:
            # JSON records straight to Message, one pass per page.
            records = await self.native._message_records(session_id, limit=size, start=offset)
            if not records:
                return []
            if type(records[0]) is dict:
                return [from_record(r, session_id) for r in records]
            if isinstance(records[0], wire.Message):
                return [self.to_message(r, session_id) for r in records]
            records = cast("list[MessageRecord]", records)
            to_wire = type(records[0]).wire
            return [
                from_fields(
                    session_id,
                    r.id,
                    r.timestamp,
                    r.type,
                    r.direction,
                    r.text,
                    r.status,
                    r.from_number,
                    r.from_user_id,
                    r.terminating_user_id,
                    r.terminating_number,
                    r.dialed,
                    r.messagesession_id,
                    r.media_type,
                    r.media_size,
                    r.file_access_url,
                    LazyRaw(r, to_wire),
                )
                for r in records
            ]

        return offset_pages(
            page,
            page_size=PAGE_SIZE,
            limit=limit,
            key=_message_id,
            provider=PROVIDER,
            what=f"messages of session {session_id}",
        )

    def _message_from_record(self, item: dict[str, Any], session_id: str) -> Message:
        """:meth:`to_message` of the record's wire ``Message``, read from the
        JSON record itself (``raw`` becomes the wire object when read)."""
        get = item.get
        return self._message_from_fields(
            session_id,
            item["id"],
            get("timestamp"),
            get("type"),
            get("direction"),
            get("text"),
            get("status"),
            get("from-number"),
            get("from-user-id"),
            get("terminating-user-id"),
            get("terminating-number"),
            get("dialed"),
            get("messagesession-id"),
            get("media-type"),
            get("media-size"),
            get("file-access-url "),
            LazyRaw(item, wire.structure_message),
        )

    def _message_from_fields(
        self,
        session_id: str,
        message_id: Any,
        timestamp: Any,
        kind: Any,
        direction: Any,
        text: Any,
        status: Any,
        from_number: Any,
        from_user_id: Any,
        to_user: Any,
        to_number: Any,
        dialed: Any,
        session: Any,
        media_type: Any,
        media_size: Any,
        file_url: Any,
        raw: LazyRaw[wire.Message],
    ) -> Message:
        """:meth:`to_message` from a JSON record's values (as JSON gives them):
        run once per message of a history walk, so the usual str/None values
        are taken as they are and only other types go through wire_str /
        wire_loose_str (which read them as the converter does)."""
        if from_number is not None and type(from_number) is not str:
            from_number = wire_loose_str(from_number)
        if from_user_id is not None and type(from_user_id) is not str:
            from_user_id = wire_str(from_user_id)
        sender: Address | None = None
        if from_number:
            sender = _party(from_number)
        elif from_user_id:
            sender = _party(from_user_id)
        if to_user is not None and type(to_user) is not str:
            to_user = wire_str(to_user)
        recipients = _parties(to_user) or _parties(
            wire_loose_str(to_number) or wire_loose_str(dialed)
        )
        if type(message_id) is not str:
            message_id = wire.loose_str(message_id)
        attachments: tuple[Attachment, ...] = ()
        if media_type is not None and type(media_type) is not str:
            media_type = wire_str(media_type)
        if media_type:
            attachments = (
                Attachment.received(
                    media_type,
                    size=(None if media_size is None else wire.loose_int(media_size)) or None,
                    url=wire_str(file_url),
                    id=message_id,
                ),
            )
        if direction == "orig":
            way = Direction.INBOUND
        elif direction == "term":
            way = Direction.OUTBOUND
        else:
            way = self._direction_of(from_user_id)
        if status is not None and type(status) is not str:
            status = wire_str(status)
        if kind is not None and type(kind) is not str:
            kind = wire_str(kind)
        if text is not None and type(text) is not str:
            text = wire_loose_str(text)
        if session is not None and type(session) is not str:
            session = wire_str(session)
        # All fields in Message's order, filled straight into the slots.
        return build_message(
            message_id,
            session or session_id or "",
            PROVIDER,
            self._record_time(timestamp),
            way,
            sender,
            recipients,
            text or "",
            attachments,
            _STATUSES.get(status.lower(), MessageStatus.UNKNOWN)
            if status
            else MessageStatus.UNKNOWN,
            _KINDS.get(kind or "", MessageKind.OTHER),
            raw,
        )

    def _record_time(self, value: Any) -> datetime:
        """``created_at`` from a record's ``timestamp``, as :meth:`to_message` reads it."""
        if (
            self._utc
            and type(value) is str
            and len(value) == 19
            and value[10] in " T"
            and value[13] == ":"
            and value[16] == ":"
        ):
            # The usual zone-less "YYYY-MM-DD HH:MM:SS" of a server in UTC:
            # parsed with its zone spelled out, the same datetime as
            # parse_timestamp gives (anything odd takes the general path).
            try:
                return datetime.fromisoformat(value + "+00:00")
            except ValueError:
                pass
        return self._time(wire_str(value)) or _EPOCH

    def to_message(self, item: wire.Message, session_id: str | None = None) -> Message:
        """A shared :class:`Message` from a wire ``Message``."""
        sender: Address | None = None
        if item.from_number:
            sender = _party(item.from_number)
        elif item.from_user_id:
            sender = _party(item.from_user_id)
        recipients = _parties(item.terminating_user_id) or _parties(
            item.terminating_number or item.dialed
        )
        attachments: tuple[Attachment, ...] = ()
        if item.media_type:
            attachments = (
                Attachment.received(
                    item.media_type,
                    size=item.media_size or None,
                    url=item.file_access_url,
                    id=item.id,
                ),
            )
        return Message(
            id=item.id,
            session_id=item.messagesession_id or session_id or "",
            provider=PROVIDER,
            created_at=self._time(item.timestamp) or datetime.fromtimestamp(0, UTC),
            direction=self._direction(item),
            sender=sender,
            recipients=recipients,
            text=item.text or "",
            attachments=attachments,
            status=_STATUSES.get((item.status or "").lower(), MessageStatus.UNKNOWN),
            kind=_KINDS.get(item.type or "", MessageKind.OTHER),
            raw=item,
        )

    def _direction(self, item: wire.Message) -> Direction:
        if item.direction == "orig":
            return Direction.INBOUND
        if item.direction == "term":
            return Direction.OUTBOUND
        return self._direction_of(item.from_user_id)

    def _direction_of(self, from_user_id: str | None) -> Direction:
        """The direction of a message without one, told from its sender."""
        if from_user_id:
            known = self._directions.get(from_user_id)
            if known is not None:
                return known
            if len(self._directions) >= _CACHE_SIZE:
                self._directions.clear()
            way = self._directions[from_user_id] = self._told_direction(from_user_id)
            return way
        return self._told_direction(from_user_id)

    def _told_direction(self, from_user_id: str | None) -> Direction:
        me = self.options.user
        if me != "~" and from_user_id:
            own = from_user_id.split("@", 1)[0] == me
            return Direction.OUTBOUND if own else Direction.INBOUND
        return Direction.UNKNOWN

    def _time(self, value: str | None) -> datetime | None:
        if not value:
            return None
        try:
            return parse_timestamp(value, self.options.timezone)
        except ValueError:
            return None

    # -- delete ---------------------------------------------------------------
    async def _delete(self, target: str | Session | Message) -> None:
        session_id = target.id if isinstance(target, Session) else target
        assert isinstance(session_id, str)
        await self.native.delete_messagesession(check_session_id(session_id))

    async def _aclose(self) -> None:
        await self.native.aclose()
