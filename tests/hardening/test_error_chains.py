"""aiohttp's exceptions carry the request (headers included): none of that
may ride along on the errors users get, as ``__cause__`` or ``__context__``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import messaging_hub as mh

from ._chains import exception_chain
from ._raw import RawServer, head

pytestmark = pytest.mark.anyio

TOKEN = "tok-chain-secret-5678"


def _assert_clean(exc: BaseException, secret: str) -> None:
    for item in exception_chain(exc):
        shown = (
            str(item)
            + repr(item)
            + repr(item.args)
            + repr(vars(item) if hasattr(item, "__dict__") else "")
        )
        assert secret not in shown, f"{type(item).__name__} carries the secret"
        assert "request_info" not in repr(getattr(item, "__dict__", {}))


async def _bad_status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 twohundred OK\r\n\r\n")
    await writer.drain()


async def _bad_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n")
    await writer.drain()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()


async def _cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Content_Type="application/json", Content_Length=100) + b"[1, 2")
    await writer.drain()
    writer.transport.abort()


@pytest.mark.parametrize(
    "behaviour",
    [_bad_status_line, _bad_header, _reset, _cut_short],
    ids=["bad-status-line", "bad-header", "reset", "cut-short"],
)
@pytest.mark.parametrize("credential", ["access_token", "api_key"])
async def test_transport_failures_carry_no_request_headers(
    behaviour: Any, credential: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        RawServer(behaviour) as server,
        mh.connect(
            {
                "provider": "netsapiens",
                "base_url": f"{server.url}/ns-api/v2",
                "max_attempts": 2,
                credential: TOKEN,
            }
        ) as client,
    ):
        with pytest.raises(mh.ProviderUnavailable) as info:
            [m async for m in client.history("abc")]
        assert "127.0.0.1" in info.value.message
        _assert_clean(info.value, TOKEN)
        assert TOKEN.encode() in server.heads[0]  # it was sent, so it could have leaked
    assert TOKEN not in caplog.text


async def test_a_refused_connection_names_host_and_reason_without_headers() -> None:
    async with RawServer(_reset) as server:
        url = server.url
    async with mh.connect(
        "netsapiens", base_url=f"{url}/ns-api/v2", access_token=TOKEN, max_attempts=1
    ) as client:
        with pytest.raises(mh.ProviderUnavailable) as info:
            [m async for m in client.history("abc")]
    assert url.removeprefix("http://") in info.value.message
    assert "refused" in info.value.message
    assert info.value.may_have_been_processed is False
    _assert_clean(info.value, TOKEN)
