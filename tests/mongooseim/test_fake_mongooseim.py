"""FakeMongooseIM checked by a client written from the MongooseIM 6.5.0 docs."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from messaging_hub.testing.mongooseim import FakeMongooseIM

pytestmark = pytest.mark.anyio

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
Auth = dict[str, str]


def basic(user: str, password: str) -> Auth:
    """An Authorization header as a client following the docs sends it."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic("admin", "secret")
ALICE = basic("alice@localhost", "secret")
BOB = basic("bob@localhost", "secret")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeMongooseIM]:
    users = {"alice@localhost": "secret", "bob@localhost": "secret", "kate@localhost": "pw"}
    async with FakeMongooseIM("admin-rest", users, clock=clock) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    auth: Auth | None = None,
    headers: Auth | None = None,
    **kwargs: Any,
) -> tuple[int, Any, Any]:
    """One request; the status, the body decoded as JSON (None if empty) and the headers."""
    all_headers = {**(auth or {}), **(headers or {})}
    async with http.request(method, url, headers=all_headers, **kwargs) as resp:
        raw = await resp.read()
        return resp.status, json.loads(raw) if raw else None, resp.headers


# -- config -------------------------------------------------------------------------


async def test_config_per_api(clock: Clock) -> None:
    async with FakeMongooseIM("admin-rest") as f:
        assert f.config == {
            "provider": "mongooseim",
            "api": "admin-rest",
            "base_url": f"{f.origin}/api",
            "owner": "alice@localhost",
            "username": "admin",
            "password": "secret",
        }
    async with FakeMongooseIM("client-rest", owner="bob@localhost") as f:
        cfg = f.config
        assert cfg["base_url"] == f"{f.origin}/client/api"
        assert (cfg["username"], cfg["password"], cfg["owner"]) == (
            "bob@localhost",
            "secret",
            "bob@localhost",
        )
    async with FakeMongooseIM("graphql") as f:
        assert f.config["base_url"] == f"{f.origin}/api/graphql"
        assert f.config["username"] == "alice@localhost"
        assert "graphql_role" not in f.config
    async with FakeMongooseIM("graphql", graphql_admin=True, admin_credentials=None) as f:
        assert f.config["graphql_role"] == "admin"
        assert "username" not in f.config


# -- admin REST ---------------------------------------------------------------------


async def test_admin_send_and_read_back(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, clock: Clock
) -> None:
    api = fake.config["base_url"]
    msg = {"caller": "alice@localhost", "to": "bob@localhost", "body": "Hi <Bob> & co"}
    status, body, _ = await call(http, "POST", f"{api}/messages", json=msg, auth=ADMIN)
    assert (status, body) == (204, None)
    clock.tick(2)
    fake.deliver_inbound("bob@localhost/phone", "Hello Alice", to="alice@localhost")
    status, rows, headers = await call(http, "GET", f"{api}/messages/alice@localhost", auth=ADMIN)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert rows[0] == {
        "sender": "alice@localhost",
        "timestamp": int(T0.timestamp()),
        "message_id": fake.archive("alice@localhost")[0].stanza_id,
        "body": "Hi <Bob> & co",
    }
    assert rows[1]["sender"] == "bob@localhost/phone"
    assert rows[1]["timestamp"] == int(T0.timestamp()) + 2
    # stored in both local users' archives
    assert [m.body for m in fake.archive("bob@localhost")] == ["Hi <Bob> & co", "Hello Alice"]
    status, rows, _ = await call(
        http, "GET", f"{api}/messages/bob@localhost/alice@localhost", auth=ADMIN
    )
    assert [r["body"] for r in rows] == ["Hi <Bob> & co", "Hello Alice"]


async def test_admin_last_n_in_chronological_order_and_inclusive_before(
    fake: FakeMongooseIM, http: aiohttp.ClientSession
) -> None:
    api = fake.config["base_url"]
    fake.seed_conversation("alice@localhost", "bob@localhost", 10, end=T0)
    url = f"{api}/messages/alice@localhost/bob@localhost"
    _, rows, _ = await call(http, "GET", url, params={"limit": "3"}, auth=ADMIN)
    assert [r["body"] for r in rows] == ["message 8", "message 9", "message 10"]
    oldest = rows[0]["timestamp"]
    _, rows, _ = await call(
        http, "GET", url, params={"limit": "3", "before": str(oldest)}, auth=ADMIN
    )
    # ``before`` includes the message stamped exactly at that second
    assert [r["body"] for r in rows] == ["message 6", "message 7", "message 8"]


async def test_admin_default_limit_is_capped_by_mam(
    fake: FakeMongooseIM, http: aiohttp.ClientSession
) -> None:
    fake.seed_conversation("alice@localhost", "kate@localhost", 120)
    _, rows, _ = await call(
        http, "GET", f"{fake.config['base_url']}/messages/alice@localhost", auth=ADMIN
    )
    assert len(rows) == 50  # limit defaults to 100, mod_mam's max_result_limit is 50
    assert rows[-1]["body"] == "message 120"
    _, rows, _ = await call(
        http,
        "GET",
        f"{fake.config['base_url']}/messages/alice@localhost",
        params={"limit": "0"},
        auth=ADMIN,
    )
    assert rows == []


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/messages/alice@localhost", {"limit": "-1"}, 400, "Invalid limit"),
        ("/messages/alice@localhost", {"limit": "ten"}, 400, "Invalid limit"),
        ("/messages/alice@localhost", {"before": "1.5"}, 400, "Invalid value of 'before'"),
        ("/messages/@localhost", {}, 400, "Invalid owner JID"),
        ("/messages/alice@localhost/bob@", {}, 400, "Invalid interlocutor JID"),
        ("/messages/nobody@localhost", {}, 400, "User does not exist"),
        ("/messages/alice@nowhere", {}, 400, "User's domain does not exist"),
        ("/messages", {}, 404, "Missing owner JID"),
    ],
)
async def test_admin_get_errors(
    fake: FakeMongooseIM,
    http: aiohttp.ClientSession,
    path: str,
    params: dict[str, str],
    status: int,
    message: str,
) -> None:
    got = await call(http, "GET", fake.config["base_url"] + path, params=params, auth=ADMIN)
    assert got[:2] == (status, message)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"to": "bob@localhost", "body": "x"}, "Missing sender JID"),
        ({"caller": "alice@localhost", "body": "x"}, "Missing recipient JID"),
        ({"caller": "alice@localhost", "to": "bob@localhost"}, "Missing message body"),
        ({"caller": "alice@localhost", "to": "@noway", "body": "x"}, "Invalid recipient JID"),
        ({"caller": "@noway", "to": "bob@localhost", "body": "x"}, "Invalid sender JID"),
        (
            {"caller": "baduser@localhost", "to": "bob@localhost", "body": "x"},
            "User does not exist",
        ),
        (
            {"caller": "baduser@baddomain", "to": "bob@localhost", "body": "x"},
            "User's domain does not exist",
        ),
        ([1, 2], "Invalid request body"),
        # JID parts are limited in bytes: 600 "é" are 1200 bytes of UTF-8
        (
            {"caller": "alice@localhost", "to": "é" * 600 + "@x", "body": "x"},
            "Invalid recipient JID",
        ),
    ],
)
async def test_admin_post_errors(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, payload: Any, message: str
) -> None:
    url = fake.config["base_url"] + "/messages"
    status, body, headers = await call(http, "POST", url, json=payload, auth=ADMIN)
    assert (status, body) == (400, message)
    assert not headers["Content-Type"].startswith("application/json")
    assert fake.archive("alice@localhost") == []


async def test_admin_auth(clock: Clock, http: aiohttp.ClientSession) -> None:
    async with FakeMongooseIM("admin-rest", clock=clock) as fake:
        url = f"{fake.config['base_url']}/messages/alice@localhost"
        for auth in (None, basic("admin", "wrong")):
            status, body, headers = await call(http, "GET", url, auth=auth)
            assert (status, body) == (401, None)
            assert headers["WWW-Authenticate"] == 'Basic realm="mongooseim"'
    async with FakeMongooseIM("admin-rest", admin_credentials=None) as fake:
        url = f"{fake.config['base_url']}/messages/alice@localhost"
        assert (await call(http, "GET", url))[0] == 200
        # Basic auth the listener was not configured with is refused
        assert (await call(http, "GET", url, auth=ADMIN))[0] == 401


async def test_rest_content_negotiation(fake: FakeMongooseIM, http: aiohttp.ClientSession) -> None:
    url = f"{fake.config['base_url']}/messages"
    status, _, _ = await call(http, "POST", url, data=b"{}", auth=ADMIN)
    assert status == 415
    status, _, _ = await call(
        http, "GET", url + "/alice@localhost", headers={"Accept": "text/html"}, auth=ADMIN
    )
    assert status == 406
    assert (await call(http, "DELETE", url, auth=ADMIN))[0] == 405


# -- client REST ---------------------------------------------------------------------


async def test_client_send_and_history(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, clock: Clock
) -> None:
    api = f"{fake.origin}/client/api"
    status, body, _ = await call(
        http, "POST", f"{api}/messages", json={"to": "bob@localhost", "body": "Hi!"}, auth=ALICE
    )
    assert status == 200
    assert re.fullmatch(r"[0-9a-f]{16}", body["id"])
    clock.tick(0.25)
    fake.deliver_inbound(
        "rabbit@wonderland.lit",
        "Hello Alice!",
        to="alice@localhost",
        thread="t1",
        parent="p1",
        properties={"some_number": "123"},
    )
    status, rows, _ = await call(http, "GET", f"{api}/messages", auth=ALICE)
    assert status == 200
    assert rows == [
        {
            "from": "alice@localhost",
            "to": "bob@localhost",
            "id": body["id"],
            "body": "Hi!",
            "timestamp": int(T0.timestamp() * 1000),
        },
        {
            "from": "rabbit@wonderland.lit",
            "to": "alice@localhost",
            "id": rows[1]["id"],
            "body": "Hello Alice!",
            "timestamp": int(T0.timestamp() * 1000) + 250,
            "thread": "t1",
            "parent": "p1",
            "properties": {"some_number": "123"},
        },
    ]
    _, rows, _ = await call(http, "GET", f"{api}/messages/bob@localhost", auth=ALICE)
    assert [r["body"] for r in rows] == ["Hi!"]
    _, rows, _ = await call(http, "GET", f"{api}/messages/alice@localhost", auth=BOB)
    assert [r["body"] for r in rows] == ["Hi!"]


async def test_client_paging_with_same_timestamps(
    fake: FakeMongooseIM, http: aiohttp.ClientSession
) -> None:
    rows = fake.seed_conversation("alice@localhost", "bob@localhost", 9, same_timestamp=3, end=T0)
    assert len({r.timestamp_us // 1000 for r in rows}) == 3  # three milliseconds
    assert len({r.timestamp_us for r in rows}) == 9  # next_unique: one microsecond each
    url = f"{fake.origin}/client/api/messages/bob@localhost"
    _, page, _ = await call(http, "GET", url, params={"limit": "4"}, auth=ALICE)
    assert [r["body"] for r in page] == ["message 6", "message 7", "message 8", "message 9"]
    # before=t covers up to t.000 ms exactly (inclusive); messages 5 and 6 lie a few
    # microseconds into that millisecond, so only t + 1 brings the whole run back
    before = page[0]["timestamp"]
    _, at_t, _ = await call(
        http, "GET", url, params={"limit": "4", "before": str(before)}, auth=ALICE
    )
    assert [r["body"] for r in at_t] == ["message 1", "message 2", "message 3", "message 4"]
    _, page2, _ = await call(
        http, "GET", url, params={"limit": "4", "before": str(before + 1)}, auth=ALICE
    )
    assert [r["body"] for r in page2] == ["message 3", "message 4", "message 5", "message 6"]
    _, page3, _ = await call(
        http, "GET", url, params={"limit": "50", "before": str(before - 1)}, auth=ALICE
    )
    assert [r["body"] for r in page3] == ["message 1", "message 2", "message 3"]


async def test_client_auth_and_errors(fake: FakeMongooseIM, http: aiohttp.ClientSession) -> None:
    url = f"{fake.origin}/client/api/messages"
    for auth in (None, basic("alice@localhost", "nope"), ADMIN):
        status, _, headers = await call(http, "GET", url, auth=auth)
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="mongooseim"'
    assert (await call(http, "GET", url, params={"limit": "x"}, auth=ALICE))[:2] == (
        400,
        "Invalid limit",
    )
    assert (await call(http, "GET", url, params={"before": "x"}, auth=ALICE))[:2] == (
        400,
        "Invalid value of 'before'",
    )
    assert (await call(http, "POST", url, json={"body": "x"}, auth=ALICE))[:2] == (
        400,
        "Missing recipient JID",
    )
    assert (await call(http, "POST", url, json={"to": "bob@localhost"}, auth=ALICE))[:2] == (
        400,
        "Missing message body",
    )
    assert (await call(http, "POST", url, json={"to": "bob@", "body": "x"}, auth=ALICE))[:2] == (
        400,
        "Invalid recipient JID",
    )


# -- GraphQL ----------------------------------------------------------------------------

SEND = (
    "mutation M1($to: JID!, $body: String!) { stanza { sendMessage(to: $to, body: $body) { id } } }"
)
LAST = """query Q($with: JID, $limit: PosInt, $before: DateTime) {
  stanza { getLastMessages(with: $with, limit: $limit, before: $before) {
    stanzas { sender timestamp stanza_id stanza } limit } } }"""


async def gql(
    http: aiohttp.ClientSession,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    auth: Auth | None = ALICE,
    operation: str | None = None,
) -> tuple[int, Any]:
    payload: dict[str, Any] = {"query": query, "variables": variables}
    if operation is not None:
        payload["operationName"] = operation
    status, body, _ = await call(http, "POST", url, json=payload, auth=auth)
    return status, body


@pytest.fixture
def gql_url(fake: FakeMongooseIM) -> str:
    return f"{fake.origin}/api/graphql"


async def test_graphql_user_send_and_last_messages(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, gql_url: str, clock: Clock
) -> None:
    status, body = await gql(
        http, gql_url, SEND, {"to": "bob@localhost", "body": "1 < 2 & 'q'"}, operation="M1"
    )
    assert status == 200
    sent_id = body["data"]["stanza"]["sendMessage"]["id"]
    clock.tick(1.5)
    fake.deliver_inbound("kate@localhost/res1", "from kate", to="alice@localhost")
    status, body = await gql(http, gql_url, LAST, {"limit": 10}, operation="Q")
    assert status == 200
    payload = body["data"]["stanza"]["getLastMessages"]
    assert payload["limit"] == 10
    first, second = payload["stanzas"]
    assert first["sender"] == "alice@localhost"
    assert first["timestamp"] == "2024-05-01T12:00:00.000000Z"
    assert first["stanza"] == (
        f"<message from='alice@localhost' id='{sent_id}' to='bob@localhost' type='chat'>"
        "<body>1 &lt; 2 &amp; 'q'</body></message>"
    )
    assert len(first["stanza_id"]) > 6
    assert first["stanza_id"] != sent_id  # the MAM id, not the stanza's id attribute
    assert second["sender"] == "kate@localhost/res1"
    assert second["timestamp"] == "2024-05-01T12:00:01.500000Z"
    # with / before filters; ``before`` is inclusive
    _, body = await gql(http, gql_url, LAST, {"with": "bob@localhost"}, operation="Q")
    assert len(body["data"]["stanza"]["getLastMessages"]["stanzas"]) == 1
    _, body = await gql(
        http, gql_url, LAST, {"before": "2024-05-01T12:00:00Z", "limit": 1000}, operation="Q"
    )
    got = body["data"]["stanza"]["getLastMessages"]
    assert (len(got["stanzas"]), got["limit"]) == (1, 50)


async def test_graphql_literals_aliases_and_spoofing(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, gql_url: str
) -> None:
    query = """mutation { stanza { sent: sendMessage(to: "bob@localhost", body: "hi \\"x\\"") {
                 id __typename } } }"""
    status, body = await gql(http, gql_url, query)
    assert status == 200
    assert body["data"]["stanza"]["sent"]["__typename"] == "SendStanzaPayload"
    assert fake.archive("bob@localhost")[0].body == 'hi "x"'
    spoof = """mutation { stanza {
      sendMessage(from: "bob@localhost", to: "kate@localhost", body: "x") { id } } }"""
    status, body = await gql(http, gql_url, spoof)
    assert status == 200
    assert body["data"] == {"stanza": {"sendMessage": None}}
    assert body["errors"] == [
        {
            "message": "Sender's JID is different from the user's JID",
            "extensions": {"code": "invalid_sender"},
            "path": ["stanza", "sendMessage"],
        }
    ]


async def test_graphql_request_errors(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, gql_url: str
) -> None:
    status, body = await gql(http, gql_url, SEND, {"to": "test@", "body": "x"}, operation="M1")
    assert status == 400
    assert body == {
        "errors": [
            {
                "message": 'Input coercion failed for type JID with value <<"test@">>. '
                "The reason it failed is: failed_to_parse_jid",
                "extensions": {"code": "input_coercion"},
                "path": ["M1", "to"],
            }
        ]
    }
    status, body = await gql(http, gql_url, "{ field ")
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "parser_error"
    status, body = await gql(http, gql_url, "{ stanza { deleteEverything { id } } }")
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "unknown_field")
    status, body, _ = await call(http, "POST", gql_url, json={}, auth=ALICE)
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "no_query_supplied")
    status, body = await gql(http, gql_url, LAST, {"limit": 0}, operation="Q")
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "input_coercion")


async def test_graphql_auth(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, gql_url: str
) -> None:
    status, body = await gql(http, gql_url, LAST, operation="Q", auth=None)
    assert status == 401
    assert body["errors"] == [
        {
            "message": "Cannot execute query Q without permissions",
            "extensions": {"code": "no_permissions"},
            "path": ["Q"],
        }
    ]
    status, body = await gql(
        http, gql_url, LAST, auth=basic("alice@localhost", "bad"), operation="Q"
    )
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "wrong_credentials"


async def test_graphql_admin_schema(fake: FakeMongooseIM, http: aiohttp.ClientSession) -> None:
    url = f"{fake.origin}/admin/api/graphql"
    send = """mutation S($from: JID!, $to: JID!, $body: String!) {
      stanza { sendMessage(from: $from, to: $to, body: $body) { id } } }"""
    variables = {"from": "kate@localhost", "to": "alice@localhost", "body": "yo"}
    status, body = await gql(http, url, send, variables, auth=ADMIN)
    assert status == 200
    assert body["data"]["stanza"]["sendMessage"]["id"]
    last = """query { stanza { getLastMessages(caller: "alice@localhost", limit: 5) {
      stanzas { sender body: stanza } limit } } }"""
    _, body = await gql(http, url, last, auth=ADMIN)
    got = body["data"]["stanza"]["getLastMessages"]
    assert got["stanzas"][0]["sender"] == "kate@localhost"
    variables["from"] = "ghost@localhost"
    status, body = await gql(http, url, send, variables, auth=ADMIN)
    assert status == 200
    assert body["errors"][0]["extensions"] == {"code": "unknown_user", "from": "ghost@localhost"}
    # the user schema has no ``caller`` argument
    status, body = await gql(http, f"{fake.origin}/user/api/graphql", last)
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "unknown_argument")
    status, _ = await gql(http, url, last, auth=ALICE)
    assert status == 401


async def test_resources_in_paths_and_with_filters(
    fake: FakeMongooseIM, http: aiohttp.ClientSession
) -> None:
    fake.deliver_inbound("bob@localhost/phone", "from phone", to="alice@localhost")
    fake.deliver_inbound("bob@localhost/desk", "from desk", to="alice@localhost")
    api = fake.config["base_url"]
    # a bare ``with`` matches every resource, a full one only that resource
    _, rows, _ = await call(
        http, "GET", f"{api}/messages/alice@localhost/bob@localhost", auth=ADMIN
    )
    assert [r["body"] for r in rows] == ["from phone", "from desk"]
    _, rows, _ = await call(
        http, "GET", f"{api}/messages/alice@localhost/bob@localhost%2Fdesk", auth=ADMIN
    )
    assert [r["body"] for r in rows] == ["from desk"]


async def test_graphql_over_get_and_headlines_are_not_archived(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, gql_url: str
) -> None:
    headline = """mutation { stanza {
      sendMessageHeadLine(to: "bob@localhost", subject: "News", body: "x") { id } } }"""
    status, body = await gql(http, gql_url, headline)
    assert status == 200
    assert body["data"]["stanza"]["sendMessageHeadLine"]["id"]
    assert fake.archive("alice@localhost") == []
    fake.seed_conversation("alice@localhost", "bob@localhost", 4, same_timestamp=True)
    stamps = [m.timestamp_us for m in fake.archive("alice@localhost")]
    assert len({us // 1000 for us in stamps}) == 1 and len(set(stamps)) == 4
    query = "{ stanza { getLastMessages(limit: 2) { stanzas { stanza_id } limit } } }"
    status, body, _ = await call(http, "GET", gql_url, params={"query": query}, auth=ALICE)
    assert status == 200
    ids = [s["stanza_id"] for s in body["data"]["stanza"]["getLastMessages"]["stanzas"]]
    assert len(set(ids)) == 2  # same millisecond, distinct MAM ids
    sub = "subscription { stanza { subscribeForMessages { sender } } }"
    status, body = await gql(http, gql_url, sub)
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "unsupported_operation")
