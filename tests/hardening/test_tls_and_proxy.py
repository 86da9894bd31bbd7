"""TLS, CA bundles and proxies over real loopback connections.

The fakes are served over HTTPS with a throwaway CA (trustme); the proxy
is a small HTTP forward proxy written here. Errors must say what went
wrong (certificate refused, connection refused, name not resolved) and
which host, and nothing a user can see may hold the proxy's password.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import anyio
import attrs
import pytest
import trustme
from yarl import URL

import messaging_hub as mh
from messaging_hub.testing import FakeServer
from messaging_hub.testing.netsapiens import FakeNetSapiens
from messaging_hub.testing.ringcentral import FakeRingCentral

from ..contract.providers import ContractProvider, all_providers
from ._chains import exception_chain

pytestmark = pytest.mark.anyio

PROXY_USER = "relay-user"
PROXY_PASSWORD = "pr0xy-p@ss-9731"
# The password as it appears percent-encoded in the proxy URL.
PROXY_PASSWORD_QUOTED = "pr0xy-p%40ss-9731"


# -- certificates ------------------------------------------------------------
@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A CA nobody trusts unless told to."""
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_pem(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The CA's certificate as a PEM file (what ``ca_bundle`` takes)."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def _trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@contextlib.asynccontextmanager
async def _https(fake: FakeServer, context: ssl.SSLContext) -> AsyncIterator[FakeServer]:
    fake.ssl_context = context
    async with fake:
        assert fake.origin.startswith("https://127.0.0.1:")
        yield fake


@pytest.fixture
async def tls_netsapiens(ca: trustme.CA) -> AsyncIterator[FakeNetSapiens]:
    """A fake NetSapiens on https://127.0.0.1 with a certificate from ``ca``."""
    async with _https(FakeNetSapiens(), _server_context(ca, "127.0.0.1")) as fake:
        assert isinstance(fake, FakeNetSapiens)
        yield fake


@pytest.fixture
async def tls_ringcentral(ca: trustme.CA) -> AsyncIterator[FakeRingCentral]:
    """A fake RingCentral on https://127.0.0.1 with a certificate from ``ca``."""
    async with _https(FakeRingCentral(), _server_context(ca, "127.0.0.1")) as fake:
        assert isinstance(fake, FakeRingCentral)
        yield fake


@pytest.fixture(params=["library session", "caller session"])
async def session(request: pytest.FixtureRequest) -> AsyncIterator[aiohttp.ClientSession | None]:
    """None (the library makes its own) or a caller-owned plain session."""
    if request.param == "library session":
        yield None
        return
    async with aiohttp.ClientSession() as own:
        yield own


async def _use(client: mh.Adapter[Any], provider: str) -> None:
    """One authenticated round trip for ``provider``."""
    peer = "1004" if provider == "netsapiens" else "+14155550123"
    receipt = await client.send(mh.Outgoing(to=[peer], text="over the wire"))
    assert receipt.session_id


def _host_port(origin: str) -> str:
    url = URL(origin)
    return f"{url.host}:{url.port}"


# -- TLS -----------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["netsapiens", "ringcentral"])
async def test_an_untrusted_certificate_is_refused_and_says_why(
    provider: str,
    tls_netsapiens: FakeNetSapiens,
    tls_ringcentral: FakeRingCentral,
    session: aiohttp.ClientSession | None,
) -> None:
    fake: FakeServer = tls_netsapiens if provider == "netsapiens" else tls_ringcentral
    async with mh.connect(fake.config, session=session) as client:
        with pytest.raises(mh.ProviderUnavailable) as info:
            await _use(client, provider)
    message = info.value.message
    assert "certificate verify failed" in message
    assert _host_port(fake.origin) in message
    assert "self-signed certificate" in message or "unable to get local issuer" in message
    assert info.value.may_have_been_processed is False
    assert fake.requests == []  # not one request crossed the refused handshake


async def test_a_refused_certificate_is_not_retried(
    tls_netsapiens: FakeNetSapiens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="messaging_hub.transport")
    async with mh.connect({**tls_netsapiens.config, "max_attempts": 5}) as client:
        with pytest.raises(mh.ProviderUnavailable, match="certificate verify failed"):
            [s async for s in client.sessions()]
    assert [r for r in caplog.records if vars(r).get("event") == "retry"] == []


@pytest.mark.parametrize("provider", ["netsapiens", "ringcentral"])
@pytest.mark.parametrize("how", ["ca_bundle", "ssl=False", "ssl='false'", "SSLContext"])
async def test_tls_options_make_the_untrusted_server_reachable(
    provider: str,
    how: str,
    ca: trustme.CA,
    ca_pem: str,
    tls_netsapiens: FakeNetSapiens,
    tls_ringcentral: FakeRingCentral,
    session: aiohttp.ClientSession | None,
) -> None:
    fake: FakeServer = tls_netsapiens if provider == "netsapiens" else tls_ringcentral
    # Options as a TOML file or the environment would give them, where possible.
    by_how: dict[str, dict[str, Any]] = {
        "ca_bundle": {"ca_bundle": ca_pem},
        "ssl=False": {"ssl": False},
        "ssl='false'": {"ssl": "false"},
        "SSLContext": {"ssl": _trusting(ca)},
    }
    extra = by_how[how]
    async with mh.connect({**fake.config, **extra}, session=session) as client:
        await _use(client, provider)
    assert fake.requests  # the round trip really went over TLS to the fake


async def test_a_certificate_for_another_name_is_refused_naming_the_mismatch(
    ca: trustme.CA, ca_pem: str, session: aiohttp.ClientSession | None
) -> None:
    context = _server_context(ca, "messaging.example")
    async with (
        _https(FakeNetSapiens(), context) as fake,
        mh.connect({**fake.config, "ca_bundle": ca_pem}, session=session) as client,
    ):
        with pytest.raises(mh.ProviderUnavailable) as info:
            await _use(client, "netsapiens")
    message = info.value.message
    assert "certificate verify failed" in message
    assert "mismatch" in message and "127.0.0.1" in message
    assert fake.requests == []


@pytest.mark.parametrize("provider", all_providers(), ids=lambda p: p.name)
async def test_every_provider_accepts_ca_bundle(
    provider: ContractProvider, ca: trustme.CA, ca_pem: str
) -> None:
    async with (
        _https(provider.make_fake(), _server_context(ca, "127.0.0.1")) as fake,
        mh.connect({**fake.config, "ca_bundle": ca_pem}) as client,
    ):
        receipt = await client.send(mh.Outgoing(to=[provider.peer], text="hello over TLS"))
    assert receipt.session_id
    assert [r for r in fake.requests if re.search(provider.send_path, r.path)]


def test_a_missing_ca_bundle_is_a_config_error_at_connect(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ca.pem"
    # connect() does no I/O: the error comes before any request could be made.
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", **_netsapiens_options(), ca_bundle=str(missing))
    assert info.value.key == "ca_bundle"
    assert "ca_bundle" in info.value.message and "nowhere" in info.value.message


def test_a_ca_bundle_that_is_not_pem_is_a_config_error_at_connect(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("this is not a certificate\n")
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", **_netsapiens_options(), ca_bundle=str(junk))
    assert info.value.key == "ca_bundle"


@pytest.mark.parametrize("ssl_value", [False, "false", "SSLContext"])
def test_ca_bundle_cannot_be_combined_with_another_ssl_setting(ssl_value: Any, ca_pem: str) -> None:
    value = ssl.create_default_context() if ssl_value == "SSLContext" else ssl_value
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", **_netsapiens_options(), ca_bundle=ca_pem, ssl=value)
    assert info.value.key == "ca_bundle"


def _netsapiens_options() -> dict[str, Any]:
    return {
        "base_url": "https://127.0.0.1:9/ns-api/v2",
        "domain": "acme",
        "user": "1000",
        "access_token": "tok-tls-options-4321",
    }


# -- proxy ---------------------------------------------------------------------
@attrs.frozen
class Seen:
    """One request as the proxy received it."""

    method: str
    target: str
    proxy_authorization: str | None


class ForwardProxy:
    """A plain-HTTP forward proxy on 127.0.0.1 that records what it relays.

    Each connection carries one request: the absolute-form target is
    rewritten to origin-form, ``Connection: close`` is added (so the client
    opens a fresh connection for the next one) and bytes are relayed both
    ways until the server hangs up. ``CONNECT host:port`` (an https target)
    opens a tunnel and relays bytes blindly.
    """

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, credentials: str = "") -> str:
        """``http://[credentials@]127.0.0.1:<port>``."""
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            method, target, version = request_line.split(" ", 2)
            fields = [line.split(":", 1) for line in lines if ":" in line]
            auth = next(
                (v.strip() for k, v in fields if k.strip().lower() == "proxy-authorization"), None
            )
            self.seen.append(Seen(method, target, auth))
            if method == "CONNECT":  # an https target: a blind tunnel
                host, _, port = target.rpartition(":")
                up_reader, upstream = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = URL(target)
                if not url.absolute or url.host is None:
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    return
                up_reader, upstream = await asyncio.open_connection(url.host, url.port)
                hop = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}
                kept = [f"{k}:{v}" for k, v in fields if k.strip().lower() not in hop]
                forwarded = [f"{method} {url.raw_path_qs} {version}", *kept, "Connection: close"]
                upstream.write(("\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1"))
            to_server = asyncio.ensure_future(_pipe(reader, upstream))
            try:
                await _pipe(up_reader, writer)
            finally:
                to_server.cancel()
                await asyncio.gather(to_server, return_exceptions=True)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            for stream in (upstream, writer):
                if stream is not None:
                    stream.close()
                    with contextlib.suppress(Exception):
                        await stream.wait_closed()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        await self._server.wait_closed()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while chunk := await source.read(64 * 1024):
        sink.write(chunk)
        await sink.drain()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    """A running forward proxy."""
    async with ForwardProxy() as running:
        yield running


def _fake_for(
    provider: str, fake_netsapiens: FakeNetSapiens, fake_ringcentral: FakeRingCentral
) -> FakeServer:
    return fake_netsapiens if provider == "netsapiens" else fake_ringcentral


def _options_of(client: mh.Adapter[Any]) -> object:
    """The client's options object (every built-in adapter keeps one)."""
    options: object = vars(client)["options"]
    return options


def _assert_no_password(*shown: object) -> None:
    for item in shown:
        items = list(exception_chain(item)) if isinstance(item, BaseException) else [item]
        for thing in items:
            text = str(thing) + repr(thing)
            if isinstance(thing, BaseException):
                text += repr(thing.args) + repr(getattr(thing, "__dict__", ""))
            assert PROXY_PASSWORD not in text, f"{type(thing).__name__} shows the password"
            assert PROXY_PASSWORD_QUOTED not in text, f"{type(thing).__name__} shows it quoted"


@pytest.mark.parametrize("provider", ["netsapiens", "ringcentral"])
async def test_requests_go_through_the_proxy_with_its_credentials(
    provider: str,
    proxy: ForwardProxy,
    fake_netsapiens: FakeNetSapiens,
    fake_ringcentral: FakeRingCentral,
    session: aiohttp.ClientSession | None,
) -> None:
    fake = _fake_for(provider, fake_netsapiens, fake_ringcentral)
    proxy_url = proxy.url(f"{PROXY_USER}:{PROXY_PASSWORD_QUOTED}")
    async with mh.connect({**fake.config, "proxy": proxy_url}, session=session) as client:
        await _use(client, provider)
        _assert_no_password(client, _options_of(client), client.native)
    expected = "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert proxy.seen, "nothing went through the proxy"
    assert all(s.proxy_authorization == expected for s in proxy.seen)
    # Absolute-form targets on the fake: the proxy, not the client, reached it.
    assert all(s.target.startswith(fake.origin + "/") for s in proxy.seen)
    assert len(fake.requests) == len(proxy.seen)


async def test_https_goes_through_a_connect_tunnel_with_the_credentials_on_connect_only(
    proxy: ForwardProxy,
    tls_ringcentral: FakeRingCentral,
    ca_pem: str,
    session: aiohttp.ClientSession | None,
) -> None:
    options = {
        **tls_ringcentral.config,
        "ca_bundle": ca_pem,
        "proxy": proxy.url(f"{PROXY_USER}:{PROXY_PASSWORD_QUOTED}"),
    }
    async with mh.connect(options, session=session) as client:
        await _use(client, "ringcentral")
    expected = "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert proxy.seen
    assert all(s.method == "CONNECT" for s in proxy.seen)
    assert all(s.target == _host_port(tls_ringcentral.origin) for s in proxy.seen)
    assert all(s.proxy_authorization == expected for s in proxy.seen)
    # Inside the tunnel the provider must not receive the proxy's credentials.
    assert tls_ringcentral.requests
    for request in tls_ringcentral.requests:
        assert "proxy-authorization" not in {name.lower() for name in request.headers}


async def test_a_proxy_without_credentials_sends_no_proxy_authorization(
    proxy: ForwardProxy, fake_netsapiens: FakeNetSapiens
) -> None:
    async with mh.connect({**fake_netsapiens.config, "proxy": proxy.url()}) as client:
        await _use(client, "netsapiens")
    assert proxy.seen
    assert all(s.proxy_authorization is None for s in proxy.seen)


@pytest.mark.parametrize(
    "proxy_url",
    [
        f"socks5://{PROXY_USER}:{PROXY_PASSWORD_QUOTED}@127.0.0.1:1080",
        f"http://{PROXY_USER}:{PROXY_PASSWORD_QUOTED}@127.0.0.1:3128/some/path",
        f"http://{PROXY_USER}:{PROXY_PASSWORD_QUOTED}@127.0.0.1:3128?q=1",
        f"{PROXY_USER}:{PROXY_PASSWORD_QUOTED}@127.0.0.1:3128",
    ],
    ids=["socks5", "path", "query", "no-scheme"],
)
def test_a_proxy_of_the_wrong_shape_is_a_config_error_that_hides_the_password(
    proxy_url: str,
) -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", **_netsapiens_options(), proxy=proxy_url)
    assert info.value.key == "proxy"
    assert "proxy" in info.value.message
    _assert_no_password(info.value)


@pytest.mark.parametrize("provider", ["netsapiens", "ringcentral"])
async def test_a_proxy_that_refuses_names_the_proxy_and_hides_the_password(
    provider: str,
    fake_netsapiens: FakeNetSapiens,
    fake_ringcentral: FakeRingCentral,
    session: aiohttp.ClientSession | None,
) -> None:
    fake = _fake_for(provider, fake_netsapiens, fake_ringcentral)
    port = _closed_port()
    proxy_url = f"http://{PROXY_USER}:{PROXY_PASSWORD_QUOTED}@127.0.0.1:{port}"
    options = {**fake.config, "proxy": proxy_url, "max_attempts": 1}
    async with mh.connect(options, session=session) as client:
        with anyio.fail_after(15), pytest.raises(mh.ProviderUnavailable) as info:
            await _use(client, provider)
        _assert_no_password(client, _options_of(client), info.value)
    message = info.value.message
    assert "proxy" in message
    assert f"127.0.0.1:{port}" in message and "connection refused" in message
    assert info.value.may_have_been_processed is False
    assert fake.requests == []


def _clear_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize("trust_env", [True, "true"])
async def test_trust_env_routes_through_http_proxy_from_the_environment(
    trust_env: Any,
    proxy: ForwardProxy,
    fake_netsapiens: FakeNetSapiens,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    async with mh.connect({**fake_netsapiens.config, "trust_env": trust_env}) as client:
        await _use(client, "netsapiens")
    assert proxy.seen
    assert len(fake_netsapiens.requests) == len(proxy.seen)


async def test_the_environment_proxy_is_ignored_by_default(
    proxy: ForwardProxy, fake_netsapiens: FakeNetSapiens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    async with mh.connect(fake_netsapiens.config) as client:
        await _use(client, "netsapiens")
    assert proxy.seen == []
    assert fake_netsapiens.requests


# -- connection errors ---------------------------------------------------------
def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("provider", ["netsapiens", "ringcentral"])
async def test_a_refused_connection_names_host_port_and_reason(
    provider: str,
    fake_netsapiens: FakeNetSapiens,
    fake_ringcentral: FakeRingCentral,
    session: aiohttp.ClientSession | None,
) -> None:
    fake = _fake_for(provider, fake_netsapiens, fake_ringcentral)
    port = _closed_port()
    base = fake.config["base_url"].replace(fake.origin, f"http://127.0.0.1:{port}")
    options = {**fake.config, "base_url": base, "max_attempts": 1}
    options.pop("media_base_url", None)
    async with mh.connect(options, session=session) as client:
        with anyio.fail_after(15), pytest.raises(mh.ProviderUnavailable) as info:
            await _use(client, provider)
    assert f"127.0.0.1:{port}" in info.value.message
    assert "connection refused" in info.value.message
    assert info.value.may_have_been_processed is False


async def test_an_unresolvable_name_says_it_could_not_be_resolved(
    fake_netsapiens: FakeNetSapiens,
) -> None:
    options = {
        **fake_netsapiens.config,
        "base_url": "http://no-such-host.invalid/ns-api/v2",
        "max_attempts": 1,
        "connect_timeout": 3,
        "timeout": 5,
    }
    async with mh.connect(options) as client:
        with anyio.fail_after(15), pytest.raises(mh.ProviderUnavailable) as info:
            await _use(client, "netsapiens")
    assert "could not resolve" in info.value.message
    assert "no-such-host.invalid" in info.value.message
    assert info.value.may_have_been_processed is False
