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
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from messaging_hub.testing._server import FakeServer, Handler, json_error
from messaging_hub.testing.textmagic_state import (
    FINAL_STATUSES,
    STATUSES,
    FakeBulk,
    FakeMessage,
    FakeReply,
    FakeSchedule,
    FakeSession,
    Recipient,
    SendPlan,
    count_parts,
    country_of,
    cut_to_parts,
    format_time,
    format_time_ms,
    normalise_phone,
)
from messaging_hub.testing.textmagic_wire import (
    BULK_THRESHOLD,
    Invalid,
    PageArgs,
    flag,
    page_args,
    paginate,
    parse_send,
    read_params,
)

__all__ = ["FakeTextMagic"]

UNAUTHORIZED = {"code": 401, "message": "Wrong username and token combination."}
NOT_FOUND = {"code": 404, "message": "Resource does not exist."}
TOO_MANY = {"code": 429, "message": "Request limit reached. Please try again later."}
AVATAR = "avatars/dummy_avatar.png"


class FakeTextMagic(FakeServer):
    """In-memory TextMagic account served over loopback HTTP.

    ``deliver_after`` (seconds on ``clock``; None = never by itself) moves
    queued messages to delivered; ``bulk_processing_seconds`` likewise turns
    a queued bulk (> 1,000 recipients) into a session. ``bulk_response``
    chooses between the operation table's ``202`` with no body ("empty")
    and the tutorial's ``201`` bulk link ("link").
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
        number = normalise_phone(from_number)
        if number is None:
            raise ValueError(f"from_number must be E.164, got {from_number!r}")
        self.username = username
        self.api_key = api_key
        self.from_number = "+" + number
        self.user_id = 305
        self.email = f"{username}@example.com"
        self.balance = balance
        self.price_per_part = price_per_part
        self.deliver_after = deliver_after
        self.bulk_processing_seconds = bulk_processing_seconds
        self.bulk_response = bulk_response
        self.rate_limit_per_second = rate_limit_per_second
        self.user_profile: dict[str, Any] = {
            "firstName": "Fake", "lastName": "User", "phone": number,
            "company": "Fake Ltd.", "timezone": 1,
        }  # fmt: skip
        self._clock = clock or (lambda: datetime.now(UTC))
        self._numbers = {number}
        self._alpha_senders = {s for s in sender_ids if normalise_phone(s) is None}
        self._numbers |= {n for s in sender_ids if (n := normalise_phone(s))}
        self._sessions: dict[int, FakeSession] = {}
        self._messages: dict[int, FakeMessage] = {}
        self._replies: dict[int, FakeReply] = {}
        self._bulks: dict[int, FakeBulk] = {}
        self._schedules: dict[int, FakeSchedule] = {}
        self._contacts: dict[int, Recipient] = {}
        self._lists: dict[int, list[int]] = {}
        self._templates: dict[int, str] = {}
        self._chats: dict[str, int] = {}
        self._queued: set[int] = set()
        self._hits: deque[float] = deque()
        # Separate id ranges so that a session id used as a message id 404s.
        self._next = {"session": 10_001, "message": 49_576_001, "reply": 1_782_001,
                      "bulk": 599, "schedule": 1, "chat": 1, "contact": 2_764,
                      "list": 55_314, "template": 10_541}  # fmt: skip
        super().__init__(host=host, port=port)

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

    # -- test helpers: inspect ---------------------------------------------
    @property
    def sessions(self) -> list[FakeSession]:
        """Every session, oldest first."""
        return list(self._sessions.values())

    @property
    def messages(self) -> list[FakeMessage]:
        """Every outbound message (deleted ones too), oldest first."""
        return list(self._messages.values())

    @property
    def replies(self) -> list[FakeReply]:
        """Every inbound message, oldest first."""
        return list(self._replies.values())

    @property
    def bulks(self) -> list[FakeBulk]:
        """Every bulk session, oldest first."""
        return list(self._bulks.values())

    @property
    def schedules(self) -> list[FakeSchedule]:
        """Every scheduled send, oldest first."""
        return list(self._schedules.values())

    def session(self, session_id: int) -> FakeSession:
        """The session with this id (KeyError if none)."""
        return self._sessions[session_id]

    def message(self, message_id: int) -> FakeMessage:
        """The outbound message with this id (KeyError if none)."""
        return self._messages[message_id]

    # -- test helpers: act ---------------------------------------------------
    def deliver_all(self) -> int:
        """Mark every queued message delivered ("d"); return how many."""
        count = 0
        for message_id in sorted(self._queued):
            self._messages[message_id].status = "d"
            count += 1
        self._queued.clear()
        return count

    def set_status(self, message_id: int, status: str, reject_reason: str | None = None) -> None:
        """Give a message a delivery status letter (e.g. "f" failed, "j" rejected)."""
        if status not in STATUSES:
            raise ValueError(f"unknown TextMagic status {status!r}")
        message = self._messages[message_id]
        message.status = status
        message.reject_reason = reject_reason
        if status in FINAL_STATUSES:
            self._queued.discard(message_id)
        else:
            self._queued.add(message_id)

    def deliver_inbound(
        self,
        from_phone: str,
        text: str,
        session_id: int | None = None,
        *,
        to: str | None = None,
    ) -> FakeReply:
        """Simulate an inbound SMS (a reply) from ``from_phone``.

        It is linked to ``session_id``, or else to the newest session that
        sent to ``from_phone``; ``to`` defaults to the account's number.
        It is served by ``GET /api/v2/replies``.
        """
        sender = normalise_phone(from_phone)
        if sender is None:
            raise ValueError(f"not an E.164 number: {from_phone!r}")
        if session_id is not None and session_id not in self._sessions:
            raise ValueError(f"no session {session_id}")
        if session_id is None:
            sent = [m for m in self._messages.values() if m.receiver == sender]
            session_id = max(sent, key=lambda m: m.id).session_id if sent else None
        receiver = normalise_phone(to) if to is not None else self.from_number[1:]
        if receiver is None:
            raise ValueError(f"not an E.164 number: {to!r}")
        contact_id, contact = self._contact_by_phone(sender)
        reply = FakeReply(
            id=self._new_id("reply"),
            sender=sender,
            receiver=receiver,
            text=text,
            message_time=self._clock(),
            session_id=session_id,
            contact_id=contact_id,
            first_name=contact.first_name if contact else None,
            last_name=contact.last_name if contact else None,
        )
        self._replies[reply.id] = reply
        return reply

    def seed_session(
        self, n_messages: int, *, text: str = "Seeded message", delivered: bool = True
    ) -> FakeSession:
        """Create one session with ``n_messages`` messages to distinct phones."""
        phones = [f"4479{self._next['session']:05d}{i:04d}"[:15] for i in range(n_messages)]
        recipients = tuple(Recipient(phone=p) for p in phones)
        session = self._execute(self._plain_plan(text, recipients), self._clock())
        if delivered:
            for message_id in session.message_ids:
                self.set_status(message_id, "d")
        return session

    def seed_sessions(self, n: int, *, messages_per_session: int = 1) -> list[FakeSession]:
        """Create ``n`` sessions, each with ``messages_per_session`` messages."""
        return [
            self.seed_session(messages_per_session, text=f"Seeded session {i + 1}")
            for i in range(n)
        ]

    def add_contact(
        self, phone: str, first_name: str | None = None, last_name: str | None = None
    ) -> int:
        """Add a contact (usable in ``contacts`` when sending); return its id."""
        digits = normalise_phone(phone)
        if digits is None:
            raise ValueError(f"not an E.164 number: {phone!r}")
        contact_id = self._new_id("contact")
        self._contacts[contact_id] = Recipient(digits, contact_id, first_name, last_name)
        return contact_id

    def add_list(self, phones: Iterable[str]) -> int:
        """Add a contact list of these phones (usable in ``lists``); return its id."""
        members = []
        for phone in phones:
            digits = normalise_phone(phone) or phone
            known, _ = self._contact_by_phone(digits)
            members.append(known if known is not None else self.add_contact(phone))
        list_id = self._new_id("list")
        self._lists[list_id] = members
        return list_id

    def add_template(self, content: str) -> int:
        """Add a message template (usable as ``templateId``); return its id."""
        template_id = self._new_id("template")
        self._templates[template_id] = content
        return template_id

    def process_bulks(self) -> list[FakeSession]:
        """Turn every queued bulk into its session now; return the sessions."""
        return [self._process_bulk(b) for b in self._bulks.values() if b.session_id is None]

    def release_schedules(self) -> list[FakeSession]:
        """Send every scheduled message now, whatever its time."""
        return [
            self._release(s, self._clock())
            for s in self._schedules.values()
            if s.session_id is None
        ]

    # -- machinery -----------------------------------------------------------
    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _contact_by_phone(self, phone: str) -> tuple[int | None, Recipient | None]:
        for contact_id, contact in self._contacts.items():
            if contact.phone == phone:
                return contact_id, contact
        return None, None

    def _plain_plan(self, text: str, recipients: tuple[Recipient, ...]) -> SendPlan:
        return SendPlan(
            text=text, recipients=recipients, sender=self.from_number[1:],
            sender_is_number=True, reference_id=None, destination="t",
            max_parts=6, cut_extra=True, create_chat=False,
        )  # fmt: skip

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

    def _advance(self) -> None:
        """Let time do its work: schedules fire, bulks finish, messages land."""
        now = self._clock()
        for schedule in list(self._schedules.values()):
            if schedule.session_id is None and schedule.send_at <= now:
                self._release(schedule, schedule.send_at)
        if self.bulk_processing_seconds is not None:
            wait = timedelta(seconds=self.bulk_processing_seconds)
            for bulk in list(self._bulks.values()):
                if bulk.session_id is None and bulk.created_at + wait <= now:
                    self._process_bulk(bulk)
        if self.deliver_after is not None:
            wait = timedelta(seconds=self.deliver_after)
            for message_id in sorted(self._queued):
                message = self._messages[message_id]
                if message.message_time + wait <= now:
                    message.status = "d"
                    self._queued.discard(message_id)

    def _release(self, schedule: FakeSchedule, at: datetime) -> FakeSession:
        session = self._execute(schedule.plan, at)
        schedule.session_id = session.id
        return session

    def _process_bulk(self, bulk: FakeBulk) -> FakeSession:
        session = self._execute(bulk.plan, self._clock())
        bulk.session_id = session.id
        bulk.status = "c"
        return session

    def render(self, plan: SendPlan, recipient: Recipient) -> tuple[str, int, str]:
        """A recipient's text with dynamic fields merged, its parts and charset."""
        text = plan.text.replace("{First name}", recipient.first_name or "")
        text = text.replace("{Last name}", recipient.last_name or "")
        parts, charset = count_parts(text)
        if parts > plan.max_parts and plan.cut_extra:
            text = cut_to_parts(text, plan.max_parts)
            parts, charset = count_parts(text)
        return text, parts, charset

    def _execute(self, plan: SendPlan, at: datetime) -> FakeSession:
        """Create the session and one queued message per recipient."""
        session = FakeSession(
            id=self._new_id("session"),
            start_time=at,
            text=plan.text,
            reference_id=plan.reference_id,
            destination="s" if plan.destination == "tts" else "t",
            numbers_count=len(plan.recipients),
        )
        self._sessions[session.id] = session
        for recipient in plan.recipients:
            text, parts, charset = self.render(plan, recipient)
            price = round(parts * self.price_per_part, 4)
            message = FakeMessage(
                id=self._new_id("message"), session_id=session.id, sender=plan.sender,
                sender_is_number=plan.sender_is_number, receiver=recipient.phone,
                text=text, message_time=at, parts_count=parts, charset=charset,
                price=price, contact_id=recipient.contact_id,
                first_name=recipient.first_name, last_name=recipient.last_name,
                tts=plan.destination == "tts",
            )  # fmt: skip
            self._messages[message.id] = message
            self._queued.add(message.id)
            session.message_ids.append(message.id)
            self.balance = round(self.balance - price, 4)
        return session

    # -- JSON shapes -----------------------------------------------------------
    def _session_json(self, session: FakeSession) -> dict[str, Any]:
        price = sum(self._messages[i].price for i in session.message_ids if i in self._messages)
        return {
            "id": session.id,
            "startTime": format_time(session.start_time),
            "text": session.text,
            "source": session.source,
            "referenceId": session.reference_id,
            "price": round(price, 4),
            "numbersCount": session.numbers_count,
            "destination": session.destination,
            "initiatorId": self.user_id,
            "title": session.title,
        }

    def _message_json(self, message: FakeMessage) -> dict[str, Any]:
        session = self._sessions.get(message.session_id)
        short = None
        if session is not None:
            full = self._session_json(session)
            short = {k: full[k] for k in full if k != "title"}
        if message.sender_is_number:
            source = {"id": 1, "phone": message.sender, "type": "dedicated",
                      "countryId": country_of(message.sender), "label": None,
                      "status": "A", "carrierStatus": None}  # fmt: skip
        else:
            source = {"id": 2, "phone": None, "type": "senderId", "countryId": None,
                      "label": message.sender, "status": "A", "carrierStatus": None}  # fmt: skip
        body: dict[str, Any] = {
            "id": message.id,
            "sender": message.sender,
            "receiver": message.receiver,
            "text": message.text,
            "status": message.status,
            "contactId": message.contact_id,
            "sessionId": message.session_id,
            "messageTime": format_time(message.message_time),
            "avatar": AVATAR,
            "deleted": message.deleted,
            "charset": message.charset,
            "charsetLabel": "Voice" if message.tts else message.charset,
            "firstName": message.first_name,
            "lastName": message.last_name,
            "country": country_of(message.receiver),
            "phone": message.receiver,
            "price": message.price,
            "partsCount": message.parts_count,
            "fromEmail": self.email,
            "fromNumber": message.sender if message.sender_is_number else None,
            "senderSource": source,
            "session": short,
        }
        if message.reject_reason is not None:
            body["rejectReason"] = message.reject_reason
        return body

    def _reply_json(self, reply: FakeReply) -> dict[str, Any]:
        return {
            "id": reply.id,
            "sender": reply.sender,
            "receiver": reply.receiver,
            "messageTime": format_time(reply.message_time),
            "text": reply.text,
            "contactId": reply.contact_id,
            "firstName": reply.first_name,
            "lastName": reply.last_name,
            "avatar": AVATAR,
            "email": None,
            "contactUserId": None,
            "userId": self.user_id,
        }

    def _bulk_json(self, bulk: FakeBulk) -> dict[str, Any]:
        session = self._sessions.get(bulk.session_id) if bulk.session_id else None
        total = len(bulk.plan.recipients)
        return {
            "id": bulk.id,
            "status": bulk.status,
            "itemsProcessed": total if bulk.status == "c" else 0,
            "itemsTotal": total,
            "createdAt": format_time(bulk.created_at),
            "session": self._session_json(session) if session else None,
            "text": bulk.plan.text,
        }

    def _link(self, kind: str, item_id: int, **ids: int | None) -> dict[str, Any]:
        path = {"message": "messages", "session": "sessions", "bulk": "bulks",
                "schedule": "schedules"}[kind]  # fmt: skip
        return {
            "id": item_id,
            "href": f"/api/v2/{path}/{item_id}",
            "type": kind,
            "sessionId": ids.get("sessionId"),
            "bulkId": ids.get("bulkId"),
            "messageId": ids.get("messageId"),
            "scheduleId": ids.get("scheduleId"),
            "chatId": ids.get("chatId"),
        }

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
    # -- SendContext (what parse_send needs to know) ---------------------------
    def lookup_template(self, template_id: int) -> str | None:
        """A template's content."""
        return self._templates.get(template_id)

    def lookup_contact(self, contact_id: int) -> Recipient | None:
        """A contact as a recipient."""
        return self._contacts.get(contact_id)

    def lookup_list(self, list_id: int) -> list[Recipient] | None:
        """A list's members as recipients."""
        members = self._lists.get(list_id)
        return None if members is None else [self._contacts[i] for i in members]

    def lookup_sender(self, sender: str) -> tuple[str, bool] | None:
        """An allowed sender id (number digits or alphanumeric) and its kind."""
        number = normalise_phone(sender)
        if number is not None:
            return (number, True) if number in self._numbers else None
        return (sender, False) if sender in self._alpha_senders else None

    @property
    def default_sender(self) -> str:
        """The account's own number (digits)."""
        return self.from_number[1:]

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

    # -- messages --------------------------------------------------------------
    def _visible(self, include_deleted: bool = False) -> list[FakeMessage]:
        found = [m for m in self._messages.values() if include_deleted or not m.deleted]
        return sorted(found, key=lambda m: m.id, reverse=True)  # newest first

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

    def _drop_session(self, session_id: int) -> None:
        session = self._sessions.pop(session_id, None)
        for message_id in session.message_ids if session else ():
            self._messages.pop(message_id, None)
            self._queued.discard(message_id)

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
