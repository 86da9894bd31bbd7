"""A fake RingCentral Platform API server for tests and offline demos.

Built from the RingCentral OpenAPI document and examples in
``specs/ringcentral/``: OAuth token/revoke (JWT bearer, password and
refresh-token grants, HTTP Basic client authentication), the message store
(list with filters, paging and navigation; get, update, patch and delete,
with comma-separated ids answered 207 multi-status), attachment content,
SMS, MMS, company pager, fax (``multipart/form-data`` and
``multipart/mixed``), fax cover pages, message sync (FSync/ISync) and the
usage-plan rate limits (``X-Rate-Limit-*`` headers, 429 CMN-301).

Typical use::

    async with FakeRingCentral() as fake:
        hub = await messaging_hub.connect(fake.config)
        fake.deliver_inbound("+14155550123", "hello")
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import attrs
from aiohttp import web

from messaging_hub.testing._server import FakeServer
from messaging_hub.testing.ringcentral_auth import (
    OAuthSession,
    RateDecision,
    RateLimit,
    RateLimiter,
    TokenStore,
)
from messaging_hub.testing.ringcentral_store import (
    AVAILABILITIES,
    CONVERSATION_ID_BASE,
    DIRECTIONS,
    MESSAGE_ID_BASE,
    MESSAGE_STATUSES,
    MESSAGE_TYPES,
    READ_STATUSES,
    ApiError,
    MultipartPart,
    StoredAttachment,
    StoredMessage,
    api_error,
    format_time,
    parse_multipart,
    parse_time,
    utf16_length,
)

__all__ = ["FakeRingCentral", "RateLimit", "StoredAttachment", "StoredMessage"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MULTI_JSON = "application/vnd.ringcentral.multipart+json"
EXT = "/restapi/v1.0/account/{accountId}/extension/{extensionId}"
SCOPE = "EditMessages Faxes InternalMessages ReadMessages SMS"
MAX_BULK_IDS = 50
CONTENT_CHUNK = 64 * 1024
# Fax requests may carry 50 MB of documents (x-request-max-body-size: 55m).
MAX_BODY = 60 * 1024 * 1024
MMS_MAX_BYTES = 1_500_000
MMS_MAX_ATTACHMENTS = 10
COVER_PAGES = (
    "None", "Ancient", "Birthday", "Blank", "Clasmod", "Classic", "Confidential",
    "Contempo", "Elegant", "Express", "Formal", "Jazzy", "Modern", "Urgent",
)  # fmt: skip
ENVELOPE_FIELDS = frozenset(
    {"to", "from", "text", "country", "faxResolution", "sendTime", "isoCode",
     "coverIndex", "coverPageText", "originalMessageId"}
)  # fmt: skip
# Where the operation wrapper leaves the rate-limit decision for the headers.
RATE_DECISION = web.RequestKey("ringcentral_rate_decision", RateDecision)
_PHONE = re.compile(r"^\+?[1-9]\d{6,14}$")


def _default_jwt() -> str:
    # Looks like a compact JWS; the fake only compares it as a string.
    def part(obj: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    header = part({"alg": "RS256", "typ": "JWT", "kid": "fake"})
    claims = part(
        {
            "aud": "https://platform.ringcentral.com/restapi/oauth/token",
            "sub": "230919005",
            "iss": "https://platform.ringcentral.com",
        }
    )
    return f"{header}.{claims}.{secrets.token_urlsafe(32)}"


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _e164(number: str) -> str:
    return "+" + _digits(number)


def _valid_phone(value: Any) -> bool:
    return isinstance(value, str) and _PHONE.match(re.sub(r"[\s().-]", "", value)) is not None


@attrs.define
class _SyncState:
    sequence: int
    types: tuple[str, ...]
    directions: tuple[str, ...]
    conversation_id: str | None


class FakeRingCentral(FakeServer):
    """In-memory RingCentral Platform API on loopback.

    Constructor arguments (all keyword-only, all optional): ``clock`` (returns
    an aware ``datetime``; timestamps, date filters and token expiry use it),
    the app credentials ``client_id``/``client_secret``, the accepted ``jwt``
    assertion, the password-grant user ``username``/``password``/``extension``,
    ``from_number`` (the account's SMS number) and ``phone_numbers`` (more
    owned numbers), ``account_id``/``extension_id``, ``access_token_ttl`` and
    ``refresh_token_ttl`` (seconds), ``rate_limits`` (group name to
    :class:`RateLimit` or ``(limit, window_seconds)``; defaults Light 50,
    Medium 40, Heavy 10, Auth 5 per 60 s) and ``rate_limiting`` (False counts
    but never refuses).
    """

    provider = "ringcentral"

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        client_id: str = "fake-rc-client-id",
        client_secret: str = "fake-rc-client-secret",  # noqa: S107
        jwt: str | None = None,
        username: str | None = None,
        password: str = "fake-rc-password",  # noqa: S107
        extension: str = "101",
        from_number: str = "+16505550100",
        phone_numbers: Iterable[str] = (),
        account_id: str = "230919004",
        extension_id: str = "230919005",
        access_token_ttl: int = 3600,
        refresh_token_ttl: int = 604800,
        rate_limits: Mapping[str, RateLimit | tuple[int, float]] | None = None,
        rate_limiting: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.client_id = client_id
        self.client_secret = client_secret
        self.jwt = jwt if jwt is not None else _default_jwt()
        self.username = username if username is not None else from_number
        self.password = password
        self.extension = extension
        self.from_number = _e164(from_number)
        self.phone_numbers = [self.from_number, *(_e164(n) for n in phone_numbers)]
        self.account_id = account_id
        self.extension_id = extension_id
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.rate_limiter = RateLimiter(rate_limits, enabled=rate_limiting)
        self.tokens = TokenStore(self._now)
        self.token_requests: Counter[str] = Counter()
        self.messages: list[StoredMessage] = []
        self.conversations: dict[frozenset[str], int] = {}
        self._by_id: dict[int, StoredMessage] = {}
        self._next_message_id = MESSAGE_ID_BASE
        self._next_attachment_id = MESSAGE_ID_BASE + 500_000_000
        self._sequence = 0
        self._sync_tokens: dict[str, _SyncState] = {}
        super().__init__(host=host, port=port)

    # -- configuration -----------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """Options for ``messaging_hub.connect``: JWT-grant credentials."""
        return {
            "provider": "ringcentral",
            "base_url": self.origin,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "jwt": self.jwt,
            "from_number": self.from_number,
            "media_base_url": self.origin,
        }

    def setup_routes(self, app: web.Application) -> None:
        """Register the RingCentral routes."""
        # aiohttp's default 1 MiB body cap is far below the API's 55 MB fax limit.
        app._client_max_size = MAX_BODY
        app.on_response_prepare.append(self._add_rate_headers)
        r = app.router
        r.add_post("/restapi/oauth/token", self._op("Auth", self._token, auth=False))
        r.add_post("/restapi/oauth/revoke", self._op("Auth", self._revoke, auth=False))
        r.add_get("/restapi/v1.0/dictionary/fax-cover-page", self._op("Light", self._cover_pages))
        r.add_post(EXT + "/sms", self._op("Medium", self._send_sms))
        r.add_post(EXT + "/mms", self._op("Medium", self._send_mms))
        r.add_post(EXT + "/company-pager", self._op("Medium", self._send_pager))
        r.add_post(EXT + "/fax", self._op("Heavy", self._send_fax))
        r.add_get(EXT + "/message-store", self._op("Light", self._list_messages))
        r.add_delete(EXT + "/message-store", self._op("Medium", self._delete_by_filter))
        one = EXT + "/message-store/{messageId}"
        r.add_get(one, self._op("Light", self._get_messages))
        r.add_put(one, self._op("Medium", self._update_messages))
        r.add_patch(one, self._op("Medium", self._update_messages))
        r.add_delete(one, self._op("Medium", self._delete_messages))
        r.add_get(one + "/content/{attachmentId}", self._op("Medium", self._content))
        r.add_get(EXT + "/message-sync", self._op("Light", self._sync))
        r.add_route("*", "/{tail:.*}", self._unknown)

    # -- test helpers --------------------------------------------------------
    def expire_tokens(self) -> None:
        """Make every access token issued so far expired: the next API call
        with one gets 401 OAU-128 and the client must refresh."""
        self.tokens.expire_access_tokens()

    def reset_rate_limits(self) -> None:
        """Start every rate-limit window afresh."""
        self.rate_limiter.reset()

    def message(self, message_id: int | str) -> StoredMessage:
        """The stored message with this id (``KeyError`` if none)."""
        return self._by_id[int(message_id)]

    @property
    def sent(self) -> list[StoredMessage]:
        """Outbound messages, oldest first."""
        return [m for m in self.messages if m.direction == "Outbound"]

    def conversation_id(self, *parties: str) -> int:
        """The conversation id for these remote phone or extension numbers."""
        return self._conversation(parties)

    def add_message(
        self,
        *,
        type: str = "SMS",
        direction: str = "Inbound",
        sender: Mapping[str, Any],
        recipients: Sequence[Mapping[str, Any]],
        text: str = "",
        attachments: Sequence[StoredAttachment] = (),
        message_status: str | None = None,
        read_status: str = "Unread",
        availability: str = "Alive",
        created: datetime | None = None,
        conversation: bool | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> StoredMessage:
        """Store any message record (the other helpers build on this).

        SMS and Pager messages get a conversation (keyed by the remote
        parties) unless ``conversation`` is False.
        """
        now = created or self._now()
        status = message_status or ("Received" if direction == "Inbound" else "Sent")
        conversation_id: int | None = None
        if conversation if conversation is not None else type in ("SMS", "Pager"):
            mine = {*self.phone_numbers, self.extension}
            remote = [p for p in _party_keys(sender, *recipients) if p not in mine and p != ""]
            conversation_id = self._conversation(remote or ["self"])
        message = StoredMessage(
            id=self._new_message_id(),
            type=type,
            direction=direction,
            sender=dict(sender),
            recipients=[dict(r) for r in recipients],
            text=text,
            creation_time=now,
            last_modified_time=now,
            message_status=status,
            read_status=read_status,
            availability=availability,
            conversation_id=conversation_id,
            attachments=list(attachments),
            extra={"extensionId": self.extension_id, **(extra or {})},
        )
        if type in ("SMS", "Pager") and not any(a.type == "Text" for a in attachments):
            message.attachments.insert(0, self.attachment("Text", "text/plain", text.encode()))
        self._touch(message)
        self.messages.append(message)
        self._by_id[message.id] = message
        return message

    def attachment(
        self,
        type: str,
        content_type: str,
        content: bytes,
        file_name: str | None = None,
        vm_duration: int | None = None,
    ) -> StoredAttachment:
        """A new attachment with a fresh id (to pass to :meth:`add_message`)."""
        self._next_attachment_id += 1
        return StoredAttachment(
            self._next_attachment_id, type, content_type, content, file_name, vm_duration
        )

    def deliver_inbound(
        self,
        from_number: str,
        text: str = "",
        *,
        to_number: str | None = None,
        attachments: Sequence[tuple[str, bytes] | tuple[str, bytes, str]] = (),
        created: datetime | None = None,
    ) -> StoredMessage:
        """Simulate an inbound SMS (or MMS when ``attachments`` are given as
        ``(content_type, data[, file_name])``) from a remote party to the
        account's number; it lands in that party's conversation."""
        files = [
            self.attachment("MmsAttachment", a[0], a[1], a[2] if len(a) > 2 else None)
            for a in attachments
        ]
        return self.add_message(
            type="SMS",
            direction="Inbound",
            sender={"phoneNumber": _e164(from_number)},
            recipients=[{"phoneNumber": _e164(to_number or self.from_number)}],
            text=text,
            attachments=files,
            created=created,
        )

    def deliver_pager(
        self, from_extension: str, text: str, *, created: datetime | None = None
    ) -> StoredMessage:
        """Simulate an inbound company pager message from another extension."""
        return self.add_message(
            type="Pager",
            direction="Inbound",
            sender={"extensionNumber": from_extension},
            recipients=[{"extensionNumber": self.extension}],
            text=text,
            created=created,
            extra={"pgToDepartment": False},
        )

    def deliver_fax(
        self,
        from_number: str,
        content: bytes,
        *,
        content_type: str = "application/pdf",
        pages: int = 1,
        created: datetime | None = None,
    ) -> StoredMessage:
        """Simulate a received fax whose rendered document is ``content``
        (may be many megabytes: content is served chunked)."""
        return self.add_message(
            type="Fax",
            direction="Inbound",
            sender={"phoneNumber": _e164(from_number)},
            recipients=[{"phoneNumber": self.from_number}],
            text=_e164(from_number),
            attachments=[self.attachment("RenderedDocument", content_type, content)],
            created=created,
            extra={"faxResolution": "High", "faxPageCount": pages},
        )

    def deliver_voicemail(
        self,
        from_number: str,
        audio: bytes,
        *,
        duration: int = 5,
        content_type: str = "audio/x-wav",
        created: datetime | None = None,
    ) -> StoredMessage:
        """Simulate a voicemail left by ``from_number``."""
        return self.add_message(
            type="VoiceMail",
            direction="Inbound",
            sender={"phoneNumber": _e164(from_number)},
            recipients=[{"phoneNumber": self.from_number}],
            attachments=[
                self.attachment("AudioRecording", content_type, audio, vm_duration=duration)
            ],
            created=created,
            extra={"vmTranscriptionStatus": "NotAvailable"},
        )

    def seed_messages(
        self,
        count: int,
        *,
        remote_number: str = "+14155550123",
        direction: str | None = None,
        start: datetime | None = None,
        step: timedelta = timedelta(seconds=1),
        text: str = "message {n}",
    ) -> list[StoredMessage]:
        """Create ``count`` SMS messages with one remote party, one ``step``
        apart, the last at ``start`` (default: now) - for paging tests.
        Directions alternate Inbound/Outbound unless ``direction`` is given."""
        last = start or self._now()
        created = []
        for n in range(count):
            way = direction or DIRECTIONS[n % 2]
            me, them = {"phoneNumber": self.from_number}, {"phoneNumber": _e164(remote_number)}
            created.append(
                self.add_message(
                    type="SMS",
                    direction=way,
                    sender=them if way == "Inbound" else me,
                    recipients=[me if way == "Inbound" else them],
                    text=text.format(n=n),
                    created=last - step * (count - 1 - n),
                )
            )
        return created

    def set_message_status(self, message_id: int | str, status: str) -> StoredMessage:
        """Change a message's ``messageStatus`` (e.g. Queued -> Delivered)."""
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"unknown message status {status!r}")
        message = self.message(message_id)
        message.message_status = status
        if status == "Delivered" and message.type == "SMS":
            message.extra["smsDeliveryTime"] = format_time(self._now())
        self._touch(message)
        return message

    # -- internals -------------------------------------------------------------
    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _new_message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id

    def _conversation(self, parties: Iterable[str]) -> int:
        key = frozenset(_digits(p) or p for p in parties)
        if key not in self.conversations:
            # Spaced-out ids above 2**53, like the documented examples.
            self.conversations[key] = CONVERSATION_ID_BASE + len(self.conversations) * 1_000_003
        return self.conversations[key]

    def _touch(self, message: StoredMessage) -> None:
        self._sequence += 1
        message.sequence = self._sequence
        message.last_modified_time = max(self._now(), message.creation_time)

    def _ext_root(self) -> str:
        return f"{self.origin}/restapi/v1.0/account/{self.account_id}/extension/{self.extension_id}"

    def _render(self, message: StoredMessage) -> dict[str, Any]:
        uri = f"{self._ext_root()}/message-store/{message.id}"
        return message.render(uri, uri, f"{self.origin}/restapi/v1.0/conversation")

    # -- middleware-ish plumbing -------------------------------------------------
    async def _add_rate_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        decision = request.get(RATE_DECISION)
        if decision is not None:
            response.headers.update(decision.headers())

    def _op(self, group: str, handler: Handler, *, auth: bool = True) -> Handler:
        async def operation(request: web.Request) -> web.StreamResponse:
            try:
                if auth:
                    request[RATE_DECISION] = self.rate_limiter.peek(group)
                    self._authenticate(request)
                decision = self.rate_limiter.take(group)
                request[RATE_DECISION] = decision
                if decision.retry_after is not None:
                    raise ApiError(429, "CMN-301", "Request rate exceeded")
                return await handler(request)
            except ApiError as error:
                return api_error(error)

        return operation

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(401, "AGW-401", "Authorization header is not specified")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "OAU-213", "Token not found")
        problem = self.tokens.check_access(token.strip())
        if problem == "expired":
            raise ApiError(401, "OAU-128", "Access token expired")
        if problem is not None:
            raise ApiError(401, "OAU-213", "Token not found")
        account = request.match_info.get("accountId")
        if account is not None and account not in ("~", self.account_id):
            raise ApiError.not_found("accountId")
        ext = request.match_info.get("extensionId")
        if ext is not None and ext not in ("~", self.extension_id):
            raise ApiError(
                403,
                "CMN-408",
                "In order to call this API endpoint, user needs to have [ReadMessages] "
                "permission for requested resource.",
            )

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        return api_error(ApiError(404, "CMN-102", "Resource for parameter [path] is not found"))

    # -- OAuth -----------------------------------------------------------------------
    def _client_authenticated(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            raise ApiError(
                401, "OAU-123", "Client authentication is required", oauth_error="invalid_client"
            )
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except ValueError:
            decoded = ""
        client_id, _, client_secret = decoded.partition(":")
        if not (
            secrets.compare_digest(client_id, self.client_id)
            and secrets.compare_digest(client_secret, self.client_secret)
        ):
            raise ApiError(401, "OAU-123", "Invalid client", oauth_error="invalid_client")

    async def _form(self, request: web.Request) -> dict[str, str]:
        if request.content_type != "application/x-www-form-urlencoded":
            raise ApiError(415, "CMN-415", "Unsupported Media Type")
        from urllib.parse import parse_qsl

        body = (await request.read()).decode("utf-8", "replace")
        return dict(parse_qsl(body, keep_blank_values=True))

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = await self._form(request)
        grant = form.get("grant_type", "")
        self.token_requests[grant] += 1
        self._client_authenticated(request)
        access_ttl = self.access_token_ttl
        if form.get("access_token_ttl", "").isdigit():
            access_ttl = min(max(600, int(form["access_token_ttl"])), 3600, access_ttl)
        refresh_ttl = self.refresh_token_ttl
        if form.get("refresh_token_ttl", "").isdigit():
            refresh_ttl = min(int(form["refresh_token_ttl"]), 2592000, refresh_ttl)
        if not grant:
            raise ApiError(
                400, "OAU-101", "Mandatory parameter [grant_type] not specified",
                "grant_type", oauth_error="invalid_request",
            )  # fmt: skip
        if grant == "refresh_token":
            token = form.get("refresh_token")
            if not token:
                raise _oauth_missing("refresh_token")
            session = self.tokens.by_refresh(token)
            if session is None:
                raise ApiError(400, "OAU-211", "Token is revoked", oauth_error="invalid_grant")
            self.tokens.rotate(session, access_ttl)
            return self._token_response(session)
        if grant == JWT_GRANT:
            assertion = form.get("assertion")
            if not assertion:
                raise _oauth_missing("assertion")
            if not secrets.compare_digest(assertion, self.jwt):
                raise ApiError(
                    400, "OAU-140", "Invalid resource owner credentials.",
                    oauth_error="invalid_grant",
                )  # fmt: skip
        elif grant == "password":
            for name in ("username", "password"):
                if not form.get(name):
                    raise _oauth_missing(name)
            if not self._password_ok(form):
                raise ApiError(
                    400, "OAU-140", "Invalid resource owner credentials.",
                    oauth_error="invalid_grant",
                )  # fmt: skip
        else:
            raise ApiError(
                400, "OAU-250", f"Unsupported grant type [{grant}]",
                "grant_type", oauth_error="unsupported_grant_type",
            )  # fmt: skip
        session = self.tokens.issue(
            grant, form.get("endpoint_id") or secrets.token_urlsafe(16), access_ttl, refresh_ttl
        )
        return self._token_response(session)

    def _password_ok(self, form: Mapping[str, str]) -> bool:
        username = form["username"]
        same_user = username == self.username or (
            _digits(username) != "" and _digits(username) == _digits(self.username)
        )
        extension = form.get("extension", "")
        return (
            same_user
            and secrets.compare_digest(form["password"], self.password)
            and extension in ("", self.extension)
        )

    def _token_response(self, session: OAuthSession) -> web.Response:
        body = {
            "access_token": session.access_token,
            "token_type": "bearer",
            "expires_in": session.access_token_ttl,
            "refresh_token": session.refresh_token,
            "refresh_token_expires_in": session.refresh_token_ttl,
            "scope": SCOPE,
            "owner_id": self.extension_id,
            "endpoint_id": session.endpoint_id,
            "session_id": session.id,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        form = await self._form(request) if (await request.read()) else {}
        self._client_authenticated(request)
        token = form.get("token") or request.query.get("token")
        if not token:
            raise _oauth_missing("token")
        self.tokens.revoke(token)  # RFC 7009: unknown tokens are not an error
        return web.Response(status=200)

    # -- sending ---------------------------------------------------------------------------
    async def _json(self, request: web.Request, *types: str) -> Any:
        allowed = types or ("application/json",)
        if request.content_type not in allowed:
            raise ApiError(415, "CMN-415", "Unsupported Media Type")
        try:
            return json.loads(await request.read())
        except ValueError:
            raise ApiError(400, "CMN-103", "JSON can't be parsed.") from None

    async def _envelope(
        self, request: web.Request, *, json_ok: bool = True
    ) -> tuple[dict[str, Any], list[MultipartPart]]:
        """The JSON envelope and attached files of a send request, from JSON,
        ``multipart/form-data`` (flat fields or a JSON part) or
        ``multipart/mixed`` (a JSON part, then the files)."""
        ctype = request.content_type
        if ctype == "application/json" and json_ok:
            body = await self._json(request)
            if not isinstance(body, dict):
                raise ApiError(400, "CMN-103", "JSON can't be parsed.")
            return body, []
        if ctype not in ("multipart/form-data", "multipart/mixed"):
            raise ApiError(415, "CMN-415", "Unsupported Media Type")
        parts = parse_multipart(request.headers.get("Content-Type", ""), await request.read())
        envelope: dict[str, Any] = {}
        files: list[MultipartPart] = []
        have_json = False
        for part in parts:
            if part.content_type == "application/json" and part.filename is None and not have_json:
                try:
                    loaded = json.loads(part.data)
                except ValueError:
                    raise ApiError(400, "CMN-103", "JSON can't be parsed.") from None
                if not isinstance(loaded, dict):
                    raise ApiError(400, "CMN-103", "JSON can't be parsed.")
                envelope.update(loaded)
                have_json = True
            elif part.name in ENVELOPE_FIELDS and part.filename is None:
                _add_field(envelope, part.name, part.text())
            else:
                files.append(part)
        return envelope, files

    def _sender(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        sender = envelope.get("from")
        if sender is None:
            raise ApiError.missing("from")
        number = sender.get("phoneNumber") if isinstance(sender, dict) else None
        if not _valid_phone(number):
            raise ApiError.invalid("from.phoneNumber")
        assert isinstance(number, str)
        if _e164(number) not in self.phone_numbers:
            raise ApiError(403, "MSG-304", "Phone number doesn't belong to extension")
        return {"phoneNumber": _e164(number)}

    def _phone_recipients(self, envelope: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
        to = envelope.get("to")
        if to is None or to == []:
            raise ApiError.missing("to")
        if not isinstance(to, list) or len(to) > limit:
            raise ApiError.invalid("to")
        result = []
        for entry in to:
            number = entry.get("phoneNumber") if isinstance(entry, dict) else None
            if not _valid_phone(number):
                raise ApiError.invalid("to.phoneNumber")
            assert isinstance(number, str)
            result.append({"phoneNumber": _e164(number)})
        return result

    def _text(self, envelope: Mapping[str, Any], limit: int, *, required: bool) -> str:
        text = envelope.get("text")
        if text is None or text == "":
            if required:
                raise ApiError.missing("text")
            return ""
        if not isinstance(text, str) or utf16_length(text) > limit:
            raise ApiError.invalid("text")
        return text

    def _store_outbound_sms(
        self,
        sender: dict[str, Any],
        to: list[dict[str, Any]],
        text: str,
        files: Sequence[MultipartPart],
    ) -> web.Response:
        attachments = [
            self.attachment("MmsAttachment", f.content_type, f.data, f.filename) for f in files
        ]
        message = self.add_message(
            type="SMS",
            direction="Outbound",
            sender=sender,
            recipients=to,
            text=text,
            attachments=attachments,
            message_status="Queued",
            extra={"smsSendingAttemptsCount": 1, "segmentCount": _segments(text)},
        )
        return web.json_response(self._render(message))

    async def _send_sms(self, request: web.Request) -> web.StreamResponse:
        envelope, files = await self._envelope(request)
        sender = self._sender(envelope)
        to = self._phone_recipients(envelope, 1)
        text = self._text(envelope, 1000, required=not files)
        _check_media(files)
        return self._store_outbound_sms(sender, to, text, files)

    async def _send_mms(self, request: web.Request) -> web.StreamResponse:
        envelope, files = await self._envelope(request, json_ok=False)
        sender = self._sender(envelope)
        to = self._phone_recipients(envelope, 10)
        text = self._text(envelope, 1000, required=False)
        if not files:
            raise ApiError.missing("attachments")
        _check_media(files)
        return self._store_outbound_sms(sender, to, text, files)

    async def _send_pager(self, request: web.Request) -> web.StreamResponse:
        body = await self._json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        text = self._text(body, 1024, required=True)
        sender = body.get("from") or {"extensionNumber": self.extension}
        if not isinstance(sender, dict) or sender.get("extensionNumber", self.extension) not in (
            self.extension,
        ):
            raise ApiError.invalid("from")
        to = body.get("to")
        if not to and body.get("replyOn") is not None:
            original = self._by_id.get(_as_int(body["replyOn"], "replyOn"))
            if original is None or original.type != "Pager":
                raise ApiError.not_found("replyOn")
            to = [
                p for p in (original.sender, *original.recipients)
                if p.get("extensionNumber") != self.extension
            ]  # fmt: skip
        if not to:
            raise ApiError.missing("to")
        if not isinstance(to, list):
            raise ApiError.invalid("to")
        recipients = []
        for entry in to:
            if not isinstance(entry, dict):
                raise ApiError.invalid("to")
            picked = {k: entry[k] for k in ("extensionNumber", "extensionId") if k in entry}
            if not picked or not all(isinstance(v, str) and v.isdigit() for v in picked.values()):
                raise ApiError.invalid("to.extensionNumber")
            recipients.append(picked)
        message = self.add_message(
            type="Pager",
            direction="Outbound",
            sender={"extensionNumber": self.extension, "extensionId": self.extension_id},
            recipients=recipients,
            text=text,
            extra={"pgToDepartment": False},
        )
        return web.json_response(self._render(message))

    async def _send_fax(self, request: web.Request) -> web.StreamResponse:
        envelope, files = await self._envelope(request)
        if request.content_type == "application/json":
            return self._resend_fax(envelope)
        if not files:
            raise ApiError.missing("attachment")
        to = self._fax_recipients(envelope)
        resolution = envelope.get("faxResolution", "Low")
        if resolution not in ("High", "Low"):
            raise ApiError.invalid("faxResolution")
        extra: dict[str, Any] = {"faxResolution": resolution, "faxPageCount": len(files)}
        if "coverIndex" in envelope:
            cover = envelope["coverIndex"]
            if isinstance(cover, str) and cover.strip().isdigit():
                cover = int(cover)
            if not isinstance(cover, int) or not 0 <= cover < len(COVER_PAGES):
                raise ApiError.invalid("coverIndex")
            extra["coverIndex"] = cover
        cover_text = envelope.get("coverPageText")
        if cover_text:
            if not isinstance(cover_text, str) or len(cover_text) > 1024:
                raise ApiError.invalid("coverPageText")
            extra["coverPageText"] = cover_text
        if envelope.get("sendTime"):
            try:
                parse_time(str(envelope["sendTime"]))
            except ValueError:
                raise ApiError.invalid("sendTime") from None
        documents = [
            self.attachment("SourceDocument", f.content_type, f.data, f.filename or f"document{i}")
            for i, f in enumerate(files, 1)
        ]
        return self._store_fax(to, documents, extra)

    def _fax_recipients(self, envelope: Mapping[str, Any]) -> list[dict[str, Any]]:
        to = envelope.get("to")
        if not to:
            raise ApiError.missing("to")
        if not isinstance(to, list):
            raise ApiError.invalid("to")
        result = []
        for entry in to:
            number = entry.get("phoneNumber") if isinstance(entry, dict) else None
            if not _valid_phone(number):
                raise ApiError.invalid("to.phoneNumber")
            assert isinstance(entry, dict)
            assert isinstance(number, str)
            recipient = {"phoneNumber": _e164(number), "messageStatus": "Queued"}
            if isinstance(entry.get("name"), str):
                recipient["name"] = entry["name"]
            result.append(recipient)
        return result

    def _resend_fax(self, envelope: Mapping[str, Any]) -> web.Response:
        original_id = envelope.get("originalMessageId")
        if original_id is None:
            raise ApiError.missing("originalMessageId")
        original = self._by_id.get(_as_int(original_id, "originalMessageId"))
        if original is None or original.type != "Fax":
            raise ApiError.not_found("originalMessageId")
        to = self._fax_recipients(envelope) if envelope.get("to") else [
            {**r, "messageStatus": "Queued"} for r in original.recipients
        ]  # fmt: skip
        documents = [
            self.attachment(a.type, a.content_type, a.content, a.file_name)
            for a in original.attachments
        ]
        extra = {k: v for k, v in original.extra.items() if k != "extensionId"}
        return self._store_fax(to, documents, extra)

    def _store_fax(
        self, to: list[dict[str, Any]], documents: list[StoredAttachment], extra: dict[str, Any]
    ) -> web.Response:
        message = self.add_message(
            type="Fax",
            direction="Outbound",
            sender={"phoneNumber": self.from_number},
            recipients=to,
            text=", ".join(r["phoneNumber"] for r in to),
            attachments=documents,
            message_status="Queued",
            read_status="Read",
            extra=extra,
        )
        body = self._render(message)
        for attachment in body["attachments"]:
            # FaxResponse's attachment model spells it "filename".
            if "fileName" in attachment:
                attachment["filename"] = attachment["fileName"]
        return web.json_response(body)

    async def _cover_pages(self, request: web.Request) -> web.StreamResponse:
        page, per_page = _paging_params(request)
        records = [{"id": str(i), "name": name} for i, name in enumerate(COVER_PAGES)]
        root = f"{self.origin}/restapi/v1.0/dictionary/fax-cover-page"
        chunk, paging, navigation = _paginate(records, page, per_page, root, request)
        uri = root + ("?" + request.query_string if request.query_string else "")
        return web.json_response(
            {"uri": uri, "records": chunk, "paging": paging, "navigation": navigation}
        )

    # -- message store ---------------------------------------------------------------------
    def _select(
        self,
        request: web.Request,
        *,
        availability_default: Sequence[str] = ("Alive",),
    ) -> list[StoredMessage]:
        query = request.query
        date_to = _date(query, "dateTo") or self._now()
        date_from = _date(query, "dateFrom") or date_to - timedelta(hours=24)
        types = _multi(query, "messageType", MESSAGE_TYPES)
        directions = _multi(query, "direction", DIRECTIONS)
        reads = _multi(query, "readStatus", READ_STATUSES)
        availability = _multi(query, "availability", AVAILABILITIES) or list(availability_default)
        conversation = query.get("conversationId")
        phone = _digits(query.get("phoneNumber", ""))
        distinct = _bool(query, "distinctConversations")
        selected = [
            m for m in self.messages
            if date_from <= m.creation_time <= date_to
            and (not types or m.type in types)
            and (not directions or m.direction in directions)
            and (not reads or m.read_status in reads)
            and m.availability in availability
            and (conversation is None or str(m.conversation_id) == conversation)
            and (not phone or any(_digits(p) == phone for p in m.parties()))
        ]  # fmt: skip
        selected.sort(key=lambda m: (m.creation_time, m.id), reverse=True)
        if distinct:
            seen: set[int] = set()
            latest = []
            for m in selected:
                if m.conversation_id is None or m.conversation_id not in seen:
                    latest.append(m)
                    if m.conversation_id is not None:
                        seen.add(m.conversation_id)
            selected = latest
        return selected

    async def _list_messages(self, request: web.Request) -> web.StreamResponse:
        page, per_page = _paging_params(request)
        selected = self._select(request)
        root = f"{self._ext_root()}/message-store"
        records = [self._render(m) for m in selected]
        chunk, paging, navigation = _paginate(records, page, per_page, root, request)
        uri = root + ("?" + request.query_string if request.query_string else "")
        return web.json_response(
            {"uri": uri, "records": chunk, "paging": paging, "navigation": navigation}
        )

    def _ids(self, request: web.Request) -> list[str]:
        ids = [i for i in request.match_info["messageId"].split(",") if i.strip()]
        if not ids:
            raise ApiError.not_found("messageId")
        if len(ids) > MAX_BULK_IDS:
            raise ApiError.invalid("messageId")
        return ids

    def _find(self, message_id: str) -> StoredMessage:
        found = self._by_id.get(int(message_id)) if message_id.strip().isdigit() else None
        if found is None:
            raise ApiError.not_found("messageId")
        return found

    async def _get_messages(self, request: web.Request) -> web.StreamResponse:
        ids = self._ids(request)
        if "," not in request.match_info["messageId"]:
            message = self._find(ids[0])
            body = self._render(message)
            # GetSingleMessageInfoResponse marks vmSideRecipients required.
            body["vmSideRecipients"] = [dict(r) for r in message.recipients] or [{}]
            return web.json_response(body)
        parts = []
        for message_id in ids:
            try:
                parts.append(_part(message_id, 200, self._render(self._find(message_id))))
            except ApiError as error:
                parts.append(_part(message_id, error.status, error.body()))
        return _multi_status(parts)

    def _apply_update(self, message: StoredMessage, body: Any, patch: bool) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, "CMN-103", "JSON can't be parsed.")
        read = body.get("readStatus")
        availability = body.get("availability") if patch else None
        if read is None and availability is None:
            raise ApiError.missing("readStatus")
        if read is not None and read not in READ_STATUSES:
            raise ApiError.invalid("readStatus")
        if availability is not None and (
            availability != "Alive" or message.availability == "Purged"
        ):
            raise ApiError.invalid("availability")
        if read is not None:
            message.read_status = read
        if availability is not None:
            message.availability = availability
        self._touch(message)

    async def _update_messages(self, request: web.Request) -> web.StreamResponse:
        patch = request.method == "PATCH"
        segment = request.match_info["messageId"]
        body = await self._json(request, "application/json", MULTI_JSON)
        if segment != "*" and "," not in segment:
            message = self._find(segment)
            self._apply_update(message, body, patch)
            return web.json_response(self._render(message))
        pairs: list[tuple[str, Any]]
        if segment == "*":
            if not isinstance(body, list) or not body:
                raise ApiError.invalid("body")
            pairs = []
            for entry in body:
                if not isinstance(entry, dict) or "resourceId" not in entry:
                    raise ApiError.missing("resourceId")
                pairs.append((str(entry["resourceId"]), entry.get("body")))
        else:
            ids = self._ids(request)
            if isinstance(body, list):
                if len(body) != len(ids):
                    raise ApiError.invalid("body")
                pairs = [
                    (i, e.get("body") if isinstance(e, dict) else e)
                    for i, e in zip(ids, body, strict=True)
                ]
            else:
                pairs = [(i, body) for i in ids]
        parts = []
        for message_id, entry in pairs:
            try:
                message = self._find(message_id)
                self._apply_update(message, entry, patch)
                parts.append(_part(message_id, 200, self._render(message)))
            except ApiError as error:
                parts.append(_part(message_id, error.status, error.body()))
        return _multi_status(parts)

    def _delete(self, message: StoredMessage, purge: bool) -> None:
        if purge or message.availability != "Alive":
            message.availability = "Purged"
        else:
            message.availability = "Deleted"
        self._touch(message)

    async def _delete_messages(self, request: web.Request) -> web.StreamResponse:
        purge = _bool(request.query, "purge")
        segment = request.match_info["messageId"]
        if segment == "*":
            body = await self._json(request)
            if not isinstance(body, list) or not body:
                raise ApiError.invalid("body")
            ids = [str(i) for i in body]
        else:
            ids = self._ids(request)
        found = [self._by_id[int(i)] for i in ids if i.isdigit() and int(i) in self._by_id]
        if not found:
            raise ApiError.not_found("messageId")
        for message in found:
            self._delete(message, purge)
        return web.Response(status=204)

    async def _delete_by_filter(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        purge = _bool(query, "purge")
        date_to = _date(query, "dateTo") or self._now()
        kind = query.get("type", "All")
        if kind not in (*MESSAGE_TYPES, "All"):
            raise ApiError.invalid("type")
        conversations = [c for raw in query.getall("conversationId", []) for c in raw.split(",")]
        for message in self.messages:
            if (
                message.availability != "Purged"
                and message.creation_time <= date_to
                and kind in ("All", message.type)
                and (not conversations or str(message.conversation_id) in conversations)
            ):
                self._delete(message, purge)
        return web.Response(status=204)

    async def _content(self, request: web.Request) -> web.StreamResponse:
        message = self._find(request.match_info["messageId"])
        wanted = request.match_info["attachmentId"]
        attachment = next((a for a in message.attachments if str(a.id) == wanted), None)
        if attachment is None or message.availability == "Purged":
            raise ApiError.not_found("attachmentId")
        response = web.StreamResponse(status=200)
        response.content_type = attachment.content_type
        disposition = request.query.get("contentDisposition")
        if disposition in ("Inline", "Attachment"):
            name = request.query.get("contentDispositionFilename") or attachment.file_name
            value = disposition.lower() + (f'; filename="{name}"' if name else "")
            response.headers["Content-Disposition"] = value
        response.enable_chunked_encoding()
        await response.prepare(request)
        data = attachment.content
        for offset in range(0, len(data), CONTENT_CHUNK):
            await response.write(data[offset : offset + CONTENT_CHUNK])
        await response.write_eof()
        return response

    # -- message sync ------------------------------------------------------------------------
    async def _sync(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        token = query.get("syncToken")
        sync_type = query.get("syncType") or ("ISync" if token else "FSync")
        if sync_type not in ("FSync", "ISync"):
            raise ApiError.invalid("syncType")
        record_count = None
        if "recordCount" in query:
            record_count = _as_int(query["recordCount"], "recordCount")
            if record_count < 1:
                raise ApiError.invalid("recordCount")
        older = False
        if sync_type == "FSync":
            selected = self._select(request)
            if record_count is not None and len(selected) > record_count:
                selected, older = selected[:record_count], True
            state = _SyncState(
                self._sequence,
                tuple(_multi(query, "messageType", MESSAGE_TYPES)),
                tuple(_multi(query, "direction", DIRECTIONS)),
                query.get("conversationId"),
            )
        else:
            if not token:
                raise ApiError.missing("syncToken")
            previous = self._sync_tokens.get(token)
            if previous is None:
                raise ApiError.invalid("syncToken")
            selected = [
                m for m in self.messages
                if m.sequence > previous.sequence
                and (not previous.types or m.type in previous.types)
                and (not previous.directions or m.direction in previous.directions)
                and (previous.conversation_id is None
                     or str(m.conversation_id) == previous.conversation_id)
            ]  # fmt: skip
            selected.sort(key=lambda m: (m.creation_time, m.id), reverse=True)
            state = attrs.evolve(previous, sequence=self._sequence)
        new_token = base64.urlsafe_b64encode(
            self._sequence.to_bytes(8, "big") + secrets.token_bytes(16)
        ).decode()
        self._sync_tokens[new_token] = state
        uri = f"{self._ext_root()}/message-sync"
        return web.json_response(
            {
                "uri": uri + ("?" + request.query_string if request.query_string else ""),
                "records": [self._render(m) for m in selected],
                "syncInfo": {
                    "syncType": sync_type,
                    "syncToken": new_token,
                    "syncTime": format_time(self._now()),
                    "olderRecordsExist": older,
                },
            }
        )


# -- helpers ---------------------------------------------------------------------------------


def _oauth_missing(name: str) -> ApiError:
    return ApiError(
        400, "OAU-101", f"Mandatory parameter [{name}] not specified", name,
        oauth_error="invalid_request",
    )  # fmt: skip


def _party_keys(*parties: Mapping[str, Any]) -> list[str]:
    keys = []
    for party in parties:
        for field in ("phoneNumber", "extensionNumber", "extensionId"):
            value = party.get(field)
            if isinstance(value, str):
                keys.append(_e164(value) if field == "phoneNumber" else value)
                break
    return keys


def _add_field(envelope: dict[str, Any], name: str, raw: str) -> None:
    """Fold one flat ``multipart/form-data`` field into the JSON envelope."""
    value: Any = raw.strip()
    if isinstance(value, str) and value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if name == "to":
        items = value if isinstance(value, list) else [value]
        envelope.setdefault("to", []).extend(
            {"phoneNumber": v} if isinstance(v, str) else v for v in items
        )
    elif name == "from" and isinstance(value, str):
        envelope["from"] = {"phoneNumber": value}
    elif name == "country" and isinstance(value, str):
        envelope["country"] = {"isoCode": value}
    else:
        envelope[name] = value


def _check_media(files: Sequence[MultipartPart]) -> None:
    if len(files) > MMS_MAX_ATTACHMENTS:
        raise ApiError.invalid("attachments")
    if sum(len(f.data) for f in files) > MMS_MAX_BYTES:
        raise ApiError(400, "MSG-348", "Total size of attachments exceeds the limit", "attachments")


def _segments(text: str) -> int:
    units = utf16_length(text)
    per = 160 if text.isascii() else 70
    return max(1, math.ceil(units / per))


def _as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError.invalid(name) from None


def _multi(query: Mapping[str, str], name: str, allowed: Sequence[str]) -> list[str]:
    """A repeatable (``explode: true``) parameter; commas are accepted too."""
    getall = getattr(query, "getall", None)
    raw: list[str] = list(getall(name, [])) if getall is not None else []
    values = [v.strip() for item in raw for v in item.split(",") if v.strip()]
    for value in values:
        if value not in allowed:
            raise ApiError.invalid(name)
    return values


def _date(query: Mapping[str, str], name: str) -> datetime | None:
    if not query.get(name):
        return None
    try:
        return parse_time(query[name])
    except ValueError:
        raise ApiError.invalid(name) from None


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ApiError.invalid(name)
    return value == "true"


def _paging_params(request: web.Request) -> tuple[int, int]:
    page = _as_int(request.query.get("page", "1"), "page")
    per_page = _as_int(request.query.get("perPage", "100"), "perPage")
    if page < 1:
        raise ApiError.invalid("page")
    if per_page < 0:
        raise ApiError.invalid("perPage")
    return page, min(per_page, 1000)


def _paginate(
    records: list[dict[str, Any]], page: int, per_page: int, root: str, request: web.Request
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """One page of ``records`` with the ``paging`` and ``navigation`` objects."""
    total = len(records)
    pages = math.ceil(total / per_page) if per_page else 0
    start = (page - 1) * per_page
    chunk = records[start : start + per_page] if per_page else []
    paging: dict[str, Any] = {
        "page": page,
        "totalPages": pages,
        "perPage": per_page,
        "totalElements": total,
    }
    if chunk:
        paging["pageStart"] = start
        paging["pageEnd"] = start + len(chunk) - 1
    others = [(k, v) for k, v in request.query.items() if k not in ("page", "perPage")]

    def link(number: int) -> dict[str, str]:
        query = urlencode([*others, ("page", str(number)), ("perPage", str(per_page))])
        return {"uri": f"{root}?{query}"}

    navigation: dict[str, Any] = {}
    if pages:
        navigation["firstPage"] = link(1)
        if page < pages:
            navigation["nextPage"] = link(page + 1)
        if 1 < page <= pages + 1:
            navigation["previousPage"] = link(min(page - 1, pages))
        navigation["lastPage"] = link(pages)
    return chunk, paging, navigation


def _part(resource_id: str, status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"resourceId": resource_id, "status": status, "body": body}


def _multi_status(parts: list[dict[str, Any]]) -> web.Response:
    return web.Response(status=207, text=json.dumps(parts), content_type=MULTI_JSON)
