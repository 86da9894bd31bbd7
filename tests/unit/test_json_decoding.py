"""JSON decoding gives the standard library's results, with or without msgspec."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from messaging_hub.transport import body

CASES: list[bytes | str] = [
    b'{"id": "m-1", "text": "h\\u00e9llo", "n": 12}',
    "[1, 2.5, null, true]",
    b'{"a": 1, "a": 2}',  # the last duplicate wins
    b"123456789012345678901234567890",  # beyond 64 bits: stays an exact int
    b"-9223372036854775809",
    b"18446744073709551616",
    b"[NaN, Infinity, -Infinity]",  # not JSON, but json reads it
    b"1e400",
    b"\xef\xbb\xbf[1]",  # a byte order mark
    b'"\\ud800"',  # a lone surrogate
    b"\x00\x00\x00[\x00\x00\x00]",  # UTF-32 BE
    b"  [1, 2]  \n",
]
BAD: list[bytes | str] = [
    b"",
    b"{",
    b"<html>oops</html>",
    b'"\xff"',
    b"[1] 2",
    b"[" * 100_000 + b"]" * 100_000,
    "[" * 100_000,
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("text", CASES)
def test_values_are_what_json_reads(text: bytes | str) -> None:
    expected = json.loads(text)
    assert _same(body.loads(text), expected)
    assert _same(body._standard_loads(text), expected)


@pytest.mark.parametrize("text", BAD, ids=lambda t: repr(t[:12]))
def test_malformed_json_is_a_value_error(text: bytes | str) -> None:
    for decode in (body.loads, body._standard_loads):
        with pytest.raises(ValueError, match=r"\S"):  # any ValueError, with a reason
            decode(text)
        assert body.loads_or_none(text) is None


def test_the_fast_decoder_is_used_when_installed() -> None:
    try:
        import msgspec
    except ImportError:
        assert body._fast_decode is None
    else:
        assert body._fast_decode is msgspec.json.decode


BODIES: list[Any] = [
    {"type": "chat", "message": "héllo 👋", "destination": "1004"},
    {"to": [{"phoneNumber": "+14155550123"}], "n": 2**70, "ok": True, "none": None},
    [1, 2.5, "x"],
]


@pytest.mark.parametrize("value", BODIES)
def test_request_bodies_encode_to_the_same_json_values(value: Any) -> None:
    encoded = body.encode_json(value)
    if body._fast_encode is None:
        assert encoded is None  # aiohttp writes it with json.dumps
    else:
        assert encoded is not None
        assert json.loads(encoded) == value


def test_what_msgspec_cannot_write_is_left_to_json_dumps() -> None:
    assert body.encode_json({"when": object()}) is None
