"""Shared, provider-neutral models: what users send and get back.

All classes are frozen and slotted. Objects built from a provider's answer
keep that answer in ``raw`` (left out of equality and repr) as an escape
hatch for fields the shared model does not carry. Adapters may store the
decoded JSON there with :class:`LazyRaw`: the provider's typed object is
then built on the first read of ``raw`` (and kept), so a history walk or a
send that never looks at ``raw`` does not pay for decoding it.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeGuard, TypeVar

import attrs

from .errors import InvalidRequest
from .phones import MAX_NATIONAL_DIGITS, PUNCTUATION, to_e164

__all__ = [
    "Address",
    "AddressKind",
    "Attachment",
    "Direction",
    "Message",
    "MessageKind",
    "MessageStatus",
    "Outgoing",
    "Receipt",
    "Session",
]

_T = TypeVar("_T")

# ASCII digits only: \d and str.isdigit() also accept Arabic-Indic, fullwidth
# and other digits that no provider dials.
_DIGITS = re.compile(r"[0-9]+")
# Extensions are short dial strings (PBX users, RingCentral extension numbers).
_MAX_EXTENSION_DIGITS = 6


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character or a Unicode line break.

    Such characters end or split an HTTP header line (``\\r``, ``\\n``) or
    are refused by HTTP stacks (``\\x00``, ``\\x7f``, C1 controls).
    """
    return any(
        unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text if not " " <= ch <= "~"
    )


class AddressKind(enum.Enum):
    """What an :class:`Address` value is."""

    PHONE = "phone"
    """A phone number in E.164 (``+18585551234``); a national number read by
    :meth:`Address.parse` keeps its digits until a client with a
    ``default_region`` puts it in E.164 (see :attr:`Address.is_national`)."""
    EXTENSION = "extension"
    """A short internal number (``1004``)."""
    JID = "jid"
    """An XMPP address (``alice@example.com[/resource]``)."""
    USER = "user"
    """A provider-specific user id (``1004@acme``, a numeric account id)."""


@attrs.frozen
class Address:
    """A party of a conversation: a phone number, extension, JID or user id.

    Build one with :meth:`phone`, :meth:`extension`, :meth:`jid`,
    :meth:`user`, or let :meth:`parse` guess from a string.
    """

    value: str
    kind: AddressKind

    @classmethod
    def phone(cls, number: str, region: str | None = None) -> Address:
        """A phone number in E.164. ``+`` or ``00`` starts an international
        number; any other is read as dialled in ``region`` (``"US"``, ``"GB"``)
        and refused without one. Impossible numbers are refused."""
        _require_str(number, "a phone number")
        return cls(to_e164(number, region), AddressKind.PHONE)

    @classmethod
    def extension(cls, number: str) -> Address:
        """A short internal extension number."""
        _require_str(number, "an extension")
        value = number.strip()
        if not value or not _DIGITS.fullmatch(value) or len(value) > _MAX_EXTENSION_DIGITS:
            raise InvalidRequest(f"{number!r} is not an extension number", field="to")
        return cls(value, AddressKind.EXTENSION)

    @classmethod
    def jid(cls, jid: str) -> Address:
        """An XMPP address (validated by the adapter that uses it)."""
        _require_str(jid, "a JID")
        value = jid.strip()
        if not value or "@" not in value:
            raise InvalidRequest(f"{jid!r} is not a JID (localpart@domain)", field="to")
        return cls(value, AddressKind.JID)

    @classmethod
    def user(cls, user_id: str) -> Address:
        """A provider-specific user id."""
        _require_str(user_id, "a user id")
        value = user_id.strip()
        if not value:
            raise InvalidRequest("a user id must not be empty", field="to")
        return cls(value, AddressKind.USER)

    @classmethod
    def parse(cls, text: str | Address) -> Address:
        """Guess the kind: ``local@domain`` is a JID, up to 6 digits an
        extension, ``+``/``00`` and digits a phone number in E.164; a longer
        number without them is a national phone number (:attr:`is_national`),
        put in E.164 by the client's ``default_region`` when sent."""
        if isinstance(text, Address):
            return text
        if not isinstance(text, str):
            raise InvalidRequest(f"{text!r} is not an address", field="to")
        value = text.strip()
        if not value:
            raise InvalidRequest("an address must not be empty", field="to")
        if "@" in value:
            return cls.jid(value)
        compact = PUNCTUATION.sub("", value)
        if _DIGITS.fullmatch(compact) and len(compact) <= _MAX_EXTENSION_DIGITS:
            return cls.extension(compact)
        if compact.startswith(("+", "00")):
            return cls.phone(value)
        if _DIGITS.fullmatch(compact):
            if len(compact) > MAX_NATIONAL_DIGITS:
                raise InvalidRequest(f"{text!r} is too long for a phone number", field="to")
            # The country is not known here: the client that sends it knows
            # its default_region (Outgoing.in_region), or refuses it.
            return cls(compact, AddressKind.PHONE)
        raise InvalidRequest(
            f"{text!r} is neither a phone number, an extension nor a JID", field="to"
        )

    @property
    def is_national(self) -> bool:
        """Whether this is a phone number still without its country code."""
        return self.kind is AddressKind.PHONE and not self.value.startswith("+")

    def in_region(self, region: str | None) -> Address:
        """This address, a national phone number put in E.164 as dialled in
        ``region``; without a region that raises InvalidRequest. Other
        addresses are returned as they are."""
        if not self.is_national:
            return self
        return Address.phone(self.value, region)

    def __str__(self) -> str:
        return self.value


def _require_str(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be a str, got {type(value).__name__}", field="to")


def _addresses(values: Iterable[str | Address] | str | Address) -> tuple[Address, ...]:
    if isinstance(values, str | Address):
        values = [values]
    elif not isinstance(values, Iterable) or isinstance(values, bytes | bytearray | Mapping):
        raise InvalidRequest(
            f"recipients must be an address or a list of them, got {type(values).__name__}",
            field="to",
        )
    return tuple(Address.parse(v) for v in values)


def _optional_address(value: str | Address | None) -> Address | None:
    return None if value is None else Address.parse(value)


class MessageKind(enum.Enum):
    """The kind of message; ``AUTO`` lets the adapter choose from the recipients."""

    AUTO = "auto"
    CHAT = "chat"
    SMS = "sms"
    MMS = "mms"
    PAGER = "pager"
    FAX = "fax"
    VOICEMAIL = "voicemail"
    OTHER = "other"


class Direction(enum.Enum):
    """Whether a message came in or went out, seen from the account."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    UNKNOWN = "unknown"


class MessageStatus(enum.Enum):
    """A message's delivery state, mapped from each provider's vocabulary."""

    ACCEPTED = "accepted"
    """Taken by the provider for processing; no further state known yet."""
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    RECEIVED = "received"
    READ = "read"
    DELETED = "deleted"
    UNKNOWN = "unknown"


@attrs.frozen
class Attachment:
    """A file sent with or received in a message.

    Outgoing attachments carry ``content``; received ones usually carry a
    provider ``url`` or ``id`` to download from (see the adapter's native
    client) and ``content`` is ``None``.
    """

    content_type: str
    content: bytes | None = attrs.field(default=None, repr=False)
    filename: str | None = None
    size: int | None = None
    url: str | None = None
    id: str | None = None

    def __attrs_post_init__(self) -> None:
        if not _is_media_type(self.content_type):
            raise InvalidRequest(
                f"{self.content_type!r} is not a media type (type/subtype, printable ASCII)",
                field="attachments",
            )
        if self.filename is not None and (
            not isinstance(self.filename, str) or has_control_characters(self.filename)
        ):
            # The name goes into a Content-Disposition header on upload.
            raise InvalidRequest(
                f"{self.filename!r} is not a file name without control characters",
                field="attachments",
            )
        if self.content is not None and not isinstance(self.content, bytes):
            raise InvalidRequest(
                f"attachment content must be bytes, got {type(self.content).__name__}",
                field="attachments",
            )
        if self.content is not None and self.size is None:
            object.__setattr__(self, "size", len(self.content))

    @classmethod
    def received(
        cls,
        content_type: str | None,
        *,
        filename: str | None = None,
        size: int | None = None,
        url: str | None = None,
        id: str | None = None,
    ) -> Attachment:
        """An attachment as a provider listed it. A content type or file name
        that could not be sent back (missing, malformed, control characters)
        becomes ``application/octet-stream`` or no name, so one odd record
        never stops a history walk; ``raw`` on the message keeps the original."""
        media_type = content_type if _is_media_type(content_type) else None
        if filename is not None and (
            not isinstance(filename, str) or has_control_characters(filename)
        ):
            filename = None
        return cls(
            media_type or "application/octet-stream", filename=filename, size=size, url=url, id=id
        )


def _is_media_type(value: object) -> TypeGuard[str]:
    # A media type is printable ASCII (RFC 6838) and goes into a header.
    return (
        isinstance(value, str)
        and "/" in value
        and all(" " <= ch <= "~" for ch in value)
        and value.strip() == value
    )


def _attachments(values: Iterable[Attachment]) -> tuple[Attachment, ...]:
    return tuple(values)


def _text(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest("text must be a str", field="text")
    return value


def _idempotency_key(instance: Any, attribute: Any, value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not 1 <= len(value) <= 256:
        raise InvalidRequest(
            "idempotency_key must be a str of 1 to 256 characters", field="idempotency_key"
        )
    if not value.isprintable():
        raise InvalidRequest(
            "idempotency_key must not contain control characters", field="idempotency_key"
        )


@attrs.frozen
class Outgoing:
    """A message to send.

    ``to`` accepts strings (parsed by :meth:`Address.parse`) or addresses.
    ``session_id`` continues an existing conversation: with it, ``to`` may be
    left out and the client writes to the conversation's other participants
    (looking them up where the provider needs them). ``kind`` forces a
    message type where the provider has several (SMS, pager, fax, ...).
    """

    to: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    text: str = attrs.field(default="", converter=_text)
    attachments: tuple[Attachment, ...] = attrs.field(default=(), converter=_attachments)
    sender: Address | None = attrs.field(default=None, converter=_optional_address)
    kind: MessageKind = MessageKind.AUTO
    session_id: str | None = None
    idempotency_key: str | None = attrs.field(default=None, validator=_idempotency_key)
    """Sends with the same key are made once (within the client's
    ``idempotency_ttl``; across processes with a shared ``state``): a repeat
    returns the first receipt, or raises SendInDoubt while the first
    send's outcome is unknown."""

    def __attrs_post_init__(self) -> None:
        if not self.to and not self.session_id:
            raise InvalidRequest(
                "a message needs recipients (to=[...]) or a session_id to continue",
                field="to",
            )
        if len(set(self.to)) != len(self.to):
            raise InvalidRequest("the same recipient is listed twice", field="to")
        if not self.text and not self.attachments:
            raise InvalidRequest("a message needs text or an attachment", field="text")
        if not isinstance(self.kind, MessageKind):
            raise InvalidRequest(f"{self.kind!r} is not a MessageKind", field="kind")
        for attachment in self.attachments:
            if not isinstance(attachment, Attachment) or attachment.content is None:
                raise InvalidRequest(
                    "outgoing attachments must be Attachment objects with content",
                    field="attachments",
                )

    @property
    def is_national(self) -> bool:
        """Whether a recipient or the sender is a national phone number
        (see :meth:`in_region`)."""
        for address in self.to:  # a loop: checked on every send
            if address.kind is AddressKind.PHONE and not address.value.startswith("+"):
                return True
        return self.sender is not None and self.sender.is_national

    def in_region(self, region: str | None, *, provider: str | None = None) -> Outgoing:
        """This message with national phone numbers put in E.164 as dialled in
        ``region`` (clients call it with their ``default_region`` before
        sending); InvalidRequest when there is no region or a number is
        impossible there."""
        if not self.is_national:
            return self
        try:
            to = tuple(a.in_region(region) for a in self.to)
        except InvalidRequest as exc:
            exc.provider = exc.provider or provider
            raise
        sender = self.sender
        if sender is not None:
            try:
                sender = sender.in_region(region)
            except InvalidRequest as exc:
                exc.field, exc.provider = "sender", exc.provider or provider
                raise
        try:
            # evolve() runs the checks again: two spellings of one number
            # are the same recipient once both are in E.164.
            return attrs.evolve(self, to=to, sender=sender)
        except InvalidRequest as exc:
            exc.provider = exc.provider or provider
            raise


@attrs.frozen
class Receipt:
    """What the provider said about a send.

    ``session_id`` is always set, so the next :class:`Outgoing` can pass it
    to continue the conversation. ``message_ids`` is empty when the
    provider accepted the send without naming the message. ``account`` is
    the :class:`~messaging_hub.Hub` account that delivered it (``None`` from
    a bare client): after a failover, continue the conversation there.
    """

    session_id: str
    provider: str
    status: MessageStatus = MessageStatus.ACCEPTED
    message_ids: tuple[str, ...] = ()
    raw: Any = attrs.field(default=None, eq=False, repr=False)
    account: str | None = None


@attrs.frozen
class Session:
    """A conversation: its participants and its latest activity."""

    id: str
    provider: str
    participants: tuple[Address, ...] = ()
    name: str | None = None
    kind: MessageKind = MessageKind.OTHER
    last_activity: datetime | None = None
    last_text: str | None = None
    raw: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Message:
    """One message of a conversation; ``created_at`` is an aware UTC datetime."""

    id: str
    session_id: str
    provider: str
    created_at: datetime
    direction: Direction = Direction.UNKNOWN
    sender: Address | None = None
    recipients: tuple[Address, ...] = ()
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    status: MessageStatus = MessageStatus.UNKNOWN
    kind: MessageKind = MessageKind.OTHER
    raw: Any = attrs.field(default=None, eq=False, repr=False)


class LazyRaw(Generic[_T]):
    """A provider answer kept as decoded JSON until ``raw`` is first read.

    ``build(data)`` makes the typed object (the adapter's wire model) from
    ``data``; it runs at most once per model object, on first access of
    ``raw``, and its result replaces this placeholder. Internal: users
    only ever see the built object.
    """

    __slots__ = ("build", "data")

    def __init__(self, data: Any, build: Callable[[Any], _T]) -> None:
        self.data = data
        self.build = build

    def __repr__(self) -> str:
        return f"LazyRaw({getattr(self.build, '__name__', self.build)!r})"


class _LazyRawSlot:
    """The ``raw`` attribute of a model class: the slot, with a
    :class:`LazyRaw` in it built into its object on first read."""

    __slots__ = ("_slot",)

    def __init__(self, slot: Any) -> None:
        self._slot = slot  # the class's member descriptor for the "raw" slot

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self._slot
        value = self._slot.__get__(obj, owner)
        if type(value) is LazyRaw:
            value = value.build(value.data)
            self._slot.__set__(obj, value)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        # Reached only through object.__setattr__ (attrs' __init__ and
        # unpickling): the classes stay frozen.
        self._slot.__set__(obj, value)

    def __delete__(self, obj: Any) -> None:
        self._slot.__delete__(obj)


for _cls in (Receipt, Session, Message):
    setattr(_cls, "raw", _LazyRawSlot(_cls.__dict__["raw"]))  # noqa: B010 - mypy: frozen


def _slot_builder(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of ``cls`` taking every field positionally, that fills
    the slots directly: what attrs' ``__init__`` does for a class with no
    defaults to fill, converters or validators, with less overhead per
    field (for adapters that build many objects, e.g. a history walk)."""
    fields = attrs.fields(cls)  # type: ignore[arg-type]
    assert not any(f.converter or f.validator for f in fields)
    assert not hasattr(cls, "__attrs_post_init__")
    names = [f.name for f in fields]
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def build({', '.join(names)}):", "    self = _new(_cls)"]
    for i, name in enumerate(names):
        slot = cls.__dict__[name]
        if isinstance(slot, _LazyRawSlot):
            slot = slot._slot
        scope[f"_set{i}"] = slot.__set__
        lines.append(f"    _set{i}(self, {name})")
    lines.append("    return self")
    exec("\n".join(lines), scope)  # noqa: S102 - built from field names only, like attrs does
    build: Callable[..., _T] = scope["build"]
    return build


build_message = _slot_builder(Message)
"""``Message(...)`` with all twelve fields given positionally (internal)."""


def recipients_of(values: Sequence[str | Address]) -> tuple[Address, ...]:
    """Parse a list of recipients the way :class:`Outgoing` does."""
    return _addresses(values)
