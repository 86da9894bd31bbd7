"""Secrets never leave, even when the provider echoes them.

An echo hook on each fake answers chosen requests with an error (401, 400,
500, a 200 HTML page, or for GraphQL a 200 with ``errors``) in the
provider's own error format, repeating what the request carried: the
``Authorization`` header and its decoded Basic pair, ``X-TM-Username`` /
``X-TM-Key``, the token request's form or JSON fields, the raw body, and
every token the fake issued so far. The error the user gets must keep its
type and hold none of those secrets (raw, percent-encoded, JSON-escaped, in
a Basic header, or a long piece of one) in ``str``/``repr``, ``message``,
``code``, ``details``, ``field_errors``, its cause/context chain, or any
log record.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

import attrs
import pytest
from aiohttp import web

import messaging_hub as mh
from messaging_hub.testing import FakeServer
from messaging_hub.testing.mongooseim import FakeMongooseIM
from messaging_hub.testing.netsapiens import FakeNetSapiens
from messaging_hub.testing.ringcentral import FakeRingCentral
from messaging_hub.testing.textmagic import FakeTextMagic

from ._chains import exception_chain

pytestmark = pytest.mark.anyio

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int, str, str], Any]
"""(status, echo text, one secret to use as a key) -> the provider's JSON error body."""

# Request fields a token endpoint takes secrets in.
SENSITIVE_FIELDS = ("password", "client_secret", "assertion", "refresh_token", "token")
# A run of this many characters of a secret counts as leaking it.
FRAGMENT = 16


def _secret(tag: str) -> str:
    # Characters that change under percent-encoding and JSON escaping.
    return f'{tag}-{secrets.token_urlsafe(12)}/+&%=@"x'


def _token(tag: str) -> str:
    # Bearer tokens and API keys: URL-safe, as providers issue them.
    return f"{tag}_{secrets.token_urlsafe(18)}"


# -- the echo hook ---------------------------------------------------------------


@attrs.define
class EchoHook:
    """Answers requests whose path matches ``path`` with an echo of their
    credentials; remembers every token the fake hands out meanwhile."""

    error_body: ErrorBody
    path: str | None = None
    status: int = 401
    html: bool = False
    issued: list[str] = attrs.field(factory=list)
    echoed: list[str] = attrs.field(factory=list)
    """The echo texts served."""

    def arm(self, path: str, status: str) -> None:
        """Echo from now on to requests on ``path`` with ``status`` ("200-html" too)."""
        self.path = path
        self.html = status == "200-html"
        self.status = 200 if status.startswith("200") else int(status)

    def install(self, fake: FakeServer) -> None:
        """Add the hook to ``fake`` (before it starts)."""

        @web.middleware
        async def echo(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.path is None or re.search(self.path, request.path) is None:
                response = await handler(request)
                self._remember(response)
                return response
            text, key = await _echo(request, self.issued)
            self.echoed.append(text)
            if self.html:
                # The most sensitive value first: inside the part a message quotes.
                page = f"<html><body><p>{key}</p><pre>{text}</pre></body></html>"
                return web.Response(status=200, text=page, content_type="text/html")
            return web.json_response(self.error_body(self.status, text, key), status=self.status)

        fake.app.middlewares.append(echo)

    def _remember(self, response: web.StreamResponse) -> None:
        if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
            return
        try:
            data = json.loads(response.body)
        except ValueError:
            return
        if isinstance(data, dict):
            for name in ("access_token", "refresh_token"):
                if isinstance(data.get(name), str):
                    self.issued.append(data[name])


async def _echo(request: web.Request, issued: list[str]) -> tuple[str, str]:
    """Everything secret the request carried (and the tokens issued), as text,
    and the most sensitive single value."""
    parts: list[str] = []
    sensitive: list[str] = []
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        parts += [f"Authorization: {auth}", value]
        if scheme.lower() == "basic":
            pair = base64.b64decode(value).decode()
            parts += [pair, pair.partition(":")[2]]
            sensitive.append(pair.partition(":")[2])
        else:
            sensitive.append(value)
    for name in ("X-TM-Key", "X-TM-Username"):
        if name in request.headers:
            parts.append(f"{name}: {request.headers[name]}")
            sensitive.append(request.headers[name])
    raw = (await request.read()).decode("utf-8", "replace")
    if raw:
        parts.append(raw)
    fields: dict[str, Any] = {}
    if request.content_type == "application/x-www-form-urlencoded":
        fields = dict(parse_qsl(raw))
    elif raw.startswith("{"):
        loaded = json.loads(raw)
        fields = loaded if isinstance(loaded, dict) else {}
    for name, value in fields.items():
        parts.append(f"{name}={value}")
        if name in SENSITIVE_FIELDS and isinstance(value, str):
            sensitive.insert(0, value)  # a token request's secret beats the client's
    parts += [f"issued token {t}" for t in issued]
    return " | ".join(parts), (sensitive or ["nothing"])[0]


# -- the providers' own error formats -----------------------------------------------


def _netsapiens_error(status: int, echo: str, key: str) -> Any:
    return {"code": status, "message": echo, "request": {"echo": [echo], key: echo}}


def _ringcentral_error(status: int, echo: str, key: str) -> Any:
    entry = {"errorCode": "OAU-140", "message": echo, "parameterName": key}
    return {
        "errorCode": "OAU-140",
        "message": echo,
        "error": "invalid_grant",
        "error_description": echo,
        "parameterName": key,
        "errors": [entry],
    }


def _textmagic_error(status: int, echo: str, key: str) -> Any:
    errors: dict[str, Any] = {"common": [echo]}
    if status == 400:  # validation errors name fields; other statuses do not
        errors["fields"] = {key: [echo]}
    return {"code": status, "message": echo, "errors": errors}


def _mongooseim_rest_error(status: int, echo: str, key: str) -> Any:
    return echo  # the REST APIs answer a bare JSON string


_GRAPHQL_CODES = {
    401: "wrong_credentials",
    400: "bad_request",
    500: "internal_server_error",
    200: "no_permissions",
}


def _graphql_error(status: int, echo: str, key: str) -> Any:
    error = {
        "message": echo,
        "extensions": {"code": _GRAPHQL_CODES[status], "detail": echo, key: key},
        "path": ["stanza", key],
    }
    return {"data": None, "errors": [error]}


# -- scenarios ------------------------------------------------------------------------


@attrs.frozen
class Setup:
    """A fake with the hook installed, the client's options, and the secrets."""

    fake: FakeServer
    hook: EchoHook
    options: Callable[[], dict[str, Any]]
    """The ``connect()`` options (read once the fake runs: they name its port)."""
    secrets: list[str]
    basic: list[tuple[str, str]] = attrs.field(factory=list)
    """(user, password) pairs sent as HTTP Basic."""


@attrs.frozen
class Scenario:
    """One credential kind of one provider, and where the echo answers.

    ``phase``: ``api`` echoes the first API call; ``login`` the first token
    request; ``obtained`` an API call after a real login; ``refresh`` the
    token request that renews a token the fake stopped accepting.
    """

    provider: str
    kind: str
    phase: str
    path: str
    build: Callable[[], Setup]
    statuses: tuple[str, ...] = ("401", "400", "500", "200-html")


NS_TOKENS = r"/tokens$"
NS_API = r"/messagesessions$"
RC_TOKEN = r"/oauth/token$"
RC_API = r"/message-store$"
TM_API = r"/api/v2/sessions$"
GRAPHQL_STATUSES = ("401", "400", "500", "200-html", "200-errors")


def _netsapiens(kind: str) -> Setup:
    password, client_secret = _secret("ns-pw"), _secret("ns-cs")
    fake = FakeNetSapiens(
        access_token=_token("ns-at"),
        api_key="nsd_" + secrets.token_hex(16),
        client_secret=client_secret,
        users={"1000": ("1000@acme", password), "1004": ("1004@acme", _secret("ns-other"))},
    )
    hook = EchoHook(_netsapiens_error)
    hook.install(fake)

    def options() -> dict[str, Any]:
        if kind == "access_token":
            return fake.config
        if kind == "api_key":
            config = {k: v for k, v in fake.config.items() if k != "access_token"}
            return {**config, "api_key": fake.api_key}
        return fake.password_config

    return Setup(fake, hook, options, [fake.access_token, fake.api_key, password, client_secret])


def _ringcentral(kind: str) -> Setup:
    password, client_secret, given = _secret("rc-pw"), _secret("rc-cs"), _token("rc-given")
    fake = FakeRingCentral(
        client_secret=client_secret,
        username="+16505550100",
        password=password,
        rate_limits={"Auth": (1000, 60)},
    )
    hook = EchoHook(_ringcentral_error)
    hook.install(fake)

    def options() -> dict[str, Any]:
        config = {k: v for k, v in fake.config.items() if k != "jwt"}
        if kind == "access_token":
            del config["client_secret"]
            return {**config, "access_token": given}
        if kind == "password":
            return {**config, "username": fake.username, "password": password, "extension": "101"}
        return fake.config

    return Setup(
        fake,
        hook,
        options,
        [fake.jwt, password, client_secret, given],
        basic=[(fake.client_id, client_secret)],
    )


def _textmagic(kind: str) -> Setup:
    api_key = _secret("tm-key")
    fake = FakeTextMagic(username="echo-user", api_key=api_key)
    hook = EchoHook(_textmagic_error)
    hook.install(fake)

    def options() -> dict[str, Any]:
        return {**fake.config, "auth": kind}

    return Setup(fake, hook, options, [api_key], basic=[(fake.username, api_key)])


def _mongooseim(kind: str) -> Setup:
    users = {"alice@localhost": _secret("mim-alice"), "bob@localhost": _secret("mim-bob")}
    admin = ("admin", _secret("mim-admin"))
    graphql = kind.startswith("graphql")
    fake = FakeMongooseIM(
        "graphql" if graphql else kind,  # type: ignore[arg-type]
        users,
        admin_credentials=admin,
        graphql_admin=kind == "graphql-admin",
    )
    hook = EchoHook(_graphql_error if graphql else _mongooseim_rest_error)
    hook.install(fake)
    pairs = [("alice@localhost", users["alice@localhost"]), admin]
    return Setup(fake, hook, lambda: fake.config, [*users.values(), admin[1]], basic=pairs)


SCENARIOS = [
    Scenario("netsapiens", "access_token", "api", NS_API, lambda: _netsapiens("access_token")),
    Scenario("netsapiens", "api_key", "api", NS_API, lambda: _netsapiens("api_key")),
    Scenario("netsapiens", "password_grant", "login", NS_TOKENS, lambda: _netsapiens("oauth")),
    Scenario("netsapiens", "obtained_tokens", "obtained", NS_API, lambda: _netsapiens("oauth")),
    Scenario("netsapiens", "refresh_token", "refresh", NS_TOKENS, lambda: _netsapiens("oauth")),
    Scenario("ringcentral", "jwt_grant", "login", RC_TOKEN, lambda: _ringcentral("jwt")),
    Scenario("ringcentral", "password_grant", "login", RC_TOKEN, lambda: _ringcentral("password")),
    Scenario("ringcentral", "access_token", "api", RC_API, lambda: _ringcentral("access_token")),
    Scenario("ringcentral", "obtained_tokens", "obtained", RC_API, lambda: _ringcentral("jwt")),
    Scenario("ringcentral", "refresh_token", "refresh", RC_TOKEN, lambda: _ringcentral("jwt")),
    Scenario("textmagic", "headers", "api", TM_API, lambda: _textmagic("headers")),
    Scenario("textmagic", "basic", "api", TM_API, lambda: _textmagic("basic")),
    Scenario(
        "mongooseim", "admin-rest", "api", r"^/api/messages", lambda: _mongooseim("admin-rest")
    ),
    Scenario(
        "mongooseim", "client-rest", "api", r"^/client/api/", lambda: _mongooseim("client-rest")
    ),
    Scenario(
        "mongooseim",
        "graphql-user",
        "api",
        r"/api/graphql$",
        lambda: _mongooseim("graphql-user"),
        GRAPHQL_STATUSES,
    ),
    Scenario(
        "mongooseim",
        "graphql-admin",
        "api",
        r"/api/graphql$",
        lambda: _mongooseim("graphql-admin"),
        GRAPHQL_STATUSES,
    ),
]

API_ERRORS: dict[str, type[mh.MessagingError]] = {
    "401": mh.AuthenticationError,
    "400": mh.BadRequest,
    "500": mh.ProviderUnavailable,
    "200-html": mh.MalformedResponse,
    "200-errors": mh.PermissionDenied,
}
TOKEN_ERRORS: dict[str, type[mh.MessagingError]] = {
    # A refused grant is an authentication failure whatever its 4xx.
    "401": mh.AuthenticationError,
    "400": mh.AuthenticationError,
    "500": mh.ProviderUnavailable,
    "200-html": mh.MalformedResponse,
}


CASES = [
    pytest.param(s, status, id=f"{s.provider}-{s.kind}-{status}")
    for s in SCENARIOS
    for status in s.statuses
]


# -- what must not show -------------------------------------------------------------


def _forms(secret: str) -> set[str]:
    """The spellings a secret can come back in."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def _needles(setup: Setup) -> dict[str, str]:
    """Text that must not appear -> what it is (for the failure message)."""
    needles: dict[str, str] = {}
    for secret in [*setup.secrets, *setup.hook.issued]:
        for form in _forms(secret):
            needles[form] = f"secret {secret[:6]}… ({'raw' if form == secret else 'encoded'})"
        for start in range(0, max(1, len(secret) - FRAGMENT + 1)):
            piece = secret[start : start + FRAGMENT]
            needles.setdefault(piece, f"a {len(piece)}-character piece of {secret[:6]}…")
    for user, password in setup.basic:
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        needles[encoded] = f"Basic credentials of {user}"
        needles[f"{user}:{password}"] = f"decoded Basic credentials of {user}"
    return needles


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string in a details structure (keys included), and its repr."""
    if depth > 40:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, depth + 1)
            yield from _strings(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item, depth + 1)
    elif attrs.has(type(value)):
        yield from _strings(attrs.asdict(value, recurse=False), depth + 1)
    elif value is not None:
        yield repr(value)


def _shown(exc: BaseException) -> Iterator[tuple[str, str]]:
    """(where, text) for everything an error shows or carries."""
    for depth, item in enumerate(exception_chain(exc)):
        name = f"{type(item).__name__}@{depth}"
        yield f"{name} str", str(item)
        yield f"{name} repr", repr(item)
        yield f"{name} args", repr(item.args)
        for arg in item.args:
            for text in _strings(arg):
                yield f"{name} args", text
        if isinstance(item, mh.MessagingError):
            yield f"{name} message", item.message
        for attribute in ("code", "details", "field_errors"):
            for text in _strings(getattr(item, attribute, None)):
                yield f"{name} {attribute}", text
        for key, value in vars(item).items():
            for text in _strings(value):
                yield f"{name} .{key}", text


def _logged(records: list[logging.LogRecord]) -> Iterator[tuple[str, str]]:
    formatter = logging.Formatter()
    for record in records:
        where = f"log {record.name}:{record.levelname}"
        yield where, record.getMessage()
        yield where, repr(vars(record))
        if record.exc_info:
            yield where, formatter.formatException(record.exc_info)


def _leaks(needles: dict[str, str], shown: Iterator[tuple[str, str]]) -> list[str]:
    found = []
    for where, text in shown:
        for needle, what in needles.items():
            if needle in text:
                found.append(f"{what} in {where}")
    return sorted(set(found))


# -- the test -------------------------------------------------------------------------


def _one_attempt(options: dict[str, Any]) -> dict[str, Any]:
    # An echoed 500 on a read is final at once, not after backoff and retries.
    return {**options, "max_attempts": 1}


async def _read(client: mh.Adapter[Any]) -> None:
    [s async for s in client.sessions()]


@pytest.mark.parametrize(("scenario", "status"), CASES)
async def test_an_echoed_secret_never_reaches_errors_or_logs(
    scenario: Scenario, status: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = scenario.build()
    hook = setup.hook
    expected = (TOKEN_ERRORS if scenario.phase in ("login", "refresh") else API_ERRORS)[status]
    async with setup.fake as fake, mh.connect(_one_attempt(setup.options())) as client:
        if scenario.phase in ("obtained", "refresh"):
            await _read(client)  # logs in for real first
            assert hook.issued
        if scenario.phase == "refresh":
            assert isinstance(fake, FakeNetSapiens | FakeRingCentral)
            fake.expire_tokens()  # the next call is refused and renews
        hook.arm(scenario.path, status)
        with pytest.raises(mh.MessagingError) as info:
            await _read(client)
    error = info.value
    needles = _needles(setup)
    # The provider did repeat secrets: there was something to scrub.
    assert _leaks(needles, (("echo", text) for text in hook.echoed))
    assert isinstance(error, expected), repr(error)
    assert error.provider == scenario.provider
    leaks = _leaks(needles, _shown(error)) + _leaks(needles, _logged(caplog.records))
    assert not leaks, "\n".join(leaks)
