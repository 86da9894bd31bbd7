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
        async with messaging_hub.connect(fake.config) as client:
            fake.deliver_inbound("+14155550123", "hello")
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from messaging_hub.testing.ringcentral_auth import (
    OAuthSession,
    RateLimit,
)
from messaging_hub.testing.ringcentral_messages import (
    MessageStoreApi,
    as_int,
)
from messaging_hub.testing.ringcentral_push import PushApi
from messaging_hub.testing.ringcentral_state import (
    COVER_PAGES,
    ENVELOPE_FIELDS,
    EXT,
    JWT_GRANT,
    MAX_BODY,
    MMS_MAX_ATTACHMENTS,
    MMS_MAX_BYTES,
    RATE_DECISION,
    SCOPE,
    Handler,
    digits,
    e164,
    valid_phone,
)
from messaging_hub.testing.ringcentral_store import (
    ApiError,
    MultipartPart,
    StoredAttachment,
    StoredMessage,
    api_error,
    parse_multipart,
    parse_time,
    utf16_length,
)

__all__ = ["FakeRingCentral", "RateLimit", "StoredAttachment", "StoredMessage"]


class FakeRingCentral(MessageStoreApi, PushApi):
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

    ``host``/``port`` go to :class:`FakeServer`. Sender ids: ``from_number``
    and ``phone_numbers`` are the numbers an SMS/MMS/fax may come from
    (others get 403 MSG-304). Rate-limit answers carry the
    ``X-Rate-Limit-*`` headers and ``Retry-After`` on 429 (CMN-301).

    ``subscription_ttl`` shortens every subscription's life (seconds).

    Test helpers: ``deliver_inbound`` (SMS/MMS from a remote number; pushed
    to live subscriptions like every stored message),
    ``deliver_pager``, ``deliver_fax``, ``deliver_voicemail``, ``add_message``,
    ``attachment``, ``seed_messages``/``seed_conversation`` (paging),
    ``set_message_status``, ``expire_tokens``, ``reset_rate_limits``; state:
    ``messages``, ``sent``, ``message(id)``, ``conversations``,
    ``conversation_id(...)``, ``token_requests`` (a Counter by grant type),
    ``tokens``, ``rate_limiter``.

    From :class:`FakeServer` (every fake): :meth:`fail` queues a :class:`Fault`
    (``status``/``body``/``headers``/``content_type``, ``reset``, ``delay``,
    ``truncate``, ``after``, ``transform``; matched by ``method`` and ``path``,
    ``times`` times), :attr:`pending_faults`, :meth:`clear_faults`,
    :attr:`requests` and :meth:`requests_to` (what reached the wire),
    :attr:`origin`, and :attr:`ssl_context` (set before start to serve HTTPS).
    """

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
        # Push notifications (ringcentral_push): subscriptions and the WebSocket token.
        r.add_post("/restapi/oauth/wstoken", self._op("Light", self._http_ws_token))
        r.add_post("/restapi/v1.0/subscription", self._op("Medium", self._http_create))
        r.add_get("/restapi/v1.0/subscription", self._op("Light", self._http_list))
        one_sub = "/restapi/v1.0/subscription/{subscriptionId}"
        r.add_get(one_sub, self._op("Light", self._http_get))
        r.add_put(one_sub, self._op("Medium", self._http_update))
        r.add_delete(one_sub, self._op("Medium", self._http_delete))
        r.add_post(one_sub + "/renew", self._op("Light", self._http_renew))
        r.add_route("*", "/{tail:.*}", self._unknown)

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
            digits(username) != "" and digits(username) == digits(self.username)
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
        for index, part in enumerate(parts):
            # The envelope is a JSON part: the first part whatever its name
            # (the official SDKs send ``name="json"; filename="request.json"``),
            # or a later one that carries no file name.
            envelope_part = index == 0 or part.filename is None
            if part.content_type == "application/json" and envelope_part and not have_json:
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
        if not valid_phone(number):
            raise ApiError.invalid("from.phoneNumber")
        assert isinstance(number, str)
        if e164(number) not in self.phone_numbers:
            raise ApiError(403, "MSG-304", "Phone number doesn't belong to extension")
        return {"phoneNumber": e164(number)}

    def _phone_recipients(self, envelope: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
        to = envelope.get("to")
        if to is None or to == []:
            raise ApiError.missing("to")
        if not isinstance(to, list) or len(to) > limit:
            raise ApiError.invalid("to")
        result = []
        for entry in to:
            number = entry.get("phoneNumber") if isinstance(entry, dict) else None
            if not valid_phone(number):
                raise ApiError.invalid("to.phoneNumber")
            assert isinstance(number, str)
            result.append({"phoneNumber": e164(number)})
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
            original = self._by_id.get(as_int(body["replyOn"], "replyOn"))
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
            if not valid_phone(number):
                raise ApiError.invalid("to.phoneNumber")
            assert isinstance(entry, dict)
            assert isinstance(number, str)
            recipient = {"phoneNumber": e164(number), "messageStatus": "Queued"}
            if isinstance(entry.get("name"), str):
                recipient["name"] = entry["name"]
            result.append(recipient)
        return result

    def _resend_fax(self, envelope: Mapping[str, Any]) -> web.Response:
        original_id = envelope.get("originalMessageId")
        if original_id is None:
            raise ApiError.missing("originalMessageId")
        original = self._by_id.get(as_int(original_id, "originalMessageId"))
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


def _oauth_missing(name: str) -> ApiError:
    return ApiError(
        400, "OAU-101", f"Mandatory parameter [{name}] not specified", name,
        oauth_error="invalid_request",
    )  # fmt: skip


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
