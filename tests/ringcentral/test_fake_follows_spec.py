"""The fake RingCentral answers as the official spec's response schemas say.

Plain aiohttp (not the library) talks to the fake; every answer is checked
against its operation's 200 schema in the spec: required fields, JSON types
(null only where ``nullable``), enums, nested objects and arrays (from, to,
attachments, conversation, paging, navigation, syncInfo), via ``tests/_spec.py``.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from messaging_hub.testing.ringcentral import FakeRingCentral
from tests._spec import Spec, load

pytestmark = pytest.mark.anyio

EXT = "/restapi/v1.0/account/{accountId}/extension/{extensionId}"
ME = "/restapi/v1.0/account/~/extension/~"
REMOTE = "+14155550123"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def spec() -> Spec:
    return load("ringcentral/ringcentral-platform.messaging-auth.openapi.yaml")


class Api:
    """A bearer-token JSON client from RingCentral's documentation."""

    def __init__(self, fake: FakeRingCentral, http: aiohttp.ClientSession) -> None:
        self.fake, self.http = fake, http
        self.token: dict[str, Any] = {}

    async def login(self) -> None:
        raw = f"{self.fake.client_id}:{self.fake.client_secret}".encode()
        async with self.http.post(
            self.fake.origin + "/restapi/oauth/token",
            data={"grant_type": JWT_GRANT, "assertion": self.fake.jwt},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        ) as resp:
            assert resp.status == 200, await resp.text()
            self.token = await resp.json()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token['access_token']}"}
        async with self.http.request(
            method, self.fake.origin + path, headers=headers, **kwargs
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.content_type == "application/json"
            return await resp.json()


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with FakeRingCentral(rate_limiting=False) as fake:
        # One message of every kind, so each shape of record is checked.
        fake.seed_conversation(3, remote_number=REMOTE)
        fake.deliver_inbound(REMOTE, "see this", attachments=[("image/png", b"PNG", "a.png")])
        fake.set_message_status(fake.sent[-1].id, "Delivered")
        fake.deliver_pager("102", "pager text")
        fake.deliver_fax("+12135559976", b"%PDF-1.4")
        fake.deliver_voicemail("+12135559976", b"RIFF")
        async with aiohttp.ClientSession() as http:
            client = Api(fake, http)
            await client.login()
            yield client


def conforms(spec: Spec, body: Any, path: str, method: str = "get") -> None:
    problems = spec.problems(body, spec.response(path, method, 200))
    assert not problems, "\n".join(problems)


async def test_token_is_a_token_info(spec: Spec, api: Api) -> None:
    # TokenInfo requires session_id although the recorded examples
    # (examples/oauth-token.*.200.json) lack it; the fake follows the schema.
    assert spec.response("/restapi/oauth/token", "post", 200) == {
        "$ref": "#/components/schemas/TokenInfo"
    }
    assert {"access_token", "expires_in", "scope", "token_type", "session_id"} <= spec.required(
        spec.response("/restapi/oauth/token", "post", 200)
    )
    conforms(spec, api.token, "/restapi/oauth/token", "post")


async def test_the_checker_can_fail(spec: Spec, api: Api) -> None:
    """A negative control: the same token, broken, is reported."""
    broken = dict(api.token, expires_in=str(api.token["expires_in"]), scope=None)
    del broken["session_id"]
    problems = spec.problems(broken, spec.response("/restapi/oauth/token", "post", 200))
    assert len(problems) == 3, problems
    record = {"id": 1, "from": [{"phoneNumber": REMOTE}], "to": [{"target": "yes"}]}
    listing = {"records": [record], "paging": {}, "navigation": {"lastPage": {"uri": 5}}}
    path = EXT + "/message-store"
    assert len(spec.problems(listing, spec.response(path, "get", 200))) == 3


async def test_message_store_list_pages(spec: Spec, api: Api) -> None:
    schema = spec.response(EXT + "/message-store", "get", 200)
    assert spec.required(schema) == {"records", "paging", "navigation"}
    body = await api.call("GET", ME + "/message-store", params={"perPage": "2", "page": "2"})
    conforms(spec, body, EXT + "/message-store")
    # The nested objects the walk checked really were there.
    assert set(body["navigation"]) == {"firstPage", "nextPage", "previousPage", "lastPage"}
    assert {"page", "perPage", "pageStart", "pageEnd", "totalPages", "totalElements"} <= set(
        body["paging"]
    )
    every = await api.call("GET", ME + "/message-store", params={"perPage": "100"})
    conforms(spec, every, EXT + "/message-store")
    kinds = {r["type"] for r in every["records"]}
    assert kinds == {"SMS", "Pager", "Fax", "VoiceMail"}
    for record in every["records"]:
        assert {"from", "to", "attachments"} <= set(record), record
        assert record["attachments"], record


async def test_single_message_get(spec: Spec, api: Api) -> None:
    # GetSingleMessageInfoResponse requires vmSideRecipients although the recorded
    # examples (examples/message-store.get.*.200.json) lack it; the fake follows the schema.
    one = EXT + "/message-store/{messageId}"
    assert "vmSideRecipients" in spec.required(spec.response(one, "get", 200))
    for message in api.fake.messages:
        body = await api.call("GET", f"{ME}/message-store/{message.id}")
        conforms(spec, body, one)


async def test_sms_send(spec: Spec, api: Api) -> None:
    body = await api.call(
        "POST",
        ME + "/sms",
        json={"from": {"phoneNumber": api.fake.from_number}, "to": [{"phoneNumber": REMOTE}],
              "text": "hello"},
    )  # fmt: skip
    conforms(spec, body, EXT + "/sms", "post")
    assert body["type"] == "SMS" and body["conversation"]


async def test_pager_send(spec: Spec, api: Api) -> None:
    body = await api.call(
        "POST", ME + "/company-pager", json={"to": [{"extensionNumber": "102"}], "text": "hi"}
    )
    conforms(spec, body, EXT + "/company-pager", "post")
    assert body["type"] == "Pager"


async def test_fax_send(spec: Spec, api: Api) -> None:
    form = aiohttp.FormData()
    form.add_field("to", "+18005554567")
    form.add_field("coverIndex", "2")
    form.add_field("coverPageText", "cover")
    form.add_field("attachment", b"%PDF-1.4", filename="doc.pdf", content_type="application/pdf")
    body = await api.call("POST", ME + "/fax", data=form)
    conforms(spec, body, EXT + "/fax", "post")
    assert body["type"] == "Fax" and body["attachments"] and body["to"]


async def test_message_sync(spec: Spec, api: Api) -> None:
    schema = spec.response(EXT + "/message-sync", "get", 200)
    assert spec.required(schema) == {"records", "syncInfo"}
    full = await api.call("GET", ME + "/message-sync", params={"syncType": "FSync"})
    conforms(spec, full, EXT + "/message-sync")
    assert full["records"] and set(full["syncInfo"]) == {
        "syncType", "syncToken", "syncTime", "olderRecordsExist",
    }  # fmt: skip
    api.fake.deliver_inbound(REMOTE, "later")
    params = {"syncType": "ISync", "syncToken": full["syncInfo"]["syncToken"]}
    changed = await api.call("GET", ME + "/message-sync", params=params)
    conforms(spec, changed, EXT + "/message-sync")
    assert len(changed["records"]) == 1


async def test_fax_cover_pages(spec: Spec, api: Api) -> None:
    path = "/restapi/v1.0/dictionary/fax-cover-page"
    body = await api.call("GET", path, params={"perPage": "5", "page": "2"})
    conforms(spec, body, path)
    assert body["records"] and set(body["navigation"]) == {
        "firstPage", "nextPage", "previousPage", "lastPage",
    }  # fmt: skip
