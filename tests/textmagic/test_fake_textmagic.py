"""The fake TextMagic server, checked with a plain aiohttp client written
from TextMagic's REST API v2 documentation (not with the library)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = [
    pytest.mark.anyio,
    # _server.py (not this fake) passes shutdown_timeout to TCPSite, which
    # aiohttp 3.14 deprecates; nothing else is silenced.
    pytest.mark.filterwarnings(
        "ignore:shutdown_timeout should be set on BaseRunner:DeprecationWarning"
    ),
]

MSG_REQUIRED = {
    "avatar", "charset", "charsetLabel", "contactId", "country", "firstName", "id",
    "lastName", "messageTime", "partsCount", "sessionId", "status", "text",
}  # fmt: skip
SESSION_FIELDS = {
    "id", "startTime", "text", "source", "referenceId", "price", "numbersCount",
    "destination", "initiatorId", "title",
}  # fmt: skip
LINK_FIELDS = {"id", "href", "type", "sessionId", "bulkId", "messageId", "scheduleId", "chatId"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 27, 13, 2, 33, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    async with FakeTextMagic() as server:
        yield server


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def headers(fake: FakeTextMagic) -> dict[str, str]:
    return {"X-TM-Username": fake.config["username"], "X-TM-Key": fake.config["api_key"]}


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[FakeTextMagic, aiohttp.ClientSession]]:
    """A fake with non-default options and a client logged in to it."""
    async with (
        FakeTextMagic(**options) as fake,
        aiohttp.ClientSession(fake.origin, headers=headers(fake)) as http,
    ):
        yield fake, http


@pytest.fixture
async def http(fake: FakeTextMagic) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(fake.config["base_url"], headers=headers(fake)) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, path, **kwargs) as response:
        raw = await response.read()
        if response.status in (202, 204):
            assert raw == b""
            return response.status, None
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def send(http: aiohttp.ClientSession, **body: Any) -> tuple[int, Any]:
    return await call(http, "POST", "/api/v2/messages", json=body)


# -- config and auth ------------------------------------------------------------
async def test_config_has_the_agreed_option_names(fake: FakeTextMagic) -> None:
    config = fake.config
    assert config["provider"] == "textmagic"
    assert config["base_url"] == fake.origin
    assert config["from_number"].startswith("+")
    assert {"username", "api_key"} <= config.keys()


async def test_header_auth_and_ping(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", "/api/v2/ping")
    assert status == 200
    assert body["ping"] == "pong"
    assert isinstance(body["userId"], int)
    assert body["utcDateTime"].endswith("Z")


async def test_basic_auth_is_accepted(fake: FakeTextMagic) -> None:
    auth = {"Authorization": basic(fake.config["username"], fake.config["api_key"])}
    async with aiohttp.ClientSession(fake.origin, headers=auth) as http:
        status, body = await call(http, "GET", "/api/v2/user")
    assert status == 200
    assert body["username"] == fake.config["username"]


@pytest.mark.parametrize(
    "creds",
    [
        {},
        {"X-TM-Username": "fakeuser", "X-TM-Key": "wrong"},
        {"X-TM-Username": "fakeuser"},
        {"Authorization": basic("fakeuser", "wrong")},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer fake-textmagic-api-key"},
    ],
)
async def test_bad_credentials_get_401(fake: FakeTextMagic, creds: dict[str, str]) -> None:
    async with aiohttp.ClientSession(fake.origin, headers=creds) as http:
        status, body = await call(http, "GET", "/api/v2/sessions")
    assert status == 401
    assert body == {"code": 401, "message": "Wrong username and token combination."}
    assert fake.sessions == []


# -- sending --------------------------------------------------------------------
async def test_send_to_one_phone_is_a_message(
    fake: FakeTextMagic, http: aiohttp.ClientSession
) -> None:
    status, link = await send(http, text="I love TextMagic", phones="447860021130")
    assert status == 201
    assert set(link) == LINK_FIELDS
    assert link["type"] == "message"
    assert link["messageId"] == link["id"]
    assert link["href"] == f"/api/v2/messages/{link['id']}"
    assert link["bulkId"] is None
    assert link["scheduleId"] is None
    status, message = await call(http, "GET", link["href"])
    assert status == 200
    assert set(message) >= MSG_REQUIRED
    assert message["sessionId"] == link["sessionId"]
    assert message["receiver"] == "447860021130"
    assert message["sender"] == fake.config["from_number"].lstrip("+")
    assert message["status"] == "d"  # delivered once the send has been answered
    assert message["charset"] == "ISO-8859-1"
    assert message["partsCount"] == 1
    assert datetime.fromisoformat(message["messageTime"]).tzinfo is not None


async def test_send_to_several_is_a_session(http: aiohttp.ClientSession) -> None:
    status, link = await send(
        http, text="Hello", phones="447860021130,+447860021131,447860021130", referenceId=7
    )
    assert status == 201
    assert link["type"] == "session"
    assert link["messageId"] is None
    assert link["href"] == f"/api/v2/sessions/{link['id']}"
    status, session = await call(http, "GET", link["href"])
    assert status == 200
    assert set(session) == SESSION_FIELDS
    assert session["numbersCount"] == 2  # duplicates merged
    assert session["referenceId"] == "7"
    assert session["source"] == "A"
    assert datetime.fromisoformat(session["startTime"]).tzinfo is not None


async def test_form_encoded_send_and_sender_choice(http: aiohttp.ClientSession) -> None:
    status, _ = await call(
        http, "POST", "/api/v2/messages",
        data={"text": "hi", "phones": "447860021130", "from": "+447624800500"},
    )  # fmt: skip
    assert status == 201
    status, body = await send(http, text="hi", phones="447860021130", **{"from": "+15550001111"})
    assert status == 400
    assert "from" in body["errors"]["fields"]


async def test_validation_errors(http: aiohttp.ClientSession) -> None:
    status, body = await send(http, phones="447860021130")
    assert status == 400
    assert body["code"] == 400
    assert body["errors"]["common"]
    status, body = await send(http, text="hi", phones="447860021130,070 4567 8945")
    assert status == 400
    assert list(body["errors"]["fields"]) == ["phones"]
    status, body = await send(http, text="hi")
    assert status == 400
    assert body["errors"]["common"]
    status, body = await send(http, text="hi", phones=["447860021130"])
    assert status == 400
    assert "phones" in body["errors"]["fields"]


@pytest.mark.parametrize(
    ("text", "extra", "status", "parts"),
    [
        ("a" * 160, {}, 201, 1),
        ("a" * 161, {}, 201, 2),
        ("a" * 918, {}, 201, 6),
        ("a" * 919, {}, 400, None),
        ("{" * 459, {}, 201, 6),  # escaped characters count twice
        ("{" * 460, {}, 400, None),
        ("ж" * 70, {}, 201, 1),
        ("ж" * 402, {}, 201, 6),
        ("ж" * 403, {}, 400, None),
        ("a" * 307, {"partsCount": 2}, 400, None),
        ("a" * 919, {"cutExtra": True}, 201, 6),
    ],
)
async def test_text_length_limits(
    http: aiohttp.ClientSession, text: str, extra: dict[str, Any], status: int, parts: int | None
) -> None:
    got, body = await send(http, text=text, phones="447860021130", **extra)
    assert got == status
    if status == 400:
        assert "text" in body["errors"]["fields"]
        return
    _, message = await call(http, "GET", body["href"])
    assert message["partsCount"] == parts
    assert message["charset"] == ("UTF-16BE" if "ж" in text else "ISO-8859-1")
    if extra.get("cutExtra"):
        assert len(message["text"]) == 918


async def test_contacts_lists_and_templates(
    fake: FakeTextMagic, http: aiohttp.ClientSession
) -> None:
    contact = fake.add_contact("+447860021130", "John", "Conway")
    list_id = fake.add_list(["+447860021131", "+447860021132"])
    template = fake.add_template("Hello {First name}!")
    status, link = await send(http, templateId=template, contacts=str(contact), lists=str(list_id))
    assert status == 201
    _, page = await call(http, "GET", f"/api/v2/sessions/{link['sessionId']}/messages")
    texts = {m["receiver"]: (m["text"], m["contactId"]) for m in page["resources"]}
    assert texts["447860021130"] == ("Hello John!", contact)
    assert len(texts) == 3
    status, body = await send(http, text="x", contacts="999999")
    assert status == 400
    assert "contacts" in body["errors"]["fields"]


async def test_delivery_can_be_held_and_released() -> None:
    async with running(deliver_after=None) as (fake, http):
        _, link = await send(http, text="hi", phones="447860021130")
        _, message = await call(http, "GET", link["href"])
        assert message["status"] == "q"
        assert fake.deliver_all() == 1
        _, message = await call(http, "GET", link["href"])
        assert message["status"] == "d"
        fake.set_status(link["id"], "f", reject_reason="a")
        _, message = await call(http, "GET", link["href"])
        assert (message["status"], message["rejectReason"]) == ("f", "a")


async def test_scheduled_send_fires_when_the_clock_passes() -> None:
    clock = Clock()
    async with running(clock=clock) as (_fake, http):
        status, link = await send(
            http, text="later", phones="447860021130",
            sendingDateTime="2024-05-27 13:30:00", sendingTimezone="America/Buenos_Aires",
        )  # fmt: skip
        assert status == 201
        assert link["type"] == "schedule"
        assert link["scheduleId"] == link["id"]
        _, page = await call(http, "GET", "/api/v2/sessions")
        assert page["resources"] == []
        clock.now += timedelta(hours=3, minutes=28)  # 16:30 UTC is 13:30 there
        _, page = await call(http, "GET", "/api/v2/sessions")
        assert [s["text"] for s in page["resources"]] == ["later"]


# -- bulk -----------------------------------------------------------------------
def many_phones(n: int) -> str:
    return ",".join(f"4478600{i:05d}" for i in range(n))


async def test_more_than_1000_recipients_is_a_queued_bulk() -> None:
    async with running(bulk_processing_seconds=None) as (fake, http):
        status, body = await send(http, text="Hi all", phones=many_phones(1001))
        assert (status, body) == (202, None)
        _, page = await call(http, "GET", "/api/v2/sessions")
        assert page["resources"] == []
        _, bulks = await call(http, "GET", "/api/v2/bulks")
        bulk = bulks["resources"][0]
        assert (bulk["status"], bulk["itemsTotal"], bulk["session"]) == ("n", 1001, None)
        fake.process_bulks()
        _, page = await call(http, "GET", "/api/v2/sessions")
        assert page["resources"][0]["numbersCount"] == 1001
        _, bulk = await call(http, "GET", f"/api/v2/bulks/{bulk['id']}")
        assert bulk["status"] == "c"
        assert bulk["session"]["id"] == page["resources"][0]["id"]


async def test_bulk_link_response_and_1000_is_not_bulk() -> None:
    async with running(bulk_response="link") as (_fake, http):
        status, link = await send(http, text="Hi", phones=many_phones(1000))
        assert (status, link["type"]) == (201, "session")
        status, link = await send(http, text="Hi", phones=many_phones(1001))
        assert (status, link["type"], link["bulkId"]) == (201, "bulk", link["id"])
        assert link["href"] == f"/api/v2/bulks/{link['id']}"
        _, page = await call(http, "GET", "/api/v2/sessions")  # processed by now
        assert [s["numbersCount"] for s in page["resources"]] == [1001, 1000]


# -- lists and pagination -------------------------------------------------------
async def test_sessions_page_newest_first(fake: FakeTextMagic, http: aiohttp.ClientSession) -> None:
    seeded = fake.seed_sessions(25)
    seen: list[int] = []
    for page_no in (1, 2, 3):
        _, page = await call(http, "GET", "/api/v2/sessions", params={"page": page_no})
        assert (page["page"], page["pageCount"], page["limit"]) == (page_no, 3, 10)
        seen += [s["id"] for s in page["resources"]]
    assert seen == [s.id for s in reversed(seeded)]
    _, page = await call(http, "GET", "/api/v2/sessions", params={"page": 4})
    assert page["resources"] == []


@pytest.mark.parametrize("limit", ["0", "101", "-5", "abc", ""])
async def test_bad_limit_is_silently_10(
    fake: FakeTextMagic, http: aiohttp.ClientSession, limit: str
) -> None:
    fake.seed_sessions(12)
    status, page = await call(http, "GET", "/api/v2/sessions", params={"limit": limit})
    assert status == 200
    assert (page["limit"], len(page["resources"]), page["pageCount"]) == (10, 10, 2)


async def test_session_messages_page_and_filter(
    fake: FakeTextMagic, http: aiohttp.ClientSession
) -> None:
    session = fake.seed_session(15)
    fake.set_status(session.message_ids[0], "f")
    path = f"/api/v2/sessions/{session.id}/messages"
    ids: list[int] = []
    for page_no in (1, 2, 3):
        _, page = await call(http, "GET", path, params={"page": page_no, "limit": 5})
        assert page["pageCount"] == 3
        ids += [m["id"] for m in page["resources"]]
    assert ids == sorted(session.message_ids, reverse=True)
    _, page = await call(http, "GET", path, params={"statuses": "f"})
    assert [m["id"] for m in page["resources"]] == [session.message_ids[0]]
    _, stat = await call(http, "GET", f"/api/v2/sessions/{session.id}/stat")
    assert (stat["all"], stat["delivered"], stat["failed"]) == (15, 14, 1)
    _, page = await call(http, "GET", "/api/v2/sessions/999999/messages")
    assert (page["resources"], page["pageCount"]) == ([], 0)


async def test_message_list_and_last_id(fake: FakeTextMagic, http: aiohttp.ClientSession) -> None:
    session = fake.seed_session(12)
    _, page = await call(http, "GET", "/api/v2/messages", params={"limit": 100})
    assert [m["id"] for m in page["resources"]] == sorted(session.message_ids, reverse=True)
    cut = session.message_ids[5]
    _, page = await call(http, "GET", "/api/v2/messages", params={"lastId": cut, "page": 3})
    assert [m["id"] for m in page["resources"]] == sorted(session.message_ids[:5], reverse=True)


# -- deleting -------------------------------------------------------------------
async def test_delete_session_and_not_found(
    fake: FakeTextMagic, http: aiohttp.ClientSession
) -> None:
    session = fake.seed_session(2)
    assert await call(http, "DELETE", f"/api/v2/sessions/{session.id}") == (204, None)
    status, body = await call(http, "GET", f"/api/v2/sessions/{session.id}")
    assert (status, body) == (404, {"code": 404, "message": "Resource does not exist."})
    status, _ = await call(http, "GET", f"/api/v2/messages/{session.message_ids[0]}")
    assert status == 404
    status, _ = await call(http, "DELETE", f"/api/v2/sessions/{session.id}")
    assert status == 404


async def test_bulk_delete_sessions(fake: FakeTextMagic, http: aiohttp.ClientSession) -> None:
    a, b, c = fake.seed_sessions(3)
    ids = f"{a.id},{b.id}"
    status, _ = await call(http, "POST", "/api/v2/sessions/delete", json={"ids": ids, "all": 0})
    assert status == 204
    assert [s.id for s in fake.sessions] == [c.id]
    status, _ = await call(http, "POST", "/api/v2/sessions/delete", json={"all": 1})
    assert (status, fake.sessions) == (204, [])


async def test_delete_message_is_soft(fake: FakeTextMagic, http: aiohttp.ClientSession) -> None:
    session = fake.seed_session(3)
    first, second, _ = session.message_ids
    assert await call(http, "DELETE", f"/api/v2/messages/{first}") == (204, None)
    status, _ = await call(http, "GET", f"/api/v2/messages/{first}")
    assert status == 404
    path = f"/api/v2/sessions/{session.id}/messages"
    _, page = await call(http, "GET", path)
    assert first not in [m["id"] for m in page["resources"]]
    _, page = await call(http, "GET", path, params={"includeDeleted": 1})
    assert {m["id"]: m["deleted"] for m in page["resources"]}[first] is True
    status, _ = await call(http, "POST", "/api/v2/messages/delete", json={"ids": str(second)})
    assert status == 204
    status, body = await call(http, "POST", "/api/v2/messages/delete", json={"ids": "x,1"})
    assert (status, list(body["errors"]["fields"])) == (400, ["ids"])


# -- limits, inbound, misc ------------------------------------------------------
async def test_rate_limit_gives_429() -> None:
    async with running(rate_limit_per_second=3) as (_fake, http):
        statuses = [(await call(http, "GET", "/api/v2/ping"))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        status, body = await call(http, "GET", "/api/v2/ping")
        assert (status, body["code"]) == (429, 429)


async def test_inbound_reply(fake: FakeTextMagic, http: aiohttp.ClientSession) -> None:
    _, link = await send(http, text="Question?", phones="447860021130")
    reply = fake.deliver_inbound("+447860021130", "Answer!")
    assert reply.session_id == link["sessionId"]
    _, page = await call(http, "GET", "/api/v2/replies")
    (got,) = page["resources"]
    assert (got["sender"], got["text"]) == ("447860021130", "Answer!")
    assert got["receiver"] == fake.config["from_number"].lstrip("+")
    status, one = await call(http, "GET", f"/api/v2/replies/{reply.id}")
    assert (status, one["id"]) == (200, reply.id)


async def test_unknown_paths_are_json_404(http: aiohttp.ClientSession) -> None:
    for path in ("/api/v2/nothing", "/api/v2/sessions/abc", "/api/v2/messages/424242"):
        status, body = await call(http, "GET", path)
        assert (status, body["code"]) == (404, 404)


async def test_price_and_user(http: aiohttp.ClientSession) -> None:
    query = {"text": "a" * 200, "phones": "447860021130,12025550123"}
    status, price = await call(http, "GET", "/api/v2/messages/price/normalized", params=query)
    assert status == 200
    assert price["parts"] == 2
    assert {row["country"] for row in price["countries"]} == {"GB", "US"}
    status, user = await call(http, "GET", "/api/v2/user")
    assert status == 200
    assert isinstance(user["balance"], float)


async def test_mms_attachment_upload_and_send(http: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    picture = b"\x89PNG\r\n\x1a\n fake picture"
    form.add_field("file", picture, filename="pic.png", content_type="image/png")
    status, upload = await call(http, "POST", "/api/v2/messages/mms/attachment", data=form)
    assert status == 200
    assert upload["size"] == len(picture)
    assert upload["name"] == "pic.png"
    assert upload["chars"] == len(upload["href"])
    status, _ = await send(
        http, text="see", phones="447860021130", destination="mms", resources=upload["resource"]
    )
    assert status == 201
    status, body = await send(
        http, text="see", phones="447860021130", destination="mms", resources="nope.png"
    )
    assert (status, list(body["errors"]["fields"])) == (400, ["resources"])
    bad = aiohttp.FormData()
    bad.add_field("file", b"MZ", filename="run.exe")
    status, body = await call(http, "POST", "/api/v2/messages/attachment", data=bad)
    assert (status, list(body["errors"]["fields"])) == (400, ["file"])


async def test_wrong_method_is_json_405(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "PUT", "/api/v2/sessions")
    assert (status, body["code"]) == (405, 405)
