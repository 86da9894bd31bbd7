"""The in-memory TextMagic account behind the fake server: state, test
helpers, the send machinery and the JSON shapes of the documented schemas
(``MessageSession``, ``MessageOut``, ``MessageIn``, ``BulkSession``,
``SendMessageResponse``). No HTTP here; ``textmagic.py`` serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

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
    normalise_phone,
)

__all__ = ["AVATAR", "TextMagicAccount"]

AVATAR = "avatars/dummy_avatar.png"


class TextMagicAccount:
    """One TextMagic account's sessions, messages, replies and settings."""

    def __init__(
        self,
        *,
        username: str,
        api_key: str,
        from_number: str,
        sender_ids: Iterable[str],
        clock: Callable[[], datetime] | None,
        deliver_after: float | None,
        bulk_processing_seconds: float | None,
        price_per_part: float,
        balance: float,
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
        self.uploads: dict[str, bytes] = {}  # uploaded attachments by resource name
        self._queued: set[int] = set()
        # Separate id ranges so that a session id used as a message id 404s.
        self._next = {"session": 10_001, "message": 49_576_001, "reply": 1_782_001,
                      "bulk": 599, "schedule": 1, "chat": 1, "contact": 2_764,
                      "list": 55_314, "template": 10_541}  # fmt: skip

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
        sender: str,
        text: str,
        *,
        session_id: int | None = None,
        to: str | None = None,
    ) -> FakeReply:
        """Simulate an inbound SMS (a reply) from the phone ``sender``.

        It is linked to ``session_id``, or else to the newest session that
        sent to ``sender`` (kept by the fake only: the ``MessageIn`` resource
        names no session); ``to`` defaults to the account's number.
        It is served by ``GET /api/v2/replies``.
        """
        number = normalise_phone(sender)
        if number is None:
            raise ValueError(f"not an E.164 number: {sender!r}")
        if session_id is not None and session_id not in self._sessions:
            raise ValueError(f"no session {session_id}")
        if session_id is None:
            sent = [m for m in self._messages.values() if m.receiver == number]
            session_id = max(sent, key=lambda m: m.id).session_id if sent else None
        receiver = normalise_phone(to) if to is not None else self.from_number[1:]
        if receiver is None:
            raise ValueError(f"not an E.164 number: {to!r}")
        contact_id, contact = self._contact_by_phone(number)
        reply = FakeReply(
            id=self._new_id("reply"),
            sender=number,
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

    def lookup_resource(self, resource: str) -> bool:
        """Whether an MMS resource name was uploaded."""
        return resource in self.uploads

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

    # -- removal --------------------------------------------------------------
    def _visible(self, include_deleted: bool = False) -> list[FakeMessage]:
        found = [m for m in self._messages.values() if include_deleted or not m.deleted]
        return sorted(found, key=lambda m: m.id, reverse=True)  # newest first

    def _drop_session(self, session_id: int) -> None:
        session = self._sessions.pop(session_id, None)
        for message_id in session.message_ids if session else ():
            self._messages.pop(message_id, None)
            self._queued.discard(message_id)
