"""Reading response bodies within bounds, and decoding JSON safely.

A provider (or whatever answers in its place) decides how much it sends,
so every body is read with a cap on the bytes that reach memory: the
announced ``Content-Length`` is checked first, chunked bodies are counted
as they arrive, and compressed bodies are decompressed here, step by step,
with the cap applied to what comes out (a gzip bomb stops at the cap
instead of expanding in one call). JSON decoding turns every failure,
including ``RecursionError`` from absurdly nested documents, into
``None`` or :class:`~messaging_hub.errors.MalformedResponse`.

With the ``fast`` extra installed, JSON is decoded by msgspec (about twice
as fast as the standard library on a history page); whatever msgspec
refuses (``NaN``, a byte order mark, lone surrogates, numbers too large
for a float, deep nesting) is decoded by :mod:`json` as before, so the
results are the same either way. Request bodies are then written by
msgspec too (compact UTF-8, where json.dumps escapes non-ASCII: the same
JSON values; a non-finite float, which json.dumps writes as the invalid
``NaN``/``Infinity``, goes as ``null``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import aiohttp

_fast_decode: Callable[[bytes | str], Any] | None
_fast_encode: Callable[[Any], bytes] | None
_FAST_REFUSALS: tuple[type[Exception], ...] = (RecursionError,)
try:
    import msgspec
except ImportError:  # the ``fast`` extra is not installed
    _fast_decode = _fast_encode = None
else:
    _fast_decode = msgspec.json.decode
    _fast_encode = msgspec.json.encode
    _FAST_REFUSALS += (msgspec.DecodeError,)

__all__ = [
    "ACCEPT_ENCODING",
    "BodyTooLarge",
    "UnreadableEncoding",
    "encode_json",
    "loads",
    "loads_or_none",
    "max_depth_exceeded",
    "read_capped",
    "reads_whole",
]

ACCEPT_ENCODING = "gzip, deflate"
"""What the transport asks for: the encodings :func:`read_capped` decodes."""

_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body would exceed the cap (what was read so far is in ``partial``)."""

    def __init__(self, limit: int, partial: bytes) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit
        self.partial = partial


class UnreadableEncoding(Exception):
    """A ``Content-Encoding`` this client did not ask for, or corrupt compressed data."""


def _decompressor(encoding: str) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    raise UnreadableEncoding(f"unsupported Content-Encoding {encoding!r}")


class _Deflate:
    """``deflate`` is zlib-wrapped by the RFC but raw in some servers: accept both."""

    def __init__(self) -> None:
        self._obj: Any = None
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._obj is None:
            # A zlib stream starts with a CMF byte whose low nibble is 8.
            raw = not data or (data[0] & 0x0F) != 8
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        out: bytes = self._obj.decompress(data, max_length)
        self.unconsumed_tail = self._obj.unconsumed_tail
        return out

    def flush(self) -> bytes:
        return b"" if self._obj is None else bytes(self._obj.flush())


def reads_whole(resp: aiohttp.ClientResponse, limit: int) -> bool:
    """Whether ``resp.content.read()`` alone reads the body within ``limit``:
    an announced length within the cap, not encoded, not chunked (aiohttp
    then reads no more than announced, and a body cut short raises as it
    would in :func:`read_capped`)."""
    length = resp.content_length
    if length is None or length > limit:
        return False
    if "Transfer-Encoding" in resp.headers:
        return False  # a chunked body ignores Content-Length: counted as it comes
    return _content_encoding(resp) is None


def _content_encoding(resp: aiohttp.ClientResponse) -> str | None:
    """The body's ``Content-Encoding``, lower-cased; ``None`` for none or identity."""
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    return None if encoding in ("", "identity") else encoding


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole (decompressed) body of ``resp``, or :class:`BodyTooLarge`.

    ``resp`` must have been requested with ``auto_decompress=False``; the
    ``Content-Encoding`` it names is undone here with at most ``limit + 1``
    bytes of output held at any time. (A body :func:`reads_whole` accepts
    is read more cheaply with ``resp.content.read()``; the transport checks
    that first, so it is not checked again here.)
    """
    length = resp.content_length
    if length is not None and length > limit:
        raise BodyTooLarge(limit, b"")
    encoding = _content_encoding(resp)
    decoder = None if encoding is None else _decompressor(encoding)
    out = bytearray()
    received = 0
    try:
        async for chunk in resp.content.iter_chunked(_CHUNK):
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge(limit, bytes(out))
            if decoder is None:
                out += chunk
            else:
                data = chunk
                while data:
                    out += decoder.decompress(data, limit + 1 - len(out))
                    if len(out) > limit:
                        raise BodyTooLarge(limit, bytes(out[:limit]))
                    data = decoder.unconsumed_tail
            if len(out) > limit:
                raise BodyTooLarge(limit, bytes(out[:limit]))
        if decoder is not None:
            out += decoder.flush()
            if len(out) > limit:
                raise BodyTooLarge(limit, bytes(out[:limit]))
    except zlib.error as exc:
        raise UnreadableEncoding(f"corrupt {encoding} data") from exc
    return bytes(out)


_DECODER = json.JSONDecoder()  # what json.loads uses without arguments
_OPENERS = (b"{", b"[")


def encode_json(value: Any) -> bytes | None:
    """``value`` as compact UTF-8 JSON bytes by msgspec, or ``None`` without
    the ``fast`` extra or for what msgspec cannot write (the caller then lets
    aiohttp's ``json.dumps`` write it, with its errors)."""
    if _fast_encode is None:
        return None
    try:
        return _fast_encode(value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return None


def loads(body: bytes | str) -> Any:
    """``json.loads`` that raises only ``ValueError`` (nesting too deep included)."""
    if _fast_decode is not None:
        try:
            return _fast_decode(body)
        except _FAST_REFUSALS:
            pass  # decided by json below: the same result or error as without msgspec
    return _standard_loads(body)


def _standard_loads(body: bytes | str) -> Any:
    """:func:`loads` with the standard library's decoder only."""
    try:
        if type(body) is bytes and body[:1] in _OPENERS and body[1:2] != b"\x00":
            # What json.loads does with such bytes (no BOM, no UTF-16/32
            # zero byte: UTF-8), without its encoding detection.
            return _DECODER.decode(body.decode("utf-8", "surrogatepass"))
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8 text") from exc


def loads_or_none(body: bytes | str) -> Any:
    """The decoded JSON, or ``None`` for anything that is not valid JSON."""
    try:
        return loads(body)
    except ValueError:
        return None


def max_depth_exceeded(data: Any, limit: int) -> bool:
    """Whether ``data`` nests lists/dicts deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
