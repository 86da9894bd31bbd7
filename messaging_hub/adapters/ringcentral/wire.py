"""RingCentral Platform wire models and the one cattrs converter that reads/writes them.

Field names on the wire are camelCase (``conversationId``, ``creationTime``)
and ``from`` is a Python keyword: the converter renames every field, so the
classes use snake_case (``from_`` for ``from``). OAuth bodies are already
snake_case. Message and attachment ids are int64 and conversation ids exceed
2**53: they are Python ints, read from JSON integers or digit strings and
never through a float.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ...wirecheck import plain_check

__all__ = [
    "ApiErrorBody",
    "ApiErrorEntry",
    "AttachmentInfo",
    "CallerInfo",
    "CallerInfoRequest",
    "ConversationInfo",
    "CountryInfo",
    "DeliveryMode",
    "DeliveryModeRequest",
    "DisabledFilter",
    "FaxCoverPage",
    "FaxCoverPageList",
    "FaxEnvelope",
    "FaxRecipient",
    "FaxResend",
    "ForwardingInfo",
    "InternalTextMessageRequest",
    "MessageInfo",
    "MessageList",
    "MessageResult",
    "NavigationInfo",
    "NavigationUri",
    "OwnerInfo",
    "PagerCallerInfo",
    "PagingInfo",
    "PatchMessageRequest",
    "SmsRequest",
    "SubscriptionInfo",
    "SubscriptionList",
    "SubscriptionRequest",
    "SyncInfo",
    "SyncResponse",
    "TokenInfo",
    "UpdateMessageRequest",
    "WsToken",
    "converter",
    "plain_message_list",
]


# -- responses -------------------------------------------------------------------


@attrs.frozen
class CallerInfo:
    """A sender or recipient of a stored message (``MessageStoreCallerInfoResponseFrom/To``,
    ``FaxResponseTo``)."""

    phone_number: str | None = None
    extension_number: str | None = None
    extension_id: str | None = None
    name: str | None = None
    location: str | None = None
    target: bool | None = None
    message_status: str | None = None
    fax_error_code: str | None = None
    recipient_id: str | None = None


@attrs.frozen
class AttachmentInfo:
    """``MessageAttachmentInfo``: one file of a message; ``uri`` is on the media host."""

    id: int
    uri: str | None = None
    type: str | None = None
    content_type: str | None = None
    vm_duration: int | None = None
    file_name: str | None = None
    filename: str | None = None
    """``FaxResponse`` spells the file name in lower case."""
    size: int | None = None
    height: int | None = None
    width: int | None = None

    @property
    def name(self) -> str | None:
        """The file name under either spelling."""
        return self.file_name or self.filename


@attrs.frozen
class ConversationInfo:
    """``ConversationInfo``: the conversation id as a string, and its URI."""

    id: str | None = None
    uri: str | None = None


@attrs.frozen
class OwnerInfo:
    """``OwnerResource``: the extension owning a shared message."""

    name: str | None = None
    extension_type: str | None = None
    extension_id: str | None = None


@attrs.frozen
class ForwardingInfo:
    """``GetMessageForwardingInfo``."""

    original_sender: CallerInfo | None = None
    original_creation_time: str | None = None


@attrs.frozen
class MessageInfo:
    """A message-store record (``GetMessageInfoResponse`` and its SMS, pager and fax
    variants)."""

    id: int
    uri: str | None = None
    extension_id: str | None = None
    type: str | None = None
    direction: str | None = None
    from_: CallerInfo | None = None
    to: list[CallerInfo] = attrs.field(factory=list)
    subject: str | None = None
    message_status: str | None = None
    read_status: str | None = None
    availability: str | None = None
    priority: str | None = None
    attachments: list[AttachmentInfo] = attrs.field(factory=list)
    conversation_id: int | None = None
    conversation: ConversationInfo | None = None
    creation_time: str | None = None
    last_modified_time: str | None = None
    sms_delivery_time: str | None = None
    sms_sending_attempts_count: int | None = None
    delivery_error_code: str | None = None
    segment_count: int | None = None
    fax_page_count: int | None = None
    fax_resolution: str | None = None
    cover_index: int | None = None
    cover_page_text: str | None = None
    vm_transcription_status: str | None = None
    pg_to_department: bool | None = None
    owner: OwnerInfo | None = None
    private: bool | None = None
    forwarding: ForwardingInfo | None = None
    vm_side_recipients: list[CallerInfo] | None = None

    @property
    def conversation_key(self) -> str | None:
        """The conversation id as an exact decimal string, if the message has one."""
        if self.conversation is not None and self.conversation.id:
            return self.conversation.id
        return None if self.conversation_id is None else str(self.conversation_id)


@attrs.frozen
class PagingInfo:
    """``MessagingPagingInfo`` / ``EnumeratedPagingModel``."""

    page: int | None = None
    per_page: int | None = None
    page_start: int | None = None
    page_end: int | None = None
    total_pages: int | None = None
    total_elements: int | None = None


@attrs.frozen
class NavigationUri:
    """A link to another page."""

    uri: str | None = None


@attrs.frozen
class NavigationInfo:
    """``MessagingNavigationInfo``: links to the first, next, previous and last page."""

    first_page: NavigationUri | None = None
    next_page: NavigationUri | None = None
    previous_page: NavigationUri | None = None
    last_page: NavigationUri | None = None


@attrs.frozen
class MessageList:
    """``GetMessageList``: one page of the message store."""

    records: list[MessageInfo]
    uri: str | None = None
    paging: PagingInfo = attrs.field(factory=PagingInfo)
    navigation: NavigationInfo = attrs.field(factory=NavigationInfo)

    @property
    def has_next_page(self) -> bool:
        """Whether another page follows this one."""
        if self.navigation.next_page is not None:
            return True
        paging = self.paging
        return (
            paging.page is not None
            and paging.total_pages is not None
            and paging.page < paging.total_pages
        )


@attrs.frozen
class SyncInfo:
    """``SyncInfoMessages``: what the next incremental sync needs."""

    sync_type: str | None = None
    sync_token: str | None = attrs.field(default=None, repr=False)
    sync_time: str | None = None
    older_records_exist: bool | None = None


@attrs.frozen
class SyncResponse:
    """``GetMessageSyncResponse``: changed messages and the next ``syncToken``."""

    records: list[MessageInfo]
    sync_info: SyncInfo
    uri: str | None = None


@attrs.frozen
class ApiErrorEntry:
    """``ApiErrorWithParameter``: one entry of ``errors[]``."""

    error_code: str | None = None
    message: str | None = None
    parameter_name: str | None = None
    parameter_value: str | None = None


@attrs.frozen
class ApiErrorBody:
    """An error body: ``errors[]`` (the spec), top-level ``errorCode``/``message``/
    ``parameterName`` (real answers) and OAuth's ``error``/``error_description``."""

    error_code: str | None = None
    message: str | None = None
    errors: list[ApiErrorEntry] = attrs.field(factory=list)
    parameter_name: str | None = None
    error: str | None = None
    error_description: str | None = None

    @property
    def code(self) -> str | None:
        """The RingCentral error code (``CMN-102``), else the OAuth error."""
        if self.error_code:
            return self.error_code
        first = next((e.error_code for e in self.errors if e.error_code), None)
        return first or self.error

    @property
    def text(self) -> str | None:
        """The human-readable message."""
        if self.message:
            return self.message
        first = next((e.message for e in self.errors if e.message), None)
        return first or self.error_description


@attrs.frozen
class MessageResult:
    """One entry of a 207 multi-status answer: a message, or the error for that id."""

    resource_id: str
    status: int
    message: MessageInfo | None = None
    error: ApiErrorBody | None = None

    @property
    def ok(self) -> bool:
        """Whether this id succeeded."""
        return 200 <= self.status < 300 and self.message is not None


@attrs.frozen
class FaxCoverPage:
    """``FaxCoverPageInfo``."""

    id: str
    name: str | None = None


@attrs.frozen
class FaxCoverPageList:
    """``ListFaxCoverPagesResponse``."""

    records: list[FaxCoverPage]
    uri: str | None = None
    paging: PagingInfo = attrs.field(factory=PagingInfo)
    navigation: NavigationInfo = attrs.field(factory=NavigationInfo)


@attrs.frozen
class TokenInfo:
    """``TokenInfo``: the token endpoint's answer (snake_case on the wire)."""

    access_token: str = attrs.field(repr=False)
    token_type: str | None = None
    expires_in: int | None = None
    refresh_token: str | None = attrs.field(default=None, repr=False)
    refresh_token_expires_in: int | None = None
    scope: str | None = None
    owner_id: str | None = None
    endpoint_id: str | None = None
    id_token: str | None = attrs.field(default=None, repr=False)
    session_id: str | None = None
    session_expires_in: int | None = None
    session_expiration_time: str | None = None
    session_idle_timeout: int | None = None


# -- push notifications (subscriptions, WebSocket tokens) ------------------------


@attrs.frozen
class DeliveryMode:
    """``NotificationDeliveryMode``: how a subscription's events travel."""

    transport_type: str | None = None
    """``WebHook``, ``WebSocket`` (or the legacy ``PubNub``)."""
    address: str | None = None
    encryption: bool | None = None
    verification_token: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class DisabledFilter:
    """``DisabledFilterInfo``: an event filter the platform did not accept."""

    filter: str | None = None
    reason: str | None = None


@attrs.frozen
class SubscriptionInfo:
    """``SubscriptionInfo``: a push-notification subscription."""

    id: str
    uri: str | None = None
    event_filters: list[str] = attrs.field(factory=list)
    disabled_filters: list[DisabledFilter] = attrs.field(factory=list)
    expiration_time: str | None = None
    expires_in: int | None = None
    status: str | None = None
    """``Active``, ``Suspended`` or ``Blacklisted``."""
    creation_time: str | None = None
    delivery_mode: DeliveryMode | None = None


@attrs.frozen
class SubscriptionList:
    """``SubscriptionListResource``: the app's subscriptions."""

    records: list[SubscriptionInfo]
    uri: str | None = None


@attrs.frozen
class WsToken:
    """``POST /restapi/oauth/wstoken``: the WebSocket gateway and a single-use token
    (snake_case on the wire)."""

    uri: str
    ws_access_token: str = attrs.field(repr=False)
    expires_in: int | None = None


# -- requests --------------------------------------------------------------------


@attrs.frozen
class CallerInfoRequest:
    """``MessageStoreCallerInfoRequest``: a phone number."""

    phone_number: str


@attrs.frozen
class PagerCallerInfo:
    """``PagerCallerInfoRequest``: an extension by number or id."""

    extension_number: str | None = None
    extension_id: str | None = None


@attrs.frozen
class CountryInfo:
    """``SmsRequestCountryInfo``."""

    id: str | None = None
    iso_code: str | None = None


@attrs.frozen
class SmsRequest:
    """``CreateSMSMessage`` / ``CreateMMSMessage`` (the JSON part; files travel apart)."""

    from_: CallerInfoRequest
    to: list[CallerInfoRequest]
    text: str | None = None
    country: CountryInfo | None = None


@attrs.frozen
class InternalTextMessageRequest:
    """``CreateInternalTextMessageRequest``: a company pager message."""

    text: str
    to: list[PagerCallerInfo] | None = None
    from_: PagerCallerInfo | None = None
    reply_on: int | None = None


@attrs.frozen
class FaxRecipient:
    """``FaxRequestTo``."""

    phone_number: str
    name: str | None = None


@attrs.frozen
class FaxEnvelope:
    """The JSON part of a fax send (``createFaxMessage``, multipart)."""

    to: list[FaxRecipient]
    fax_resolution: str | None = None
    send_time: str | None = None
    iso_code: str | None = None
    cover_index: int | None = None
    cover_page_text: str | None = None


@attrs.frozen
class FaxResend:
    """The JSON body that resends or forwards a stored fax."""

    original_message_id: str
    to: list[FaxRecipient] | None = None
    send_time: str | None = None


@attrs.frozen
class UpdateMessageRequest:
    """``UpdateMessageRequest``."""

    read_status: str


@attrs.frozen
class PatchMessageRequest:
    """``PatchMessageRequest``."""

    read_status: str | None = None
    availability: str | None = None


@attrs.frozen
class DeliveryModeRequest:
    """``NotificationDeliveryModeRequest``: ``WebHook`` (with ``address`` and an
    optional ``verification_token``) or ``WebSocket``."""

    transport_type: str
    address: str | None = None
    verification_token: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class SubscriptionRequest:
    """``CreateSubscriptionRequest`` / ``UpdateSubscriptionRequest``."""

    event_filters: list[str]
    delivery_mode: DeliveryModeRequest | None = None
    expires_in: int | None = None


# -- the converter ------------------------------------------------------------------

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


_SNAKE_ON_THE_WIRE = frozenset({"error_description"})  # OAuth's own spelling


def wire_name(name: str) -> str:
    """The camelCase wire name of a snake_case field (``from_`` is ``from``)."""
    if name == "from_":
        return "from"
    if name in _SNAKE_ON_THE_WIRE:
        return name
    return _CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), name)


def _exact_int(value: Any, _: Any) -> int:
    # JSON integers are exact in Python; ids also arrive as digit strings.
    # A bool is not an id, and a fraction is not either.
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _bool(value: Any, _: Any) -> bool:
    # Registered explicitly: bool subclasses int, so the int hook would catch it.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"expected a boolean, got {value!r}")


def _loose_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # ids documented as strings sometimes arrive as numbers
    raise ValueError(f"expected a string, got {type(value).__name__}")


_OAUTH_CLASSES: tuple[type[Any], ...] = (TokenInfo, WsToken)
_REQUEST_CLASSES: tuple[type[Any], ...] = (
    CallerInfoRequest,
    PagerCallerInfo,
    CountryInfo,
    SmsRequest,
    InternalTextMessageRequest,
    FaxRecipient,
    FaxEnvelope,
    FaxResend,
    UpdateMessageRequest,
    PatchMessageRequest,
    DeliveryModeRequest,
    SubscriptionRequest,
)
_RESPONSE_CLASSES: tuple[type[Any], ...] = (
    CallerInfo,
    AttachmentInfo,
    ConversationInfo,
    OwnerInfo,
    ForwardingInfo,
    MessageInfo,
    PagingInfo,
    NavigationUri,
    NavigationInfo,
    MessageList,
    SyncInfo,
    SyncResponse,
    ApiErrorEntry,
    ApiErrorBody,
    MessageResult,
    FaxCoverPage,
    FaxCoverPageList,
    DeliveryMode,
    DisabledFilter,
    SubscriptionInfo,
    SubscriptionList,
)


def _register(conv: cattrs.Converter, cls: type[Any], *, omit_none: bool) -> None:
    renames: dict[str, Any] = {
        f.name: override(rename=wire_name(f.name)) for f in attrs.fields(cls)
    }
    conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **renames))
    conv.register_unstructure_hook(
        cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=omit_none, **renames)
    )


def _structure_result(value: Any, _: Any) -> MessageResult:
    # A multi-status entry's body is a message on success, an error body otherwise.
    if not isinstance(value, dict):
        raise ValueError("a multi-status entry must be an object")
    status = _exact_int(value.get("status"), int)
    body = value.get("body")
    resource_id = _loose_str(value.get("resourceId", ""), str)
    if 200 <= status < 300 and isinstance(body, dict):
        return MessageResult(resource_id, status, message=converter.structure(body, MessageInfo))
    error = ApiErrorBody()
    if isinstance(body, dict):
        # An error body of an unknown shape still leaves a failed entry, so
        # one odd entry does not hide the results for the other ids.
        with contextlib.suppress(cattrs.BaseValidationError, ValueError, TypeError):
            error = converter.structure(body, ApiErrorBody)
    return MessageResult(resource_id, status, error=error)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(int, _exact_int)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook(str, _loose_str)
    for cls in _RESPONSE_CLASSES:
        _register(conv, cls, omit_none=False)
    for cls in _REQUEST_CLASSES:
        _register(conv, cls, omit_none=True)
    conv.register_structure_hook(MessageResult, _structure_result)
    for cls in _OAUTH_CLASSES:
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv))
    return conv


converter = _make_converter()
"""The converter for every RingCentral wire class."""


@attrs.frozen
class SentRecord:
    """What a send needs from the ``MessageInfo`` answer, read from the JSON
    as the converter reads those fields; ``data`` is the whole answer (see
    :func:`sent_record`)."""

    id: int
    conversation_key: str | None
    message_status: str | None
    data: dict[str, Any]


def sent_record(data: Any) -> SentRecord | None:
    """The receipt fields of a ``MessageInfo`` answer, or ``None`` when one of
    them is not what the converter accepts (the typed read then decides)."""
    if type(data) is not dict or "id" not in data:
        return None
    try:
        message_id = _exact_int(data["id"], int)
        status = data.get("messageStatus")
        if status is not None:
            status = _loose_str(status, str)
        conversation = data.get("conversation")
        key: str | None = None
        if conversation is not None:
            if type(conversation) is not dict:
                return None
            cid = conversation.get("id")
            if cid is not None:
                key = _loose_str(cid, str) or None
            if conversation.get("uri") is not None:
                _loose_str(conversation["uri"], str)
        if key is None:
            number = data.get("conversationId")
            if number is not None:
                key = str(_exact_int(number, int))
        elif data.get("conversationId") is not None:
            _exact_int(data["conversationId"], int)
    except ValueError:
        return None
    return SentRecord(message_id, key, status, data)


plain_message_list = plain_check(MessageList, wire_name)
"""Whether a decoded ``GetMessageList`` answer is plain (see :mod:`messaging_hub.wirecheck`):
the converter reads it, and each record's values are those of its ``MessageInfo``."""


def structure_message_info(data: Any) -> MessageInfo:
    """``data`` as a :class:`MessageInfo` (for ``Receipt.raw``, on first read)."""
    return converter.structure(data, MessageInfo)
