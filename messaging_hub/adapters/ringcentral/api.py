"""The native RingCentral messaging client: one method per documented operation.

Method names follow the operations of the trimmed Platform spec in
snake_case (``listMessages`` -> :meth:`RingCentralAPI.list_messages`,
``readMessage`` -> :meth:`~RingCentralAPI.load_message`,
``createSMSMessage`` -> :meth:`~RingCentralAPI.send_sms`, ...); the module
docstring of :mod:`.adapter` lists the mapping. ``account_id`` and
``extension_id`` default to the client's own (``~``: the token's owner).
Every path parameter is percent-encoded and every id, enum, date and text
limit is checked before anything is sent. Each request names its
usage-plan group (``x-throttling-group``) for client-side pacing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, overload
from urllib.parse import urlencode

import aiohttp
import anyio
import attrs
import cattrs
from multidict import CIMultiDictProxy
from yarl import URL

from ...datetimes import parse_timestamp
from ...errors import InvalidRequest, MalformedResponse
from ...models import Address, AddressKind, has_control_characters
from ...pagination import check_page_echo, walk_pages
from ...phones import check_region, to_e164
from ...transport import Response, Transport, path, segment
from .auth import REVOKE_PATH, RingCentralGrant
from .wire import (
    CallerInfoRequest,
    CountryInfo,
    DeliveryModeRequest,
    FaxCoverPageList,
    FaxEnvelope,
    FaxRecipient,
    FaxResend,
    InternalTextMessageRequest,
    MessageInfo,
    MessageList,
    MessageResult,
    PagerCallerInfo,
    PatchMessageRequest,
    SentRecord,
    SmsRequest,
    SubscriptionInfo,
    SubscriptionList,
    SubscriptionRequest,
    SyncResponse,
    TokenInfo,
    UpdateMessageRequest,
    WsToken,
    converter,
    plain_message_list,
    sent_record,
)

__all__ = [
    "INSTANT_SMS_FILTER",
    "AttachmentContent",
    "FilePart",
    "RingCentralAPI",
    "check_conversation_id",
    "check_date",
    "check_enums",
    "check_message_id",
    "utf16_length",
]

PROVIDER = "ringcentral"
EXT = "/restapi/v1.0/account/{account_id}/extension/{extension_id}"
MULTIPART_JSON = "application/vnd.ringcentral.multipart+json"
SUBSCRIPTION = "/restapi/v1.0/subscription"
WSTOKEN_PATH = "/restapi/oauth/wstoken"
INSTANT_SMS_FILTER = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS"
"""Inbound SMS (and MMS), the whole message in each event."""

MAX_SMS_TEXT = 1000
"""SMS/MMS text limit in UTF-16 code units (``CreateSMSMessage.text``)."""
MAX_PAGER_TEXT = 1024
"""Pager text limit in UTF-16 code units (``CreateInternalTextMessageRequest.text``)."""
MAX_COVER_PAGE_TEXT = 1024
MAX_BULK_IDS = 50
"""Ids per bulk request in the path (batch syntax)."""
MAX_MMS_ATTACHMENTS = 10
MAX_MMS_BYTES = 1_500_000
MAX_FAX_BYTES = 50 * 1024 * 1024
MAX_PER_PAGE = 1000

MESSAGE_TYPES = ("Fax", "SMS", "VoiceMail", "Pager", "Text")
DIRECTIONS = ("Inbound", "Outbound")
AVAILABILITIES = ("Alive", "Deleted", "Purged")
READ_STATUSES = ("Read", "Unread")
SYNC_TYPES = ("FSync", "ISync")
FAX_RESOLUTIONS = ("High", "Low")
DELETE_TYPES = (*MESSAGE_TYPES, "All")
CONTENT_DISPOSITIONS = ("Inline", "Attachment")
OWNER_SCOPES = ("Any", "Personal", "Shared")

_DIGITS = re.compile(r"^[0-9]{1,19}\Z")
_ACCOUNT = re.compile(r"^(?:~|[0-9]{1,19})\Z")
_ISO = re.compile(r"^[A-Za-z]{2}\Z")
_INT64_MAX = 2**63 - 1

T = TypeVar("T")
MessageId = int | str
MessageIds = MessageId | list[MessageId] | tuple[MessageId, ...]
Dateish = datetime | str


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as RingCentral counts text limits."""
    return len(text.encode("utf-16-le")) // 2


def _bad(message: str, field: str) -> InvalidRequest:
    return InvalidRequest(message, field=field, provider=PROVIDER)


def _numeric_id(value: object, field: str) -> str:
    if isinstance(value, bool):
        raise _bad(f"{value!r} is not a RingCentral id", field)
    text = str(value) if isinstance(value, int) else value
    if not isinstance(text, str) or not _DIGITS.match(text) or int(text) > _INT64_MAX:
        raise _bad(f"{value!r} is not a RingCentral id (a non-negative int64)", field)
    return text


def check_message_id(value: object) -> str:
    """``value`` as a message-id string, or InvalidRequest."""
    return _numeric_id(value, "message_id")


def check_conversation_id(value: object) -> str:
    """``value`` as an exact conversation-id string (digits, int64), or InvalidRequest."""
    return _numeric_id(value, "conversation_id")


def _owner_part(value: str, field: str) -> str:
    if not isinstance(value, str) or not _ACCOUNT.match(value):
        raise _bad(f"{value!r} is not a valid {field} ('~' or digits)", field)
    return value


def _enum(value: str | None, allowed: Sequence[str], field: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise _bad(f"{field} must be one of {', '.join(allowed)}, got {value!r}", field)
    return value


def check_enums(
    values: str | Sequence[str] | None, allowed: Sequence[str], field: str
) -> list[str] | None:
    """``values`` (one or several) checked against ``allowed``, or InvalidRequest."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    return [v for v in items if _enum(v, allowed, field)]


def check_date(value: Dateish | None, field: str) -> str | None:
    """``value`` as RingCentral's ISO 8601 UTC form, or InvalidRequest."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = parse_timestamp(value)
        except ValueError:
            raise _bad(f"{value!r} is not an ISO 8601 date-time", field) from None
    if not isinstance(value, datetime):
        raise _bad(f"{field} must be a datetime or an ISO 8601 string", field)
    if value.tzinfo is None:
        raise _bad(f"{field} must be timezone-aware", field)
    moment = value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _positive(value: int | None, field: str, maximum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"{field} must be a positive int", field)
    if maximum is not None and value > maximum:
        raise _bad(f"{field} must be at most {maximum}", field)
    return value


Phone = str | Address
"""A phone number: text (E.164, or national with ``default_region``) or an
:class:`~messaging_hub.Address` (taken as checked when it was made)."""


def _following_page(listing: MessageList, page: int) -> int | None:
    """The page number to read after ``page``, or None when the answer says it was the last.

    The walk asks for ``page + 1`` itself rather than following the link;
    a ``nextPage`` link naming a page at or before this one is passed on,
    so the walk reports the loop (after yielding this page).
    """
    if not listing.has_next_page:
        return None
    link = listing.navigation.next_page
    if link is not None and link.uri:
        try:
            linked = int(URL(link.uri).query.get("page", ""))
        except ValueError:
            linked = None
        if linked is not None and linked <= page:
            return linked
    return page + 1


_T = TypeVar("_T")


def _record_id(record: dict[str, Any] | MessageInfo) -> Any:
    return record["id"] if isinstance(record, dict) else record.id


async def _walk_listings(
    read: Callable[[int], Awaitable[tuple[list[_T], MessageList]]],
    key: Callable[[_T], Hashable],
) -> AsyncIterator[_T]:
    """Walk message-store pages from page 1 and yield each record once (see
    :meth:`RingCentralAPI.iter_messages`); ``read(page)`` gives a page's
    records and its listing."""

    async def fetch(page: int) -> tuple[list[_T], int | None]:
        records, listing = await read(page)
        check_page_echo(page, listing.paging.page, provider=PROVIDER, what=what)
        return records, _following_page(listing, page)

    what = "message-store listing"
    walk = walk_pages(fetch, first=1, key=key, provider=PROVIDER, what=what)
    try:
        async for record in walk:
            yield record
    finally:
        await walk.aclose()


def _text(text: str, limit: int, field: str = "text") -> str:
    if not isinstance(text, str):
        raise _bad("text must be a str", field)
    if utf16_length(text) > limit:
        raise _bad(f"text is {utf16_length(text)} UTF-16 units; RingCentral allows {limit}", field)
    return text


def _owner_param(value: str | Sequence[str] | None) -> str | list[str] | None:
    if value is None or isinstance(value, str):
        if value is not None and value not in OWNER_SCOPES and not _DIGITS.match(value):
            raise _bad(
                f"owner must be Any, Personal, Shared or extension ids; got {value!r}", "owner"
            )
        return value
    return [_numeric_id(v, "owner") for v in value]


@attrs.frozen
class FilePart:
    """A file to upload with an MMS or a fax."""

    content: bytes = attrs.field(repr=False)
    content_type: str
    filename: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.content, bytes | bytearray | memoryview):
            raise _bad("file content must be bytes", "attachments")
        # Both go into the part's headers: a line break would add headers.
        if (
            not isinstance(self.content_type, str)
            or "/" not in self.content_type
            or not all(" " <= ch <= "~" for ch in self.content_type)
        ):
            raise _bad(f"{self.content_type!r} is not a media type", "attachments")
        if self.filename is not None and (
            not isinstance(self.filename, str) or has_control_characters(self.filename)
        ):
            raise _bad(f"{self.filename!r} is not a file name", "attachments")


@attrs.frozen
class AttachmentContent:
    """An attachment being downloaded: its head, and its body as chunks.

    Iterate over it (``async for chunk in content``) to read the body piece
    by piece; it is never held whole in memory.
    """

    status: int
    content_type: str | None
    content_length: int | None
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    chunks: AsyncIterator[bytes] = attrs.field(repr=False)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.chunks


class RingCentralAPI:
    """Every operation of the RingCentral messaging and OAuth API.

    ``media_base_url`` is where attachment content is fetched from (the spec
    marks that operation ``x-media-api``); the transport must allow it.
    ``client`` holds the app credentials for the raw OAuth operations.
    Phone numbers are E.164; a national number is read as dialled in
    ``default_region`` (refused without one).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        account_id: str = "~",
        extension_id: str = "~",
        media_base_url: str = "https://media.ringcentral.com",
        client: RingCentralGrant | None = None,
        default_region: str | None = None,
    ) -> None:
        self.transport = transport
        self.default_region = (
            None if default_region is None else check_region(default_region, field="default_region")
        )
        self.account_id = _owner_part(account_id, "account_id")
        self.extension_id = _owner_part(extension_id, "extension_id")
        media = URL(media_base_url.rstrip("/"))
        if not media.is_absolute() or media.scheme not in ("http", "https"):
            raise _bad(f"{media_base_url!r} is not an absolute http(s) URL", "media_base_url")
        self.media_base_url = media
        self.client = client
        self._own: tuple[str, str, str] = ("", "", "")

    # -- helpers -------------------------------------------------------------
    def _phone(self, value: Phone, field: str) -> str:
        """``value`` in E.164; a national number is read in ``default_region``."""
        if isinstance(value, Address):
            if value.kind is not AddressKind.PHONE:
                raise _bad(f"{value.value!r} is not a phone number", field)
            if not value.is_national:
                return value.value  # checked when the Address was made: not parsed again
            value = value.value
        if not isinstance(value, str):
            raise _bad(f"{field} must be a phone number, got {type(value).__name__}", field)
        try:
            return to_e164(value, self.default_region, field=field)
        except InvalidRequest as exc:
            raise _bad(exc.message, field) from None

    def _phones(self, values: Phone | Sequence[Phone], field: str) -> list[str]:
        items = [values] if isinstance(values, str | Address) else list(values)
        if not items:
            raise _bad(f"{field} needs at least one phone number", field)
        return [self._phone(v, field) for v in items]

    def _fax_recipients(self, to: Sequence[Phone | FaxRecipient]) -> list[FaxRecipient]:
        return [
            FaxRecipient(self._phone(r.phone_number, "to"), r.name)
            if isinstance(r, FaxRecipient)
            else FaxRecipient(self._phone(r, "to"))
            for r in to
        ]

    def _own_ext(self) -> str:
        """``_ext(None, None)``, built again only when the ids were changed."""
        account_id, extension_id, built = self._own
        if account_id is not self.account_id or extension_id is not self.extension_id:
            built = self._ext(None, None)
            self._own = (self.account_id, self.extension_id, built)
        return built

    def _ext(self, account_id: str | None, extension_id: str | None) -> str:
        return path(
            EXT,
            account_id=_owner_part(account_id or self.account_id, "account_id"),
            extension_id=_owner_part(extension_id or self.extension_id, "extension_id"),
        )

    def _results(self, response: Response, ids: Sequence[str]) -> list[MessageResult]:
        """Per-id results of a bulk call: 207 multi-status, or a lone 200 message."""
        if response.status == 207:
            data = response.json()
            if not isinstance(data, list):
                raise MalformedResponse(
                    "a 207 answer must be a JSON array", provider=PROVIDER, status=207
                )
            try:
                return [converter.structure(entry, MessageResult) for entry in data]
            except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
                raise MalformedResponse(
                    "unexpected multi-status entry", provider=PROVIDER, status=207
                ) from exc
        message = response.decode(converter, MessageInfo)
        return [MessageResult(ids[0], response.status, message=message)]

    @staticmethod
    def _ids(
        message_id: MessageIds,
    ) -> tuple[list[str], bool]:
        """The ids and whether the caller asked for a batch (a list)."""
        if isinstance(message_id, str) and "," in message_id:
            raise _bad(
                "pass several message ids as a list, not a comma-separated str", "message_id"
            )
        if isinstance(message_id, int | str):
            return [check_message_id(message_id)], False
        ids = [check_message_id(m) for m in message_id]
        if not ids:
            raise _bad("at least one message id is needed", "message_id")
        if len(ids) > MAX_BULK_IDS:
            raise _bad(f"at most {MAX_BULK_IDS} message ids per request", "message_id")
        return ids, True

    def _message_path(
        self, ids: Sequence[str], account_id: str | None, extension_id: str | None
    ) -> str:
        # Batch syntax: ids joined by literal commas, each one encoded.
        joined = ",".join(segment(i) for i in ids)
        return f"{self._ext(account_id, extension_id)}/message-store/{joined}"

    # -- OAuth ----------------------------------------------------------------
    def authorize_url(
        self,
        *,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        response_type: str = "code",
        state: str | None = None,
        scope: str | None = None,
        display: str | None = None,
        prompt: str | None = None,
        ui_locales: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
        nonce: str | None = None,
        login_hint: str | None = None,
        brand_id: str | None = None,
    ) -> str:
        """``GET /restapi/oauth/authorize`` (``authorize``): the URL to send a
        user's browser to for the authorization-code flow (no request is made)."""
        form = self._authorize_form(
            client_id, redirect_uri, response_type, state, scope, display, prompt,
            ui_locales, code_challenge, code_challenge_method, nonce, login_hint, brand_id,
        )  # fmt: skip
        return f"{self.transport.base_url}/restapi/oauth/authorize?{urlencode(form)}"

    async def authorize(
        self,
        *,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        response_type: str = "code",
        state: str | None = None,
        scope: str | None = None,
        display: str | None = None,
        prompt: str | None = None,
        ui_locales: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
        nonce: str | None = None,
        login_hint: str | None = None,
        brand_id: str | None = None,
    ) -> str:
        """``POST /restapi/oauth/authorize`` (``authorize2``): returns the login
        form's URL from the 302 ``Location``."""
        form = self._authorize_form(
            client_id, redirect_uri, response_type, state, scope, display, prompt,
            ui_locales, code_challenge, code_challenge_method, nonce, login_hint, brand_id,
        )  # fmt: skip
        response = await self.transport.request(
            "POST",
            "/restapi/oauth/authorize",
            data=form,
            authenticate=False,
            rate_group="Auth",
            ok_statuses=frozenset({302}),
        )
        location = response.headers.get("Location")
        if not location:
            raise MalformedResponse(
                "authorize answered without a Location", provider=PROVIDER, status=response.status
            )
        return location

    def _authorize_form(self, client_id: str | None, *values: str | None) -> dict[str, str]:
        names = (
            "redirect_uri", "response_type", "state", "scope", "display", "prompt",
            "ui_locales", "code_challenge", "code_challenge_method", "nonce", "login_hint",
            "brand_id",
        )  # fmt: skip
        client = client_id or (self.client.client_id if self.client else None)
        if not client:
            raise _bad("authorize needs a client_id", "client_id")
        form = {"client_id": client}
        form.update({k: v for k, v in zip(names, values, strict=True) if v is not None})
        return form

    async def get_token(
        self,
        grant_type: str,
        *,
        assertion: str | None = None,
        refresh_token: str | None = None,
        code: str | None = None,
        redirect_uri: str | None = None,
        code_verifier: str | None = None,
        username: str | None = None,
        password: str | None = None,
        extension: str | None = None,
        scope: str | None = None,
        endpoint_id: str | None = None,
        access_token_ttl: int | None = None,
        refresh_token_ttl: int | None = None,
    ) -> TokenInfo:
        """``POST /restapi/oauth/token`` (``getToken``) with any grant, authenticated
        with the app's credentials. The adapter's OAuth strategy calls this for you."""
        if self.client is None:
            raise _bad("get_token needs the app's client credentials", "client_id")
        fields: dict[str, Any] = {
            "grant_type": grant_type, "assertion": assertion, "refresh_token": refresh_token,
            "code": code, "redirect_uri": redirect_uri, "code_verifier": code_verifier,
            "username": username, "password": password, "extension": extension,
            "scope": scope, "endpoint_id": endpoint_id,
            "access_token_ttl": _positive(access_token_ttl, "access_token_ttl"),
            "refresh_token_ttl": _positive(refresh_token_ttl, "refresh_token_ttl"),
        }  # fmt: skip
        form = {k: str(v) for k, v in fields.items() if v is not None}
        token = await self.client.request_token(self.transport, form)
        assert isinstance(token.raw, TokenInfo)
        return token.raw

    async def revoke_token(self, token: str) -> None:
        """``POST /restapi/oauth/revoke`` (``revokeToken``): end the OAuth session of
        an access or refresh token."""
        if self.client is None:
            raise _bad("revoke_token needs the app's client credentials", "client_id")
        if not token:
            raise _bad("token must not be empty", "token")
        await self.transport.request(
            "POST",
            REVOKE_PATH,
            data={"token": token},
            headers={"Authorization": self.client.client_headers()["Authorization"]},
            authenticate=False,
            rate_group="Auth",
        )

    # -- message store ---------------------------------------------------------
    async def list_messages(
        self,
        *,
        availability: str | Sequence[str] | None = None,
        conversation_id: int | str | None = None,
        date_from: Dateish | None = None,
        date_to: Dateish | None = None,
        direction: str | Sequence[str] | None = None,
        distinct_conversations: bool | None = None,
        message_type: str | Sequence[str] | None = None,
        read_status: str | Sequence[str] | None = None,
        page: int | None = None,
        per_page: int | None = None,
        phone_number: str | None = None,
        owner: str | Sequence[str] | None = None,
        voicemail_owner: Sequence[str] | None = None,
        owner_extension_type: str | Sequence[str] | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageList:
        """``GET .../message-store`` (``listMessages``): one page of messages, newest
        first. Without ``date_from`` the server looks back only 24 hours."""
        params = {
            "owner": _owner_param(owner),
            "availability": check_enums(availability, AVAILABILITIES, "availability"),
            "conversationId": (
                None if conversation_id is None else check_conversation_id(conversation_id)
            ),
            "dateFrom": check_date(date_from, "date_from"),
            "dateTo": check_date(date_to, "date_to"),
            "direction": check_enums(direction, DIRECTIONS, "direction"),
            "distinctConversations": distinct_conversations,
            "messageType": check_enums(message_type, MESSAGE_TYPES, "message_type"),
            "readStatus": check_enums(read_status, READ_STATUSES, "read_status"),
            "page": _positive(page, "page"),
            "perPage": _positive(per_page, "per_page", MAX_PER_PAGE),
            "phoneNumber": (
                None if phone_number is None else self._phone(phone_number, "phone_number")
            ),
            "voicemailOwner": (
                None if voicemail_owner is None
                else [_numeric_id(v, "voicemail_owner") for v in voicemail_owner]
            ),
            "ownerExtensionType": (
                None if owner_extension_type is None
                else [owner_extension_type] if isinstance(owner_extension_type, str)
                else list(owner_extension_type)
            ),
        }  # fmt: skip
        response = await self._get_listing(params, account_id, extension_id)
        return response.decode(converter, MessageList)

    def _get_listing(
        self, params: dict[str, Any], account_id: str | None, extension_id: str | None
    ) -> Awaitable[Response]:
        return self.transport.request(
            "GET",
            self._ext(account_id, extension_id) + "/message-store",
            params=params,
            rate_group="Light",
        )

    async def _listed_records(
        self,
        *,
        page: int,
        per_page: int,
        conversation_id: int | str,
        date_from: Dateish,
        date_to: Dateish | None = None,
        direction: str | Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]] | list[MessageInfo], MessageList]:
        """:meth:`list_messages` for a history walk: the page's records as the
        decoded JSON objects when ``wire.plain_message_list`` accepts the page
        (the walk maps them itself), else as the converter reads them (with
        its errors); and the listing's paging and navigation."""
        params = {
            "conversationId": check_conversation_id(conversation_id),
            "dateFrom": check_date(date_from, "date_from"),
            "dateTo": check_date(date_to, "date_to"),
            "direction": check_enums(direction, DIRECTIONS, "direction"),
            "page": _positive(page, "page"),
            "perPage": _positive(per_page, "per_page", MAX_PER_PAGE),
        }
        response = await self._get_listing(params, None, None)
        data = response.json()
        if plain_message_list(data):
            # The paging and navigation as the typed read gives them.
            listing = converter.structure({**data, "records": []}, MessageList)
            return data["records"], listing
        listing = response.decode(converter, MessageList)
        return listing.records, listing

    async def iter_messages(
        self, *, per_page: int = 100, **filters: Any
    ) -> AsyncIterator[MessageInfo]:
        """Every message :meth:`list_messages` selects, page after page, each once.

        A page shorter than ``per_page`` (even an empty one) does not end the
        walk while the answer says more pages follow; pages that stop
        bringing new messages, or a ``nextPage`` link back to a page already
        read, end it with :class:`~messaging_hub.errors.PagingStalled`.
        """

        async def read(page: int) -> tuple[list[MessageInfo], MessageList]:
            listing = await self.list_messages(page=page, per_page=per_page, **filters)
            return listing.records, listing

        async for record in _walk_listings(read, _record_id):
            yield record

    def _history_records(
        self, *, per_page: int, **filters: Any
    ) -> AsyncIterator[dict[str, Any] | MessageInfo]:
        """:meth:`iter_messages` of one conversation (``_listed_records``'
        filters), each message as a plain JSON record or a ``MessageInfo``."""

        def read(page: int) -> Awaitable[tuple[list[Any], MessageList]]:
            return self._listed_records(page=page, per_page=per_page, **filters)

        return _walk_listings(read, _record_id)

    async def delete_messages_by_filter(
        self,
        *,
        conversation_id: int | str | Sequence[int | str] | None = None,
        date_to: Dateish | None = None,
        type: str | None = None,
        purge: bool | None = None,
        owner: str | Sequence[str] | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> None:
        """``DELETE .../message-store`` (``deleteMessageByFilter``): delete whole
        conversations (``conversation_id``, repeatable) or everything before ``date_to``."""
        conversations: list[str] | None = None
        if conversation_id is not None:
            items = [conversation_id] if isinstance(conversation_id, int | str) else conversation_id
            conversations = [check_conversation_id(c) for c in items]
            if not conversations or len(conversations) > MAX_BULK_IDS:
                raise _bad(f"give 1..{MAX_BULK_IDS} conversation ids", "conversation_id")
        await self.transport.request(
            "DELETE",
            self._ext(account_id, extension_id) + "/message-store",
            params={
                "owner": _owner_param(owner),
                "conversationId": conversations,
                "dateTo": check_date(date_to, "date_to"),
                "type": _enum(type, DELETE_TYPES, "type"),
                "purge": purge,
            },
            rate_group="Medium",
        )

    @overload
    async def load_message(
        self, message_id: MessageId, *, account_id: str | None = ..., extension_id: str | None = ...
    ) -> MessageInfo: ...

    @overload
    async def load_message(
        self,
        message_id: list[MessageId] | tuple[MessageId, ...],
        *,
        account_id: str | None = ...,
        extension_id: str | None = ...,
    ) -> list[MessageResult]: ...

    async def load_message(
        self,
        message_id: MessageIds,
        *,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo | list[MessageResult]:
        """``GET .../message-store/{messageId}`` (``readMessage``).

        One id gives the message; a list of ids (batch syntax, at most 50)
        gives one :class:`~.wire.MessageResult` per id, a message or the
        error for that id (the 207 multi-status answer).
        """
        ids, batch = self._ids(message_id)
        response = await self.transport.request(
            "GET", self._message_path(ids, account_id, extension_id), rate_group="Light"
        )
        if batch:
            return self._results(response, ids)
        return response.decode(converter, MessageInfo)

    async def _modify(
        self,
        method: str,
        message_id: MessageIds,
        body: UpdateMessageRequest | PatchMessageRequest,
        account_id: str | None,
        extension_id: str | None,
    ) -> MessageInfo | list[MessageResult]:
        ids, batch = self._ids(message_id)
        one = converter.unstructure(body)
        if len(ids) > 1:
            # Bulk syntax: one {resourceId, body} entry per id.
            payload: Any = [{"resourceId": i, "body": one} for i in ids]
            content_type = MULTIPART_JSON
        else:
            payload, content_type = one, "application/json"
        response = await self.transport.request(
            method,
            self._message_path(ids, account_id, extension_id),
            data=json.dumps(payload).encode(),
            headers={"Content-Type": content_type},
            idempotent=True,  # setting a status twice has the same effect
            rate_group="Medium",
        )
        if batch:
            return self._results(response, ids)
        return response.decode(converter, MessageInfo)

    @overload
    async def update_message(
        self,
        message_id: MessageId,
        *,
        read_status: str,
        account_id: str | None = ...,
        extension_id: str | None = ...,
    ) -> MessageInfo: ...

    @overload
    async def update_message(
        self,
        message_id: list[MessageId] | tuple[MessageId, ...],
        *,
        read_status: str,
        account_id: str | None = ...,
        extension_id: str | None = ...,
    ) -> list[MessageResult]: ...

    async def update_message(
        self,
        message_id: MessageIds,
        *,
        read_status: str,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo | list[MessageResult]:
        """``PUT .../message-store/{messageId}`` (``updateMessage``): set ``readStatus``
        (Read/Unread) of one message, or of a list of them (per-id results)."""
        body = UpdateMessageRequest(
            read_status=_enum(read_status, READ_STATUSES, "read_status") or ""
        )
        return await self._modify("PUT", message_id, body, account_id, extension_id)

    @overload
    async def patch_message(
        self,
        message_id: MessageId,
        *,
        read_status: str | None = ...,
        availability: str | None = ...,
        account_id: str | None = ...,
        extension_id: str | None = ...,
    ) -> MessageInfo: ...

    @overload
    async def patch_message(
        self,
        message_id: list[MessageId] | tuple[MessageId, ...],
        *,
        read_status: str | None = ...,
        availability: str | None = ...,
        account_id: str | None = ...,
        extension_id: str | None = ...,
    ) -> list[MessageResult]: ...

    async def patch_message(
        self,
        message_id: MessageIds,
        *,
        read_status: str | None = None,
        availability: str | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo | list[MessageResult]:
        """``PATCH .../message-store/{messageId}`` (``patchMessage``): change
        ``readStatus`` or restore a deleted message (``availability="Alive"``)."""
        if read_status is None and availability is None:
            raise _bad("give read_status or availability", "read_status")
        body = PatchMessageRequest(
            read_status=_enum(read_status, READ_STATUSES, "read_status"),
            availability=_enum(availability, ("Alive",), "availability"),
        )
        return await self._modify("PATCH", message_id, body, account_id, extension_id)

    async def delete_message(
        self,
        message_id: MessageIds,
        *,
        purge: bool | None = None,
        type: str | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> None:
        """``DELETE .../message-store/{messageId}`` (``deleteMessage``): move one
        message (or a list) to Deleted; a second call or ``purge=True`` purges."""
        ids, _ = self._ids(message_id)
        await self.transport.request(
            "DELETE",
            self._message_path(ids, account_id, extension_id),
            params={"purge": purge, "type": _enum(type, DELETE_TYPES, "type")},
            rate_group="Medium",
        )

    def _attachment_url(
        self,
        message_id: MessageId,
        attachment_id: MessageId,
        account_id: str | None,
        extension_id: str | None,
    ) -> str:
        relative = self._ext(account_id, extension_id) + path(
            "/message-store/{message_id}/content/{attachment_id}",
            message_id=check_message_id(message_id),
            attachment_id=_numeric_id(attachment_id, "attachment_id"),
        )
        return f"{self.media_base_url}{relative}"

    def media_url(self, uri: str) -> str:
        """The attachment ``uri`` checked to be on the media host.

        A URI on the platform host is moved to the media host (content is
        served only there); any other host raises InvalidRequest, so the
        token is never sent elsewhere.
        """
        if not isinstance(uri, str) or has_control_characters(uri) or " " in uri:
            raise _bad("the attachment uri is not a valid URL", "uri")
        try:
            url = URL(uri)
            valid = url.scheme.lower() in ("http", "https") and bool(url.raw_host)
        except (TypeError, ValueError):
            valid = False
        if valid and (url.raw_user is not None or url.raw_password is not None):
            # Never echo the URI: it carries credentials.
            raise _bad("an attachment uri must not carry credentials", "uri")
        if not valid:
            # Relative and scheme-relative ("//host/x") URIs are refused, not
            # resolved against some base: the token would follow them.
            raise _bad("the attachment uri is not an absolute http(s) URL", "uri")
        try:
            # Origins compare as text: "https://host:443" and "https://host" are one.
            origin = str(url.origin())
        except ValueError:
            raise _bad("the attachment uri is not an absolute http(s) URL", "uri") from None
        media = self.media_base_url.origin()
        if origin in (str(media), str(self.transport.base_url.origin())):
            return str(media.with_path(url.raw_path, encoded=True)
                       .with_query(url.raw_query_string))  # fmt: skip
        raise _bad(f"attachment content is served by {media}, not {origin}", "uri")

    @asynccontextmanager
    async def _stream(
        self, url: str, params: Mapping[str, Any] | None, chunk_size: int
    ) -> AsyncIterator[AttachmentContent]:
        async with self.transport.stream(
            "GET", url, params=params, rate_group="Medium", chunk_size=chunk_size
        ) as (head, chunks):
            length = head.headers.get("Content-Length")
            yield AttachmentContent(
                status=head.status,
                content_type=head.headers.get("Content-Type"),
                content_length=int(length) if length and length.isdigit() else None,
                headers=head.headers,
                chunks=chunks,
            )

    def load_message_attachment(
        self,
        message_id: MessageId,
        attachment_id: MessageId,
        *,
        content_disposition: str | None = None,
        content_disposition_filename: str | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
        chunk_size: int = 64 * 1024,
    ) -> AbstractAsyncContextManager[AttachmentContent]:
        """``GET .../message-store/{messageId}/content/{attachmentId}``
        (``readMessageContent``) on the media host, streamed::

            async with api.load_message_attachment(msg_id, att_id) as content:
                async for chunk in content: ...

        Returns an async context manager yielding :class:`AttachmentContent`.
        """
        url = self._attachment_url(message_id, attachment_id, account_id, extension_id)
        params = {
            "contentDisposition": _enum(
                content_disposition, CONTENT_DISPOSITIONS, "content_disposition"
            ),
            "contentDispositionFilename": content_disposition_filename,
        }
        return self._stream(url, params, _positive(chunk_size, "chunk_size") or 65536)

    def open_attachment(
        self, uri: str, *, chunk_size: int = 64 * 1024
    ) -> AbstractAsyncContextManager[AttachmentContent]:
        """Stream an attachment by the ``uri`` a message lists (see :meth:`media_url`);
        an async context manager yielding :class:`AttachmentContent`."""
        url = self.media_url(uri)
        return self._stream(url, None, _positive(chunk_size, "chunk_size") or 65536)

    async def download_attachment(
        self,
        destination: str | os.PathLike[str],
        *,
        uri: str | None = None,
        message_id: MessageId | None = None,
        attachment_id: MessageId | None = None,
        chunk_size: int = 64 * 1024,
    ) -> int:
        """Write an attachment (by ``uri``, or ``message_id`` and ``attachment_id``)
        to ``destination`` chunk by chunk; returns the number of bytes written."""
        if uri is not None:
            opened = self.open_attachment(uri, chunk_size=chunk_size)
        elif message_id is not None and attachment_id is not None:
            opened = self.load_message_attachment(message_id, attachment_id, chunk_size=chunk_size)
        else:
            raise _bad("give uri, or message_id and attachment_id", "uri")
        written = 0
        async with opened as content, await anyio.open_file(destination, "wb") as out:
            async for chunk in content:
                await out.write(chunk)
                written += len(chunk)
        return written

    # -- sync -------------------------------------------------------------------
    async def sync_messages(
        self,
        *,
        sync_type: str | None = None,
        sync_token: str | None = None,
        record_count: int | None = None,
        conversation_id: int | str | None = None,
        date_from: Dateish | None = None,
        date_to: Dateish | None = None,
        direction: str | Sequence[str] | None = None,
        distinct_conversations: bool | None = None,
        message_type: str | Sequence[str] | None = None,
        owner: str | Sequence[str] | None = None,
        voicemail_owner: str | Sequence[str] | None = None,
        owner_extension_type: str | Sequence[str] | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> SyncResponse:
        """``GET .../message-sync`` (``syncMessages``): a full sync (``FSync``, the
        default without a token) or an incremental one (``ISync`` with the
        ``sync_token`` of the previous answer's ``sync_info``)."""
        kind = _enum(sync_type, SYNC_TYPES, "sync_type") or ("ISync" if sync_token else "FSync")
        if kind == "ISync" and not sync_token:
            raise _bad("an incremental sync (ISync) needs the previous sync_token", "sync_token")
        if kind == "FSync" and sync_token:
            raise _bad("a full sync (FSync) takes no sync_token", "sync_token")
        voicemail: str | list[str] | None
        if voicemail_owner is None or isinstance(voicemail_owner, str):
            voicemail = voicemail_owner
        else:
            voicemail = [_numeric_id(v, "voicemail_owner") for v in voicemail_owner]
        params = {
            "owner": _owner_param(owner),
            "conversationId": (
                None if conversation_id is None else check_conversation_id(conversation_id)
            ),
            "dateFrom": check_date(date_from, "date_from"),
            "dateTo": check_date(date_to, "date_to"),
            "direction": check_enums(direction, DIRECTIONS, "direction"),
            "distinctConversations": distinct_conversations,
            "messageType": check_enums(message_type, MESSAGE_TYPES, "message_type"),
            "recordCount": _positive(record_count, "record_count"),
            "syncToken": sync_token,
            "syncType": kind,
            "voicemailOwner": voicemail,
            "ownerExtensionType": (
                None if owner_extension_type is None
                else [owner_extension_type] if isinstance(owner_extension_type, str)
                else list(owner_extension_type)
            ),
        }  # fmt: skip
        response = await self.transport.request(
            "GET",
            self._ext(account_id, extension_id) + "/message-sync",
            params=params,
            rate_group="Light",
        )
        return response.decode(converter, SyncResponse)

    # -- sending -------------------------------------------------------------------
    async def send_sms(
        self,
        *,
        from_number: Phone,
        to: Phone | Sequence[Phone],
        text: str,
        country: CountryInfo | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo:
        """``POST .../sms`` (``createSMSMessage``): send a text (at most 1000 UTF-16 units)."""
        if not text:
            raise _bad("an SMS needs text", "text")
        body = SmsRequest(
            from_=CallerInfoRequest(self._phone(from_number, "from")),
            to=[CallerInfoRequest(n) for n in self._phones(to, "to")],
            text=_text(text, MAX_SMS_TEXT),
            country=_country(country),
        )
        response = await self._post_sms(
            converter.unstructure(body), self._ext(account_id, extension_id)
        )
        return response.decode(converter, MessageInfo)

    async def _post_sms(self, body: dict[str, Any], ext: str) -> Response:
        return await self.transport.request(
            "POST", ext + "/sms", json_body=body, idempotent=False, rate_group="Medium"
        )

    async def _send_checked_sms(
        self, *, from_number: str, to: str, text: str
    ) -> SentRecord | MessageInfo:
        """:meth:`send_sms` for the adapter, which has checked its input
        (numbers in E.164, text within the limit): the same request, and the
        answer's receipt fields read without building the whole
        ``MessageInfo`` (an answer whose receipt fields the converter would
        refuse is read by it, with its error)."""
        body = {"from": {"phoneNumber": from_number}, "to": [{"phoneNumber": to}], "text": text}
        response = await self._post_sms(body, self._own_ext())
        record = sent_record(response.json())
        return record if record is not None else response.decode(converter, MessageInfo)

    async def send_mms(
        self,
        *,
        from_number: Phone,
        to: Phone | Sequence[Phone],
        attachments: Sequence[FilePart],
        text: str | None = None,
        country: CountryInfo | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo:
        """``POST .../mms`` (``createMMS``): a media message, sent as
        ``multipart/form-data`` (the JSON envelope first, then one part per file)."""
        files = _files(attachments, MAX_MMS_ATTACHMENTS, MAX_MMS_BYTES)
        body = SmsRequest(
            from_=CallerInfoRequest(self._phone(from_number, "from")),
            to=[CallerInfoRequest(n) for n in self._phones(to, "to")],
            text=_text(text, MAX_SMS_TEXT) if text else None,
            country=_country(country),
        )
        envelope = converter.unstructure(body)
        response = await self.transport.request(
            "POST",
            self._ext(account_id, extension_id) + "/mms",
            data=lambda: _multipart(envelope, files, "attachments"),
            idempotent=False,
            rate_group="Medium",
        )
        return response.decode(converter, MessageInfo)

    async def send_internal_message(
        self,
        *,
        text: str,
        to: Sequence[str | PagerCallerInfo] | None = None,
        from_extension: str | PagerCallerInfo | None = None,
        reply_on: MessageId | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo:
        """``POST .../company-pager`` (``createInternalTextMessage``): a pager
        message to extensions (numbers as strings, or :class:`~.wire.PagerCallerInfo`);
        ``to`` may be omitted when replying (``reply_on``)."""
        if not text:
            raise _bad("a pager message needs text", "text")
        recipients = None if to is None else [_pager_party(p, "to") for p in to]
        if not recipients and reply_on is None:
            raise _bad("a pager message needs recipients (to) or reply_on", "to")
        body = InternalTextMessageRequest(
            text=_text(text, MAX_PAGER_TEXT),
            to=recipients or None,
            from_=None if from_extension is None else _pager_party(from_extension, "from"),
            reply_on=None if reply_on is None else int(check_message_id(reply_on)),
        )
        response = await self.transport.request(
            "POST",
            self._ext(account_id, extension_id) + "/company-pager",
            json_body=converter.unstructure(body),
            idempotent=False,
            rate_group="Medium",
        )
        return response.decode(converter, MessageInfo)

    async def send_fax_message(
        self,
        *,
        to: Phone | Sequence[Phone | FaxRecipient],
        attachments: Sequence[FilePart],
        fax_resolution: str | None = None,
        send_time: Dateish | None = None,
        iso_code: str | None = None,
        cover_index: int | None = None,
        cover_page_text: str | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo:
        """``POST .../fax`` (``createFaxMessage``): send documents as a fax, in a
        ``multipart/form-data`` body whose first part is the JSON envelope."""
        recipients = self._fax_recipients([to] if isinstance(to, str | Address) else to)
        if not recipients:
            raise _bad("a fax needs at least one recipient", "to")
        if cover_index is not None and (
            isinstance(cover_index, bool) or not isinstance(cover_index, int) or cover_index < 0
        ):
            raise _bad("cover_index must be a non-negative int (0: no cover page)", "cover_index")
        if iso_code is not None and not _ISO.match(iso_code):
            raise _bad(f"{iso_code!r} is not a two-letter country code", "iso_code")
        envelope = converter.unstructure(
            FaxEnvelope(
                to=recipients,
                fax_resolution=_enum(fax_resolution, FAX_RESOLUTIONS, "fax_resolution"),
                send_time=check_date(send_time, "send_time"),
                iso_code=iso_code,
                cover_index=cover_index,
                cover_page_text=(
                    None if cover_page_text is None
                    else _text(cover_page_text, MAX_COVER_PAGE_TEXT, "cover_page_text")
                ),
            )
        )  # fmt: skip
        files = _files(attachments, None, MAX_FAX_BYTES)
        response = await self.transport.request(
            "POST",
            self._ext(account_id, extension_id) + "/fax",
            data=lambda: _multipart(envelope, files, "attachment"),
            idempotent=False,
            rate_group="Heavy",
        )
        return response.decode(converter, MessageInfo)

    async def resend_fax_message(
        self,
        original_message_id: MessageId,
        *,
        to: Phone | Sequence[Phone | FaxRecipient] | None = None,
        send_time: Dateish | None = None,
        account_id: str | None = None,
        extension_id: str | None = None,
    ) -> MessageInfo:
        """``POST .../fax`` (``createFaxMessage``, JSON body): resend a stored fax,
        or forward it to ``to``."""
        recipients = None
        if to is not None:
            recipients = self._fax_recipients([to] if isinstance(to, str | Address) else to)
        body = FaxResend(
            original_message_id=check_message_id(original_message_id),
            to=recipients,
            send_time=check_date(send_time, "send_time"),
        )
        response = await self.transport.request(
            "POST",
            self._ext(account_id, extension_id) + "/fax",
            json_body=converter.unstructure(body),
            idempotent=False,
            rate_group="Heavy",
        )
        return response.decode(converter, MessageInfo)

    async def get_fax_cover_pages(
        self, *, page: int | None = None, per_page: int | None = None
    ) -> FaxCoverPageList:
        """``GET /restapi/v1.0/dictionary/fax-cover-page`` (``listFaxCoverPages``)."""
        response = await self.transport.request(
            "GET",
            "/restapi/v1.0/dictionary/fax-cover-page",
            params={"page": _positive(page, "page"), "perPage": _positive(per_page, "per_page")},
            rate_group="Light",
        )
        return response.decode(converter, FaxCoverPageList)

    # -- push notifications -------------------------------------------------------
    # Not in the trimmed spec: shapes from RingCentral's developer guide
    # (notifications/webhooks, notifications/websockets) and its generated SDKs.

    async def create_subscription(
        self,
        *,
        event_filters: Sequence[str],
        delivery_mode: DeliveryModeRequest,
        expires_in: int | None = None,
    ) -> SubscriptionInfo:
        """``POST /restapi/v1.0/subscription`` (``createSubscription``): subscribe to
        ``event_filters`` (``/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS``,
        ...) delivered by ``delivery_mode``. For a ``WebHook`` RingCentral first calls
        the address with a ``Validation-Token`` header it must echo back."""
        body = SubscriptionRequest(
            event_filters=_event_filters(event_filters),
            delivery_mode=_delivery_mode(delivery_mode),
            expires_in=_positive(expires_in, "expires_in"),
        )
        response = await self.transport.request(
            "POST",
            SUBSCRIPTION,
            json_body=converter.unstructure(body),
            rate_group="Medium",
        )
        return response.decode(converter, SubscriptionInfo)

    async def create_webhook_subscription(
        self,
        address: str,
        *,
        event_filters: Sequence[str] = (INSTANT_SMS_FILTER,),
        verification_token: str | None = None,
        expires_in: int | None = None,
    ) -> SubscriptionInfo:
        """A ``WebHook`` subscription delivering to ``address`` (a public http(s) URL
        serving :func:`messaging_hub.webhooks.aiohttp_app` or ``asgi_app``);
        RingCentral sends ``verification_token`` in a ``Verification-Token`` header
        with every call, for the receiver to check."""
        return await self.create_subscription(
            event_filters=event_filters,
            delivery_mode=DeliveryModeRequest(
                "WebHook", address=address, verification_token=verification_token
            ),
            expires_in=expires_in,
        )

    async def list_subscriptions(self) -> SubscriptionList:
        """``GET /restapi/v1.0/subscription`` (``listSubscriptions``): this app's
        subscriptions for the token's user."""
        response = await self.transport.request("GET", SUBSCRIPTION, rate_group="Light")
        return response.decode(converter, SubscriptionList)

    async def get_subscription(self, subscription_id: str) -> SubscriptionInfo:
        """``GET /restapi/v1.0/subscription/{subscriptionId}`` (``readSubscription``)."""
        response = await self.transport.request(
            "GET", _subscription_path(subscription_id), rate_group="Light"
        )
        return response.decode(converter, SubscriptionInfo)

    async def update_subscription(
        self,
        subscription_id: str,
        *,
        event_filters: Sequence[str],
        delivery_mode: DeliveryModeRequest | None = None,
        expires_in: int | None = None,
    ) -> SubscriptionInfo:
        """``PUT /restapi/v1.0/subscription/{subscriptionId}`` (``updateSubscription``):
        new event filters (and lifetime); it also renews the subscription."""
        body = SubscriptionRequest(
            event_filters=_event_filters(event_filters),
            delivery_mode=None if delivery_mode is None else _delivery_mode(delivery_mode),
            expires_in=_positive(expires_in, "expires_in"),
        )
        response = await self.transport.request(
            "PUT",
            _subscription_path(subscription_id),
            json_body=converter.unstructure(body),
            rate_group="Medium",
        )
        return response.decode(converter, SubscriptionInfo)

    async def renew_subscription(self, subscription_id: str) -> SubscriptionInfo:
        """``POST /restapi/v1.0/subscription/{subscriptionId}/renew``
        (``renewSubscription``, empty body): push the expiration time out again.
        An expired subscription is gone: NotFound (``CMN-102``); create a new one."""
        response = await self.transport.request(
            "POST",
            _subscription_path(subscription_id) + "/renew",
            idempotent=True,  # renewing twice is renewing
            rate_group="Light",
        )
        return response.decode(converter, SubscriptionInfo)

    async def delete_subscription(self, subscription_id: str) -> None:
        """``DELETE /restapi/v1.0/subscription/{subscriptionId}`` (``deleteSubscription``)."""
        await self.transport.request(
            "DELETE", _subscription_path(subscription_id), rate_group="Medium"
        )

    async def get_ws_token(self) -> WsToken:
        """``POST /restapi/oauth/wstoken`` (``createWebSocketToken``): the WebSocket
        gateway's ``uri`` and a short-lived, single-use ``ws_access_token`` to
        connect with (``<uri>?access_token=<token>``); needs the app's
        WebSocketsSubscription permission."""
        response = await self.transport.request("POST", WSTOKEN_PATH, rate_group="Light")
        return response.decode(converter, WsToken)

    # -- aliases under the spec's operation ids ----------------------------------
    read_message = load_message
    read_message_content = load_message_attachment
    create_sms_message = send_sms
    create_mms = send_mms
    create_internal_text_message = send_internal_message
    create_fax_message = send_fax_message
    list_fax_cover_pages = get_fax_cover_pages
    delete_message_by_filter = delete_messages_by_filter

    async def aclose(self) -> None:
        """Close the transport (revoking a token the client obtained)."""
        await self.transport.aclose()

    def __repr__(self) -> str:
        return (
            f"RingCentralAPI(base_url={str(self.transport.base_url)!r}, "
            f"account_id={self.account_id!r}, extension_id={self.extension_id!r})"
        )


# -- request-body helpers ----------------------------------------------------------------


def _country(country: CountryInfo | None) -> CountryInfo | None:
    if country is not None and country.iso_code is not None and not _ISO.match(country.iso_code):
        raise _bad(f"{country.iso_code!r} is not a two-letter country code", "country")
    return country


def _event_filters(filters: Sequence[str]) -> list[str]:
    if isinstance(filters, str):
        filters = [filters]
    items = list(filters)
    if not items:
        raise _bad("a subscription needs at least one event filter", "event_filters")
    for item in items:
        if (
            not isinstance(item, str)
            or not item.startswith("/restapi/")
            or has_control_characters(item)
            or " " in item
        ):
            raise _bad(f"{item!r} is not an event filter (/restapi/...)", "event_filters")
    return items


def _delivery_mode(mode: DeliveryModeRequest) -> DeliveryModeRequest:
    if not isinstance(mode, DeliveryModeRequest):
        raise _bad("delivery_mode must be a DeliveryModeRequest", "delivery_mode")
    if mode.transport_type == "WebHook":
        if not isinstance(mode.address, str) or has_control_characters(mode.address):
            raise _bad("a WebHook subscription needs an address", "address")
        try:
            url = URL(mode.address)
            valid = url.scheme in ("http", "https") and bool(url.raw_host)
        except (TypeError, ValueError):
            valid = False
        if not valid or url.raw_user is not None or url.raw_password is not None:
            raise _bad("the webhook address must be an absolute http(s) URL", "address")
    if mode.verification_token is not None and (
        not isinstance(mode.verification_token, str)
        or not mode.verification_token
        or not all("!" <= ch <= "~" for ch in mode.verification_token)
    ):
        # It travels back in a header: printable ASCII without spaces only.
        raise _bad("verification_token must be printable ASCII", "verification_token")
    return mode


def _subscription_path(subscription_id: str) -> str:
    if not isinstance(subscription_id, str) or not subscription_id:
        raise _bad("a subscription id is needed", "subscription_id")
    return path(SUBSCRIPTION + "/{id}", id=subscription_id)


def _pager_party(value: str | PagerCallerInfo, field: str) -> PagerCallerInfo:
    if isinstance(value, PagerCallerInfo):
        for part in (value.extension_number, value.extension_id):
            if part is not None and not _DIGITS.match(part):
                raise _bad(f"{part!r} is not an extension number or id", field)
        if value.extension_number is None and value.extension_id is None:
            raise _bad("give an extension number or id", field)
        return value
    if not isinstance(value, str) or not value.strip().isdigit():
        raise _bad(f"{value!r} is not an extension number", field)
    return PagerCallerInfo(extension_number=value.strip())


def _files(files: Sequence[FilePart], most: int | None, max_bytes: int) -> list[FilePart]:
    items = list(files)
    if not items:
        raise _bad("at least one file is needed", "attachments")
    if not all(isinstance(f, FilePart) for f in items):
        raise _bad("files must be FilePart objects", "attachments")
    if most is not None and len(items) > most:
        raise _bad(f"at most {most} files per message", "attachments")
    total = sum(len(f.content) for f in items)
    if total > max_bytes:
        raise _bad(f"files total {total} bytes; the limit is {max_bytes}", "attachments")
    return items


def _multipart(envelope: Any, files: Sequence[FilePart], field: str) -> aiohttp.MultipartWriter:
    """A fresh ``multipart/form-data`` body: the JSON envelope, then the files.

    Built anew for each attempt, since a writer can be sent only once.
    """
    writer = aiohttp.MultipartWriter("form-data")
    request = writer.append_json(envelope)
    request.set_content_disposition("form-data", name="request")
    for number, file in enumerate(files, 1):
        part = writer.append(bytes(file.content), {"Content-Type": file.content_type})
        part.set_content_disposition(
            "form-data",
            quote_fields=False,
            name=field,
            filename=_html5_filename(file.filename or f"{field}{number}"),
        )
    return writer


def _html5_filename(name: str) -> str:
    """A file name as browsers and the official SDKs send it: UTF-8 text with
    only the quote and line breaks escaped (aiohttp's default quoting would
    percent-encode every space and non-ASCII letter, and the server keeps
    those escapes in the stored name)."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
