"""The fake RingCentral server, exercised by a plain aiohttp client written
from RingCentral's documentation (not by the library)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from messaging_hub.testing.ringcentral import FakeRingCentral

pytestmark = pytest.mark.anyio

ME = "/restapi/v1.0/account/~/extension/~"
REMOTE = "+14155550123"


class Clock:
    """A controllable clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, 18, 7, 52, 534000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeRingCentral]:
    async with FakeRingCentral(clock=clock, rate_limiting=False) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def basic(fake: FakeRingCentral) -> dict[str, str]:
    raw = f"{fake.config['client_id']}:{fake.config['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def get_token(
    fake: FakeRingCentral, http: aiohttp.ClientSession, **form: str
) -> dict[str, Any]:
    data = form or {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": fake.config["jwt"],
    }
    async with http.post(
        fake.config["base_url"] + "/restapi/oauth/token", data=data, headers=basic(fake)
    ) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


class Api:
    """A tiny client from the docs: bearer token, JSON in and out."""

    def __init__(self, fake: FakeRingCentral, http: aiohttp.ClientSession, token: str) -> None:
        self.fake, self.http, self.token = fake, http, token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, Any, Any]:
        url = self.fake.config["base_url"] + path
        all_headers = {**self.headers(), **(headers or {})}
        async with self.http.request(method, url, headers=all_headers, **kwargs) as resp:
            raw = await resp.read()
            body = json.loads(raw) if raw and "json" in resp.content_type else raw
            return resp.status, body, resp.headers


@pytest.fixture
async def api(fake: FakeRingCentral, http: aiohttp.ClientSession) -> Api:
    token = await get_token(fake, http)
    return Api(fake, http, token["access_token"])


# -- config and OAuth ------------------------------------------------------------


async def test_config_keys(fake: FakeRingCentral) -> None:
    config = fake.config
    assert config["provider"] == "ringcentral"
    assert config["base_url"] == fake.origin
    assert config["media_base_url"] == fake.origin
    assert set(config) == {
        "provider", "base_url", "client_id", "client_secret", "jwt", "from_number",
        "media_base_url",
    }  # fmt: skip
    assert config["from_number"] == "+16505550100"


async def test_jwt_grant_returns_token_info(
    fake: FakeRingCentral, http: aiohttp.ClientSession
) -> None:
    token = await get_token(fake, http)
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600
    assert token["refresh_token_expires_in"] == 604800
    for field in (
        "access_token",
        "refresh_token",
        "scope",
        "owner_id",
        "endpoint_id",
        "session_id",
    ):
        assert isinstance(token[field], str)
        assert token[field]
    assert fake.token_requests == {"urn:ietf:params:oauth:grant-type:jwt-bearer": 1}


async def test_password_grant(fake: FakeRingCentral, http: aiohttp.ClientSession) -> None:
    token = await get_token(
        fake,
        http,
        grant_type="password",
        username="+16505550100",
        password="fake-rc-password",
        extension="101",
    )
    assert token["access_token"]
    url = fake.origin + "/restapi/oauth/token"
    bad = {"grant_type": "password", "username": "+16505550100", "password": "nope"}
    async with http.post(url, data=bad, headers=basic(fake)) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["error"] == "invalid_grant"
    assert body["errors"][0]["errorCode"] == "OAU-140"
    assert fake.token_requests["password"] == 2


async def test_token_errors(fake: FakeRingCentral, http: aiohttp.ClientSession) -> None:
    url = fake.origin + "/restapi/oauth/token"
    jwt_form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x"}
    async with http.post(url, data=jwt_form, headers=basic(fake)) as resp:
        assert resp.status == 400
        body = await resp.json()
        assert body["error"] == "invalid_grant"
        assert body["error_description"] == body["errors"][0]["message"]
        assert body["errorCode"] == "OAU-140"
    async with http.post(url, data=jwt_form) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "invalid_client"
    wrong = {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}
    async with http.post(url, data=jwt_form, headers=wrong) as resp:
        assert resp.status == 401
    async with http.post(url, data={"grant_type": "client_credentials"}, headers=basic(fake)) as r:
        assert r.status == 400
        assert (await r.json())["error"] == "unsupported_grant_type"
    async with http.post(url, json={"grant_type": "password"}, headers=basic(fake)) as resp:
        assert resp.status == 415
    async with http.post(url, data={"grant_type": "refresh_token"}, headers=basic(fake)) as r:
        assert r.status == 400
        body = await r.json()
        assert body["error"] == "invalid_request"
        assert body["errors"][0]["parameterName"] == "refresh_token"


async def test_bearer_auth_failures(fake: FakeRingCentral, http: aiohttp.ClientSession) -> None:
    url = fake.origin + ME + "/message-store"
    async with http.get(url) as resp:
        assert resp.status == 401
        body = await resp.json()
        assert body["errors"][0]["errorCode"] == "AGW-401"
        assert resp.headers["X-Rate-Limit-Group"] == "light"
    async with http.get(url, headers={"Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401
        assert (await resp.json())["errorCode"] == "OAU-213"


async def test_expire_and_refresh(
    fake: FakeRingCentral, http: aiohttp.ClientSession, clock: Clock
) -> None:
    token = await get_token(fake, http)
    api = Api(fake, http, token["access_token"])
    assert (await api.call("GET", ME + "/message-store"))[0] == 200
    fake.expire_tokens()
    status, body, _ = await api.call("GET", ME + "/message-store")
    assert status == 401
    assert body["errors"][0]["errorCode"] == "OAU-128"
    refreshed = await get_token(
        fake, http, grant_type="refresh_token", refresh_token=token["refresh_token"]
    )
    assert refreshed["session_id"] == token["session_id"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    api.token = refreshed["access_token"]
    assert (await api.call("GET", ME + "/message-store"))[0] == 200
    # The old refresh token was rotated away.
    url = fake.origin + "/restapi/oauth/token"
    old = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    async with http.post(url, data=old, headers=basic(fake)) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_grant"
    # Tokens also expire with the clock.
    clock.advance(seconds=3601)
    assert (await api.call("GET", ME + "/message-store"))[0] == 401
    assert fake.token_requests["refresh_token"] == 2


async def test_revoke(fake: FakeRingCentral, http: aiohttp.ClientSession) -> None:
    token = await get_token(fake, http)
    api = Api(fake, http, token["access_token"])
    url = fake.origin + "/restapi/oauth/revoke"
    async with http.post(url, data={"token": token["access_token"]}, headers=basic(fake)) as r:
        assert r.status == 200
    assert (await api.call("GET", ME + "/message-store"))[0] == 401
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    async with http.post(
        fake.origin + "/restapi/oauth/token", data=refresh, headers=basic(fake)
    ) as r:
        assert r.status == 400


# -- sending -----------------------------------------------------------------------------


async def test_send_sms(api: Api, fake: FakeRingCentral) -> None:
    status, body, headers = await api.call(
        "POST",
        ME + "/sms",
        json={
            "from": {"phoneNumber": "+16505550100"},
            "to": [{"phoneNumber": REMOTE}],
            "text": "hi",
        },
    )
    assert status == 200
    assert isinstance(body["id"], int)
    assert body["type"] == "SMS"
    assert body["direction"] == "Outbound"
    assert body["messageStatus"] == "Queued"
    assert body["from"] == {"phoneNumber": "+16505550100"}
    assert body["to"] == [{"phoneNumber": REMOTE}]
    assert body["subject"] == "hi"
    assert body["conversationId"] > 2**53
    assert body["conversation"]["id"] == str(body["conversationId"])
    assert body["uri"].endswith(f"/message-store/{body['id']}")
    assert body["creationTime"] == "2026-03-10T18:07:52.534Z"
    assert body["attachments"][0]["contentType"] == "text/plain"
    assert headers["X-Rate-Limit-Group"] == "medium"
    assert fake.sent[0].text == "hi"
    # The inbound reply lands in the same conversation.
    reply = fake.deliver_inbound(REMOTE, "hello back")
    assert reply.conversation_id == body["conversationId"]


async def test_sms_validation(api: Api) -> None:
    good = {"from": {"phoneNumber": "+16505550100"}, "to": [{"phoneNumber": REMOTE}], "text": "x"}
    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        ({**good, "from": {"phoneNumber": "+16505559999"}}, 403, "MSG-304", None),
        ({k: v for k, v in good.items() if k != "from"}, 400, "CMN-100", "from"),
        ({**good, "to": []}, 400, "CMN-100", "to"),
        ({**good, "to": [{"phoneNumber": REMOTE}, {"phoneNumber": "+14155550124"}]}, 400,
         "CMN-101", "to"),
        ({**good, "to": [{"phoneNumber": "abc"}]}, 400, "CMN-101", "to.phoneNumber"),
        ({**good, "text": "x" * 1001}, 400, "CMN-101", "text"),
        ({**good, "text": "\U0001f600" * 501}, 400, "CMN-101", "text"),
        ({k: v for k, v in good.items() if k != "text"}, 400, "CMN-100", "text"),
    ]  # fmt: skip
    for payload, want_status, code, parameter in cases:
        status, body, _ = await api.call("POST", ME + "/sms", json=payload)
        assert status == want_status, payload
        assert body["errors"][0]["errorCode"] == code
        assert body["errors"][0].get("parameterName") == parameter
    status, body, _ = await api.call("POST", ME + "/sms", json={**good, "text": "x" * 1000})
    assert status == 200
    status, body, _ = await api.call(
        "POST", ME + "/sms", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert body["errors"][0]["errorCode"] == "CMN-103"


async def test_send_mms_multipart(api: Api, fake: FakeRingCentral) -> None:
    form = aiohttp.FormData()
    envelope = {"from": {"phoneNumber": "+16505550100"}, "to": [{"phoneNumber": REMOTE}],
                "text": "pic"}  # fmt: skip
    form.add_field("json", json.dumps(envelope), content_type="application/json")
    form.add_field("attachment", b"\x89PNG....", filename="a.png", content_type="image/png")
    status, body, _ = await api.call("POST", ME + "/mms", data=form)
    assert status == 200, body
    mms = [a for a in body["attachments"] if a["type"] == "MmsAttachment"]
    assert mms[0]["contentType"] == "image/png"
    status, content, headers = await api.call("GET", mms[0]["uri"].removeprefix(fake.origin))
    assert status == 200
    assert content == b"\x89PNG...."
    assert headers["Content-Type"] == "image/png"
    # No attachment: MMS requires one.
    bare = aiohttp.FormData()
    bare.add_field("json", json.dumps(envelope), content_type="application/json")
    status, body, _ = await api.call("POST", ME + "/mms", data=bare)
    assert status == 400
    assert body["parameterName"] == "attachments"


async def test_company_pager(api: Api) -> None:
    payload = {"from": {"extensionNumber": "101"}, "to": [{"extensionNumber": "102"},
               {"extensionNumber": "103"}], "text": "Hello!"}  # fmt: skip
    status, body, _ = await api.call("POST", ME + "/company-pager", json=payload)
    assert status == 200
    assert body["type"] == "Pager"
    assert body["to"] == [{"extensionNumber": "102"}, {"extensionNumber": "103"}]
    assert body["pgToDepartment"] is False
    assert body["conversationId"] > 2**53
    reply = {"replyOn": body["id"], "text": "again"}
    status, again, _ = await api.call("POST", ME + "/company-pager", json=reply)
    assert status == 200
    assert again["conversationId"] == body["conversationId"]
    status, error, _ = await api.call("POST", ME + "/company-pager", json={"text": "x"})
    assert status == 400
    assert error["errors"][0] == {
        "errorCode": "CMN-100",
        "message": "Mandatory parameter [to] not specified",
        "parameterName": "to",
    }


FAX_FORM = (
    '--B\nContent-Disposition: form-data; name="coverPageText"; filename=""\n'
    "Content-Type: text/plain\n\n\n"
    '--B\nContent-Disposition: form-data; name="coverIndex"; filename=""\n'
    "Content-Type: text/plain\n\n2\n"
    '--B\nContent-Disposition: form-data; name="faxResolution"; filename=""\n'
    "Content-Type: text/plain\n\nHigh\n"
    '--B\nContent-Disposition: form-data; name="to"; filename=""\n'
    "Content-Type: text/plain\n\n18005554567\n"
    '--B\nContent-Disposition: form-data; name="to"; filename=""\n'
    "Content-Type: text/plain\n\n18005554568\n"
    '--B\nContent-Disposition: form-data; name="attachment"; filename=""\n'
    "Content-Transfer-Encoding: binary\nContent-Type: text/plain\n\nattachment0\n"
    '--B\nContent-Disposition: form-data; name="attachment"; filename=""\n'
    "Content-Type: text/plain\n\nattachment1\n"
    "--B--\n"
)
FAX_MIXED = (
    "--B\nContent-Type: application/json\n\n"
    '{"to":[{"phoneNumber":"18005554567"}],\n "faxResolution":"High",\n'
    ' "sendTime":"2013-02-26T09:31:20.882Z"}\n\n'
    '--B\nContent-Disposition: attachment; filename="fax.txt"\n\nHello, World!\n\n'
    "--B--\n"
)


async def test_fax_form_data_as_documented(api: Api) -> None:
    status, body, headers = await api.call(
        "POST", ME + "/fax", data=FAX_FORM.encode(),
        headers={"Content-Type": "multipart/form-data;boundary=B"},
    )  # fmt: skip
    assert status == 200, body
    assert body["type"] == "Fax"
    assert [t["phoneNumber"] for t in body["to"]] == ["+18005554567", "+18005554568"]
    assert body["faxResolution"] == "High"
    assert body["coverIndex"] == 2
    assert body["messageStatus"] == "Queued"
    assert len(body["attachments"]) == 2
    assert "conversationId" not in body
    assert headers["X-Rate-Limit-Group"] == "heavy"


async def test_fax_mixed_and_resend(api: Api, fake: FakeRingCentral) -> None:
    status, body, _ = await api.call(
        "POST", ME + "/fax", data=FAX_MIXED.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=B"},
    )  # fmt: skip
    assert status == 200, body
    assert body["to"][0]["phoneNumber"] == "+18005554567"
    document = body["attachments"][0]
    assert document["filename"] == "fax.txt"
    status, content, _ = await api.call("GET", document["uri"].removeprefix(fake.origin))
    assert content == b"Hello, World!\n"
    status, again, _ = await api.call(
        "POST", ME + "/fax", json={"originalMessageId": str(body["id"])}
    )
    assert status == 200
    assert again["id"] != body["id"]
    assert again["to"][0]["phoneNumber"] == "+18005554567"
    missing_doc = (
        '--B\nContent-Type: application/json\n\n{"to":[{"phoneNumber":"+18005554567"}]}\n--B--\n'
    )
    status, error, _ = await api.call(
        "POST", ME + "/fax", data=missing_doc.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=B"},
    )  # fmt: skip
    assert status == 400
    assert error["parameterName"] == "attachment"


async def test_fax_with_aiohttp_form_data(api: Api, fake: FakeRingCentral) -> None:
    form = aiohttp.FormData()
    form.add_field("to", "+18005554567")
    form.add_field("to", "+18005554568")
    form.add_field("faxResolution", "Low")
    form.add_field(
        "attachment", b"%PDF-1.4 doc", filename="doc.pdf", content_type="application/pdf"
    )
    status, body, _ = await api.call("POST", ME + "/fax", data=form)
    assert status == 200, body
    assert len(body["to"]) == 2
    assert body["attachments"][0]["contentType"] == "application/pdf"
    assert fake.message(body["id"]).attachments[0].content == b"%PDF-1.4 doc"


async def test_inbound_mms_status_changes_and_sync(api: Api, fake: FakeRingCentral) -> None:
    conversation = fake.seed_conversation(3)
    mms = fake.deliver_inbound(REMOTE, "look", attachments=[("image/jpeg", b"JPEG", "cat.jpg")])
    assert str(mms.conversation_id) == conversation
    status, body, _ = await api.call("GET", f"{ME}/message-store/{mms.id}")
    assert status == 200
    picture = next(a for a in body["attachments"] if a["type"] == "MmsAttachment")
    assert picture["fileName"] == "cat.jpg"
    status, content, headers = await api.call("GET", picture["uri"].removeprefix(fake.origin))
    assert status == 200
    assert content == b"JPEG"
    assert headers["Content-Type"] == "image/jpeg"
    _, full, _ = await api.call("GET", ME + "/message-sync", params={"syncType": "FSync"})
    sent = fake.sent[0]
    fake.set_message_status(sent.id, "Delivered")
    _, inc, _ = await api.call(
        "GET", ME + "/message-sync", params={"syncToken": full["syncInfo"]["syncToken"]}
    )
    assert [r["id"] for r in inc["records"]] == [sent.id]
    assert inc["records"][0]["messageStatus"] == "Delivered"
    assert "smsDeliveryTime" in inc["records"][0]


async def test_fax_cover_pages(api: Api) -> None:
    status, body, headers = await api.call(
        "GET", "/restapi/v1.0/dictionary/fax-cover-page", params={"perPage": "5"}
    )
    assert status == 200
    assert body["records"][0] == {"id": "0", "name": "None"}
    assert body["paging"] == {"page": 1, "totalPages": 3, "perPage": 5, "totalElements": 14,
                              "pageStart": 0, "pageEnd": 4}  # fmt: skip
    assert "nextPage" in body["navigation"]
    assert headers["X-Rate-Limit-Group"] == "light"


# -- message store ----------------------------------------------------------------------


async def test_list_paging_and_navigation(api: Api, fake: FakeRingCentral) -> None:
    seeded = fake.seed_messages(25)
    status, body, _ = await api.call(
        "GET", ME + "/message-store", params={"perPage": "10", "messageType": "SMS"}
    )
    assert status == 200
    assert [r["id"] for r in body["records"]] == [m.id for m in reversed(seeded)][:10]
    assert body["paging"] == {"page": 1, "totalPages": 3, "perPage": 10, "totalElements": 25,
                              "pageStart": 0, "pageEnd": 9}  # fmt: skip
    nav = body["navigation"]
    assert set(nav) == {"firstPage", "nextPage", "lastPage"}
    ids: list[int] = []
    url: str | None = nav["firstPage"]["uri"]
    while url:
        status, page, _ = await api.call("GET", url.removeprefix(fake.origin))
        ids += [r["id"] for r in page["records"]]
        url = page["navigation"].get("nextPage", {}).get("uri")
    assert ids == [m.id for m in reversed(seeded)]
    assert set(page["navigation"]) == {"firstPage", "previousPage", "lastPage"}
    assert page["paging"]["pageStart"] == 20
    assert page["paging"]["pageEnd"] == 24
    status, empty, _ = await api.call("GET", ME + "/message-store", params={"page": "9"})
    assert empty["records"] == []
    assert "pageStart" not in empty["paging"]


async def test_list_filters(api: Api, fake: FakeRingCentral, clock: Clock) -> None:
    old = fake.deliver_inbound("+14155550999", "old", created=clock.now - timedelta(hours=30))
    inbound = fake.deliver_inbound(REMOTE, "in")
    fake.seed_messages(2, remote_number="+14155550777", direction="Outbound")
    fake.deliver_fax("+12135559976", b"%PDF-1.4")
    fake.deliver_voicemail("+18445558517", b"RIFF")

    async def ids(pairs: list[tuple[str, str]] | None = None, **params: str) -> list[int]:
        query = pairs if pairs is not None else list(params.items())
        status, body, _ = await api.call("GET", ME + "/message-store", params=query)
        assert status == 200, body
        return [r["id"] for r in body["records"]]

    assert old.id not in await ids()  # default dateFrom = now - 24 h
    since = (clock.now - timedelta(days=2)).isoformat()
    assert old.id in await ids(dateFrom=since)
    assert await ids(direction="Inbound", messageType="SMS") == [inbound.id]
    assert len(await ids(messageType="Fax")) == 1
    assert len(await ids([("messageType", "Fax"), ("messageType", "VoiceMail")])) == 2
    assert await ids(phoneNumber="14155550123") == [inbound.id]
    assert await ids(conversationId=str(inbound.conversation_id)) == [inbound.id]
    assert len(await ids(readStatus="Unread", direction="Inbound")) == 3
    distinct = await ids(distinctConversations="true", messageType="SMS")
    assert len(distinct) == 2
    status, error, _ = await api.call(
        "GET", ME + "/message-store", params={"direction": "Sideways"}
    )
    assert status == 400
    assert error["errors"][0] == {
        "errorCode": "CMN-101",
        "message": "Parameter [direction] value is invalid",
        "parameterName": "direction",
    }


async def test_get_one_and_not_found(api: Api, fake: FakeRingCentral) -> None:
    message = fake.deliver_inbound(REMOTE, "hello")
    status, body, _ = await api.call("GET", f"{ME}/message-store/{message.id}")
    assert status == 200
    assert body["id"] == message.id
    assert body["direction"] == "Inbound"
    assert body["messageStatus"] == "Received"
    assert body["vmSideRecipients"]
    status, error, _ = await api.call("GET", f"{ME}/message-store/111")
    assert status == 404
    assert error["errorCode"] == "CMN-102"
    assert error["parameterName"] == "messageId"


async def test_batch_get_207(api: Api, fake: FakeRingCentral) -> None:
    message = fake.deliver_inbound(REMOTE, "hello")
    url = f"{fake.origin}{ME}/message-store/{message.id},111"
    async with api.http.get(url, headers=api.headers()) as resp:
        assert resp.status == 207
        assert resp.content_type == "application/vnd.ringcentral.multipart+json"
        parts = json.loads(await resp.read())
    assert parts[0]["resourceId"] == str(message.id)
    assert parts[0]["status"] == 200
    assert parts[0]["body"]["id"] == message.id
    assert parts[1] == {
        "resourceId": "111",
        "status": 404,
        "body": {
            "errorCode": "CMN-102",
            "message": "Resource for parameter [messageId] is not found",
            "errors": [
                {
                    "errorCode": "CMN-102",
                    "message": "Resource for parameter [messageId] is not found",
                    "parameterName": "messageId",
                }
            ],
            "parameterName": "messageId",
        },
    }


async def test_update_read_status(api: Api, fake: FakeRingCentral) -> None:
    a, b = fake.deliver_inbound(REMOTE, "a"), fake.deliver_inbound(REMOTE, "b")
    status, body, _ = await api.call(
        "PUT", f"{ME}/message-store/{a.id}", json={"readStatus": "Read"}
    )
    assert status == 200
    assert body["readStatus"] == "Read"
    status, body, _ = await api.call(
        "PATCH", f"{ME}/message-store/{a.id},{b.id}",
        data=json.dumps([{"body": {"readStatus": "Unread"}}, {"body": {"readStatus": "Read"}}]),
        headers={"Content-Type": "application/vnd.ringcentral.multipart+json"},
    )  # fmt: skip
    assert status == 207
    assert [p["body"]["readStatus"] for p in body] == ["Unread", "Read"]
    status, body, _ = await api.call(
        "PUT", f"{ME}/message-store/*",
        json=[{"resourceId": str(a.id), "body": {"readStatus": "Read"}},
              {"resourceId": "5", "body": {"readStatus": "Read"}}],
    )  # fmt: skip
    assert status == 207
    assert [p["status"] for p in body] == [200, 404]
    status, body, _ = await api.call("PUT", f"{ME}/message-store/{a.id}", json={"readStatus": "x"})
    assert status == 400
    assert body["parameterName"] == "readStatus"


async def test_delete_restore_purge(api: Api, fake: FakeRingCentral) -> None:
    message = fake.deliver_inbound(REMOTE, "bye")
    assert (await api.call("DELETE", f"{ME}/message-store/{message.id}"))[0] == 204
    assert message.availability == "Deleted"
    status, body, _ = await api.call("GET", ME + "/message-store")
    assert body["records"] == []
    status, body, _ = await api.call(
        "GET", ME + "/message-store", params={"availability": "Deleted"}
    )
    assert [r["id"] for r in body["records"]] == [message.id]
    status, body, _ = await api.call(
        "PATCH", f"{ME}/message-store/{message.id}", json={"availability": "Alive"}
    )
    assert status == 200
    assert body["availability"] == "Alive"
    path = f"{ME}/message-store/{message.id}"
    assert (await api.call("DELETE", path, params={"purge": "true"}))[0] == 204
    assert message.availability == "Purged"
    status, body, _ = await api.call("GET", path)
    assert body["attachments"] == []
    assert (await api.call("DELETE", f"{ME}/message-store/999"))[0] == 404


async def test_delete_by_conversation(api: Api, fake: FakeRingCentral) -> None:
    keep = fake.deliver_inbound("+14155550999", "keep")
    gone = fake.seed_messages(3)
    conversation = str(gone[0].conversation_id)
    status, _, _ = await api.call(
        "DELETE", ME + "/message-store", params={"conversationId": conversation}
    )
    assert status == 204
    assert all(m.availability == "Deleted" for m in gone)
    assert keep.availability == "Alive"


async def test_large_attachment_is_streamed_chunked(api: Api, fake: FakeRingCentral) -> None:
    blob = bytes(range(256)) * (6 * 4096)  # 6 MiB
    fax = fake.deliver_fax("+12135559976", blob)
    status, body, _ = await api.call("GET", f"{ME}/message-store/{fax.id}")
    attachment = body["attachments"][0]
    assert attachment["uri"].startswith(fake.config["media_base_url"])
    assert attachment["size"] == len(blob)
    async with api.http.get(
        attachment["uri"],
        headers=api.headers(),
        params={"contentDisposition": "Attachment", "contentDispositionFilename": "f.pdf"},
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert resp.headers["Content-Type"] == "application/pdf"
        assert resp.headers["Content-Disposition"] == 'attachment; filename="f.pdf"'
        assert resp.headers["X-Rate-Limit-Group"] == "medium"
        received = b"".join([chunk async for chunk in resp.content.iter_chunked(1 << 16)])
    assert received == blob
    status, error, _ = await api.call("GET", f"{ME}/message-store/{fax.id}/content/1")
    assert status == 404
    assert error["parameterName"] == "attachmentId"


async def test_foreign_account_and_extension(api: Api) -> None:
    status, body, _ = await api.call("GET", "/restapi/v1.0/account/~/extension/42/message-store")
    assert status == 403
    assert body["errorCode"] == "CMN-408"
    status, body, _ = await api.call("GET", "/restapi/v1.0/account/42/extension/~/message-store")
    assert status == 404
    assert body["parameterName"] == "accountId"
    status, _, _ = await api.call("GET", "/restapi/v1.0/nowhere")
    assert status == 404


# -- message sync --------------------------------------------------------------------------


async def test_message_sync(api: Api, fake: FakeRingCentral, clock: Clock) -> None:
    first = fake.deliver_inbound(REMOTE, "one")
    fake.deliver_fax("+12135559976", b"%PDF")
    status, full, _ = await api.call(
        "GET", ME + "/message-sync", params={"syncType": "FSync", "messageType": "SMS"}
    )
    assert status == 200
    assert [r["id"] for r in full["records"]] == [first.id]
    info = full["syncInfo"]
    assert info["syncType"] == "FSync"
    assert info["olderRecordsExist"] is False
    assert info["syncTime"] == "2026-03-10T18:07:52.534Z"
    clock.advance(minutes=1)
    second = fake.deliver_inbound(REMOTE, "two")
    fake.deliver_fax("+12135559976", b"%PDF")  # filtered out by messageType
    await api.call("PUT", f"{ME}/message-store/{first.id}", json={"readStatus": "Read"})
    status, inc, _ = await api.call(
        "GET", ME + "/message-sync", params={"syncType": "ISync", "syncToken": info["syncToken"]}
    )
    assert status == 200
    assert inc["syncInfo"]["syncType"] == "ISync"
    assert [r["id"] for r in inc["records"]] == [second.id, first.id]
    status, none, _ = await api.call(
        "GET", ME + "/message-sync",
        params={"syncType": "ISync", "syncToken": inc["syncInfo"]["syncToken"]},
    )  # fmt: skip
    assert none["records"] == []
    status, error, _ = await api.call(
        "GET", ME + "/message-sync", params={"syncType": "ISync", "syncToken": "bogus"}
    )
    assert status == 400
    assert error["parameterName"] == "syncToken"
    status, limited, _ = await api.call(
        "GET", ME + "/message-sync", params={"syncType": "FSync", "recordCount": "1"}
    )
    assert len(limited["records"]) == 1
    assert limited["syncInfo"]["olderRecordsExist"] is True


# -- rate limits -----------------------------------------------------------------------------


async def test_rate_limit_headers_and_429(http: aiohttp.ClientSession) -> None:
    async with FakeRingCentral(rate_limits={"Light": (2, 0.3), "Auth": (5, 60)}) as fake:
        api = Api(fake, http, (await get_token(fake, http))["access_token"])
        _, _, headers = await api.call("GET", ME + "/message-store")
        assert headers["X-Rate-Limit-Group"] == "light"
        assert headers["X-Rate-Limit-Limit"] == "2"
        assert headers["X-Rate-Limit-Remaining"] == "1"
        assert headers["X-Rate-Limit-Window"] == "1"
        await api.call("GET", ME + "/message-store")
        status, body, headers = await api.call("GET", ME + "/message-store")
        assert status == 429
        assert headers["Retry-After"] == "1"
        assert headers["X-Rate-Limit-Remaining"] == "0"
        assert body == {
            "errorCode": "CMN-301",
            "message": "Request rate exceeded",
            "errors": [{"errorCode": "CMN-301", "message": "Request rate exceeded"}],
        }
        # Other groups are counted separately.
        status, _, headers = await api.call(
            "POST", ME + "/company-pager", json={"to": [{"extensionNumber": "102"}], "text": "x"}
        )
        assert status == 200
        assert headers["X-Rate-Limit-Remaining"] == "39"
        await asyncio.sleep(0.35)
        assert (await api.call("GET", ME + "/message-store"))[0] == 200


async def test_auth_group_limit(http: aiohttp.ClientSession) -> None:
    async with FakeRingCentral() as fake:
        for _ in range(5):
            await get_token(fake, http)
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": fake.jwt}
        async with http.post(
            fake.origin + "/restapi/oauth/token", data=form, headers=basic(fake)
        ) as resp:
            assert resp.status == 429
            assert resp.headers["X-Rate-Limit-Group"] == "auth"
            assert int(resp.headers["Retry-After"]) > 0
            assert (await resp.json())["errorCode"] == "CMN-301"


async def test_fax_json_part_named_like_the_official_python_sdk(api: Api) -> None:
    # ringcentral-python's MultipartBuilder sends the envelope as a form-data
    # part named "json" with the file name "request.json", then the files.
    body = (
        '--B\r\nContent-Disposition: form-data; name="json"; filename="request.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
        '{"to": [{"phoneNumber": "+18005554567"}], "faxResolution": "High"}\r\n'
        '--B\r\nContent-Disposition: form-data; name="attachment"; filename="doc.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4 doc\r\n"
        "--B--\r\n"
    )
    status, fax, _ = await api.call(
        "POST", ME + "/fax", data=body.encode(),
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )  # fmt: skip
    assert status == 200, fax
    assert [t["phoneNumber"] for t in fax["to"]] == ["+18005554567"]
    assert fax["faxResolution"] == "High"
    assert [a["filename"] for a in fax["attachments"]] == ["doc.pdf"]
