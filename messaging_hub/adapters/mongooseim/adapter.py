"""The MongooseIM adapter: one-to-one chat over admin REST, client REST or GraphQL.

Pick the API with ``api``. A conversation (session) is the peer's bare
JID, lower-cased; ``send`` posts a chat message from ``owner``,
``history(jid)`` walks the MAM archive with that peer backwards, and
``sessions()`` derives the owner's conversations from the recent archive
(MongooseIM stores no conversation objects). Nothing deletes an archive,
so ``delete`` is unsupported.

Inbound (``listen()``): client REST and GraphQL push over Server-Sent
Events (client REST ``GET /sse``, GraphQL's ``subscribeForMessages``
subscription at ``<endpoint>/sse``) and catch up from the archive after a
gap, so they declare ``Capability.PUSH`` (see :mod:`.push`). Admin REST
has no push endpoint: its ``listen()`` falls back to polling the derived
sessions' history (``poll_interval``, ``lookback``), with no PUSH.

Default base URLs (the 6.5.0 swagger hosts and GraphQL listeners):
admin REST ``http://localhost:8088/api``, client REST
``http://localhost:8089/api``, GraphQL user ``http://localhost:5561/api/graphql``,
GraphQL admin ``http://localhost:5551/api/graphql``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

import aiohttp
import attrs

from ...adapter import Adapter, Capability
from ...config import TransportOptions, structure_options
from ...errors import ConfigError, InvalidRequest, UnsupportedOperation
from ...models import (
    Address,
    AddressKind,
    Message,
    MessageKind,
    MessageStatus,
    Outgoing,
    Receipt,
    Session,
)
from ...secret import Secret
from ...transport import AuthStrategy, BasicAuth, NoAuth
from .admin_rest import AdminRestAPI
from .backends import AdminRestBackend, Backend, ClientRestBackend, GraphQLBackend, Row
from .client_rest import ClientRestAPI
from .errors import graphql_error_parser, rest_error_parser, typed
from .graphql import GraphQLAPI
from .jid import Jid, parse_jid
from .paging import walk_back

if TYPE_CHECKING:
    from ...inbound.source import InboundSource

__all__ = ["DEFAULT_BASE_URLS", "MongooseIMAdapter", "MongooseIMOptions", "NativeClient"]

PROVIDER = "mongooseim"
APIS = ("admin-rest", "client-rest", "graphql")
ROLES = ("user", "admin")
DEFAULT_BASE_URLS = {
    ("admin-rest", None): "http://localhost:8088/api",
    ("client-rest", None): "http://localhost:8089/api",
    ("graphql", "user"): "http://localhost:5561/api/graphql",
    ("graphql", "admin"): "http://localhost:5551/api/graphql",
}
MAX_RESULT_LIMIT = 50
"""mod_mam's default ``max_result_limit``: no page is ever longer."""
REMEMBERED_RECIPIENTS = 20
"""Admin REST: how many of the latest recipients ``sessions()`` looks up (one read each)."""

NativeClient = AdminRestAPI | ClientRestAPI | GraphQLAPI


def _config_jid(value: str, key: str) -> Jid:
    try:
        return parse_jid(value, field=key, allow_resource=False)
    except InvalidRequest as exc:
        raise ConfigError(f"option {key!r}: {exc.message}", key=key, provider=PROVIDER) from None


@attrs.frozen(kw_only=True)
class MongooseIMOptions(TransportOptions):
    """Options of ``connect("mongooseim", ...)``.

    ``api`` is ``"admin-rest"``, ``"client-rest"`` or ``"graphql"``;
    ``owner`` the bare JID whose messages are sent and read. Basic
    credentials (``username``/``password``) are optional for admin REST and
    the GraphQL admin role, required otherwise, where ``username`` is the
    user's JID and ``owner`` defaults to it. ``page_size`` (1..50, mod_mam's
    default ``max_result_limit``) is the archive page asked for; a server
    configured with a lower cap answers shorter pages and the walk follows.
    """

    api: str
    base_url: str | None = None
    owner: str | None = None
    username: str | None = None
    password: Secret | None = attrs.field(default=None, repr=False)
    graphql_role: str | None = None
    page_size: int = MAX_RESULT_LIMIT

    def __attrs_post_init__(self) -> None:
        if self.api not in APIS:
            raise ConfigError(f"api must be one of {', '.join(APIS)}", key="api")
        if self.graphql_role is not None:
            if self.api != "graphql":
                raise ConfigError("graphql_role applies to api='graphql' only", key="graphql_role")
            if self.graphql_role not in ROLES:
                raise ConfigError("graphql_role must be 'user' or 'admin'", key="graphql_role")
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise ConfigError(
                f"username and password go together; {missing} is missing", key=missing
            )
        if not 1 <= self.page_size <= MAX_RESULT_LIMIT:
            raise ConfigError(f"page_size must be 1..{MAX_RESULT_LIMIT}", key="page_size")
        if self.acts_as_user:
            if self.username is None:
                raise ConfigError(
                    f"{self.api} ({self.role} role) needs username (the user's JID) and password",
                    key="username",
                )
            user = _config_jid(self.username, "username")
            if self.owner is not None and _config_jid(self.owner, "owner").key != user.key:
                raise ConfigError(
                    "owner must be the authenticated user (username) on this API", key="owner"
                )
        elif self.owner is None:
            raise ConfigError(f"{self.api} ({self.role} role) needs owner", key="owner")
        else:
            _config_jid(self.owner, "owner")

    @property
    def role(self) -> str:
        """``"user"`` or ``"admin"``: whom the API authenticates."""
        if self.api == "graphql":
            return self.graphql_role or "user"
        return "admin" if self.api == "admin-rest" else "user"

    @property
    def acts_as_user(self) -> bool:
        """Whether the credentials are the owner's own (client REST, GraphQL user)."""
        return self.role == "user"

    @property
    def owner_jid(self) -> Jid:
        """The owner's JID (the username on user APIs)."""
        text = self.owner if self.owner is not None else self.username
        assert text is not None
        return parse_jid(text, field="owner", allow_resource=False)

    @property
    def url(self) -> str:
        """The configured or default base URL."""
        if self.base_url is not None:
            return self.base_url
        role = self.role if self.api == "graphql" else None
        return DEFAULT_BASE_URLS[(self.api, role)]

    def auth(self) -> AuthStrategy:
        """Basic auth when credentials are given, none otherwise."""
        if self.username is None or self.password is None:
            return NoAuth()
        return BasicAuth(self.username, self.password)


class MongooseIMAdapter(Adapter[NativeClient]):
    """MongooseIM one-to-one chat behind the unified interface (see the module docstring)."""

    provider = PROVIDER
    capabilities = (
        Capability.SEND | Capability.SESSIONS | Capability.HISTORY | Capability.DERIVED_SESSIONS
    )

    def __init__(self, native: NativeClient, options: MongooseIMOptions) -> None:
        super().__init__(native)
        self.options = options
        self.owner = options.owner_jid
        self._backend: Backend
        if isinstance(native, AdminRestAPI):
            self._backend = AdminRestBackend(native, self.owner)
        elif isinstance(native, ClientRestAPI):
            self._backend = ClientRestBackend(native, self.owner)
        else:
            self._backend = GraphQLBackend(native, self.owner, admin=options.role == "admin")
        if not isinstance(self._backend, AdminRestBackend):
            # Push depends on the configured API, so this client says more than the class.
            self.capabilities = type(self).capabilities | Capability.PUSH  # type: ignore[misc]
        # Admin REST records name no recipient: remember the latest peers this client
        # wrote to (at most REMEMBERED_RECIPIENTS, least recent dropped first), so
        # sessions() can still find conversations the owner started here.
        self._sent_to: OrderedDict[str, Jid] = OrderedDict()

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
    ) -> Self:
        """Build the adapter from ``connect()`` options."""
        opts = structure_options(MongooseIMOptions, options, provider=PROVIDER)
        transport = opts.make_transport(
            provider=PROVIDER,
            base_url=opts.url,
            auth=opts.auth(),
            session=session,
            error_parser=graphql_error_parser if opts.api == "graphql" else rest_error_parser,
            error_typer=typed,
            default_headers={"Accept": "application/json"},
        )
        native: NativeClient
        if opts.api == "admin-rest":
            native = AdminRestAPI(transport)
        elif opts.api == "client-rest":
            native = ClientRestAPI(transport)
        else:
            native = GraphQLAPI(transport)
        adapter = cls(native, opts)
        account = opts.account_key(
            PROVIDER, opts.api, opts.url, opts.owner, opts.username, opts.password
        )
        adapter._use_state(opts.state, account, idempotency_ttl=opts.idempotency_ttl)
        return adapter

    # -- send ------------------------------------------------------------------
    async def _send(self, outgoing: Outgoing) -> Receipt:
        (address,) = outgoing.to
        if address.kind is not AddressKind.JID:
            raise InvalidRequest(
                f"{address.value!r} is not a JID; MongooseIM sends to XMPP addresses",
                field="to",
                provider=PROVIDER,
            )
        to = parse_jid(address.value, field="to")
        if outgoing.kind not in (MessageKind.AUTO, MessageKind.CHAT):
            raise UnsupportedOperation(f"{outgoing.kind.value} messages", provider=PROVIDER)
        if outgoing.session_id is not None:
            session = parse_jid(outgoing.session_id, field="session_id", allow_resource=False)
            if session.key != to.key:
                raise InvalidRequest(
                    "session_id is the peer's bare JID and must match the recipient",
                    field="session_id",
                    provider=PROVIDER,
                )
        if outgoing.sender is not None and (
            outgoing.sender.kind is not AddressKind.JID
            or parse_jid(outgoing.sender.value, field="sender").key != self.owner.key
        ):
            raise InvalidRequest(
                "the sender is always the configured owner", field="sender", provider=PROVIDER
            )
        ids, raw = await self._backend.send(to, outgoing.text)
        if isinstance(self._backend, AdminRestBackend):
            sent_to = self._sent_to
            if to.key in sent_to:
                sent_to.move_to_end(to.key)
            else:
                sent_to[to.key] = Jid(to.local, to.domain)
                while len(sent_to) > REMEMBERED_RECIPIENTS:
                    sent_to.popitem(last=False)
        return Receipt(
            session_id=to.key,
            provider=PROVIDER,
            status=MessageStatus.SENT,
            message_ids=ids,
            raw=raw,
        )

    # -- history ---------------------------------------------------------------
    def _page_size(self, limit: int | None) -> int:
        size = self.options.page_size
        return size if limit is None else min(size, limit)

    def _walk(self, peer: Jid | None, size: int) -> AsyncIterator[Row]:
        backend = self._backend

        async def fetch(before: int | None) -> tuple[Sequence[Row], bool | None]:
            return await backend.page(peer, before, size)

        what = "archive" if peer is None else f"archive with {peer.bare}"
        return walk_back(fetch, slack=backend.slack, what=what)

    def _history(
        self, session_id: str, *, limit: int | None, **filters: Any
    ) -> AsyncIterator[Message]:
        peer = parse_jid(session_id, field="session", allow_resource=False)
        return self._messages(self._walk(peer, self._page_size(limit)))

    async def _messages(self, rows: AsyncIterator[Row]) -> AsyncIterator[Message]:
        async for row in rows:
            yield row.message

    # -- sessions --------------------------------------------------------------
    def _sessions(self, *, limit: int | None, **filters: Any) -> AsyncIterator[Session]:
        # Sessions are rarer than messages: read full pages whatever the limit.
        return self._derive_sessions(self._walk(None, self.options.page_size))

    async def _derive_sessions(self, rows: AsyncIterator[Row]) -> AsyncIterator[Session]:
        pending = await self._probe_sent_to()
        # Every peer already yielded is remembered: inherent to "one session
        # per conversation", O(sessions yielded); the messages themselves are
        # de-duplicated by walk_back's bounded window.
        yielded: set[str] = set()
        async for row in rows:
            while pending and pending[0][0] >= row.message.created_at:
                _, first = pending.pop(0)
                if first.id not in yielded:
                    yielded.add(first.id)
                    yield first
            if row.peer is None or row.peer in yielded:
                continue
            yielded.add(row.peer)
            yield self._session(row.peer, row)
        for _, session in pending:
            if session.id not in yielded:
                yielded.add(session.id)
                yield session

    async def _probe_sent_to(self) -> list[tuple[datetime, Session]]:
        """Admin REST only: the latest message with each peer this client last wrote to."""
        if not isinstance(self._backend, AdminRestBackend) or not self._sent_to:
            return []
        found: list[tuple[datetime, Session]] = []
        for key, peer in reversed(list(self._sent_to.items())):  # latest first, kept on ties
            rows, _ = await self._backend.page(peer, None, 1)
            if rows:
                found.append((rows[-1].message.created_at, self._session(key, rows[-1])))
        found.sort(key=lambda pair: pair[0], reverse=True)
        return found

    def _session(self, peer: str, row: Row) -> Session:
        return Session(
            id=peer,
            provider=PROVIDER,
            participants=(
                Address(self.owner.bare, AddressKind.JID),
                Address(peer, AddressKind.JID),
            ),
            kind=MessageKind.CHAT,
            last_activity=row.message.created_at,
            last_text=row.message.text,
            raw=row.message.raw,
        )

    # -- inbound ---------------------------------------------------------------
    def inbound_source(self, **options: Any) -> InboundSource:
        """Client REST and GraphQL: the SSE push source (options: see
        :class:`~.push.MongooseIMPushSource`); admin REST: history polling."""
        if isinstance(self._backend, AdminRestBackend):
            return super().inbound_source(**options)
        self._ensure_open()
        from .push import push_source  # push imports this package's backends

        return push_source(self, **options)

    async def _aclose(self) -> None:
        await self.native.transport.aclose()
