"""The fake TextMagic answers as the official spec's response schemas say.

Plain aiohttp (not the library) talks to the fake; each answer is checked
against its operation's schema in the spec (required fields, JSON types with
null only where ``nullable``, enums, ``additionalProperties: false``, nested
``session``/``senderSource``/``errors``) via ``tests/_spec.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from messaging_hub.testing.textmagic import FakeTextMagic
from tests._spec import Spec, load

pytestmark = pytest.mark.anyio

V2 = "/api/v2"


@pytest.fixture
def spec() -> Spec:
    return load("textmagic/textmagic-api-v2.sessions-messages.openapi.yaml")


class Api:
    """A JSON client from TextMagic's documentation (X-TM-* headers)."""

    def __init__(self, fake: FakeTextMagic, http: aiohttp.ClientSession) -> None:
        self.fake, self.http = fake, http

    async def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        headers = {"X-TM-Username": self.fake.username, "X-TM-Key": self.fake.api_key}
        headers.update(kwargs.pop("headers", {}))
        async with self.http.request(
            method, self.fake.origin + path, headers=headers, **kwargs
        ) as resp:
            assert resp.status == status, await resp.text()
            assert resp.content_type == "application/json"
            return await resp.json()


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with FakeTextMagic() as fake:
        sessions = fake.seed_sessions(2, messages_per_session=3)
        # A rejected message carries rejectReason, which must be in its enum.
        fake.set_status(sessions[0].message_ids[0], "j", reject_reason="a")
        async with aiohttp.ClientSession() as http:
            yield Api(fake, http)


def conforms(spec: Spec, body: Any, path: str, status: int = 200, method: str = "get") -> None:
    problems = spec.problems(body, spec.response(V2 + path, method, status))
    assert not problems, "\n".join(problems)


async def test_sessions_list_and_each_session(spec: Spec, api: Api) -> None:
    schema = spec.response(V2 + "/sessions", "get", 200)
    assert spec.required(schema) == {"page", "pageCount", "limit", "resources"}
    body = await api.call("GET", V2 + "/sessions", params={"limit": "1", "page": "2"})
    conforms(spec, body, "/sessions")
    assert len(body["resources"]) == 1 and body["pageCount"] == 2


async def test_single_session_and_its_stat(spec: Spec, api: Api) -> None:
    assert "title" in spec.required(spec.response(V2 + "/sessions/{id}", "get", 200))
    for session in api.fake.sessions:
        body = await api.call("GET", f"{V2}/sessions/{session.id}")
        conforms(spec, body, "/sessions/{id}")
        stat = await api.call("GET", f"{V2}/sessions/{session.id}/stat")
        conforms(spec, stat, "/sessions/{id}/stat")
        assert stat["all"] == 3


async def test_session_messages_are_message_out(spec: Spec, api: Api) -> None:
    messages = spec.resolve(spec.response(V2 + "/sessions/{id}/messages", "get", 200))
    assert messages["properties"]["resources"]["items"] == {
        "$ref": "#/components/schemas/MessageOut"
    }
    for session in api.fake.sessions:
        body = await api.call("GET", f"{V2}/sessions/{session.id}/messages")
        conforms(spec, body, "/sessions/{id}/messages")
        assert len(body["resources"]) == 3
        for message in body["resources"]:
            assert message["session"] and message["senderSource"], message
    rejected = api.fake.sessions[0].message_ids[0]
    assert (await api.call("GET", f"{V2}/messages/{rejected}"))["rejectReason"] == "a"


@pytest.mark.parametrize(
    ("kind", "request_body"),
    [
        ("message", {"text": "one", "phones": "447860021130"}),
        ("session", {"text": "two", "phones": "447860021130,447860021131"}),
        ("chat", {"text": "chat", "phones": "447860021132", "createChat": "1"}),
        ("schedule", {"text": "later", "phones": "447860021130", "sendingTime": "4102444800"}),
    ],
)
async def test_send_message_201(
    spec: Spec, api: Api, kind: str, request_body: dict[str, str]
) -> None:
    body = await api.call("POST", V2 + "/messages", status=201, json=request_body)
    conforms(spec, body, "/messages", 201, "post")
    assert body["type"] == ("message" if kind == "chat" else kind)
    assert (body["chatId"] is not None) == (kind == "chat")


async def test_ping(spec: Spec, api: Api) -> None:
    conforms(spec, await api.call("GET", V2 + "/ping"), "/ping")


async def test_error_bodies(spec: Spec, api: Api) -> None:
    bad = await api.call("POST", V2 + "/messages", status=400, json={"phones": "447860021130"})
    conforms(spec, bad, "/messages", 400, "post")
    assert bad["code"] == 400 and (bad["errors"]["common"] or bad["errors"]["fields"])
    wrong = {"X-TM-Key": "wrong"}
    unauthorized = await api.call("GET", V2 + "/ping", status=401, headers=wrong)
    conforms(spec, unauthorized, "/ping", 401)
    missing = await api.call("GET", V2 + "/sessions/999999", status=404)
    conforms(spec, missing, "/sessions/{id}", 404)


async def test_the_checker_can_fail(spec: Spec, api: Api) -> None:
    """A negative control: a real session list, broken, is reported."""
    body = await api.call("GET", V2 + "/sessions")
    session = body["resources"][0]
    del session["title"]  # required
    session["id"] = str(session["id"])  # integer
    session["destination"] = "x"  # enum t/s/v
    session["extra"] = 1  # additionalProperties: false
    body["page"] = None  # not nullable
    problems = spec.problems(body, spec.response(V2 + "/sessions", "get", 200))
    assert len(problems) == 5, problems
