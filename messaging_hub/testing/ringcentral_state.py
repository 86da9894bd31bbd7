"""Shared state and test helpers of the fake RingCentral server: the
message store, conversations and tokens (the HTTP handlers live in
:mod:`.ringcentral_messages` and :mod:`.ringcentral`)."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from aiohttp import web

from messaging_hub.testing._server import FakeServer
from messaging_hub.testing.ringcentral_auth import (
    RateDecision,
    RateLimit,
    RateLimiter,
    TokenStore,
)
from messaging_hub.testing.ringcentral_store import (
    CONVERSATION_ID_BASE,
    DIRECTIONS,
    MESSAGE_ID_BASE,
    MESSAGE_STATUSES,
    ApiError,
    StoredAttachment,
    StoredMessage,
    format_time,
)

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
_PHONE = re.compile(r"^\+?[1-9][0-9]{6,14}\Z")


def default_jwt() -> str:
    """A JWT-shaped assertion string for the JWT grant."""

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


def digits(number: str) -> str:
    """Only the digits of a phone number."""
    return "".join(ch for ch in number if ch.isdigit())


def e164(number: str) -> str:
    """A phone number as ``+`` and digits."""
    return "+" + digits(number)


def valid_phone(value: Any) -> bool:
    """Whether ``value`` looks like an E.164 number (``+`` optional)."""
    return isinstance(value, str) and _PHONE.match(re.sub(r"[\s().-]", "", value)) is not None


@attrs.define
class SyncState:
    """What a message-sync token stands for: a change sequence and filters."""

    sequence: int
    types: tuple[str, ...]
    directions: tuple[str, ...]
    conversation_id: str | None


class RingCentralState(FakeServer):
    """State and test helpers; see :class:`~.ringcentral.FakeRingCentral`."""

    provider = "ringcentral"

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        client_id: str = "fake-rc-client-id",
        client_secret: str = "fake-rc-client-secret",
        jwt: str | None = None,
        username: str | None = None,
        password: str = "fake-rc-password",
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
        self.jwt = jwt if jwt is not None else default_jwt()
        self.username = username if username is not None else from_number
        self.password = password
        self.extension = extension
        self.from_number = e164(from_number)
        self.phone_numbers = [self.from_number, *(e164(n) for n in phone_numbers)]
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
        self._sync_tokens: dict[str, SyncState] = {}
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
            remote = [p for p in party_keys(sender, *recipients) if p not in mine and p != ""]
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
            sender={"phoneNumber": e164(from_number)},
            recipients=[{"phoneNumber": e164(to_number or self.from_number)}],
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
            sender={"phoneNumber": e164(from_number)},
            recipients=[{"phoneNumber": self.from_number}],
            text=e164(from_number),
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
            sender={"phoneNumber": e164(from_number)},
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
            me, them = {"phoneNumber": self.from_number}, {"phoneNumber": e164(remote_number)}
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

    def seed_conversation(self, count: int, *, remote_number: str = "+14155550123") -> str:
        """Seed ``count`` SMS messages with ``remote_number`` (see
        :meth:`seed_messages`) and return their ``conversation.id`` string."""
        return str(self.seed_messages(count, remote_number=remote_number)[0].conversation_id)

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
        key = frozenset(digits(p) or p for p in parties)
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

    async def _json(self, request: web.Request, *types: str) -> Any:
        allowed = types or ("application/json",)
        if request.content_type not in allowed:
            raise ApiError(415, "CMN-415", "Unsupported Media Type")
        try:
            return json.loads(await request.read())
        except ValueError:
            raise ApiError(400, "CMN-103", "JSON can't be parsed.") from None


def party_keys(*parties: Mapping[str, Any]) -> list[str]:
    """One key per party (phone number, else extension number or id)."""
    keys = []
    for party in parties:
        for field in ("phoneNumber", "extensionNumber", "extensionId"):
            value = party.get(field)
            if isinstance(value, str):
                keys.append(e164(value) if field == "phoneNumber" else value)
                break
    return keys
