"""The HTTP layer every native client sends through.

One :class:`Transport` per client owns (or borrows) one
``aiohttp.ClientSession``, created lazily inside the running loop and
closed by :meth:`Transport.aclose`. It adds auth, paces requests, retries
what is safe to retry, and turns every failure into an error from
:mod:`messaging_hub.errors`: no ``aiohttp`` or JSON exception leaves it.

Retry rules (nothing is sent twice by accident):

* connection never established (refused, DNS, connect timeout): retried
  for every request, since the provider never saw it;
* 429: retried after ``Retry-After`` (the provider refused to process it),
  unless the wait exceeds the policy's ceiling;
* 5xx, resets and read timeouts: retried only for idempotent requests
  (a DELETE whose retry finds the resource gone counts as done);
* a 401 triggers one re-authentication when the auth strategy can renew.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
import re
import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import anyio
import attrs
import cattrs
from aiohttp.payload import BytesPayload
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import errors
from ..secret import Secret
from .auth import AuthStrategy, NoAuth, OAuth2
from .body import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    UnreadableEncoding,
    encode_json,
    loads,
    loads_or_none,
    read_capped,
    reads_whole,
)
from .ratelimit import GroupedRateLimiter
from .retry import RetryPolicy, parse_retry_after
from .scrub import Scrubber, credential_values

if TYPE_CHECKING:
    from ..state.base import SharedLimiter

__all__ = [
    "WRITES_ANSWERED",
    "ErrorInfo",
    "PoolLimits",
    "Response",
    "Timeouts",
    "Transport",
    "default_error_parser",
    "error_for_status",
]

log = logging.getLogger("messaging_hub.transport")

T = TypeVar("T")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_ERROR_BODY_LIMIT = 64 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# Shorter waits for the client-side rate limit are routine, not news.
_PACING_LOG_THRESHOLD = 0.05
# Form/JSON fields of token requests that a provider might repeat in an error.
_SENSITIVE_FIELDS = frozenset(
    {"password", "client_secret", "refresh_token", "assertion", "access_token", "token", "code"}
)

WRITES_ANSWERED: ContextVar[list[bool] | None] = ContextVar(
    "messaging_hub_writes_answered", default=None
)
"""Set by ``Adapter.send``: the list that gets an entry per non-idempotent
request answered while the send runs, i.e. one that reached the provider."""


@attrs.frozen
class Timeouts:
    """Per-attempt time limits in seconds (``None`` means no limit)."""

    total: float | None = 30.0
    connect: float | None = 10.0
    read: float | None = 30.0

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """The equivalent ``aiohttp.ClientTimeout``.

        A read limit no shorter than the total limit can never be the one
        that expires first (the total counts from the start, the read limit
        from a later moment), so it is left out: aiohttp then does not re-arm
        a timer on every chunk received.
        """
        read = self.read
        if read is not None and self.total is not None and read >= self.total:
            read = None
        return aiohttp.ClientTimeout(total=self.total, sock_connect=self.connect, sock_read=read)


@attrs.frozen
class PoolLimits:
    """Connection-pool size: in total and per host."""

    total: int = 100
    per_host: int = 20


@attrs.frozen
class ErrorInfo:
    """What a provider's error body said."""

    code: str | None = None
    message: str | None = None
    details: Any = None
    field_errors: Mapping[str, list[str]] | None = None


ErrorParser = Callable[[int, bytes, "CIMultiDictProxy[str]"], ErrorInfo]


def _same(text: str) -> str:
    return text


@attrs.frozen
class Response:
    """A complete response: status, headers and the body as bytes.

    ``idempotent`` is false for the answer to a send (or another call that
    changes state): a body that cannot be read then raises an error saying
    the request may have been processed.
    """

    status: int
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    url: str = ""
    provider: str = ""
    idempotent: bool = True
    scrub: Callable[[str], str] = attrs.field(default=_same, repr=False, eq=False)

    def malformed(self, message: str) -> errors.MalformedResponse:
        """A MalformedResponse about this answer (flagged when it answered a send)."""
        return errors.MalformedResponse(
            message,
            provider=self.provider,
            status=self.status,
            may_have_been_processed=not self.idempotent,
        )

    def json(self) -> Any:
        """The body decoded as JSON; a malformed body raises MalformedResponse."""
        try:
            return loads(self.body)
        except ValueError as exc:
            reason = str(exc)
        # Raised outside the except block: the JSON error (whose .doc is the
        # whole unscrubbed body) must not ride along as __context__.
        raise self.malformed(f"expected JSON, got {self._snippet()}: {reason}")

    def _snippet(self) -> str:
        start = self.body[:60].decode("utf-8", "replace")
        if start.lstrip()[:1] in ("{", "["):
            # Cut-off JSON may hold anything (a token answer, say): size only.
            return f"{len(self.body)} bytes of JSON-like text"
        # Scrubbed before it is cut: a secret cut in half is no longer found.
        return repr(self.scrub(self.body[:4096].decode("utf-8", "replace"))[:60])

    def json_or_none(self) -> Any:
        """The JSON body, or ``None`` when the body is empty."""
        return self.json() if self.body.strip() else None

    def decode(self, converter: cattrs.Converter, cls: type[T]) -> T:
        """The JSON body structured into ``cls``; a wrong shape raises MalformedResponse."""
        data = self.json()
        try:
            return converter.structure(data, cls)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, RecursionError):
            pass
        # Raised outside the except block: cattrs' errors quote the values.
        raise self.malformed(f"the answer is not a valid {getattr(cls, '__name__', cls)}")


class _Outcome(enum.Enum):
    NOT_SENT = "the request never reached the provider"
    MAYBE_SENT = "the connection failed after the request was sent"


def default_error_parser(status: int, body: bytes, headers: CIMultiDictProxy[str]) -> ErrorInfo:
    """Read ``{code, message}``-like bodies, bare JSON strings, or plain text."""
    data = loads_or_none(body)
    if isinstance(data, dict):
        code = data.get("code", data.get("errorCode", data.get("error")))
        message = data.get("message", data.get("error_description"))
        return ErrorInfo(
            code=None if code is None else str(code),
            message=None if message is None else str(message),
            details=data,
        )
    if isinstance(data, str):
        return ErrorInfo(message=data)
    return ErrorInfo()


_STATUS_ERRORS: dict[int, type[errors.ProviderError]] = {
    400: errors.BadRequest,
    401: errors.AuthenticationError,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    422: errors.BadRequest,
    429: errors.RateLimited,
}


def error_for_status(
    status: int,
    info: ErrorInfo,
    *,
    provider: str,
    retry_after: float | None = None,
) -> errors.ProviderError:
    """The typed error for an HTTP failure ``status`` with body ``info``."""
    # str() adds "(HTTP 503)": the message itself says what the status means.
    message = info.message or _status_phrase(status)
    if status == 429:
        return errors.RateLimited(
            message,
            retry_after=retry_after,
            provider=provider,
            status=status,
            code=info.code,
            details=info.details,
        )
    if status in (400, 422) or (status in range(400, 500) and info.field_errors):
        return errors.BadRequest(
            message,
            provider=provider,
            status=status,
            code=info.code,
            details=info.details,
            field_errors=info.field_errors,
        )
    if status >= 500:
        return errors.ProviderUnavailable(
            message, provider=provider, status=status, code=info.code, details=info.details
        )
    cls = _STATUS_ERRORS.get(status, errors.ProviderError)
    return cls(message, provider=provider, status=status, code=info.code, details=info.details)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "the provider answered with an error"


ResponseHook = Callable[[Response, "str | None"], Awaitable[None] | None]


class Transport:
    """Sends requests for one provider client; see the module docstring.

    ``base_url`` is the provider's API root; paths given to
    :meth:`request` are appended to it and must already be percent-encoded
    (build them with :func:`messaging_hub.transport.paths.path`). Absolute
    URLs are accepted only for origins listed in ``allowed_origins``, so
    credentials never go to an arbitrary host.

    Safety limits (the same for every provider): bodies are read with a cap
    of ``max_response_bytes`` (decompressed); the timeouts apply to every
    request, also on a caller's ``session``; errors built from a provider's
    text are scrubbed of ``secrets``, of tokens the client obtained and of
    the credentials the failed request carried. ``error_typer`` may replace
    such an error by a more precise one (a provider whose error codes say
    more than the status).
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        auth: AuthStrategy | None = None,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        pool: PoolLimits | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: SharedLimiter | GroupedRateLimiter | None = None,
        error_parser: ErrorParser = default_error_parser,
        allowed_origins: tuple[str, ...] = (),
        default_headers: Mapping[str, str] | None = None,
        on_response: ResponseHook | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        ssl: bool | ssl_module.SSLContext = True,
        proxy: str | None = None,
        proxy_auth: tuple[str, Secret] | None = None,
        trust_env: bool = False,
        secrets: Iterable[Secret | str] = (),
        trace_configs: Iterable[aiohttp.TraceConfig] = (),
        error_typer: Callable[[errors.ProviderError], errors.ProviderError] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = checked_base_url(base_url, key="base_url", provider=provider)
        self.auth = auth or NoAuth()
        self.timeouts = timeouts or Timeouts()
        self.pool = pool or PoolLimits()
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter
        self.error_parser = error_parser
        self.allowed_origins = frozenset(
            [str(self.base_url.origin())]
            + [
                str(checked_base_url(o, key="allowed_origins", provider=provider).origin())
                for o in allowed_origins
            ]
        )
        self.default_headers = dict(default_headers or {})
        self.default_headers.setdefault("Accept-Encoding", ACCEPT_ENCODING)
        self.on_response = on_response
        # Re-types a mapped error after the provider's own code (MongooseIM's).
        self.error_typer = error_typer
        self.max_response_bytes = max_response_bytes
        self.trust_env = trust_env
        self.trace_configs = list(trace_configs)
        self._session = session
        self._owns_session = session is None
        # The event loop the session (and the auth and rate-limit locks) belong to.
        self._loop: asyncio.AbstractEventLoop | None = getattr(session, "_loop", None)
        self._closed = False
        self.requests_sent = 0
        self._proxy_auth = proxy_auth
        self.scrubber = Scrubber(
            s.reveal() if isinstance(s, Secret) else s
            for s in [*secrets, *([proxy_auth[1]] if proxy_auth else [])]
        )
        # Built once: passed with every request, so a caller's session gets
        # the same timeouts, TLS and proxy settings as the library's own.
        self._request_options: dict[str, Any] = {
            "timeout": self.timeouts.to_aiohttp(),
            "ssl": ssl,
            "allow_redirects": False,
            "auto_decompress": False,
        }
        if proxy is not None:
            self._request_options["proxy"] = proxy
        self._last_auth: Mapping[str, str] = {}
        # The headers of the last request (defaults + credentials), reused
        # while neither changes: aiohttp copies them, nothing writes to them.
        self._headers_for: tuple[dict[str, str], Mapping[str, str]] | None = None
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._base = (self.base_url, str(self.base_url))

    # -- lifecycle ---------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def ensure_open(self) -> None:
        """Raise :class:`~messaging_hub.errors.ClientClosed` after close."""
        if self._closed:
            raise errors.ClientClosed(
                "this client was closed; create a new one", provider=self.provider
            )

    def _check_loop(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on asyncio: nothing to compare
            return
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise errors.InvalidRequest(
                "this client belongs to another event loop; create one client per event loop",
                provider=self.provider,
            )

    def _get_session(self) -> aiohttp.ClientSession:
        self.ensure_open()
        if self._session is not None and self._session.closed:
            raise errors.ClientClosed(
                "the aiohttp.ClientSession given to this client was closed",
                provider=self.provider,
            )
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.pool.total, limit_per_host=self.pool.per_host
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeouts.to_aiohttp(),
                headers={"User-Agent": USER_AGENT},
                raise_for_status=False,
                trust_env=self.trust_env,
                trace_configs=self.trace_configs or None,
            )
            # aiohttp silently resends an idempotent request once when a reused
            # connection drops; this transport counts and classifies every
            # attempt itself (see the module docstring), so it must see them.
            self._session._retry_connection = False
        return self._session

    def _options(self, url: URL, headers: CIMultiDict[str]) -> dict[str, Any]:
        """Options for one request to ``url``: the fixed ones, the headers,
        and the proxy's credentials where they must go."""
        if self._proxy_auth is None:
            return {**self._request_options, "headers": headers}
        login, password = self._proxy_auth
        # Built per request, so the transport holds no revealed copy.
        # aiohttp's proxy_auth=BasicAuth(...) is deprecated (a warning on
        # every request), and its proxy_headers reach only the CONNECT of
        # an https tunnel: a plain http request goes to the proxy itself,
        # so it carries the header (never through a tunnel to the origin).
        credentials = {"Proxy-Authorization": _basic_auth(login, password.reveal())}
        if url.scheme == "https":
            return {**self._request_options, "headers": headers, "proxy_headers": credentials}
        with_credentials = CIMultiDict(headers)
        with_credentials.update(credentials)
        return {**self._request_options, "headers": with_credentials}

    async def aclose(self) -> None:
        """Release the auth (revoking tokens it obtained) and the session."""
        if self._closed:
            return
        try:
            if self._session is not None and not self._session.closed:
                with anyio.move_on_after(5):
                    await self.auth.aclose(self)
        finally:
            self._closed = True
            session, self._session = self._session, None
            if session is not None and self._owns_session:
                await session.close()

    # -- URLs ----------------------------------------------------------------
    def url(self, path_or_url: str) -> URL:
        """The absolute URL for ``path_or_url`` (an encoded path or an allowed URL)."""
        return self._url_and_text(path_or_url)[0]

    def _url_and_text(self, path_or_url: str) -> tuple[URL, str | None]:
        """:meth:`url`, and the URL as text when it was built from it here
        (``None``: spell the URL itself)."""
        if _has_control(path_or_url):
            raise errors.InvalidRequest(
                "a URL must not contain control characters or spaces", provider=self.provider
            )
        base_url, base = self._base
        if base_url is not self.base_url:  # replaced since: spell the new one
            base_url, base = self.base_url, str(self.base_url)
            self._base = (base_url, base)
        if path_or_url == base:  # e.g. a GraphQL endpoint: the base URL itself
            return base_url, base
        if "://" in path_or_url or path_or_url.startswith("//"):
            try:
                url = URL(path_or_url, encoded=True)
                origin = str(url.origin()) if url.absolute and not url.user else None
            except (ValueError, TypeError):
                origin = None
            if origin is None:
                raise errors.InvalidRequest(
                    "not an absolute http(s) URL without credentials: "
                    f"{self.scrubber.text(path_or_url[:80])!r}",
                    provider=self.provider,
                )
            if origin not in self.allowed_origins:
                raise errors.InvalidRequest(
                    f"refusing to send credentials to {origin}: not an allowed host",
                    provider=self.provider,
                )
            return url, None
        if not path_or_url.startswith("/"):
            path_or_url = "/" + path_or_url
        text = base + path_or_url
        return URL(text, encoded=True), text

    # -- WebSockets ------------------------------------------------------------
    async def ws_connect(self, url: URL, **options: Any) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket to ``url`` on this client's session, with its TLS and
        proxy settings; the caller speaks the protocol and maps its failures
        (``options`` go to ``aiohttp.ClientSession.ws_connect``)."""
        self.ensure_open()
        self._check_loop()
        session = self._get_session()
        settings: dict[str, Any] = {"ssl": self._request_options["ssl"]}
        if "proxy" in self._request_options:
            settings["proxy"] = self._request_options["proxy"]
            if self._proxy_auth is not None:
                login, password = self._proxy_auth
                # Built per call, like _options: the transport holds no revealed copy.
                settings["proxy_headers"] = {
                    "Proxy-Authorization": _basic_auth(login, password.reveal())
                }
        socket: aiohttp.ClientWebSocketResponse = await session.ws_connect(
            url, **settings, **options
        )
        return socket

    async def open_stream(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        connect_timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        """GET a long-lived response (an event stream) on this client's session,
        with its credentials, TLS and proxy settings.

        There is no total timeout; ``connect_timeout`` (default: the client's)
        bounds opening the connection, ``idle_timeout`` the silence before and between
        chunks. A connection that fails raises ProviderUnavailable naming host
        and reason; any answer (also an error status) is returned as it is, for
        the caller to read and close.
        """
        self.ensure_open()
        self._check_loop()
        url = self.url(path_or_url)
        if params:
            url = url.update_query(_query(params))
        sent = CIMultiDict(self.default_headers)
        credentials = await self.auth.headers(self)
        self._last_auth = credentials
        sent.update(credentials)
        # Events are wanted as they come: nothing compressed in between.
        sent["Accept-Encoding"] = "identity"
        if headers:
            sent.update(headers)
        options = self._options(url, sent)
        connect = self.timeouts.connect if connect_timeout is None else connect_timeout
        options["timeout"] = aiohttp.ClientTimeout(
            total=None, connect=connect, sock_connect=connect, sock_read=idle_timeout
        )
        options["auto_decompress"] = True
        failure: _TransportFailure | None = None
        try:
            return await self._get_session().get(url, **options)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            failure = self._failure(exc, url)
        raise _chained(
            errors.ProviderUnavailable(
                f"GET {url.path} failed: {self._scrubber_for(sent).text(failure.reason)}",
                provider=self.provider,
                may_have_been_processed=False,
            ),
            failure.__cause__,
        )

    # -- requests ------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        authenticate: bool = True,
        rate_group: str | None = None,
        ok_statuses: frozenset[int] | None = None,
    ) -> Response:
        """Send a request, retrying what is safe, and return the response.

        ``data`` may be a callable returning a fresh body for each attempt
        (multipart writers can be consumed only once). Statuses outside
        2xx (or ``ok_statuses``) raise the mapped error.
        """
        self.ensure_open()
        self._check_loop()
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT
        url, spelled = self._url_and_text(path)
        if params:
            url, spelled = url.update_query(_query(params)), None
        # Written once for every attempt (None: aiohttp writes it with json.dumps).
        encoded = encode_json(json_body) if json_body is not None and data is None else None
        reauthenticated = False
        maybe_applied = False
        attempt = 0
        while True:
            attempt += 1
            answered = None if self.rate_limiter is None else await self._pace(rate_group)
            try:
                self.ensure_open()  # aclose() may have run while this task waited
                if authenticate:
                    credentials = await self.auth.headers(self)
                    self._last_auth = credentials
                    sent_headers = self._headers_with(credentials)
                else:
                    sent_headers = self._headers_with(_NO_HEADERS)
            except BaseException as exc:
                if answered is not None:
                    answered()
                if isinstance(exc, errors.StateUnavailable):
                    exc.provider = exc.provider or self.provider  # the token store's
                raise
            if headers:
                sent_headers = CIMultiDict(sent_headers)
                sent_headers.update(headers)
            body = data() if callable(data) else data
            outcome: _Outcome | None = None
            reason = ""
            cause: BaseException | None = None
            retryable = True
            failure: _TransportFailure | None = None
            timed = log.isEnabledFor(logging.DEBUG)
            started = time.perf_counter() if timed else 0.0
            # The attempt, here rather than in a helper coroutine: one frame
            # less to pass through on every resume of every request.
            try:
                async with self._open(method, url, sent_headers, json_body, body, encoded) as resp:
                    if not idempotent:
                        written = WRITES_ANSWERED.get()
                        if written is not None:
                            written.append(True)
                    status = resp.status
                    ok = 200 <= status < 300 or bool(ok_statuses and status in ok_statuses)
                    limit = self.max_response_bytes
                    if not ok:
                        limit = min(limit, _ERROR_BODY_LIMIT)  # only ever shown in part
                    try:
                        content = await (
                            resp.content.read()
                            if reads_whole(resp, limit)
                            else read_capped(resp, limit)
                        )
                    except BodyTooLarge as big:
                        resp.close()  # the rest is never read: drop the connection
                        content = _OVERSIZE if ok else big.partial
                    except UnreadableEncoding:
                        resp.close()
                        content = _UNREADABLE if ok else b""
                    response = Response(
                        status=status,
                        headers=resp.headers,
                        body=content,
                        url=str(url) if spelled is None else spelled,
                        provider=self.provider,
                        idempotent=idempotent,
                        # Lazy: the scrubber is built only if an error needs it.
                        scrub=partial(self._scrub_text, sent_headers, json_body, body),
                    )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                # Kept, not raised here: aiohttp's exception (whose args can
                # hold the request's headers and proxy credentials) must not
                # ride along as __context__ of what is raised below.
                failure = self._failure(exc, url)
            finally:
                if answered is not None:
                    answered()
            if failure is not None:
                outcome, reason, cause = failure.outcome, failure.reason, failure.__cause__
                retryable = failure.retryable
            elif timed:
                log.debug(
                    "%s %s %s -> %d in %.1f ms",
                    self.provider,
                    method,
                    url.path,
                    response.status,
                    (time.perf_counter() - started) * 1000,
                )
            if outcome is not None:
                reason = self._scrubber_for(sent_headers, json_body, body).text(reason)
                if self._closed:
                    raise _chained(
                        errors.ClientClosed(
                            f"the client was closed while {method} {url.path} was in flight"
                            + ("" if method in _IDEMPOTENT else "; it may have been processed"),
                            provider=self.provider,
                        ),
                        cause,
                    )
                retry_ok = retryable and (outcome is _Outcome.NOT_SENT or idempotent)
                maybe_applied = maybe_applied or outcome is _Outcome.MAYBE_SENT
                if retry_ok and attempt < self.retry.max_attempts:
                    await self._backoff(method, url, attempt, None, reason)
                    continue
                raise _chained(
                    errors.ProviderUnavailable(
                        f"{method} {url.path} failed: {reason}",
                        provider=self.provider,
                        may_have_been_processed=outcome is _Outcome.MAYBE_SENT,
                    ),
                    cause,
                )
            if self.on_response is not None:
                hooked = self.on_response(response, rate_group)
                if hooked is not None:
                    await hooked
            status = response.status
            if (ok_statuses and status in ok_statuses) or 200 <= status < 300:
                if response.body is _OVERSIZE:
                    raise self._scrubber_for(sent_headers, json_body, body).error(
                        response.malformed(
                            "the answer is larger than max_response_bytes "
                            f"({self.max_response_bytes} bytes); the connection was dropped"
                        )
                    )
                if response.body is _UNREADABLE:
                    raise response.malformed(
                        "the answer's Content-Encoding could not be decoded: "
                        + response.headers.get("Content-Encoding", "")[:40]
                    )
                return response
            if method == "DELETE" and status == 404 and maybe_applied:
                # The first try was cut off after it reached the provider and
                # did delete: the resource is gone, as asked.
                return attrs.evolve(response, status=204, body=b"")
            if status == 401 and authenticate and not reauthenticated:
                reauthenticated = True
                if await self.auth.on_unauthorized(self, dict(sent_headers)):
                    attempt -= 1  # a re-auth is not a failed attempt
                    continue
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429:
                if retry_after is not None and retry_after > self.retry.retry_after_ceiling:
                    raise self._error(response, retry_after, sent_headers, json_body, body)
                self._hold(rate_group, retry_after)
                if attempt < self.retry.max_attempts:
                    await self._backoff(method, url, attempt, retry_after, "HTTP 429")
                    continue
            elif (
                idempotent
                and status in self.retry.retry_statuses
                and attempt < self.retry.max_attempts
                and (retry_after is None or retry_after <= self.retry.retry_after_ceiling)
            ):
                await self._backoff(method, url, attempt, retry_after, f"HTTP {status}")
                continue
            raise self._error(response, retry_after, sent_headers, json_body, body)

    def _headers_with(self, credentials: Mapping[str, str]) -> CIMultiDict[str]:
        """The default headers updated with ``credentials`` (reused while
        neither changes; callers copy before adding their own)."""
        cached = self._headers_for
        if cached is None or cached[1] != credentials or cached[0] != self.default_headers:
            headers = CIMultiDict(self.default_headers)
            headers.update(credentials)
            self._headers = headers
            self._headers_for = (dict(self.default_headers), dict(credentials))
        return self._headers

    def _open(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        json_body: Any,
        data: Any,
        encoded: bytes | None,
    ) -> Any:
        """The aiohttp request of one attempt, ready for ``async with``."""
        session = self._get_session()
        self.requests_sent += 1
        if encoded is not None:
            # The Content-Type aiohttp gives json= bodies, without a header to merge.
            json_body, data = None, BytesPayload(encoded, content_type="application/json")
        if self._proxy_auth is None:  # the fixed options as they are: no copy
            return session.request(
                method, url, json=json_body, data=data, headers=headers, **self._request_options
            )
        return session.request(
            method, url, json=json_body, data=data, **self._options(url, headers)
        )

    def _failure(self, exc: BaseException, url: URL) -> _TransportFailure:
        """Classify a failed attempt: was it sent, why did it fail, a safe cause."""
        where = f"{url.host}:{url.port}" if url.port else str(url.host)
        t = self.timeouts
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            cert = exc.certificate_error
            detail = getattr(cert, "verify_message", None) or str(cert)
            return _TransportFailure(
                _Outcome.NOT_SENT,
                f"the TLS certificate of {where} was refused: certificate verify failed: {detail}",
                cert if isinstance(cert, Exception) else None,
                retryable=False,  # the same certificate is refused on every try
            )
        if isinstance(exc, aiohttp.ClientConnectorSSLError):
            return _TransportFailure(
                _Outcome.NOT_SENT,
                f"the TLS handshake with {where} failed: {exc.os_error}",
                exc.os_error,
            )
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return _TransportFailure(
                _Outcome.NOT_SENT,
                # The proxy's address (never its credentials): "connection
                # refused" alone would send the user looking at the provider.
                f"could not connect to the proxy {exc.host}:{exc.port}: "
                + _os_reason(exc.os_error),
                exc.os_error,
            )
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return _TransportFailure(
                _Outcome.NOT_SENT, f"could not resolve the host name {url.host}", exc.os_error
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return _TransportFailure(
                _Outcome.NOT_SENT,
                f"could not connect to {where}: {_os_reason(exc.os_error)}",
                exc.os_error,
            )
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            return _TransportFailure(
                _Outcome.NOT_SENT,
                f"the proxy refused to connect to {where}: HTTP {exc.status} {exc.message}",
                None,
            )
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return _TransportFailure(
                _Outcome.NOT_SENT, f"connecting to {where} timed out after {t.connect} s", None
            )
        if isinstance(exc, aiohttp.SocketTimeoutError):
            return _TransportFailure(
                _Outcome.MAYBE_SENT, f"timed out: {where} sent nothing for {t.read} s", None
            )
        if isinstance(exc, TimeoutError):
            return _TransportFailure(
                _Outcome.MAYBE_SENT,
                f"timed out after {t.total} s waiting for the answer from {where}",
                None,
            )
        if isinstance(exc, aiohttp.ClientPayloadError):
            return _TransportFailure(
                _Outcome.MAYBE_SENT, f"the answer from {where} was cut short", None
            )
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return _TransportFailure(
                _Outcome.MAYBE_SENT, f"{where} closed the connection before answering", None
            )
        if isinstance(exc, aiohttp.ClientResponseError):
            # request_info (with the request's headers) stays behind.
            return _TransportFailure(
                _Outcome.MAYBE_SENT, f"bad response from {where} ({exc.message})", None
            )
        if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError):
            return _TransportFailure(
                _Outcome.MAYBE_SENT, f"connection to {where} failed: {_os_reason(exc)}", exc
            )
        return _TransportFailure(
            _Outcome.MAYBE_SENT, f"connection to {where} failed ({type(exc).__name__})", None
        )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        rate_group: str | None = None,
        chunk_size: int = 64 * 1024,
    ) -> AsyncIterator[tuple[Response, AsyncIterator[bytes]]]:
        """Open a response whose body is read in chunks, never held whole.

        Yields the response head (``body`` empty) and an iterator of chunks.
        Errors are mapped as for :meth:`request`. Before the body starts, a
        download is retried like any idempotent read (connection failures,
        429 after ``Retry-After``, 5xx, one re-authentication after a 401);
        once chunks flow, an interruption raises ProviderUnavailable, since
        a stream cannot be replayed midway. The head must arrive within the
        ``total`` timeout; then each chunk within the ``read`` timeout.
        """
        self.ensure_open()
        self._check_loop()
        url = self.url(path_or_url)
        if params:
            url = url.update_query(_query(params))
        options = {
            "timeout": aiohttp.ClientTimeout(
                total=None, sock_connect=self.timeouts.connect, sock_read=self.timeouts.read
            ),
            "auto_decompress": True,
        }
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            answered = await self._pace(rate_group)
            failure: _TransportFailure | None = None
            try:
                sent = CIMultiDict(self.default_headers)
                # Files are fetched as they are: nothing to decompress, nothing to bomb.
                sent["Accept-Encoding"] = "identity"
                credentials = await self.auth.headers(self)
                self._last_auth = credentials
                sent.update(credentials)
                session = self._get_session()
                with anyio.fail_after(self.timeouts.total):
                    resp = await session.request(
                        method, url, **{**self._options(url, sent), **options}
                    )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                failure = self._failure(exc, url)
            finally:
                if answered is not None:
                    answered()
            if failure is not None:
                if self._closed:
                    raise _chained(
                        errors.ClientClosed(
                            "the client was closed during the download", provider=self.provider
                        ),
                        failure.__cause__,
                    )
                if failure.retryable and attempt < self.retry.max_attempts:
                    await anyio.sleep(self.retry.delay(attempt, None))
                    continue
                raise _chained(
                    errors.ProviderUnavailable(
                        f"{method} {url.path} failed: "
                        + self._scrubber_for(sent).text(failure.reason),
                        provider=self.provider,
                        may_have_been_processed=False,
                    ),
                    failure.__cause__,
                )
            try:
                head = Response(resp.status, resp.headers, b"", str(url), self.provider)
                if self.on_response is not None:
                    hooked = self.on_response(head, rate_group)
                    if hooked is not None:
                        await hooked
                status = resp.status
                if 200 <= status < 300:
                    yield head, self._chunks(resp, chunk_size, url)
                    return
                if status == 401 and not reauthenticated:
                    reauthenticated = True
                    if await self.auth.on_unauthorized(self, dict(sent)):
                        attempt -= 1
                        continue
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                if (
                    (status == 429 or status in self.retry.retry_statuses)
                    and attempt < self.retry.max_attempts
                    and (retry_after is None or retry_after <= self.retry.retry_after_ceiling)
                ):
                    if status == 429:
                        self._hold(rate_group, retry_after)
                    wait = self.retry.delay(attempt, retry_after)
                else:
                    body = await _read_error_body(resp)
                    failed = Response(resp.status, resp.headers, body, str(url), self.provider)
                    raise self._error(failed, retry_after, sent)
            finally:
                resp.release()
            await anyio.sleep(wait)

    async def _chunks(
        self, resp: aiohttp.ClientResponse, size: int, url: URL
    ) -> AsyncIterator[bytes]:
        failure: _TransportFailure | None = None
        try:
            async for chunk in resp.content.iter_chunked(size):
                yield chunk
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            failure = self._failure(exc, url)
        if failure is not None:
            raise _chained(
                errors.ProviderUnavailable(
                    f"download interrupted: {failure.reason}", provider=self.provider
                ),
                failure.__cause__,
            )

    # -- secrets -------------------------------------------------------------
    def _scrubber_for(
        self, sent: Mapping[str, str], json_body: Any = None, data: Any = None
    ) -> Scrubber:
        """The scrubber for one request: configured secrets, obtained tokens,
        the request's credential headers and sensitive form/JSON fields."""
        extra = credential_values(sent.items())
        if isinstance(self.auth, OAuth2):
            # Replaced tokens too: a provider may echo the one it just refused.
            extra.update(token.reveal() for token in self.auth.obtained)
        for fields in (json_body, data):
            if isinstance(fields, Mapping):
                for name, value in fields.items():
                    if str(name).lower() in _SENSITIVE_FIELDS:
                        if isinstance(value, Secret):
                            extra.add(value.reveal())
                        elif isinstance(value, str):
                            extra.add(value)
        return self.scrubber.with_extra(extra)

    def _scrub_text(self, sent: Mapping[str, str], json_body: Any, data: Any, text: str) -> str:
        return self._scrubber_for(sent, json_body, data).text(text)

    def scrub_error(self, exc: errors.MessagingError) -> errors.MessagingError:
        """Scrub an error an adapter built from provider text (e.g. GraphQL
        errors in a 200 answer) of every secret this client knows."""
        return self._scrubber_for(self._last_auth).error(exc)

    # -- helpers -------------------------------------------------------------
    async def _backoff(
        self, method: str, url: URL, attempt: int, retry_after: float | None, reason: str
    ) -> None:
        delay = self.retry.delay(attempt, retry_after)
        # The path only: queries and headers may carry credentials.
        log.info(
            "%s %s %s: %s, retrying in %.2f s (attempt %d of %d)",
            self.provider,
            method,
            url.path,
            reason,
            delay,
            attempt + 1,
            self.retry.max_attempts,
            extra={
                "event": "retry",
                "provider": self.provider,
                "http_method": method,
                "path": url.path,
                "reason": reason,
                "delay": delay,
                "attempt": attempt + 1,
                "max_attempts": self.retry.max_attempts,
            },
        )
        await anyio.sleep(delay)

    async def _pace(self, group: str | None) -> Callable[[], None] | None:
        """Wait for the rate limit; returns what to call once the answer is in."""
        limiter = (
            self.rate_limiter.get(group)
            if isinstance(self.rate_limiter, GroupedRateLimiter)
            else self.rate_limiter
        )
        if limiter is None:
            return None
        started = time.monotonic()
        try:
            ticket = await limiter.acquire(report=True)
        except errors.StateUnavailable as exc:
            exc.provider = exc.provider or self.provider
            raise
        waited = time.monotonic() - started
        if waited >= _PACING_LOG_THRESHOLD:
            log.info(
                "%s: paced %.2f s by the client-side rate limit%s",
                self.provider,
                waited,
                f" ({group})" if group else "",
                extra={
                    "event": "rate_limit_wait",
                    "provider": self.provider,
                    "rate_group": group,
                    "waited": waited,
                },
            )
        if ticket is None:
            return None
        return partial(limiter.answered, ticket)

    def _hold(self, group: str | None, seconds: float | None) -> None:
        if seconds is None:
            return
        log.info(
            "%s: the provider asked for a %.2f s pause%s",
            self.provider,
            seconds,
            f" ({group})" if group else "",
            extra={
                "event": "rate_limited",
                "provider": self.provider,
                "rate_group": group,
                "retry_after": seconds,
            },
        )
        limiter = (
            self.rate_limiter.get(group)
            if isinstance(self.rate_limiter, GroupedRateLimiter)
            else self.rate_limiter
        )
        if limiter is not None:
            limiter.pause_for(seconds)

    def _error(
        self,
        response: Response,
        retry_after: float | None,
        sent: Mapping[str, str],
        json_body: Any = None,
        data: Any = None,
    ) -> errors.ProviderError:
        info = self.error_parser(
            response.status, response.body[:_ERROR_BODY_LIMIT], response.headers
        )
        scrubber = self._scrubber_for(sent, json_body, data)
        # Scrubbed before the error is built: it joins and cuts the texts,
        # and a cut secret would no longer be recognised.
        error = error_for_status(
            response.status, scrubber.info(info), provider=self.provider, retry_after=retry_after
        )
        scrubber.error(error)
        return error if self.error_typer is None else self.error_typer(error)

    def __repr__(self) -> str:
        return f"Transport(provider={self.provider!r}, base_url={str(self.base_url)!r})"


_NO_HEADERS: Mapping[str, str] = {}
USER_AGENT = "messaging-hub/0.1"

# Sentinels for 2xx bodies that could not be kept (compared by identity).
_OVERSIZE = b"<over max_response_bytes>"
_UNREADABLE = b"<undecodable Content-Encoding>"


class _TransportFailure(Exception):
    def __init__(
        self,
        outcome: _Outcome,
        reason: str,
        cause: BaseException | None,
        *,
        retryable: bool = True,
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.retryable = retryable
        self.__cause__ = cause
        self.__suppress_context__ = True


def _chained(error: errors.MessagingError, cause: BaseException | None) -> errors.MessagingError:
    """``error`` caused by ``cause`` (an OS or TLS error, never aiohttp's own)."""
    error.__cause__ = cause
    error.__suppress_context__ = True
    return error


def _basic_auth(login: str, password: str) -> str:
    """A Basic credentials header value (RFC 7617, UTF-8)."""
    pair = f"{login}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _os_reason(error: OSError | None) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if error is None:
        return "unknown error"
    return error.strerror or str(error) or type(error).__name__


_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def checked_base_url(value: str, *, key: str, provider: str) -> URL:
    """``value`` as a URL fit to be an API root, or ConfigError naming ``key``.

    Refused: anything but absolute http(s), control characters or spaces
    (a pasted CR/LF would inject headers), user:password (credentials
    belong in their own options), a query or a fragment (paths are
    appended to it).
    """
    problem = None
    url: URL | None = None
    if not isinstance(value, str):
        problem = "must be a string"
    elif _has_control(value):
        problem = "must not contain spaces, line breaks or other control characters"
    else:
        try:
            url = URL(value.rstrip("/"))
            if url.scheme not in ("http", "https") or not url.host:
                problem = "must be an absolute http(s) URL"
            elif url.user is not None or url.password is not None:
                problem = "must not contain user:password (use the credential options)"
            elif url.query_string or "?" in value:
                problem = "must not contain a query"
            elif url.fragment or "#" in value:
                problem = "must not contain a fragment"
        except (ValueError, TypeError, AttributeError):
            problem = "must be an absolute http(s) URL"
    if problem is not None or url is None:
        shown = value if isinstance(value, str) and not _has_control(value) else None
        if isinstance(value, str) and "@" in value:
            shown = None  # may hold a password
        raise errors.ConfigError(
            f"{key} {problem or 'is invalid'}" + (f", got {shown!r}" if shown else ""),
            key=key,
            provider=provider,
        )
    return url


async def _read_error_body(resp: aiohttp.ClientResponse) -> bytes:
    try:
        return await resp.content.read(_ERROR_BODY_LIMIT)
    except (aiohttp.ClientError, OSError, TimeoutError):
        return b""


def _query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Drop ``None`` values, repeat list values, spell booleans ``true``/``false``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                out.append((key, "true" if item else "false"))
            else:
                out.append((key, str(item)))
    return out
