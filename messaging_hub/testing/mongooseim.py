"""A fake MongooseIM 6.5.0 serving its three messaging APIs from one archive.

Written from ``Administration-backend_swagger.yml``, ``Client-frontend_swagger.yml``
and the ``stanza`` GraphQL schemas, checked against the 6.5.0 server source.
In reality each API listens on its own port; here all share one origin:

* admin REST under ``/api`` (``/api/messages``, ``/api/messages/{owner}[/{with}]``);
* client REST under ``/client/api`` (``/client/api/messages[/{with}]``,
  and the ``/client/api/sse`` event stream);
* GraphQL at ``/api/graphql`` (the user schema, or the admin schema when
  ``graphql_admin=True``), plus ``/user/api/graphql`` and
  ``/admin/api/graphql`` which always serve that schema; each with ``/sse``
  for the ``subscribeForMessages`` subscription.

``api`` only chooses what :attr:`FakeMongooseIM.config` points at. GraphQL
(the API MongooseIM keeps after 6.6.0) needs graphql-core, the ``testing``
extra; it is imported only when GraphQL is used.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from messaging_hub.testing._server import FakeServer
from messaging_hub.testing.mongooseim_archive import (
    DEFAULT_MAX_RESULT_LIMIT,
    ArchivedMessage,
    Jid,
    MessageArchive,
    SendError,
    parse_jid,
)
from messaging_hub.testing.mongooseim_push import SseStreams
from messaging_hub.testing.mongooseim_schema import GraphQLError, Role, SdlSource

if TYPE_CHECKING:
    from messaging_hub.testing.mongooseim_graphql import GraphQLEndpoint

__all__ = ["ArchivedMessage", "FakeMongooseIM"]

Api = Literal["admin-rest", "client-rest", "graphql"]
_INT = re.compile(r"[+-]?[0-9]+")
_DEFAULT_USERS = {"alice@localhost": "secret", "bob@localhost": "secret"}


def _now() -> datetime:
    return datetime.now(UTC)


class _RestError(Exception):
    """``throw_error(Type, Msg)``: answered as a JSON-encoded string."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bare_reply(
    status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> web.Response:
    """A reply as ``cowboy_req:reply(Code, #{}, Body)`` sends it: no JSON content type.

    (The server sends none at all; aiohttp labels the body
    ``application/octet-stream``, which is what aiohttp clients assume for a
    missing Content-Type anyway.)
    """
    return web.Response(status=status, body=body, headers=headers)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        content_type="application/json",
    )


def _basic(request: web.Request) -> tuple[str, str] | None:
    """``cowboy_req:parse_header(<<"authorization">>)`` for Basic; None otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class FakeMongooseIM(FakeServer):
    """In-memory MongooseIM 6.5.0: admin REST, client REST and GraphQL over one MAM archive.

    Constructor arguments:

    * ``api``: ``"graphql"`` (default, the API MongooseIM keeps after 6.6.0;
      needs graphql-core, ``pip install 'messaging-hub[testing]'``),
      ``"admin-rest"`` or ``"client-rest"``. Only chooses what :attr:`config`
      points at: every API is served whatever it is.
    * ``users``: bare JID -> password (default ``alice@localhost`` and
      ``bob@localhost``, both ``"secret"``); their domains are local.
    * ``owner``: the user :attr:`config` acts for (default: the first user).
    * ``admin_credentials``: ``(login, password)`` guarding the admin REST API
      and the admin GraphQL schema (default ``("admin", "secret")``); None
      leaves them open and then, like the server, refuses requests that do
      send Basic auth.
    * ``graphql_admin``: ``/api/graphql`` and :attr:`config` use the admin
      schema (``from``/``caller`` arguments) instead of the user schema.
    * ``graphql_sdl``: what GraphQL documents are validated against:
      ``"auto"`` (MongooseIM's 6.5.0 SDL files in ``shared/specs`` beside a
      checkout when there, else the SDL bundled with the fake), ``"bundled"``,
      or a folder holding ``global_scalar_types.gql``, ``global_stanza.gql``
      and ``{user,admin}_stanza.gql``.
    * ``domains``: more local domains (users' domains always are).
    * ``max_result_limit``: ``mod_mam``'s cap on one read (default 50).
    * ``clock``: returns the aware datetime stamped on new messages.
    * ``host``/``port``: where to listen (default 127.0.0.1, a free port).

    Knobs and helpers: :attr:`config`, :attr:`users`, :attr:`owner`,
    :attr:`store` (the archive), :meth:`archive` (one user's rows),
    :meth:`deliver_inbound` (``deliver_inbound(sender, text, to=owner, ...)``:
    a message from anyone, thread/parent/properties included; pushed to the
    recipient's open SSE streams), :meth:`seed_conversation` (n messages,
    shared timestamps for paging tests), :attr:`archive_reads` (archive
    lookups answered, by any API: proof that a listener did not poll),
    :meth:`sse_streams` (streams open now), :attr:`sse_connections` (streams
    ever opened), :meth:`drop_sse` (cut every open stream). From
    :class:`FakeServer`: :meth:`fail` (queue a :class:`Fault`: status/body,
    ``reset``, ``delay``, ``truncate``, ``after``, ``transform``, matched by
    ``method``/``path``, ``times``; a fault on ``/sse`` refuses reconnects),
    :attr:`pending_faults`, :meth:`clear_faults`, :attr:`requests` and
    :meth:`requests_to` (what reached the wire), :attr:`origin`,
    :attr:`ssl_context` (set before start to serve HTTPS). MongooseIM has no
    rate limits, sender ids or tokens, so neither has the fake.
    """

    provider = "mongooseim"

    def __init__(
        self,
        api: Api = "graphql",
        users: Mapping[str, str] | None = None,
        *,
        owner: str | None = None,
        admin_credentials: tuple[str, str] | None = ("admin", "secret"),
        graphql_admin: bool = False,
        graphql_sdl: SdlSource = "auto",
        domains: tuple[str, ...] = (),
        max_result_limit: int = DEFAULT_MAX_RESULT_LIMIT,
        clock: Callable[[], datetime] = _now,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if api not in ("admin-rest", "client-rest", "graphql"):
            raise ValueError(f"unknown MongooseIM api: {api!r}")
        if api == "graphql":
            _graphql_module()  # say now, not at the first request, that graphql-core is missing
        users = dict(_DEFAULT_USERS if users is None else users)
        self.api: Api = api
        self.graphql_admin = graphql_admin
        self.graphql_sdl: SdlSource = graphql_sdl
        self.admin_credentials = admin_credentials
        self.store = MessageArchive(
            users, domains=domains, clock=clock, max_result_limit=max_result_limit
        )
        owner = owner if owner is not None else next(iter(users))
        owner_jid = parse_jid(owner)
        if owner_jid is None or owner_jid.lbare not in self.store.passwords:
            raise ValueError(f"owner {owner!r} is not one of the users")
        self.owner = owner_jid.bare
        self._users = users
        self._endpoints: dict[Role, GraphQLEndpoint] = {}
        self._sse = SseStreams(self.store)
        super().__init__(host=host, port=port)

    # -- wiring -----------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        """Mount the three APIs."""
        r = app.router
        r.add_route("*", "/api/messages", self._admin_messages)
        r.add_route("*", "/api/messages/{owner}", self._admin_messages)
        r.add_route("*", "/api/messages/{owner}/{with}", self._admin_messages)
        r.add_route("*", "/client/api/messages", self._client_messages)
        r.add_route("*", "/client/api/messages/{with}", self._client_messages)
        r.add_route("*", "/client/api/sse", self._client_sse)
        r.add_route("*", "/api/graphql", self._graphql_default)
        r.add_route("*", "/user/api/graphql", self._graphql_user)
        r.add_route("*", "/admin/api/graphql", self._graphql_admin)
        r.add_route("*", "/api/graphql/sse", self._graphql_sse_default)
        r.add_route("*", "/user/api/graphql/sse", self._graphql_sse_user)
        r.add_route("*", "/admin/api/graphql/sse", self._graphql_sse_admin)

    @property
    def config(self) -> dict[str, Any]:
        """Options for ``messaging_hub.connect`` reaching the selected API as ``owner``."""
        cfg: dict[str, Any] = {"provider": "mongooseim", "api": self.api, "owner": self.owner}
        user_creds = {"username": self.owner, "password": self.store.passwords[self.owner.lower()]}
        if self.api == "admin-rest":
            cfg["base_url"] = f"{self.origin}/api"
            if self.admin_credentials is not None:
                cfg["username"], cfg["password"] = self.admin_credentials
        elif self.api == "client-rest":
            cfg["base_url"] = f"{self.origin}/client/api"
            cfg.update(user_creds)
        else:
            cfg["base_url"] = f"{self.origin}/api/graphql"
            if self.graphql_admin:
                cfg["graphql_role"] = "admin"
                if self.admin_credentials is not None:
                    cfg["username"], cfg["password"] = self.admin_credentials
            else:
                cfg.update(user_creds)
        return cfg

    # -- test helpers ---------------------------------------------------------------
    @property
    def users(self) -> dict[str, str]:
        """The local users and their passwords."""
        return dict(self._users)

    def archive(self, owner: str) -> list[ArchivedMessage]:
        """Everything in ``owner``'s archive, oldest first."""
        return self.store.rows(owner)

    def deliver_inbound(
        self,
        sender: str,
        text: str,
        *,
        to: str | None = None,
        timestamp: datetime | None = None,
        stanza_id: str | None = None,
        thread: str | None = None,
        parent: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> ArchivedMessage:
        """A chat message from ``sender`` (a JID, local or remote) reaching local ``to``
        (default: :attr:`owner`), archived and pushed to ``to``'s open SSE streams.

        Returns the row in the recipient's archive.
        """
        to_jid = self.owner if to is None else to
        from_, recipient = parse_jid(sender), parse_jid(to_jid)
        if from_ is None or recipient is None:
            raise ValueError("sender and to must be valid JIDs")
        if recipient.lbare not in self.store.passwords:
            raise ValueError(f"{to_jid!r} is not a local user")
        rows = self.store.store(
            from_,
            recipient,
            text,
            stanza_id=stanza_id,
            timestamp=timestamp,
            thread=thread,
            parent=parent,
            properties=properties,
        )
        return next(row for row in rows if row.owner == recipient.lbare)

    @property
    def archive_reads(self) -> int:
        """Archive lookups answered so far, by any API."""
        return self.store.reads

    @property
    def sse_connections(self) -> int:
        """SSE streams ever opened (client REST and GraphQL)."""
        return self._sse.opened

    def sse_streams(self, user: str | None = None) -> int:
        """SSE streams open now (``user``'s only, when given)."""
        jid = None if user is None else parse_jid(user)
        return self._sse.count(None if jid is None else jid.lbare)

    def drop_sse(self) -> int:
        """Cut every open SSE stream without a clean end; how many there were.

        Messages delivered before the client reconnects reach no stream: they
        are only in the archive (as on a server whose stream dropped)."""
        return self._sse.drop()

    def seed_conversation(
        self,
        owner: str,
        with_jid: str,
        n: int,
        *,
        same_timestamp: bool | int = False,
        step: float = 1.0,
        end: datetime | None = None,
    ) -> list[ArchivedMessage]:
        """Archive ``n`` messages between ``owner`` and ``with_jid``, alternating direction.

        Bodies are ``"message 1"`` … ``"message n"``; they are ``step`` seconds
        apart and the last is at ``end`` (default: the clock's now).
        ``same_timestamp=True`` stamps them all alike; an integer ``k`` stamps
        each run of ``k`` consecutive messages alike (for ``before`` paging).
        "Alike" is as REST shows them: like MongooseIM, the archive gives each
        message its own microsecond (the next free one), so GraphQL tells them apart.
        Returns the rows in ``owner``'s archive, oldest first.
        """
        me, other = parse_jid(owner), parse_jid(with_jid)
        if me is None or other is None or me.lbare not in self.store.passwords:
            raise ValueError("owner must be a local user and with_jid a valid JID")
        last = end if end is not None else self.store.clock()
        group = n if same_timestamp is True else int(same_timestamp) or 1
        slots = (n + group - 1) // group
        out: list[ArchivedMessage] = []
        for i in range(n):
            slot = i // group
            when = last - timedelta(seconds=(slots - 1 - slot) * step)
            src, dst = (me, other) if i % 2 == 0 else (other, me)
            rows = self.store.store(src, dst, f"message {i + 1}", timestamp=when)
            out.extend(row for row in rows if row.owner == me.lbare)
        return out

    # -- admin REST ---------------------------------------------------------------------
    def _admin_authorized(self, request: web.Request) -> bool:
        creds = _basic(request)
        if self.admin_credentials is None:
            return creds is None  # the server refuses Basic auth it was not configured with
        return creds == self.admin_credentials

    async def _admin_messages(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST", "OPTIONS"):
            return _bare_reply(405, headers={"Allow": "OPTIONS, GET, POST"})
        if not self._admin_authorized(request):
            return _bare_reply(401, headers={"WWW-Authenticate": 'Basic realm="mongooseim"'})
        if request.method == "OPTIONS":
            return _bare_reply(200, headers={"Allow": "OPTIONS, GET, POST"})
        refused = _negotiate(request)
        if refused is not None:
            return refused
        try:
            if request.method == "GET":
                return await self._admin_get(request)
            return await self._admin_post(request)
        except _RestError as err:
            return _bare_reply(err.status, json.dumps(err.message).encode())

    async def _admin_get(self, request: web.Request) -> web.Response:
        owner_text = request.match_info.get("owner")
        if owner_text is None:
            raise _RestError(404, "Missing owner JID")
        owner = parse_jid(owner_text)
        if owner is None:
            raise _RestError(400, "Invalid owner JID")
        with_jid = self._with(request)
        limit = _limit(request, 100)
        before = _before(request, 1_000_000)
        refusal = self.store.check_user(owner)
        if refusal is not None:
            raise _RestError(400, refusal.message)
        rows = self.store.lookup(owner, with_jid, before, self.store.effective_limit(limit))
        return _json([_admin_row(row) for row in rows])

    async def _admin_post(self, request: web.Request) -> web.StreamResponse:
        if request.match_info.get("owner") is not None:
            # cowboy_rest: POST to an existing resource without a handler for it
            raise _RestError(400, "Invalid request body")
        args = await _json_object(request)
        caller = _jid_arg(args, "caller", "Missing sender JID", "Invalid sender JID")
        to = _jid_arg(args, "to", "Missing recipient JID", "Invalid recipient JID")
        if "body" not in args:
            raise _RestError(400, "Missing message body")
        body = args["body"]
        if not isinstance(body, str):
            return _bare_reply(500)  # the server crashes building the stanza
        result = self.store.send(user=None, from_jid=caller, to=to, body=body)
        if isinstance(result, SendError):
            raise _RestError(400, result.message)
        return _bare_reply(204)

    def _with(self, request: web.Request) -> Jid | None:
        text = request.match_info.get("with")
        if text is None:
            return None
        jid = parse_jid(text)
        if jid is None:
            raise _RestError(400, "Invalid interlocutor JID")
        return jid

    # -- client REST ---------------------------------------------------------------------
    def _client_user(self, request: web.Request) -> Jid | None:
        creds = _basic(request)
        if creds is None:
            return None
        jid = parse_jid(creds[0])
        return jid if self.store.check_password(jid, creds[1]) else None

    async def _client_messages(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST", "OPTIONS"):
            return _bare_reply(405, headers={"Allow": "OPTIONS, GET, POST"})
        if request.method == "OPTIONS":  # the client API lets OPTIONS through unauthenticated
            return _bare_reply(200, headers={"Allow": "OPTIONS, GET, POST"})
        user = self._client_user(request)
        if user is None:
            return _bare_reply(401, headers={"WWW-Authenticate": 'Basic realm="mongooseim"'})
        refused = _negotiate(request)
        if refused is not None:
            return refused
        try:
            if request.method == "GET":
                with_jid = self._with(request)
                limit = _limit(request, 50)
                before = _before(request, 1_000)
                rows = self.store.lookup(user, with_jid, before, self.store.effective_limit(limit))
                return _json([_client_row(row) for row in rows])
            if request.match_info.get("with") is not None:
                raise _RestError(400, "Invalid request body")
            args = await _json_object(request)
            to = _jid_arg(args, "to", "Missing recipient JID", "Invalid recipient JID")
            if "body" not in args:
                raise _RestError(400, "Missing message body")
            if not isinstance(args["body"], str):
                return _bare_reply(500)
            result = self.store.send(user=user, from_jid=None, to=to, body=args["body"])
            if isinstance(result, SendError):  # pragma: no cover - the user was authenticated
                raise _RestError(400, result.message)
            return _json({"id": result})
        except _RestError as err:
            return _bare_reply(err.status, json.dumps(err.message).encode())

    async def _client_sse(self, request: web.Request) -> web.StreamResponse:
        """``mongoose_client_api_sse``: chat messages routed to the user, as ``message`` events."""
        if request.method not in ("GET", "OPTIONS"):
            return _bare_reply(405, headers={"Allow": "GET, OPTIONS"})
        if request.method == "OPTIONS":
            return _bare_reply(200)
        user = self._client_user(request)
        if user is None:
            return _bare_reply(401, headers={"WWW-Authenticate": 'Basic realm="mongooseim"'})

        def render(row: ArchivedMessage) -> tuple[str | None, str] | None:
            if row.message_type != "chat":
                return None  # groupchat goes out as room.message; the rest not at all
            data = _client_row(row)
            data["timestamp"] = _now_us()  # os:system_time(microsecond) at the push
            return "message", json.dumps(data, separators=(",", ":"))

        return await self._sse.serve(request, user.lbare, render)

    # -- GraphQL ---------------------------------------------------------------------------
    async def _graphql_default(self, request: web.Request) -> web.StreamResponse:
        return await self._graphql(request, "admin" if self.graphql_admin else "user")

    async def _graphql_user(self, request: web.Request) -> web.StreamResponse:
        return await self._graphql(request, "user")

    async def _graphql_admin(self, request: web.Request) -> web.StreamResponse:
        return await self._graphql(request, "admin")

    def _graphql_auth(self, request: web.Request, role: Role) -> tuple[bool, Jid | None]:
        """``check_auth``: (authorized, user); raises for wrong credentials."""
        creds = _basic(request)
        wrong = GraphQLError("The provided credentials are wrong", "wrong_credentials", None, 401)
        if role == "user":
            if creds is None:
                return False, None
            jid = parse_jid(creds[0])
            if not self.store.check_password(jid, creds[1]):
                raise wrong
            return True, jid
        if creds is not None:
            if creds != self.admin_credentials:
                raise wrong
            return True, None
        return self.admin_credentials is None, None

    async def _graphql(self, request: web.Request, role: Role) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            return _bare_reply(405, headers={"Allow": "GET, POST"})
        try:
            authorized, user = self._graphql_auth(request, role)
            if request.method == "POST":
                ctype = request.content_type
                if ctype != "application/json":
                    return _bare_reply(415)
                try:
                    params = json.loads(await request.read())
                except (ValueError, UnicodeDecodeError):
                    params = None
                if not isinstance(params, dict):
                    raise GraphQLError(
                        "The request JSON body is invalid", "invalid_json_body", None
                    )
            else:
                params = dict(request.query)
            if "query" not in params:
                raise GraphQLError(
                    "The query was not supplied in the request body", "no_query_supplied", None
                )
            variables = params.get("variables")
            if isinstance(variables, str):
                try:
                    variables = json.loads(variables)
                except ValueError:
                    variables = []
            if variables is not None and not isinstance(variables, dict):
                raise GraphQLError("The variables' JSON is invalid", "variables_invalid_json", None)
            query = params["query"]
            if not isinstance(query, str):
                raise GraphQLError("The request JSON body is invalid", "invalid_json_body", None)
            endpoint = self.graphql_endpoint(role)
            body = endpoint.execute(
                user, authorized, query, variables or {}, params.get("operationName")
            )
        except GraphQLError as err:
            return _json({"errors": [err.error]}, status=err.status)
        except ImportError as err:  # graphql-core is missing: say so to the client
            error = {"message": str(err), "extensions": {"code": "internal_server_error"}}
            return _json({"errors": [error]}, status=500)
        return _json(body)

    async def _graphql_sse_default(self, request: web.Request) -> web.StreamResponse:
        return await self._graphql_sse(request, "admin" if self.graphql_admin else "user")

    async def _graphql_sse_user(self, request: web.Request) -> web.StreamResponse:
        return await self._graphql_sse(request, "user")

    async def _graphql_sse_admin(self, request: web.Request) -> web.StreamResponse:
        return await self._graphql_sse(request, "admin")

    async def _graphql_sse(self, request: web.Request, role: Role) -> web.StreamResponse:
        """``mongoose_graphql_sse_handler``: a subscription's events (GET only)."""
        if request.method != "GET":
            return _bare_reply(405, headers={"Allow": "GET"})
        try:
            authorized, user = self._graphql_auth(request, role)
            params = dict(request.query)
            if "query" not in params:
                raise GraphQLError(
                    "The query was not supplied in the request body", "no_query_supplied", None
                )
            variables: Any = params.get("variables")
            if isinstance(variables, str):
                try:
                    variables = json.loads(variables)
                except ValueError:
                    variables = []
            if variables is not None and not isinstance(variables, dict):
                raise GraphQLError("The variables' JSON is invalid", "variables_invalid_json", None)
            subscription = self.graphql_endpoint(role).subscribe(
                user, authorized, params["query"], variables or {}, params.get("operationName")
            )
        except GraphQLError as err:
            return _json({"errors": [err.error]}, status=err.status)
        except ImportError as err:
            error = {"message": str(err), "extensions": {"code": "internal_server_error"}}
            return _json({"errors": [error]}, status=500)
        if subscription.refusal is not None:
            return _json(subscription.refusal)

        def render(row: ArchivedMessage) -> tuple[str | None, str] | None:
            event = subscription.event(row, _now_us())
            return None, json.dumps(event, separators=(",", ":"))

        return await self._sse.serve(request, subscription.caller.lbare, render)

    def graphql_endpoint(self, role: Role) -> GraphQLEndpoint:
        """The GraphQL schema ``role`` is served with (built on first use)."""
        endpoint = self._endpoints.get(role)
        if endpoint is None:
            endpoint = _graphql_module().GraphQLEndpoint(self.store, role, self.graphql_sdl)
            self._endpoints[role] = endpoint
        return endpoint


def _now_us() -> int:
    """The wall clock in Unix microseconds (what the server stamps pushes with)."""
    return time.time_ns() // 1_000


def _graphql_module() -> ModuleType:
    """``mongooseim_graphql``, imported on first use: it needs graphql-core.

    Raises ImportError naming the ``testing`` extra when graphql-core is missing.
    """
    return importlib.import_module("messaging_hub.testing.mongooseim_graphql")


# -- REST helpers ------------------------------------------------------------------------


def _negotiate(request: web.Request) -> web.Response | None:
    """cowboy_rest content negotiation: JSON only (406 / 415 otherwise)."""
    accept = request.headers.get("Accept", "*/*")
    media = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if not any(m in ("*/*", "application/*", "application/json") for m in media):
        return _bare_reply(406)
    if request.method == "POST" and request.content_type != "application/json":
        return _bare_reply(415)
    return None


def _limit(request: web.Request, default: int) -> int:
    text = request.query.get("limit")
    if text is None:
        return default
    if not _INT.fullmatch(text) or int(text) < 0:
        raise _RestError(400, "Invalid limit")
    return int(text)


def _before(request: web.Request, to_us: int) -> int | None:
    text = request.query.get("before")
    if text is None:
        return None
    if not _INT.fullmatch(text):
        raise _RestError(400, "Invalid value of 'before'")
    return int(text) * to_us


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        decoded = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        decoded = None
    if not isinstance(decoded, dict):
        raise _RestError(400, "Invalid request body")
    return decoded


def _jid_arg(args: Mapping[str, Any], key: str, missing: str, invalid: str) -> Jid:
    if key not in args:
        raise _RestError(400, missing)
    jid = parse_jid(args[key])
    if jid is None:
        raise _RestError(400, invalid)
    return jid


def _round_seconds(micros: int) -> int:
    """``round(Us / 1000000)``: Erlang rounds halves away from zero."""
    return (micros + 500_000) // 1_000_000 if micros >= 0 else -((-micros + 500_000) // 1_000_000)


def _admin_row(row: ArchivedMessage) -> dict[str, Any]:
    return {
        "sender": row.sender,
        "timestamp": _round_seconds(row.timestamp_us),
        "message_id": row.stanza_id,
        "body": row.body,
    }


def _client_row(row: ArchivedMessage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "from": row.sender,
        "to": row.recipient,
        "id": row.stanza_id,
        "body": row.body,
        "timestamp": row.timestamp_us // 1_000,
    }
    if row.properties is not None:
        out["properties"] = dict(row.properties)
    if row.thread is not None:
        out["thread"] = row.thread
        if row.parent is not None:
            out["parent"] = row.parent
    return out
