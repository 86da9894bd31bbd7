"""JIDs and options are checked before anything reaches the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import messaging_hub as mh
from messaging_hub.adapters.mongooseim import DEFAULT_BASE_URLS, MongooseIMAdapter, parse_jid
from messaging_hub.testing.mongooseim import FakeMongooseIM

from ._helpers import APIS, native_read

pytestmark = pytest.mark.anyio

LONG = "a" * 1024


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        "@localhost",
        "a@",
        "a b@localhost",
        "a\tb@localhost",
        'a"b@x',
        "a&b@x",
        "a'b@x",
        "a:b@x",
        "a<b@x",
        "a>b@x",
        "x@y@z",
        "a@host/",
        f"{LONG}@x",
        f"a@{LONG}",
        f"a@x/{LONG}",
        "a@x..y",
        "a@.x",
        "a@-x.com",
        "a@x y",
        "a@[not-ipv6]",
        "a@x/\x07",
        "a@" + "l" * 64 + ".com",
    ],
)
def test_invalid_jids(text: str) -> None:
    with pytest.raises(mh.InvalidRequest):
        parse_jid(text)


@pytest.mark.parametrize(
    "text",
    [
        "alice@localhost",
        "alice@localhost/phone 1",
        "élodie@exämple.org",
        "a@[::1]",
        "a.b-c_d@sub.example.com",
        "x@y/z@w/v",
        "a" * 1023 + "@x",
    ],
)
def test_valid_jids(text: str) -> None:
    jid = parse_jid(text)
    assert str(jid) == text


@pytest.fixture(params=APIS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeMongooseIM]:
    async with FakeMongooseIM(request.param) as server:
        yield server


async def test_nothing_is_sent_for_bad_input(fake: FakeMongooseIM) -> None:
    async with mh.connect(fake.config) as client:
        for to in ("@localhost", "a@", "a b@localhost", "1004", "+15551234567"):
            with pytest.raises(mh.InvalidRequest) as info:
                await client.send(mh.Outgoing(to=[to], text="x"))
            assert info.value.field == "to"
        with pytest.raises(mh.InvalidRequest) as info:
            await client.send(
                mh.Outgoing(to=["bob@localhost"], text="x", session_id="kate@localhost")
            )
        assert info.value.field == "session_id"
        with pytest.raises(mh.InvalidRequest) as info:
            client.history("bob@localhost/phone")
        assert info.value.field == "session"
        with pytest.raises(mh.UnsupportedOperation):
            await client.send(mh.Outgoing(to=["bob@localhost"], text="x", kind=mh.MessageKind.SMS))
        with pytest.raises(mh.UnsupportedOperation):
            await client.send(mh.Outgoing(to=["bob@localhost", "kate@localhost"], text="x"))
        with pytest.raises(mh.UnsupportedOperation):
            await client.delete("bob@localhost")
        with pytest.raises(mh.InvalidRequest) as info:
            await client.send(mh.Outgoing(to=["bob@localhost"], text="x", sender="eve@localhost"))
        assert info.value.field == "sender"
        with pytest.raises(mh.InvalidRequest):
            await native_read(client.native, fake.owner, "../x")
        with pytest.raises(mh.InvalidRequest) as info:
            await native_read(client.native, fake.owner, limit=0)
        assert info.value.field == "limit"
    assert fake.requests == []


async def test_the_session_id_of_a_receipt_continues_the_conversation(
    fake: FakeMongooseIM,
) -> None:
    async with mh.connect(fake.config) as client:
        first = await client.send(mh.Outgoing(to=["bob@localhost/phone"], text="one"))
        second = await client.send(
            mh.Outgoing(to=["BOB@localhost"], text="two", session_id=first.session_id)
        )
    assert first.session_id == second.session_id == "bob@localhost"
    if fake.api == "admin-rest":
        assert first.message_ids == ()  # 204, no id
    else:
        assert len(first.message_ids) == 1 and first.message_ids[0]


def _config_error(options: dict[str, Any]) -> str | None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({"provider": "mongooseim", **options})
    assert "hunter2" not in str(info.value)
    return info.value.key


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"owner": "alice@localhost"}, "api"),
        ({"api": "xmpp", "owner": "alice@localhost"}, "api"),
        ({"api": "admin-rest"}, "owner"),
        ({"api": "admin-rest", "owner": "not a jid"}, "owner"),
        ({"api": "admin-rest", "owner": "alice@localhost/res"}, "owner"),
        ({"api": "admin-rest", "owner": "alice@localhost", "username": "admin"}, "password"),
        ({"api": "admin-rest", "owner": "alice@localhost", "password": "hunter2"}, "username"),
        ({"api": "admin-rest", "owner": "a@b", "graphql_role": "admin"}, "graphql_role"),
        ({"api": "client-rest", "owner": "alice@localhost"}, "username"),
        ({"api": "client-rest", "username": "alice@localhost"}, "password"),
        ({"api": "client-rest", "username": "alice", "password": "hunter2"}, "username"),
        (
            {"api": "client-rest", "username": "alice@x", "password": "hunter2", "owner": "bob@x"},
            "owner",
        ),
        ({"api": "graphql", "owner": "alice@localhost"}, "username"),
        ({"api": "graphql", "graphql_role": "root", "owner": "a@b"}, "graphql_role"),
        ({"api": "graphql", "graphql_role": "admin"}, "owner"),
        ({"api": "graphql", "graphql_role": "admin", "owner": "a@b", "page_size": 51}, "page_size"),
        ({"api": "admin-rest", "owner": "alice@localhost", "colour": "red"}, "colour"),
    ],
)
def test_config_errors_name_the_key(options: dict[str, Any], key: str) -> None:
    assert _config_error(options) == key


@pytest.mark.parametrize(
    ("options", "url"),
    [
        ({"api": "admin-rest", "owner": "a@b"}, DEFAULT_BASE_URLS[("admin-rest", None)]),
        (
            {"api": "client-rest", "username": "a@b", "password": "hunter2"},
            "http://localhost:8089/api",
        ),
        (
            {"api": "graphql", "username": "a@b", "password": "p"},
            "http://localhost:5561/api/graphql",
        ),
        (
            {"api": "graphql", "graphql_role": "admin", "owner": "a@b"},
            "http://localhost:5551/api/graphql",
        ),
    ],
)
async def test_default_base_urls(options: dict[str, Any], url: str) -> None:
    async with mh.connect("mongooseim", **options) as client:
        assert isinstance(client, MongooseIMAdapter)
        assert str(client.native.transport.base_url) == url
        assert "hunter2" not in repr(client) + repr(client.native) + repr(client.options)


IDN_LONG_UTF8 = "ä" * 40  # 80 bytes of UTF-8, but its A-label ``xn--...`` has 46 octets
IDN_LONG_ALABEL = "中文域名测试长标签一二三四五六七八九十甲乙"  # 63 bytes of UTF-8, A-label 64


@pytest.mark.parametrize(
    "text",
    [
        "a\ud800@localhost",  # a lone surrogate cannot be sent as UTF-8
        "a@local\udfffhost",
        "a@localhost/r\ud800",
        "a\x85b@localhost",  # C1 control characters
        "a@localhost/r\x9b",
        f"a@{IDN_LONG_ALABEL}.cn",  # RFC 5890: a label is at most 63 octets as an A-label
    ],
)
def test_more_invalid_jids(text: str) -> None:
    with pytest.raises(mh.InvalidRequest):
        parse_jid(text)


def test_an_idn_label_is_measured_as_its_a_label() -> None:
    text = f"a@{IDN_LONG_UTF8}.de"
    assert str(parse_jid(text)) == text


async def test_a_surrogate_recipient_is_refused_before_io(fake: FakeMongooseIM) -> None:
    async with mh.connect(fake.config) as client:
        with pytest.raises(mh.InvalidRequest) as info:
            await client.send(mh.Outgoing(to=["bob\ud800@localhost"], text="x"))
        assert info.value.field == "to"
    assert fake.requests == []
