"""A fake NetSapiens v2 server (message sessions, tokens), written from the spec.

Follows ``shared/specs/netsapiens``: paths under ``/ns-api/v2``, bearer
auth (static access token, ``nsd_`` API key, or tokens from ``POST
/tokens``), kebab-case fields with every required ``Messagesession`` and
``Message`` field, bare JSON arrays paged by ``limit``/``start``,
``{code, message}`` errors and ``202 {code, message}`` for writes.
Timestamps are zone-less ``YYYY-MM-DD HH:MM:SS`` in the server's zone, and
(as the recorded examples do) session fields use the ``-timestamp``
spelling, numbers come back as JSON numbers, unless told otherwise.

It shares no code with the NetSapiens adapter on purpose.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs
from aiohttp import web

from ._server import FakeServer, json_error

__all__ = ["FakeNetSapiens", "NsMessage", "NsSession"]

_NEW_SESSION_ID = re.compile(r"[A-Za-z0-9_]{32,}")
_ANY_SESSION_ID = re.compile(r"[A-Za-z0-9_]+")
_TYPES = {"chat", "sms", "mms", "chat-media"}
_HOSTNAME = "fake-ns.example.net"


@attrs.define
class NsMessage:
    """A stored message of one user's session."""

    id: str
    at: datetime
    type: str
    direction: str
    text: str
    from_number: str
    from_user_id: str
    terminating_user_id: str
    terminating_number: str
    status: str
    media_type: str = ""
    media: bytes = b""


@attrs.define
class NsSession:
    """One user's view of a message session."""

    id: str
    user: str
    remote: list[str]
    type: str
    sms_number: str = ""
    name: str = ""
    participants: list[str] = attrs.field(factory=list)
    started: datetime | None = None
    messages: list[NsMessage] = attrs.field(factory=list)  # newest first

    @property
    def last(self) -> NsMessage | None:
        """The newest message."""
        return self.messages[0] if self.messages else None


@attrs.define
class _Grant:
    user: str
    expires_at: datetime


class FakeNetSapiens(FakeServer):
    """An in-memory NetSapiens v2 messaging server on loopback.

    Constructor arguments (keyword-only, all optional):

    * ``domain``: the NetSapiens domain (default ``"acme"``).
    * ``users``: extension -> ``(login, password)`` (default 1000, 1004 and
      1123); the first user is the one :attr:`config` acts for (:attr:`me`).
    * ``sms_number``: the SMS number sends come from (digits).
    * ``access_token``: a static bearer token that never expires;
      ``api_key``: an ``nsd_`` API key accepted as a bearer token.
    * ``client_id``/``client_secret``: the OAuth client for ``POST /tokens``
      (password and refresh grants).
    * ``token_ttl``: lifetime in seconds (on ``clock``) of tokens from
      ``/tokens`` (default 3600).
    * ``timezone``: the server's zone for its zone-less timestamps.
    * ``timestamp_spelling``: session fields spelt ``-timestamp`` (as
      recorded, default) or ``-datetime`` (as the schema).
    * ``clock``: returns an aware datetime (stamps, token expiry).
    * ``host``/``port`` (and ``client_max_size``): passed to :class:`FakeServer`.

    Knobs and helpers: :attr:`config` (static token), :attr:`password_config`
    (OAuth password grant), :attr:`base_url`, :meth:`deliver_inbound`,
    :meth:`seed_session`/:meth:`seed_sessions`, :meth:`session`,
    :attr:`sessions` (per user), :meth:`expire_tokens`, :attr:`token_requests`
    (by grant). The spec documents no rate limits and no sender ids beyond
    ``sms_number``, so the fake has none.

    From :class:`FakeServer` (every fake): :meth:`fail` queues a :class:`Fault`
    (``status``/``body``/``headers``/``content_type``, ``reset``, ``delay``,
    ``truncate``, ``after``, ``transform``; matched by ``method`` and ``path``,
    ``times`` times), :attr:`pending_faults`, :meth:`clear_faults`,
    :attr:`requests` and :meth:`requests_to` (what reached the wire),
    :attr:`origin`, and :attr:`ssl_context` (set before start to serve HTTPS).
    """

    provider = "netsapiens"

    def __init__(
        self,
        *,
        domain: str = "acme",
        users: dict[str, tuple[str, str]] | None = None,
        sms_number: str = "18585550100",
        access_token: str = "ns-static-token-0123456789",
        api_key: str = "nsd_fakekey0123456789abcdef",
        client_id: str = "fake-client",
        client_secret: str = "fake-client-secret",
        token_ttl: float = 3600.0,
        timezone: str = "UTC",
        timestamp_spelling: Literal["timestamp", "datetime"] = "timestamp",
        clock: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        self.domain = domain
        self.users = users or {
            "1000": ("1000@acme", "pw-1000"),
            "1004": ("1004@acme", "pw-1004"),
            "1123": ("1123@acme", "pw-1123"),
        }
        self.me = next(iter(self.users))
        self.sms_number = sms_number
        self.access_token = access_token
        self.api_key = api_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.zone = ZoneInfo(timezone)
        self.timestamp_spelling = timestamp_spelling
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sessions: dict[str, dict[str, NsSession]] = {u: {} for u in self.users}
        self._grants: dict[str, _Grant] = {}
        self._refresh: dict[str, str] = {}
        self.token_requests: dict[str, int] = {"password": 0, "refresh_token": 0}
        self._ids = 0
        super().__init__(**kwargs)

    # -- configuration -------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The API root, ``.../ns-api/v2``."""
        return f"{self.origin}/ns-api/v2"

    @property
    def config(self) -> dict[str, Any]:
        """Options for ``connect()``: the first user with the static token."""
        return {
            "provider": "netsapiens",
            "base_url": self.base_url,
            "domain": self.domain,
            "user": self.me,
            "access_token": self.access_token,
            "from_number": "+" + self.sms_number,
        }

    @property
    def password_config(self) -> dict[str, Any]:
        """Options that use the OAuth password grant instead of a token."""
        login, password = self.users[self.me]
        config = {k: v for k, v in self.config.items() if k != "access_token"}
        config.update(
            client_id=self.client_id,
            client_secret=self.client_secret,
            username=login,
            password=password,
        )
        return config

    def setup_routes(self, app: web.Application) -> None:
        """The documented message and token routes."""
        base = "/ns-api/v2"
        session = base + "/domains/{domain}/users/{user}/messagesessions/{messagesession}"
        app.router.add_post(base + "/tokens", self._tokens)
        app.router.add_get(base + "/domains/{domain}/messagesessions", self._domain_sessions)
        app.router.add_post(base + "/domains/{domain}/users/{user}/messages", self._start)
        app.router.add_get(base + "/domains/{domain}/users/{user}/messagesessions", self._list)
        app.router.add_get(session, self._get_one)
        app.router.add_put(session, self._update)
        app.router.add_delete(session, self._remove)
        app.router.add_get(session + "/messages", self._messages)
        app.router.add_post(session + "/messages", self._send)
        app.router.add_put(session + "/leave", self._remove)

    # -- test helpers --------------------------------------------------------
    def expire_tokens(self) -> None:
        """Make every token from ``/tokens`` expire now (static ones stay)."""
        for grant in self._grants.values():
            grant.expires_at = self.clock() - timedelta(seconds=1)

    def session(self, session_id: str, user: str | None = None) -> NsSession:
        """A user's session (the configured user by default)."""
        return self.sessions[user or self.me][session_id]

    def deliver_inbound(
        self,
        sender: str | None = None,
        text: str | None = None,
        *,
        from_number: str | None = None,
        from_user: str | None = None,
        to_user: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Simulate a message arriving for ``to_user``; returns the session id.

        ``sender`` is a phone number (``+...``: an inbound SMS) or a user's
        extension (a chat), as every fake's ``deliver_inbound(sender, text)``
        takes it; ``from_number``/``from_user`` say the same by keyword.
        """
        if text is None:
            raise TypeError("deliver_inbound() needs the message text")
        if sender is not None:
            if from_number is not None or from_user is not None:
                raise TypeError("give the sender once: positionally or by keyword")
            if sender.startswith("+"):
                from_number = sender
            else:
                from_user = sender
        to_user = to_user or self.me
        sid = session_id or secrets.token_hex(16)
        if from_number is not None:
            number = from_number.lstrip("+")
            msg_type, remote = "sms", [number]
            message = self._message(
                msg_type, "orig", text, from_number=number, terminating=f"{to_user}@{self.domain}"
            )
        else:
            sender = from_user or "1004"
            msg_type, remote = "chat", [f"{sender}@{self.domain}"]
            message = self._message(
                msg_type,
                "",
                text,
                from_user=f"{sender}@{self.domain}",
                terminating=f"{to_user}@{self.domain}",
            )
        state = self._session_for(to_user, sid, remote, msg_type)
        if from_number is not None:
            state.sms_number = self.sms_number
        state.messages.insert(0, message)
        return sid

    def seed_session(self, count: int, *, with_user: str = "1004", user: str | None = None) -> str:
        """Create a chat session holding ``count`` messages, one second apart."""
        user = user or self.me
        sid = secrets.token_hex(16)
        state = self._session_for(user, sid, [f"{with_user}@{self.domain}"], "chat")
        start = self.clock() - timedelta(seconds=count)
        for i in range(count):
            mine = i % 2 == 0
            message = self._message(
                "chat",
                "",
                f"message {i}",
                from_user=f"{user if mine else with_user}@{self.domain}",
                terminating=f"{with_user if mine else user}@{self.domain}",
                at=start + timedelta(seconds=i),
            )
            state.messages.insert(0, message)
        return sid

    def seed_sessions(self, count: int, *, user: str | None = None) -> list[str]:
        """Create ``count`` sessions with one message each."""
        return [self.seed_session(1, user=user) for _ in range(count)]

    # -- auth ----------------------------------------------------------------
    def _authenticate(self, request: web.Request) -> str | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return json_error(401, {"code": 401, "message": "Authentication Required"})
        if token in (self.access_token, self.api_key):
            return self.me
        grant = self._grants.get(token)
        if grant is None:
            return json_error(401, {"code": 401, "message": "Invalid access token"})
        if grant.expires_at <= self.clock():
            return json_error(401, {"code": 401, "message": "Access token has expired"})
        return grant.user

    def _owner(self, request: web.Request) -> tuple[str, str] | web.Response:
        caller = self._authenticate(request)
        if isinstance(caller, web.Response):
            return caller
        domain = request.match_info.get("domain", "~")
        user = request.match_info.get("user", "~")
        domain = self.domain if domain == "~" else domain
        user = caller if user == "~" else user
        if domain != self.domain:
            return json_error(404, {"code": 404, "message": f"Domain {domain} does not exist"})
        if user not in self.users:
            return json_error(404, {"code": 404, "message": f"User {user} does not exist"})
        if user != caller:
            return json_error(403, {"code": 403, "message": "Access denied to this user"})
        return domain, user

    async def _tokens(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return json_error(400, {"code": 400, "message": "Invalid JSON body"})
        grant_type = body.get("grant_type")
        if (
            body.get("client_id") != self.client_id
            or body.get("client_secret") != self.client_secret
        ):
            return json_error(401, {"code": 401, "message": "Invalid client credentials"})
        if grant_type == "password":
            self.token_requests["password"] += 1
            user = next(
                (
                    u
                    for u, (login, pw) in self.users.items()
                    if body.get("username") in (login, u) and body.get("password") == pw
                ),
                None,
            )
            if user is None:
                return json_error(401, {"code": 401, "message": "Invalid username or password"})
        elif grant_type == "refresh_token":
            self.token_requests["refresh_token"] += 1
            user = self._refresh.pop(str(body.get("refresh_token")), None)
            if user is None:
                return json_error(401, {"code": 401, "message": "Invalid refresh token"})
        else:
            return json_error(
                400, {"code": 400, "message": f"Unsupported grant_type {grant_type!r}"}
            )
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self._grants[access] = _Grant(user, self.clock() + timedelta(seconds=self.token_ttl))
        self._refresh[refresh] = user
        login = self.users[user][0]
        return web.json_response(
            {
                "username": login,
                "user": user,
                "territory": "fake",
                "domain": self.domain,
                "site": "",
                "group": "",
                "department": "",
                "uid": f"{user}@{self.domain}",
                "login": login,
                "scope": "Basic User",
                "user_email": f"{user}@example.com",
                "displayName": f"User {user}",
                "access_token": access,
                "expires_in": int(self.token_ttl),
                "token_type": "Bearer",
                "refresh_token": refresh,
                "client_id": self.client_id,
                "apiversion": "2.0",
            }
        )

    # -- reading -------------------------------------------------------------
    async def _domain_sessions(self, request: web.Request) -> web.Response:
        caller = self._authenticate(request)
        if isinstance(caller, web.Response):
            return caller
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        every = [s for user in self.users for s in self.sessions[user].values()]
        return web.json_response(
            self._page([self._session_json(s) for s in _recent(every)], *paging)
        )

    async def _list(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        if isinstance(owner, web.Response):
            return owner
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        items = _recent(list(self.sessions[owner[1]].values()))
        return web.json_response(self._page([self._session_json(s) for s in items], *paging))

    async def _get_one(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response([self._session_json(found)])

    async def _messages(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        paging = _paging(request)
        if isinstance(paging, web.Response):
            return paging
        # Only the page asked for is spelled out (long walks stay linear).
        limit, start = paging
        page = found.messages[start : start + limit]
        return web.json_response([self._message_json(found, m) for m in page])

    # -- writing -------------------------------------------------------------
    async def _send(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        if isinstance(owner, web.Response):
            return owner
        sid = request.match_info["messagesession"]
        user = owner[1]
        if sid not in self.sessions[user] and not _NEW_SESSION_ID.fullmatch(sid):
            return json_error(
                400,
                {
                    "code": 400,
                    "message": "messagesession must be at least 32 random alphanumeric "
                    "or underscore characters",
                },
            )
        return await self._accept_message(request, user, sid)

    async def _start(self, request: web.Request) -> web.Response:
        owner = self._owner(request)
        if isinstance(owner, web.Response):
            return owner
        return await self._accept_message(request, owner[1], secrets.token_hex(16))

    async def _accept_message(self, request: web.Request, user: str, sid: str) -> web.Response:
        body = await _json_body(request)
        problem = _check_send(body)
        if problem:
            return json_error(400, {"code": 400, "message": problem})
        assert isinstance(body, dict)
        msg_type: str = body["type"]
        raw_dest = body["destination"]
        dest: list[str] = [raw_dest] if isinstance(raw_dest, str) else list(raw_dest)
        sms = msg_type in ("sms", "mms")
        if sms and str(body.get("from-number", "")).lstrip("+") != self.sms_number:
            return json_error(
                403, {"code": 403, "message": "from-number is not assigned to this user"}
            )
        if not sms:
            unknown = [d for d in dest if d.split("@", 1)[0] not in self.users]
            if unknown:
                return json_error(
                    404, {"code": 404, "message": f"User {unknown[0]} does not exist"}
                )
        media = base64.b64decode(body["data"]) if body.get("data") else b""
        uid = f"{user}@{self.domain}"
        remote = [d.lstrip("+") for d in dest] if sms else [_uid(d, self.domain) for d in dest]
        message = self._message(
            msg_type,
            "term" if sms else "",
            body["message"],
            from_number=self.sms_number if sms else "",
            from_user=uid,
            terminating="" if sms else ",".join(remote),
            terminating_number=",".join(remote) if sms else "",
            media_type=body.get("mime-type") or "",
            media=media,
        )
        state = self._session_for(user, sid, remote, msg_type)
        if sms:
            state.sms_number = self.sms_number
        state.messages.insert(0, message)
        if not sms:
            # Local recipients see the same session from their side.
            for target in remote:
                other = target.split("@", 1)[0]
                peers = [r for r in remote if r != target] + [uid]
                mirror = self._session_for(other, sid, peers, msg_type)
                mirror.messages.insert(0, attrs.evolve(message, status="unread"))
        return _accepted()

    async def _update(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        body = await _json_body(request)
        if isinstance(body, dict) and isinstance(body.get("session-name"), str):
            found.name = body["session-name"]
        elif isinstance(body, dict) and isinstance(body.get("participants"), str):
            found.participants = [p.strip() for p in body["participants"].split(",") if p.strip()]
            me = f"{found.user}@{self.domain}"
            found.remote = [p for p in found.participants if p != me]
        else:
            return json_error(
                400, {"code": 400, "message": "participants or session-name is required"}
            )
        return _accepted()

    async def _remove(self, request: web.Request) -> web.Response:
        # Leaving and deleting both take the session off this user's list.
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        del self.sessions[found.user][found.id]
        return _accepted()

    # -- representation --------------------------------------------------------
    def _find(self, request: web.Request) -> NsSession | web.Response:
        owner = self._owner(request)
        if isinstance(owner, web.Response):
            return owner
        sid = request.match_info["messagesession"]
        if not _ANY_SESSION_ID.fullmatch(sid):
            return json_error(400, {"code": 400, "message": "Invalid messagesession"})
        found = self.sessions[owner[1]].get(sid)
        if found is None:
            return json_error(404, {"code": 404, "message": f"Messagesession {sid} not found"})
        return found

    def _session_for(self, user: str, sid: str, remote: list[str], msg_type: str) -> NsSession:
        existing = self.sessions[user].get(sid)
        if existing is not None:
            return existing
        group = len(remote) > 1
        kind = "" if not group else ("group-sms" if msg_type in ("sms", "mms") else "group-chat")
        me = remote if msg_type in ("sms", "mms") else [*remote, f"{user}@{self.domain}"]
        state = NsSession(
            id=sid,
            user=user,
            remote=list(remote),
            type=kind,
            participants=me if group else [],
            started=self.clock(),
        )
        self.sessions[user][sid] = state
        return state

    def _message(
        self,
        msg_type: str,
        direction: str,
        text: str,
        *,
        from_number: str = "",
        from_user: str = "",
        terminating: str = "",
        terminating_number: str = "",
        media_type: str = "",
        media: bytes = b"",
        at: datetime | None = None,
    ) -> NsMessage:
        self._ids += 1
        return NsMessage(
            id=f"m-{self._ids:013x}",
            at=at or self.clock(),
            type=msg_type,
            direction=direction,
            text=text,
            from_number=from_number,
            from_user_id=from_user,
            terminating_user_id=terminating,
            terminating_number=terminating_number,
            status="sending" if direction != "orig" else "",
            media_type=media_type,
            media=media,
        )

    def _stamp(self, at: datetime | None) -> str | None:
        if at is None:
            return None
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def _number(self, value: str) -> int | str:
        # Recorded payloads send phone numbers as JSON numbers.
        return int(value) if value.isascii() and value.isdigit() and len(value) >= 7 else value

    def _session_json(self, s: NsSession) -> dict[str, Any]:
        last = s.last
        suffix = self.timestamp_spelling
        remote: int | str = ",".join(s.remote)
        if len(s.remote) == 1:
            remote = self._number(s.remote[0])
        return {
            "user": s.user,
            "domain": self.domain,
            "messagesession-id": s.id,
            "messagesession-remote": remote,
            "messagesession-sms-number": self._number(s.sms_number) if s.sms_number else "",
            f"messagesession-last-{suffix}": self._stamp(last.at if last else s.started),
            f"messagesession-start-{suffix}": self._stamp(s.started),
            "messagesession-last-message": last.text if last else None,
            "messagesession-last-sender": (last.from_user_id or last.from_number) if last else None,
            "messagesession-last-status": "read",
            "messagesession-muted": "no",
            f"messagesession-last-email-reminder-{suffix}": None,
            "messagesession-reciever-hostname": _HOSTNAME,
            "messagesession-queue-termination": None,
            "messagesession-queue-status": None,
            "messagesession-queue-session-id": None,
            f"messagesession-agent-start-{suffix}": None,
            "messagesession-last-type": last.type if last else None,
            "messagesession-last-media-type": last.media_type if last else "",
            "messagesession-last-media-size": len(last.media) if last else 0,
            "messagesession-type": s.type,
            "messagesession-name": s.name,
            "messagesession-participants": ",".join(s.participants) or None,
        }

    def _message_json(self, s: NsSession, m: NsMessage) -> dict[str, Any]:
        return {
            "id": m.id,
            "timestamp": self._stamp(m.at),
            "type": m.type,
            "domain": self.domain,
            "direction": m.direction,
            "dialed": "",
            "text": m.text,
            "status": m.status,
            "messagesession-reciever-hostname": _HOSTNAME,
            "from-number": self._number(m.from_number) if m.from_number else "",
            "from-user-id": m.from_user_id,
            "from-video-attendee-id": None,
            "from-user-agent": "messaging-hub-fake/1.0",
            "terminating-user-id": m.terminating_user_id,
            "terminating-number": m.terminating_number,
            "messagesession-id": s.id,
            "video-instance-id": None,
            "media-type": m.media_type,
            "media-size": len(m.media),
            "messagesession-participants": ",".join(s.participants) or None,
            f"deleted-{self.timestamp_spelling}": "",
        }

    @staticmethod
    def _page(items: list[dict[str, Any]], limit: int, start: int) -> list[dict[str, Any]]:
        return items[start : start + limit]


def _accepted() -> web.Response:
    return web.json_response({"code": 202, "message": "Accepted"}, status=202)


def _uid(value: str, domain: str) -> str:
    return value if "@" in value else f"{value}@{domain}"


def _recent(items: list[NsSession]) -> list[NsSession]:
    epoch = datetime.fromtimestamp(0, UTC)
    return sorted(
        items,
        key=lambda s: (s.last.at if s.last else s.started or epoch, s.id),
        reverse=True,
    )


def _paging(request: web.Request) -> tuple[int, int] | web.Response:
    try:
        limit = int(request.query.get("limit", "100"))
        start = int(request.query.get("start", "0"))
    except ValueError:
        return json_error(400, {"code": 400, "message": "limit and start must be integers"})
    if not 1 <= limit <= 1000 or start < 0:
        return json_error(400, {"code": 400, "message": "limit must be 1-1000 and start >= 0"})
    return limit, start


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _check_send(body: Any) -> str | None:
    """The first problem with a ``MessageSend`` body, or None."""
    if not isinstance(body, dict):
        return "Invalid JSON body"
    for field in ("type", "message", "destination"):
        if field not in body:
            return f"{field} is required"
    if body["type"] not in _TYPES:
        return f"Unsupported message type {body['type']!r}"
    if not isinstance(body["message"], str):
        return "message must be a string"
    dest = body["destination"]
    if not (isinstance(dest, str) and dest) and not (
        isinstance(dest, list) and dest and all(isinstance(d, str) and d for d in dest)
    ):
        return "destination must be a string or a non-empty array of strings"
    if body["type"] in ("sms", "mms") and not body.get("from-number"):
        return "from-number is required for SMS and MMS"
    if body["type"] in ("mms", "chat-media"):
        if not body.get("data") or not body.get("mime-type"):
            return "data and mime-type are required for media messages"
        try:
            data = base64.b64decode(body["data"], validate=True)
        except (binascii.Error, ValueError):
            return "data must be base64"
        if body.get("size") is not None and body["size"] != len(data):
            return "size does not match data"
    return None
