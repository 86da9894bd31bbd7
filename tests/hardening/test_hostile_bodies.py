"""Bodies a server should never send: endless, huge, compressed bombs, odd encodings.

Every one must end in a typed error with memory bounded by
``max_response_bytes`` (checked with tracemalloc), and the connection that
carried the unread rest must be dropped, not returned to the pool.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import pytest

import messaging_hub as mh

from ._raw import RawServer, head, write_forever

pytestmark = pytest.mark.anyio

CAP = 1024 * 1024
T = TypeVar("T")


def _client(server: RawServer, **options: Any) -> mh.Adapter[Any]:
    client: mh.Adapter[Any] = mh.connect(
        "netsapiens",
        base_url=f"{server.url}/ns-api/v2",
        access_token="tok-hostile-1234",
        max_attempts=1,
        max_response_bytes=CAP,
        **options,
    )
    return client


async def _history(client: mh.Adapter[Any]) -> list[mh.Message]:
    return [m async for m in client.history("abc")]


async def _peak(work: Callable[[], Awaitable[T]]) -> tuple[T | BaseException, int]:
    """Run ``work`` and return its result (or error) and the traced peak, in bytes."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            with anyio.fail_after(20):
                result: T | BaseException = await work()
        except Exception as exc:
            result = exc
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return result, peak


def _bomb(size: int) -> bytes:
    """``size`` bytes of JSON-ish zeros, gzip-compressed to a tiny body."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"0" * (1024 * 1024)
    parts = [packer.compress(b"[")]
    parts += [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """256 MiB of decompressed data in a body of a few hundred KiB."""
    return _bomb(256 * 1024 * 1024)


async def _endless_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head(Content_Type="application/json", Transfer_Encoding="chunked"))
    await write_forever(writer, b"[" + b"1," * 32 * 1024, chunked=True)


async def _endless_error(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head("500 Oops", Content_Type="text/plain", Transfer_Encoding="chunked"))
    await write_forever(writer, b"x" * 65536, chunked=True)


async def test_an_endless_chunked_answer_stops_at_the_cap_and_drops_the_connection() -> None:
    async with RawServer(_endless_ok) as server, _client(server) as client:
        result, peak = await _peak(lambda: _history(client))
        assert isinstance(result, mh.MalformedResponse)
        assert "max_response_bytes" in result.message
        assert peak < 4 * CAP, f"peak {peak} bytes for a {CAP}-byte cap"
        with anyio.fail_after(5):
            await server.client_hung_up.wait()


async def _endless_with_a_small_length(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    # Content-Length says 10 bytes; the chunked body (which wins) never ends.
    writer.write(
        head(Content_Type="application/json", Content_Length="10", Transfer_Encoding="chunked")
    )
    await write_forever(writer, b"[" + b"1," * 32 * 1024, chunked=True)


async def test_a_small_content_length_beside_a_chunked_body_does_not_lift_the_cap() -> None:
    async with RawServer(_endless_with_a_small_length) as server, _client(server) as client:
        result, peak = await _peak(lambda: _history(client))
        assert isinstance(result, mh.MessagingError)
        assert peak < 4 * CAP, f"peak {peak} bytes for a {CAP}-byte cap"


async def test_an_endless_error_body_keeps_its_status_type_and_bounded_memory() -> None:
    async with RawServer(_endless_error) as server, _client(server) as client:
        result, peak = await _peak(lambda: _history(client))
        assert isinstance(result, mh.ProviderUnavailable)
        assert result.status == 500
        assert peak < 2 * CAP
        with anyio.fail_after(5):
            await server.client_hung_up.wait()


async def test_an_announced_huge_length_fails_before_reading() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(Content_Type="application/json", Content_Length=10**12))
        await writer.drain()
        await asyncio.sleep(30)  # never sends the body

    async with RawServer(handler) as server, _client(server, timeout=10) as client:
        with anyio.fail_after(5), pytest.raises(mh.MalformedResponse, match="max_response"):
            await _history(client)


@pytest.mark.parametrize("status", ["200 OK", "503 Busy"])
async def test_a_gzip_bomb_is_decompressed_only_up_to_the_cap(bomb: bytes, status: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            head(
                status,
                Content_Type="application/json",
                Content_Encoding="gzip",
                Content_Length=len(bomb),
            )
        )
        writer.write(bomb)
        await writer.drain()
        await asyncio.sleep(30)

    async with RawServer(handler) as server, _client(server) as client:
        result, peak = await _peak(lambda: _history(client))
        expected = mh.MalformedResponse if status.startswith("2") else mh.ProviderUnavailable
        assert isinstance(result, expected), repr(result)
        assert peak < 4 * CAP, f"peak {peak} bytes for a {CAP}-byte cap"


async def test_a_bomb_answering_a_send_says_it_may_have_been_processed(bomb: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            head(
                "202 Accepted",
                Content_Type="application/json",
                Content_Encoding="gzip",
                Content_Length=len(bomb),
            )
        )
        writer.write(bomb)
        await writer.drain()
        await asyncio.sleep(30)

    async with RawServer(handler) as server, _client(server) as client:
        with pytest.raises(mh.MalformedResponse) as info:
            await client.send(mh.Outgoing(to=["1004"], text="hi", session_id="abc"))
        assert info.value.may_have_been_processed is True


def _packed(encoding: str, payload: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(payload)
    if encoding == "deflate-zlib":
        return zlib.compress(payload)
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(payload) + packer.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate-zlib", "deflate-raw"])
async def test_honest_compressed_answers_still_decode(encoding: str) -> None:
    messages = [
        {"id": f"m{i}", "messagesession-id": "abc", "text": f"hello {i}", "type": "chat"}
        for i in range(3)
    ]
    body = _packed(encoding, json.dumps(messages).encode())

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            head(
                Content_Type="application/json",
                Content_Encoding=encoding.split("-")[0],
                Content_Length=len(body),
                Connection="close",
            )
        )
        writer.write(body)
        await writer.drain()

    async with RawServer(handler) as server, _client(server) as client:
        texts = [m.text async for m in client.history("abc", limit=3)]
        assert texts == ["hello 0", "hello 1", "hello 2"]
        assert b"accept-encoding: gzip, deflate" in server.heads[0].lower()


async def test_an_encoding_nobody_asked_for_is_a_typed_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(Content_Type="application/json", Content_Encoding="br", Content_Length=4))
        writer.write(b"\x0b\x01\x80[")
        await writer.drain()

    async with RawServer(handler) as server, _client(server) as client:
        with pytest.raises(mh.MalformedResponse, match="Content-Encoding"):
            await _history(client)


async def test_corrupt_gzip_is_a_typed_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b"\x1f\x8b\x08\x00garbage-not-deflate"
        writer.write(
            head(Content_Type="application/json", Content_Encoding="gzip", Content_Length=len(body))
        )
        writer.write(body)
        await writer.drain()

    async with RawServer(handler) as server, _client(server) as client:
        with pytest.raises(mh.MalformedResponse):
            await _history(client)


async def test_the_client_works_on_after_a_capped_answer() -> None:
    """The dropped connection is not handed back to the pool for the next request."""
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await _endless_ok(reader, writer)
            return
        writer.write(head(Content_Type="application/json", Content_Length=2))
        writer.write(b"[]")
        await writer.drain()

    async with RawServer(handler) as server, _client(server) as client:
        with pytest.raises(mh.MalformedResponse):
            await _history(client)
        assert await _history(client) == []
        assert calls == 2
