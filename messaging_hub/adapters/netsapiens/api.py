"""The native NetSapiens v2 messaging client: one method per documented operation.

Method names are the spec's operation ids in snake_case. ``domain`` and
``user`` default to the client's own (``~`` means "the token's own" to
the server). Every path parameter is percent-encoded, and message-session
ids are checked against the spec's alphabet before anything is sent.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import InvalidRequest
from ...transport import Response, Transport, path
from .wire import (
    Accepted,
    Message,
    MessageSend,
    MessageSession,
    converter,
    message_records_ok,
    plain_accepted,
)

if TYPE_CHECKING:
    from .records import MessageRecord

_read_records: Callable[[bytes], list[MessageRecord] | None] | None
try:
    from . import records as _records
except ImportError:  # no msgspec (the ``fast`` extra): records are read as dicts
    _read_records = None
else:
    _read_records = _records.read_records

__all__ = ["NetSapiensAPI", "check_session_id"]

PROVIDER = "netsapiens"
MAX_PAGE = 1000
"""The spec's maximum ``limit``."""

# Used with fullmatch: "$" would also accept a trailing newline.
_SESSION_ID = re.compile(r"[A-Za-z0-9_]{1,128}")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9._-]{1,64}|~|\*)")
_USER = re.compile(r"(?:[A-Za-z0-9._-]{1,16}|~)")

T = TypeVar("T")


def check_session_id(value: str) -> str:
    """``value`` if it is a valid message-session id (letters, digits, ``_``)."""
    if not isinstance(value, str) or not _SESSION_ID.fullmatch(value):
        raise InvalidRequest(
            f"{value!r} is not a NetSapiens message-session id "
            "(1-128 letters, digits or underscores)",
            field="session_id",
            provider=PROVIDER,
        )
    return value


def _check(pattern: re.Pattern[str], value: str, name: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidRequest(f"{value!r} is not a valid {name}", field=name, provider=PROVIDER)
    return value


def _limit(limit: int | None) -> int | None:
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE
    ):
        raise InvalidRequest(f"limit must be 1..{MAX_PAGE}", field="limit", provider=PROVIDER)
    return limit


def _start(start: int | None) -> int | None:
    if start is not None and (isinstance(start, bool) or not isinstance(start, int) or start < 0):
        raise InvalidRequest("start must be >= 0", field="start", provider=PROVIDER)
    return start


def _media(
    kind: str,
    message: str,
    destination: str | list[str],
    data: bytes,
    mime_type: str,
    from_number: str | None = None,
) -> MessageSend:
    """A media send body: the file travels base64-encoded with its size."""
    return MessageSend(
        kind,
        message,
        destination,
        from_number=from_number,
        data=base64.b64encode(data).decode("ascii"),
        mime_type=mime_type,
        size=len(data),
    )


class NetSapiensAPI:
    """Every operation of the NetSapiens v2 Messages API."""

    def __init__(self, transport: Transport, *, domain: str = "~", user: str = "~") -> None:
        self.transport = transport
        self.domain = _check(_DOMAIN, domain, "domain")
        self.user = _check(_USER, user, "user")
        self._own: tuple[str, str, str] = ("", "", "")

    # -- helpers -------------------------------------------------------------
    def _owner(self, domain: str | None, user: str | None) -> tuple[str, str]:
        return (
            _check(_DOMAIN, domain or self.domain, "domain"),
            _check(_USER, user or self.user, "user"),
        )

    def _accepted(self, response: Response) -> Accepted:
        if not response.body.strip():
            return Accepted(code=response.status, message="Accepted")
        accepted = plain_accepted(response.json())  # the usual answer, without cattrs
        return accepted if accepted is not None else response.decode(converter, Accepted)

    def _own_sessions(self) -> str:
        """The path of the client's own sessions (built again only if
        ``domain`` or ``user`` was changed)."""
        domain, user, prefix = self._own
        if domain is not self.domain or user is not self.user:
            d, u = self._owner(None, None)
            prefix = path("/domains/{domain}/users/{user}/messagesessions", domain=d, user=u)
            self._own = (self.domain, self.user, prefix)
        return prefix

    def _session_path(self, messagesession: str, domain: str | None, user: str | None) -> str:
        if not domain and not user:
            # A checked session id is letters, digits and "_": nothing to encode.
            return f"{self._own_sessions()}/{check_session_id(messagesession)}"
        d, u = self._owner(domain, user)
        return path(
            "/domains/{domain}/users/{user}/messagesessions/{messagesession}",
            domain=d,
            user=u,
            messagesession=check_session_id(messagesession),
        )

    async def _send(
        self,
        messagesession: str,
        body: MessageSend | dict[str, Any],
        domain: str | None,
        user: str | None,
    ) -> Accepted:
        url = self._session_path(messagesession, domain, user) + "/messages"
        if isinstance(body, MessageSend):
            body = converter.unstructure(body)
        response = await self.transport.request("POST", url, json_body=body, idempotent=False)
        return self._accepted(response)

    # -- reading -------------------------------------------------------------
    async def get_message_sessions_for_domain(
        self, *, domain: str | None = None, limit: int | None = None, start: int | None = None
    ) -> list[MessageSession]:
        """``GET /domains/{domain}/messagesessions``: every session in a domain."""
        d, _ = self._owner(domain, None)
        response = await self.transport.request(
            "GET",
            path("/domains/{domain}/messagesessions", domain=d),
            params={"limit": _limit(limit), "start": _start(start)},
        )
        return response.decode(converter, list[MessageSession])

    async def get_message_sessions_for_user(
        self,
        *,
        domain: str | None = None,
        user: str | None = None,
        limit: int | None = None,
        start: int | None = None,
    ) -> list[MessageSession]:
        """``GET /domains/{domain}/users/{user}/messagesessions``: a user's sessions."""
        d, u = self._owner(domain, user)
        response = await self.transport.request(
            "GET",
            path("/domains/{domain}/users/{user}/messagesessions", domain=d, user=u),
            params={"limit": _limit(limit), "start": _start(start)},
        )
        return response.decode(converter, list[MessageSession])

    async def get_message_session_for_user(
        self, messagesession: str, *, domain: str | None = None, user: str | None = None
    ) -> list[MessageSession]:
        """``GET .../messagesessions/{messagesession}``: one session (as a list)."""
        response = await self.transport.request(
            "GET", self._session_path(messagesession, domain, user)
        )
        return response.decode(converter, list[MessageSession])

    async def get_messages_for_messagesession(
        self,
        messagesession: str,
        *,
        domain: str | None = None,
        user: str | None = None,
        limit: int | None = None,
        start: int | None = None,
    ) -> list[Message]:
        """``GET .../messagesessions/{messagesession}/messages``: a session's messages."""
        response = await self.transport.request(
            "GET",
            self._session_path(messagesession, domain, user) + "/messages",
            params={"limit": _limit(limit), "start": _start(start)},
        )
        return response.decode(converter, list[Message])

    async def _message_records(
        self, messagesession: str, *, limit: int | None = None, start: int | None = None
    ) -> list[MessageRecord] | list[dict[str, Any]] | list[Message]:
        """The client's own session's messages as JSON records (what
        :meth:`get_messages_for_messagesession` reads, checked the same way):
        :class:`~.records.MessageRecord` with the ``fast`` extra, else dicts;
        an answer that is not a list of plain records goes through the typed
        read instead, with its errors, and comes back as :class:`Message`."""
        response = await self.transport.request(
            "GET",
            self._session_path(messagesession, None, None) + "/messages",
            params={"limit": _limit(limit), "start": _start(start)},
        )
        if _read_records is not None:
            records = _read_records(response.body)
            if records is not None:
                return records
        data = response.json()
        if type(data) is list and message_records_ok(data):
            return data
        return response.decode(converter, list[Message])

    # -- sending -------------------------------------------------------------
    async def start_session(
        self,
        *,
        destination: str | list[str],
        message: str,
        type: str = "chat",
        from_number: str | None = None,
        domain: str | None = None,
        user: str | None = None,
    ) -> Any:
        """``POST /domains/{domain}/users/{user}/messages``: start a session server-side.

        The spec declares a ``Message`` answer but shows ``{code, message}``;
        the decoded JSON is returned as it came.
        """
        d, u = self._owner(domain, user)
        body = MessageSend(
            type=type, message=message, destination=destination, from_number=from_number
        )
        response = await self.transport.request(
            "POST",
            path("/domains/{domain}/users/{user}/messages", domain=d, user=u),
            json_body=converter.unstructure(body),
            idempotent=False,
        )
        return response.json_or_none()

    async def send_message_chat(
        self,
        messagesession: str,
        *,
        destination: str,
        message: str,
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Send a chat message to one user (``type: chat``)."""
        return await self._send(
            messagesession,
            # What the converter makes of MessageSend("chat", message, destination).
            {"type": "chat", "message": message, "destination": destination}
            if type(message) is str and type(destination) is str
            else MessageSend("chat", message, destination),
            domain,
            user,
        )

    async def send_message_group_chat(
        self,
        messagesession: str,
        *,
        destination: list[str],
        message: str,
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Send a chat message to several users (``type: chat``, array destination)."""
        return await self._send(
            messagesession, MessageSend("chat", message, list(destination)), domain, user
        )

    async def send_message_media_chat(
        self,
        messagesession: str,
        *,
        destination: str | list[str],
        message: str,
        data: bytes,
        mime_type: str,
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Send a file in chat (``type: chat-media``, base64 ``data``)."""
        body = _media("chat-media", message, destination, data, mime_type)
        return await self._send(messagesession, body, domain, user)

    async def send_message_sms(
        self,
        messagesession: str,
        *,
        destination: str,
        message: str,
        from_number: str,
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Send an SMS to one number from the user's ``from_number``."""
        body: MessageSend | dict[str, Any]
        if type(message) is str and type(destination) is str and type(from_number) is str:
            # What the converter makes of MessageSend("sms", ...).
            body = {
                "type": "sms",
                "message": message,
                "destination": destination,
                "from-number": from_number,
            }
        else:
            body = MessageSend("sms", message, destination, from_number=from_number)
        return await self._send(messagesession, body, domain, user)

    async def send_message_group_sms(
        self,
        messagesession: str,
        *,
        destination: list[str],
        message: str,
        from_number: str,
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Send an SMS to several numbers (``type: sms``, array destination)."""
        body = MessageSend("sms", message, list(destination), from_number=from_number)
        return await self._send(messagesession, body, domain, user)

    async def send_message_mms(
        self,
        messagesession: str,
        *,
        destination: str | list[str],
        message: str,
        from_number: str,
        data: bytes,
        mime_type: str,
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Send an MMS (``type: mms``, base64 ``data``)."""
        body = _media("mms", message, destination, data, mime_type, from_number)
        return await self._send(messagesession, body, domain, user)

    # -- changing sessions ---------------------------------------------------
    async def update_message_session_participants(
        self,
        messagesession: str,
        *,
        participants: list[str],
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Set a group chat's final participant list (the caller included)."""
        if not participants:
            raise InvalidRequest(
                "participants must not be empty", field="participants", provider=PROVIDER
            )
        response = await self.transport.request(
            "PUT",
            self._session_path(messagesession, domain, user),
            json_body={"participants": ",".join(participants)},
        )
        return self._accepted(response)

    async def update_message_session_session_name(
        self,
        messagesession: str,
        *,
        session_name: str,
        domain: str | None = None,
        user: str | None = None,
    ) -> Accepted:
        """Rename a message session."""
        response = await self.transport.request(
            "PUT",
            self._session_path(messagesession, domain, user),
            json_body={"session-name": session_name},
        )
        return self._accepted(response)

    async def leave_messagesession(
        self, messagesession: str, *, domain: str | None = None, user: str | None = None
    ) -> Accepted:
        """Leave a group message session."""
        response = await self.transport.request(
            "PUT", self._session_path(messagesession, domain, user) + "/leave"
        )
        return self._accepted(response)

    async def delete_messagesession(
        self, messagesession: str, *, domain: str | None = None, user: str | None = None
    ) -> Accepted:
        """Delete a message session and its messages."""
        response = await self.transport.request(
            "DELETE", self._session_path(messagesession, domain, user)
        )
        return self._accepted(response)

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()
