"""A fake TextMagic REST API v2 server for tests and offline demos.

Written from TextMagic's own OpenAPI document (``/api/v2/sessions*``,
``/api/v2/messages*``, ``/api/v2/bulks*``, ``/api/v2/ping``,
``/api/v2/user``) and its prose chapters; ``/api/v2/replies`` (inbound
messages) follows the same official document's ``MessageIn`` schema.

Auth is ``X-TM-Username`` + ``X-TM-Key`` headers or HTTP Basic
(username : API key). Lists page with ``page``/``limit`` inside
``{page, pageCount, limit, resources}``; a ``limit`` outside 1..100 is
silently replaced by 10. More than ``rate_limit_per_second`` requests in
one second get 429.

Usage::

    async with FakeTextMagic() as fake:
        hub = messaging_hub.connect(fake.config)
        ...
        fake.deliver_inbound("+447860021130", "STOP")
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from aiohttp import web

from messaging_hub.testing._server import FakeServer, Handler, json_error
from messaging_hub.testing.textmagic_account import AVATAR
from messaging_hub.testing.textmagic_callbacks import TextMagicCallbacks
from messaging_hub.testing.textmagic_state import (
    FakeBulk,
    FakeMessage,
    FakeReply,
    FakeSchedule,
    FakeSession,
    country_of,
    format_time_ms,
)
from messaging_hub.testing.textmagic_wire import (
    BULK_THRESHOLD,
    Invalid,
    PageArgs,
    flag,
    multipart_file,
    page_args,
    paginate,
    parse_send,
    read_params,
)

__all__ = ["FakeTextMagic"]

UNAUTHORIZED = {"code": 401, "message": "Wrong username and token combination."}
NOT_FOUND = {"code": 404, "message": "Resource does not exist."}
# "Only .jpg, .gif, .png, .pdf, .txt, .csv, .doc, .docx, .xls, .xlsx, .ppt,
# .pptx & .vcf attachment files up to 10 MB are supported."
UPLOAD_TYPES = frozenset({
    "jpg", "jpeg", "gif", "png", "pdf", "txt", "csv",
    "doc", "docx", "xls", "xlsx", "ppt", "pptx", "vcf",
})  # fmt: skip
TOO_MANY = {"code": 429, "message": "Request limit reached. Please try again later."}


class FakeTextMagic(TextMagicCallbacks, FakeServer):
    """In-memory TextMagic account served over loopback HTTP.

    Constructor arguments (keyword-only, all optional):

    * ``username``/``api_key``: the credentials (``X-TM-Username`` +
      ``X-TM-Key`` headers, or HTTP Basic).
    * ``from_number``: the account's own number, the default sender.
    * ``sender_ids``: more allowed senders: numbers or alphanumeric ids
      (a ``from`` that is neither gets 400).
    * ``clock``: returns an aware datetime (stamps, schedules, delivery).
    * ``rate_limit_per_second``: requests per wall-clock second before 429
      (default 50, as documented; None turns it off).
    * ``deliver_after``: seconds on ``clock`` after which queued messages
      read as delivered (None: only :meth:`deliver_all` or :meth:`set_status`).
    * ``bulk_processing_seconds``: likewise for a queued bulk (more than
      1,000 recipients) becoming a session (None: only :meth:`process_bulks`).
    * ``bulk_response``: ``"empty"`` (the operation table's 202 with no body)
      or ``"link"`` (the tutorial's 201 bulk link).
    * ``price_per_part``/``balance``: what a send costs and the credit it
      draws on.
    * ``host``/``port``: where to listen.

    Knobs and helpers: :attr:`config`, :meth:`deliver_inbound` (a reply),
    :meth:`seed_session`/:meth:`seed_sessions`, :meth:`deliver_all`,
    :meth:`set_status`, :meth:`process_bulks`, :meth:`release_schedules`,
    :meth:`add_contact`/:meth:`add_list`/:meth:`add_template` (send targets),
    state: :attr:`sessions`, :attr:`messages`, :attr:`replies`,
    :attr:`bulks`, :attr:`schedules`, :attr:`uploads`, :attr:`balance`.
    Inbound callbacks: :meth:`set_callback` (the "Callback URL for incoming
    messages" and its format ``j``/``u``/``m``; also ``PUT
    /api/v2/callback/settings``), then :meth:`deliver_inbound` POSTs each
    reply there; :meth:`callbacks_sent` waits for them, :attr:`callbacks`
    lists them, :meth:`inbound_callback` builds one; :attr:`reply_reads`
    counts reads of ``/api/v2/replies``.
    TextMagic has no tokens (a static key), so the fake has none.

    From :class:`FakeServer` (every fake): :meth:`fail` queues a :class:`Fault`
    (``status``/``body``/``headers``/``content_type``, ``reset``, ``delay``,
    ``truncate``, ``after``, ``transform``; matched by ``method`` and ``path``,
    ``times`` times), :attr:`pending_faults`, :meth:`clear_faults`,
    :attr:`requests` and :meth:`requests_to` (what reached the wire),
    :attr:`origin`, and :attr:`ssl_context` (set before start to serve HTTPS).
    """

    provider = "textmagic"

    def __init__(
        self,
        *,
        username: str = "fakeuser",
        api_key: str = "fake-textmagic-api-key",
        from_number: str = "+447624800500",
        sender_ids: Iterable[str] = (),
        clock: Callable[[], datetime] | None = None,
        rate_limit_per_second: int | None = 50,
        deliver_after: float | None = 0.0,
        bulk_processing_seconds: float | None = 0.0,
        bulk_response: Literal["empty", "link"] = "empty",
        price_per_part: float = 0.04,
        balance: float = 100.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        TextMagicCallbacks.__init__(
            self,
            username=username, api_key=api_key, from_number=from_number,
            sender_ids=sender_ids, clock=clock, deliver_after=deliver_after,
            bulk_processing_seconds=bulk_processing_seconds,
            price_per_part=price_per_part, balance=balance,
        )  # fmt: skip
        self.rate_limit_per_second = rate_limit_per_second
        self.bulk_response = bulk_response
        self._hits: deque[float] = deque()
        FakeServer.__init__(self, host=host, port=port)

    # -- FakeServer --------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """Options for ``messaging_hub.connect``: base URL and credentials."""
        return {
            "provider": "textmagic",
            "base_url": self.origin,
            "username": self.username,
            "api_key": self.api_key,
            "from_number": self.from_number,
        }

    def setup_routes(self, app: web.Application) -> None:
        """Register every TextMagic route the fake serves."""
        app.middlewares.append(self._gate)
        v2 = "/api/v2"
        app.router.add_get(f"{v2}/ping", self._ping)
        app.router.add_get(f"{v2}/user", self._get_user)
        app.router.add_put(f"{v2}/user", self._put_user)
        app.router.add_get(f"{v2}/messages", self._list_messages)
        app.router.add_post(f"{v2}/messages", self._send)
        app.router.add_get(f"{v2}/messages/search", self._search_messages)
        app.router.add_get(f"{v2}/messages/price/normalized", self._price)
        app.router.add_get(f"{v2}/messages/preview", self._preview)
        app.router.add_post(f"{v2}/messages/delete", self._delete_messages)
        app.router.add_post(f"{v2}/messages/attachment", self._upload)
        app.router.add_post(f"{v2}/messages/mms/attachment", self._upload)
        app.router.add_get(v2 + r"/messages/{id:\d+}", self._get_message)
        app.router.add_delete(v2 + r"/messages/{id:\d+}", self._delete_message)
        app.router.add_get(f"{v2}/sessions", self._list_sessions)
        app.router.add_post(f"{v2}/sessions/delete", self._delete_sessions)
        app.router.add_get(v2 + r"/sessions/{id:\d+}", self._get_session)
        app.router.add_delete(v2 + r"/sessions/{id:\d+}", self._delete_session)
        app.router.add_get(v2 + r"/sessions/{id:\d+}/stat", self._session_stat)
        app.router.add_get(v2 + r"/sessions/{id:\d+}/messages", self._session_messages)
        app.router.add_get(f"{v2}/bulks", self._list_bulks)
        app.router.add_get(v2 + r"/bulks/{id:\d+}", self._get_bulk)
        app.router.add_get(f"{v2}/replies", self._list_replies)
        app.router.add_get(v2 + r"/replies/{id:\d+}", self._get_reply)
        app.router.add_delete(v2 + r"/replies/{id:\d+}", self._delete_reply)
        self.add_callback_routes(app)

    async def stop(self) -> None:
        """Stop callbacks still under way, then stop serving."""
        await self.cancel_callbacks()
        await FakeServer.stop(self)

    @property
    def reply_reads(self) -> int:
        """How many requests read replies (``GET /api/v2/replies[/{id}]``)."""
        return len(self.requests_to("GET", r"^/api/v2/replies(/|$)"))

    # -- limits and auth -------------------------------------------------------
    def _rate_limited(self) -> bool:
        if self.rate_limit_per_second is None:
            return False
        # Wall-clock window on purpose: a frozen test clock must not stop it.
        now = time.monotonic()
        while self._hits and now - self._hits[0] >= 1.0:
            self._hits.popleft()
        if len(self._hits) >= self.rate_limit_per_second:
            return True
        self._hits.append(now)
        return False

    def _authorised(self, request: web.Request) -> bool:
        user = request.headers.get("X-TM-Username")
        key = request.headers.get("X-TM-Key")
        if user is not None or key is not None:
            return user == self.username and key == self.api_key
        # HTTP Basic decoded by hand: aiohttp's BasicAuth is deprecated.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        login, colon, password = decoded.partition(":")
        return bool(colon) and login == self.username and password == self.api_key

    # -- middleware ------------------------------------------------------------
    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._rate_limited():
            return json_error(429, TOO_MANY)
        if not self._authorised(request):
            return json_error(401, UNAUTHORIZED)
        self._advance()
        try:
            return await handler(request)
        except Invalid as invalid:
            return json_error(400, invalid.body())
        except web.HTTPNotFound:
            return json_error(404, NOT_FOUND)
        except web.HTTPMethodNotAllowed:
            return json_error(405, {"code": 405, "message": "Method Not Allowed"})

    # -- account ---------------------------------------------------------------
    async def _ping(self, request: web.Request) -> web.Response:
        now = format_time_ms(self._clock())
        return web.json_response({"ping": "pong", "utcDateTime": now, "userId": self.user_id})

    async def _get_user(self, request: web.Request) -> web.Response:
        p = self.user_profile
        return web.json_response({
            "id": self.user_id, "displayTimeFormat": "24h", "username": self.username,
            "firstName": p["firstName"], "lastName": p["lastName"], "email": self.email,
            "status": "A", "balance": self.balance, "phone": p["phone"],
            "company": p["company"],
            "currency": {"id": "GBP", "unicodeSymbol": "£", "htmlSymbol": "&pound;"},
            "country": {"id": "GB", "name": "United Kingdom"},
            "timezone": {"id": p["timezone"], "area": "UTC", "dst": 0, "offset": 0,
                         "timezone": "UTC"},
            "subaccountType": "P", "emailAccepted": True, "phoneAccepted": True,
            "avatar": {"href": AVATAR},
        })  # fmt: skip

    async def _put_user(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        fields: dict[str, list[str]] = {}
        for name in ("username", "firstName", "lastName", "email", "phone", "company"):
            if name in params and not isinstance(params[name], str):
                fields[name] = ["This value should be of type string."]
        if "timezone" in params and not str(params["timezone"]).isdigit():
            fields["timezone"] = ["This value should be of type integer."]
        if fields:
            raise Invalid(fields=fields)
        for name in ("firstName", "lastName", "phone", "company"):
            if name in params:
                self.user_profile[name] = params[name]
        if "timezone" in params:
            self.user_profile["timezone"] = int(params["timezone"])
        if "email" in params:
            self.email = params["email"]
        if "username" in params:
            self.username = params["username"]
        body = {"username": self.username, "email": self.email} | self.user_profile
        return web.json_response(body, status=201)

    # -- sending ---------------------------------------------------------------
    async def _send(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        plan, send_at, rrule = parse_send(self, params)
        now = self._clock()
        if send_at is not None and send_at > now:
            schedule = FakeSchedule(self._new_id("schedule"), send_at, plan, rrule)
            self._schedules[schedule.id] = schedule
            link = self._link("schedule", schedule.id, scheduleId=schedule.id)
            return web.json_response(link, status=201)
        if len(plan.recipients) > BULK_THRESHOLD:
            bulk = FakeBulk(self._new_id("bulk"), now, plan)
            self._bulks[bulk.id] = bulk
            if self.bulk_response == "empty":
                return web.Response(status=202)
            return web.json_response(self._link("bulk", bulk.id, bulkId=bulk.id), status=201)
        session = self._execute(plan, now)
        chat_id = None
        if plan.create_chat and len(plan.recipients) == 1:
            phone = plan.recipients[0].phone
            chat_id = self._chats.get(phone) or self._chats.setdefault(phone, self._new_id("chat"))
        if len(session.message_ids) == 1:
            message_id = session.message_ids[0]
            link = self._link("message", message_id, sessionId=session.id,
                              messageId=message_id, chatId=chat_id)  # fmt: skip
        else:
            link = self._link("session", session.id, sessionId=session.id, chatId=chat_id)
        return web.json_response(link, status=201)

    async def _price(self, request: web.Request) -> web.Response:
        plan, _, _ = parse_send(self, dict(request.query))
        total, parts_max = 0.0, 0
        countries: dict[str, dict[str, Any]] = {}
        for recipient in plan.recipients:
            _, parts, _ = self.render(plan, recipient)
            parts_max = max(parts_max, parts)
            price = parts * self.price_per_part
            total += price
            code = country_of(recipient.phone) or "XX"
            row = countries.setdefault(code, {
                "country": code, "countryName": code, "allowDedicated": True,
                "count": 0.0, "max": 0.0, "sum": 0.0, "landline": 0.0,
            })  # fmt: skip
            row["count"] += parts
            row["max"] = max(row["max"], float(parts))
            row["sum"] += price
        rows = [row | {"sum": f"{row['sum']:.4f}"} for row in countries.values()]
        body = {"total": round(total, 4), "parts": parts_max, "countries": rows}
        return web.json_response(body)

    async def _preview(self, request: web.Request) -> web.Response:
        plan, _, _ = parse_send(self, dict(request.query))
        now = self._clock()
        previews = []
        for recipient in plan.recipients[:100]:
            text, parts, charset = self.render(plan, recipient)
            message = FakeMessage(
                id=0, session_id=0, sender=plan.sender, sender_is_number=plan.sender_is_number,
                receiver=recipient.phone, text=text, message_time=now, parts_count=parts,
                charset=charset, price=round(parts * self.price_per_part, 4),
                contact_id=recipient.contact_id, first_name=recipient.first_name,
                last_name=recipient.last_name, tts=plan.destination == "tts",
            )  # fmt: skip
            previews.append(self._message_json(message) | {"sessionId": None})
        return web.json_response({"messages": previews})

    async def _upload(self, request: web.Request) -> web.Response:
        # Bodies over 1 MiB are refused (413) by the base app's default limit.
        upload = multipart_file(request.headers.get("Content-Type", ""), await request.read())
        if upload is None:
            raise Invalid(fields={"file": ["A file must be uploaded as multipart/form-data."]})
        name, data = upload
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in UPLOAD_TYPES:
            raise Invalid(fields={"file": [f"Files of type {extension!r} are not supported."]})
        if len(data) > 10 * 1024 * 1024:
            raise Invalid(fields={"file": ["The file is larger than 10 MB."]})
        token = secrets.token_hex(8)
        resource = f"tm{token}.{extension}"
        self.uploads[resource] = data
        href = f"click/{token[:5]}"
        body = {"chars": len(href), "href": href, "name": name, "size": len(data)}
        return web.json_response(body | {"resource": resource})

    # -- messages --------------------------------------------------------------
    def _respond_page(self, items: list[FakeMessage], args: PageArgs) -> web.Response:
        return web.json_response(paginate(items, args, self._message_json))

    async def _list_messages(self, request: web.Request) -> web.Response:
        return self._respond_page(self._visible(), page_args(request, last_id=True))

    async def _search_messages(self, request: web.Request) -> web.Response:
        query = request.query
        args = page_args(request, last_id=True)
        found = self._visible(flag(query.get("includeDeleted")))
        if "ids" in query:
            ids = query["ids"]
            if not all(part.isdigit() for part in ids.split(",")):
                raise Invalid(fields={"ids": ["This value is not valid."]})
            wanted = {int(part) for part in ids.split(",")}
            found = [m for m in found if m.id in wanted]
        if query.get("sessionId", "").isdigit():
            found = [m for m in found if m.session_id == int(query["sessionId"])]
        if query.get("statuses"):
            wanted_statuses = set(query["statuses"].split(","))
            found = [m for m in found if m.status in wanted_statuses]
        if query.get("query"):
            needle = query["query"]
            found = [m for m in found if needle in m.text or needle in m.receiver]
        return self._respond_page(found, args)

    def _message_or_404(self, request: web.Request) -> FakeMessage:
        message = self._messages.get(int(request.match_info["id"]))
        if message is None or message.deleted:
            raise web.HTTPNotFound()
        return message

    async def _get_message(self, request: web.Request) -> web.Response:
        return web.json_response(self._message_json(self._message_or_404(request)))

    async def _delete_message(self, request: web.Request) -> web.Response:
        self._message_or_404(request).deleted = True
        self._queued.discard(int(request.match_info["id"]))
        return web.Response(status=204)

    async def _delete_messages(self, request: web.Request) -> web.Response:
        for message_id in await self._bulk_ids(request, self._messages):
            message = self._messages.get(message_id)
            if message is not None:
                message.deleted = True
        return web.Response(status=204)

    async def _bulk_ids(self, request: web.Request, pool: dict[int, Any]) -> list[int]:
        """The ids a ``{ids: "1,2,3", all: 0|1}`` delete body names."""
        params = await read_params(request)
        if flag(params.get("all")):
            return list(pool)
        ids = params.get("ids")
        if ids is None or ids == "":
            raise Invalid(common=["Either ids or all must be specified."])
        text = str(ids)
        if isinstance(ids, bool) or not all(p.strip().isdigit() for p in text.split(",")):
            raise Invalid(fields={"ids": ["This value is not valid."]})
        return [int(p) for p in text.split(",")]

    # -- sessions --------------------------------------------------------------
    def _session_or_404(self, request: web.Request) -> FakeSession:
        session = self._sessions.get(int(request.match_info["id"]))
        if session is None:
            raise web.HTTPNotFound()
        return session

    async def _list_sessions(self, request: web.Request) -> web.Response:
        newest_first = sorted(self._sessions.values(), key=lambda s: s.id, reverse=True)
        return web.json_response(paginate(newest_first, page_args(request), self._session_json))

    async def _get_session(self, request: web.Request) -> web.Response:
        return web.json_response(self._session_json(self._session_or_404(request)))

    async def _delete_session(self, request: web.Request) -> web.Response:
        self._drop_session(self._session_or_404(request).id)
        return web.Response(status=204)

    async def _delete_sessions(self, request: web.Request) -> web.Response:
        for session_id in await self._bulk_ids(request, self._sessions):
            self._drop_session(session_id)
        return web.Response(status=204)

    async def _session_stat(self, request: web.Request) -> web.Response:
        session = self._session_or_404(request)
        include_deleted = flag(request.query.get("includeDeleted"))
        statuses = [
            m.status
            for i in session.message_ids
            if (m := self._messages.get(i)) is not None and (include_deleted or not m.deleted)
        ]

        def count(letters: str) -> int:
            return sum(1 for s in statuses if s in letters)

        return web.json_response({
            "failed": count("ef"), "delivered": count("d"), "accepted": count("ab"),
            "rejected": count("j"), "scheduled": count("s"), "all": len(statuses),
            "sent": count("r"),
        })  # fmt: skip

    async def _session_messages(self, request: web.Request) -> web.Response:
        # "A useful synonym for messages/search with sessionId": an unknown
        # session is an empty page, not a 404 (the spec lists no 404 here).
        session_id = int(request.match_info["id"])
        query = request.query
        found = [
            m
            for m in self._visible(flag(query.get("includeDeleted")))
            if m.session_id == session_id
        ]
        if query.get("statuses"):
            wanted = set(query["statuses"].split(","))
            found = [m for m in found if m.status in wanted]
        return self._respond_page(found, page_args(request))

    # -- bulks and replies -------------------------------------------------------
    async def _list_bulks(self, request: web.Request) -> web.Response:
        newest_first = sorted(self._bulks.values(), key=lambda b: b.id, reverse=True)
        return web.json_response(paginate(newest_first, page_args(request), self._bulk_json))

    async def _get_bulk(self, request: web.Request) -> web.Response:
        bulk = self._bulks.get(int(request.match_info["id"]))
        if bulk is None:
            raise web.HTTPNotFound()
        return web.json_response(self._bulk_json(bulk))

    async def _list_replies(self, request: web.Request) -> web.Response:
        order = request.query.get("orderBy", "id")
        fields = {"id", "sender", "receiver", "messageTime", "firstName", "lastName"}
        order = order if order in fields else "id"
        descending = request.query.get("direction", "desc") != "asc"

        def key(reply: FakeReply) -> tuple[str, int]:
            value = self._reply_json(reply)[order]
            return (str(value) if order != "id" else "", reply.id)

        replies = sorted(self._replies.values(), key=key, reverse=descending)
        return web.json_response(paginate(replies, page_args(request), self._reply_json))

    def _reply_or_404(self, request: web.Request) -> FakeReply:
        reply = self._replies.get(int(request.match_info["id"]))
        if reply is None:
            raise web.HTTPNotFound()
        return reply

    async def _get_reply(self, request: web.Request) -> web.Response:
        return web.json_response(self._reply_json(self._reply_or_404(request)))

    async def _delete_reply(self, request: web.Request) -> web.Response:
        del self._replies[self._reply_or_404(request).id]
        return web.Response(status=204)
