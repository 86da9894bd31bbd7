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
import enum
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import anyio
import attrs
import cattrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import errors
from .auth import AuthStrategy, NoAuth
from .ratelimit import GroupedRateLimiter, RateLimiter
from .retry import RetryPolicy, parse_retry_after

__all__ = [
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


@attrs.frozen
class Timeouts:
    """Per-attempt time limits in seconds (``None`` means no limit)."""

    total: float | None = 30.0
    connect: float | None = 10.0
    read: float | None = 30.0

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """The equivalent ``aiohttp.ClientTimeout``."""
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )


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


@attrs.frozen
class Response:
    """A complete response: status, headers and the body as bytes."""

    status: int
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    url: str = ""
    provider: str = ""

    def json(self) -> Any:
        """The body decoded as JSON; a malformed body raises MalformedResponse."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            snippet = self.body[:60].decode("utf-8", "replace")
            raise errors.MalformedResponse(
                f"expected JSON, got {snippet!r}", provider=self.provider, status=self.status
            ) from exc

    def json_or_none(self) -> Any:
        """The JSON body, or ``None`` when the body is empty."""
        return self.json() if self.body.strip() else None

    def decode(self, converter: cattrs.Converter, cls: type[T]) -> T:
        """The JSON body structured into ``cls``; a wrong shape raises MalformedResponse."""
        data = self.json()
        try:
            return converter.structure(data, cls)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            name = getattr(cls, "__name__", str(cls))
            raise errors.MalformedResponse(
                f"the answer is not a valid {name}", provider=self.provider, status=self.status
            ) from exc


class _Outcome(enum.Enum):
    NOT_SENT = "the request never reached the provider"
    MAYBE_SENT = "the connection failed after the request was sent"


def _loads_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def default_error_parser(status: int, body: bytes, headers: CIMultiDictProxy[str]) -> ErrorInfo:
    """Read ``{code, message}``-like bodies, bare JSON strings, or plain text."""
    data = _loads_or_none(body)
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
    message = info.message or f"HTTP {status}"
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


ResponseHook = Callable[[Response, "str | None"], Awaitable[None] | None]


class Transport:
    """Sends requests for one provider client; see the module docstring.

    ``base_url`` is the provider's API root; paths given to
    :meth:`request` are appended to it and must already be percent-encoded
    (build them with :func:`messaging_hub.transport.paths.path`). Absolute
    URLs are accepted only for origins listed in ``allowed_origins``, so
    credentials never go to an arbitrary host.
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
        rate_limiter: RateLimiter | GroupedRateLimiter | None = None,
        error_parser: ErrorParser = default_error_parser,
        allowed_origins: tuple[str, ...] = (),
        default_headers: Mapping[str, str] | None = None,
        on_response: ResponseHook | None = None,
    ) -> None:
        self.provider = provider
        try:
            self.base_url = URL(base_url.rstrip("/"))
            valid = self.base_url.scheme in ("http", "https") and bool(self.base_url.host)
        except (ValueError, TypeError, AttributeError):
            valid = False
        if not valid:
            raise errors.ConfigError(
                f"base_url must be an absolute http(s) URL, got {base_url!r}",
                key="base_url",
                provider=provider,
            )
        self.auth = auth or NoAuth()
        self.timeouts = timeouts or Timeouts()
        self.pool = pool or PoolLimits()
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter
        self.error_parser = error_parser
        self.allowed_origins = frozenset(
            [str(self.base_url.origin())] + [str(URL(o).origin()) for o in allowed_origins]
        )
        self.default_headers = dict(default_headers or {})
        self.on_response = on_response
        self._session = session
        self._owns_session = session is None
        # The event loop the session (and the auth and rate-limit locks) belong to.
        self._loop: asyncio.AbstractEventLoop | None = getattr(session, "_loop", None)
        self._closed = False
        self.requests_sent = 0

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
                headers={"User-Agent": "messaging-hub/0.1"},
                raise_for_status=False,
            )
            # aiohttp silently resends an idempotent request once when a reused
            # connection drops; this transport counts and classifies every
            # attempt itself (see the module docstring), so it must see them.
            self._session._retry_connection = False
        return self._session

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
        if "://" in path_or_url:
            url = URL(path_or_url, encoded=True)
            if str(url.origin()) not in self.allowed_origins:
                raise errors.InvalidRequest(
                    f"refusing to send credentials to {url.origin()}: not an allowed host",
                    provider=self.provider,
                )
            return url
        if not path_or_url.startswith("/"):
            path_or_url = "/" + path_or_url
        return URL(str(self.base_url) + path_or_url, encoded=True)

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
        url = self.url(path)
        if params:
            url = url.update_query(_query(params))
        reauthenticated = False
        maybe_applied = False
        attempt = 0
        while True:
            attempt += 1
            await self._pace(rate_group)
            self.ensure_open()  # aclose() may have run while this task waited
            sent_headers = CIMultiDict(self.default_headers)
            if authenticate:
                sent_headers.update(await self.auth.headers(self))
            if headers:
                sent_headers.update(headers)
            body = data() if callable(data) else data
            try:
                response = await self._send(method, url, sent_headers, json_body, body)
            except _TransportFailure as failure:
                if self._closed:
                    raise errors.ClientClosed(
                        f"the client was closed while {method} {url.path} was in flight"
                        + ("" if method in _IDEMPOTENT else "; it may have been processed"),
                        provider=self.provider,
                    ) from failure.__cause__
                retry_ok = failure.outcome is _Outcome.NOT_SENT or idempotent
                maybe_applied = maybe_applied or failure.outcome is _Outcome.MAYBE_SENT
                if retry_ok and attempt < self.retry.max_attempts:
                    await self._backoff(method, url, attempt, None, failure.reason)
                    continue
                raise errors.ProviderUnavailable(
                    f"{method} {url.path} failed: {failure.reason}",
                    provider=self.provider,
                    may_have_been_processed=failure.outcome is _Outcome.MAYBE_SENT,
                ) from failure.__cause__
            if self.on_response is not None:
                hooked = self.on_response(response, rate_group)
                if hooked is not None:
                    await hooked
            status = response.status
            if (ok_statuses and status in ok_statuses) or 200 <= status < 300:
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
                    raise self._error(response, retry_after)
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
            raise self._error(response, retry_after)

    async def _send(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        json_body: Any,
        data: Any,
    ) -> Response:
        session = self._get_session()
        started = time.perf_counter()
        self.requests_sent += 1
        try:
            async with session.request(
                method, url, headers=headers, json=json_body, data=data, allow_redirects=False
            ) as resp:
                body = await resp.read()
                result = Response(
                    status=resp.status,
                    headers=resp.headers,
                    body=body,
                    url=str(url),
                    provider=self.provider,
                )
        except aiohttp.ClientConnectorError as exc:
            raise _TransportFailure(_Outcome.NOT_SENT, "could not connect") from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise _TransportFailure(_Outcome.NOT_SENT, "connect timed out") from exc
        except TimeoutError as exc:
            raise _TransportFailure(
                _Outcome.MAYBE_SENT, "timed out waiting for the answer"
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise _TransportFailure(_Outcome.MAYBE_SENT, "the answer was cut short") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise _TransportFailure(
                _Outcome.MAYBE_SENT, "the server closed the connection"
            ) from exc
        except aiohttp.ClientResponseError as exc:
            raise _TransportFailure(_Outcome.MAYBE_SENT, f"bad response ({exc.message})") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise _TransportFailure(_Outcome.MAYBE_SENT, type(exc).__name__) from exc
        log.debug(
            "%s %s %s -> %d in %.1f ms",
            self.provider,
            method,
            url.path,
            result.status,
            (time.perf_counter() - started) * 1000,
        )
        return result

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
        a stream cannot be replayed midway.
        """
        self.ensure_open()
        self._check_loop()
        url = self.url(path_or_url)
        if params:
            url = url.update_query(_query(params))
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            await self._pace(rate_group)
            sent = CIMultiDict(self.default_headers)
            sent.update(await self.auth.headers(self))
            session = self._get_session()
            try:
                resp = await session.request(method, url, headers=sent, allow_redirects=False)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if self._closed:
                    raise errors.ClientClosed(
                        "the client was closed during the download", provider=self.provider
                    ) from exc
                if attempt < self.retry.max_attempts:
                    await anyio.sleep(self.retry.delay(attempt, None))
                    continue
                raise errors.ProviderUnavailable(
                    f"{method} {url.path} failed: {type(exc).__name__}",
                    provider=self.provider,
                    may_have_been_processed=False,
                ) from exc
            try:
                head = Response(resp.status, resp.headers, b"", str(url), self.provider)
                if self.on_response is not None:
                    hooked = self.on_response(head, rate_group)
                    if hooked is not None:
                        await hooked
                status = resp.status
                if 200 <= status < 300:
                    yield head, self._chunks(resp, chunk_size)
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
                    body = await _read_capped(resp)
                    failed = Response(resp.status, resp.headers, body, str(url), self.provider)
                    raise self._error(failed, retry_after)
            finally:
                resp.release()
            await anyio.sleep(wait)

    async def _chunks(self, resp: aiohttp.ClientResponse, size: int) -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.content.iter_chunked(size):
                yield chunk
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise errors.ProviderUnavailable(
                f"download interrupted: {type(exc).__name__}", provider=self.provider
            ) from exc

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
        )
        await anyio.sleep(delay)

    async def _pace(self, group: str | None) -> None:
        if isinstance(self.rate_limiter, GroupedRateLimiter):
            await self.rate_limiter.acquire(group)
        elif self.rate_limiter is not None:
            await self.rate_limiter.acquire()

    def _hold(self, group: str | None, seconds: float | None) -> None:
        if seconds is None:
            return
        limiter = (
            self.rate_limiter.get(group)
            if isinstance(self.rate_limiter, GroupedRateLimiter)
            else self.rate_limiter
        )
        if limiter is not None:
            limiter.pause_for(seconds)

    def _error(self, response: Response, retry_after: float | None) -> errors.ProviderError:
        info = self.error_parser(
            response.status, response.body[:_ERROR_BODY_LIMIT], response.headers
        )
        return error_for_status(
            response.status, info, provider=self.provider, retry_after=retry_after
        )

    def __repr__(self) -> str:
        return f"Transport(provider={self.provider!r}, base_url={str(self.base_url)!r})"


class _TransportFailure(Exception):
    def __init__(self, outcome: _Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
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
