"""The client's timeouts hold against silent and dripping servers, with the
library's own session and with a caller's session that has none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest

import messaging_hub as mh

from ._raw import RawServer, head

pytestmark = pytest.mark.anyio


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(60)


async def _drip_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # A byte of a never-ending header line every 50 ms: each read makes progress.
    writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while True:
        writer.write(b"a")
        await writer.drain()
        await asyncio.sleep(0.05)


async def _drip_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Content_Type="application/json", Content_Length=100_000) + b"[")
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.fixture(params=["library session", "caller session"])
async def session(request: pytest.FixtureRequest) -> AsyncIterator[aiohttp.ClientSession | None]:
    """None (the library makes its own) or a caller's session with no timeout at all."""
    if request.param == "library session":
        yield None
        return
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as own:
        yield own


@pytest.mark.parametrize(
    "behaviour", [_silent, _drip_head, _drip_body], ids=["silent", "drip-head", "drip-body"]
)
@pytest.mark.parametrize("operation", ["read", "send"])
async def test_a_stalling_server_gives_provider_unavailable_after_the_timeout(
    behaviour: Any, operation: str, session: aiohttp.ClientSession | None
) -> None:
    async with (
        RawServer(behaviour) as server,
        mh.connect(
            "netsapiens",
            base_url=f"{server.url}/ns-api/v2",
            access_token="tok-timeout-1234",
            timeout=0.4,
            connect_timeout=0.4,
            max_attempts=1,
            session=session,
        ) as client,
    ):

        async def act() -> None:
            if operation == "read":
                [m async for m in client.history("abc")]
            else:
                await client.send(mh.Outgoing(to=["1004"], text="hi", session_id="abc"))

        # The guard only stops a broken client from hanging the suite.
        with anyio.fail_after(15), pytest.raises(mh.ProviderUnavailable) as info:
            await act()
        assert "timed out" in info.value.message
        assert "127.0.0.1" in info.value.message
        # A send that timed out may have been delivered; a read is just lost.
        assert info.value.may_have_been_processed is True
        assert len(server.heads) == 1  # a send is never resent after a timeout
