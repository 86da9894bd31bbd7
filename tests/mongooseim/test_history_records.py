"""Archive pages give the same messages whether their records are read as
plain JSON or through the converter, on each of the three APIs.

A page whose records all hold the JSON types of the API's record class is
mapped from the decoded JSON (the timestamps converted as the converter
converts them); any other page is read by the converter first. Both must
give exactly the messages (``raw`` included) and the errors of the typed
read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import messaging_hub as mh
from messaging_hub.adapters.mongooseim import MongooseIMAdapter
from messaging_hub.adapters.mongooseim.backends import Row
from messaging_hub.adapters.mongooseim.jid import parse_jid
from messaging_hub.adapters.mongooseim.wire import (
    AdminMessage,
    ClientMessage,
    StanzasPayload,
    converter,
    plain_admin_messages,
    plain_client_messages,
    plain_stanzas,
)
from messaging_hub.testing.mongooseim import Api, FakeMongooseIM

from .._models import message_fields
from ._helpers import native_read

pytestmark = pytest.mark.anyio

PEER = "bob@localhost"
T = 1714564800  # 2024-05-01T12:00:00Z


def _stanza(to: str, body: str | None, sid: str = "x1") -> str:
    inner = "" if body is None else f"<body>{body}</body>"
    return f"<message xmlns='jabber:client' to='{to}' id='{sid}' type='chat'>{inner}</message>"


def _plain(api: Api, owner: str) -> list[dict[str, Any]] | dict[str, Any]:
    if api == "admin-rest":
        return [
            {"sender": f"{PEER}/phone", "timestamp": T, "message_id": "m1", "body": "hi"},
            {"sender": owner, "timestamp": T + 1, "body": None, "notInTheSpec": [1]},
            {"sender": "Bob@Localhost", "timestamp": T + 2, "message_id": None},
        ]
    if api == "client-rest":
        return [
            {"from": f"{PEER}/phone", "to": owner, "timestamp": T * 1000, "id": "m1",
             "body": "hi", "thread": "t", "properties": {"a": "b"}},
            {"from": owner, "to": PEER, "timestamp": T * 1000 + 1, "body": None, "parent": None},
            {"from": owner, "to": PEER, "timestamp": T * 1000 + 2, "properties": None},
        ]  # fmt: skip
    stanzas = [
        {"sender": f"{PEER}/phone", "timestamp": "2024-05-01T12:00:00.000001Z",
         "stanza_id": "s1", "stanza": _stanza(owner, "hi")},
        None,
        {"sender": owner, "timestamp": "2024-05-01T12:00:01Z", "stanza_id": "s2",
         "stanza": _stanza(PEER, None, "x2")},
        {"sender": owner, "timestamp": None, "stanza_id": None, "stanza": "not xml <"},
        {"sender": None, "timestamp": "2024-05-01T12:00:02.5+00:00", "stanza_id": "s4"},
    ]  # fmt: skip
    return {"stanzas": stanzas, "limit": 50}


def _served(api: Api, answer: Any) -> tuple[str, str, bytes]:
    """How the fake serves ``answer``: method, path and body."""
    if api == "graphql":
        body = {"data": {"stanza": {"getLastMessages": answer}}}
        return "POST", r"/api/graphql$", json.dumps(body).encode()
    path = r"/api/messages/" if api == "admin-rest" else r"/client/api/messages/"
    return "GET", path, json.dumps(answer).encode()


def _typed_rows(client: MongooseIMAdapter, api: Api, answer: Any) -> list[Row]:
    """The rows the backend makes of the converter's read of ``answer``."""
    backend: Any = client._backend
    if api == "admin-rest":  # a one-conversation read: the peer is known
        peer = parse_jid(PEER, field="session", allow_resource=False)
        return [backend._row(i, peer) for i in converter.structure(answer, list[AdminMessage])]
    if api == "client-rest":
        return [backend._row(i) for i in converter.structure(answer, list[ClientMessage])]
    payload = converter.structure(answer, StanzasPayload)
    return [backend._row(i) for i in payload.stanzas or [] if i is not None]


def _plain_check(api: Api) -> Any:
    return {
        "admin-rest": plain_admin_messages,
        "client-rest": plain_client_messages,
        "graphql": plain_stanzas,
    }[api]


APIS: list[Api] = ["admin-rest", "client-rest", "graphql"]


# On REST the converter reads no more than plain records: there is no typed case.
@pytest.mark.parametrize(
    ("api", "shape"),
    [("admin-rest", "plain"), ("client-rest", "plain"), ("graphql", "plain"), ("graphql", "typed")],
)
async def test_history_matches_the_typed_read(api: Api, shape: str) -> None:
    async with FakeMongooseIM(api) as fake, mh.connect(fake.config) as client:
        assert isinstance(client, MongooseIMAdapter)
        answer = _plain(api, fake.owner)
        if shape == "typed":
            assert isinstance(answer, dict)
            answer = {**answer, "limit": "50"}  # read as 50 by the converter
        assert _plain_check(api)(answer) is (shape == "plain")
        method, path, body = _served(api, answer)
        fake.fail(status=200, body=body, method=method, path=path)
        got = [m async for m in client.history(PEER)]
        expected = [row.message for row in reversed(_typed_rows(client, api, answer))]
        assert len(got) == len(expected) >= 3
        assert [message_fields(m) for m in got] == [message_fields(m) for m in expected]


def _refused(api: Api, owner: str) -> list[Any]:
    """Answers the converter refuses: plain-looking ones among them."""
    if api == "admin-rest":
        return [
            [{"sender": PEER, "timestamp": 10**20}],  # no datetime that far
            [{"sender": PEER, "timestamp": True}],
            [{"sender": PEER, "timestamp": T, "body": 5}],
        ]
    if api == "client-rest":
        return [
            [{"from": PEER, "to": owner, "timestamp": -(10**20)}],
            [{"from": PEER, "to": owner, "timestamp": T, "properties": {"a": 1}}],
        ]
    return [
        {"stanzas": [{"sender": PEER, "timestamp": "yesterday"}], "limit": 50},
        {"stanzas": [{"sender": PEER, "timestamp": "0001-01-01T00:00:00+01:00"}]},
        {"stanzas": [{"sender": 5}]},
    ]


@pytest.mark.parametrize("api", APIS)
async def test_a_page_the_converter_refuses_fails_as_before(api: Api) -> None:
    async with FakeMongooseIM(api) as fake, mh.connect(fake.config) as client:
        assert isinstance(client, MongooseIMAdapter)
        for answer in _refused(api, fake.owner):
            method, path, body = _served(api, answer)
            fake.fail(status=200, body=body, method=method, path=path)
            with pytest.raises(mh.errors.MalformedResponse) as history_error:
                [m async for m in client.history(PEER)]
            fake.fail(status=200, body=body, method=method, path=path)
            with pytest.raises(mh.errors.MalformedResponse) as typed_error:
                await native_read(client.native, fake.owner, PEER)
            assert str(history_error.value) == str(typed_error.value)
