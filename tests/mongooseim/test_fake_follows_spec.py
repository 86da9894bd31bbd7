"""The fake MongooseIM answers as the official 6.5.0 swagger files and the
stanza GraphQL SDL say.

Plain aiohttp (not the library) talks to the fake. REST answers are checked
against the swagger 2.0 response schemas via ``tests/_spec.py``; GraphQL
answers against the field names and types of the SDL types in
``graphql/*.gql``, selecting every field the SDL declares.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from messaging_hub.testing.mongooseim import FakeMongooseIM
from tests._spec import SPECS, Spec, load

pytestmark = pytest.mark.anyio

ALICE, BOB = "alice@localhost", "bob@localhost"
# GraphQL scalars (graphql/global_scalar_types.gql and the built-ins) as JSON.
SCALARS: dict[str, type] = {
    "String": str, "ID": str, "JID": str, "DateTime": str, "XmlElement": str,
    "Int": int, "PosInt": int, "NonNegInt": int, "Boolean": bool,
}  # fmt: skip
# The swagger files mark no field required. shared/specs/README.md ("Admin REST
# message fields", "Client REST message fields") lists the fields always sent;
# only the client's thread?, parent? (and properties?, not in the swagger) are optional.
OPTIONAL = {"thread", "parent"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def fake() -> AsyncIterator[FakeMongooseIM]:
    async with FakeMongooseIM() as server:
        server.seed_conversation(ALICE, BOB, 4)
        server.deliver_inbound(
            BOB, "threaded", to=ALICE, thread="t-1", parent="p-1", properties={"k": "v"}
        )
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kw: Any
) -> Any:
    async with http.request(method, url, headers=headers, **kw) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        return await resp.json()


def check_records(spec: Spec, schema: dict[str, Any], records: Any) -> None:
    problems = spec.problems(records, schema)
    assert not problems, "\n".join(problems)
    declared = set(spec.resolve(spec.resolve(schema)["items"])["properties"])
    assert records
    for record in records:
        assert declared - OPTIONAL <= set(record), declared - set(record)


@pytest.mark.parametrize("path", ["/messages/{owner}", "/messages/{owner}/{with}"])
async def test_admin_rest_message_list(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, path: str
) -> None:
    spec = load("mongooseim/Administration-backend_swagger.6.5.0.yml")
    schema = spec.response(path, "get", 200)
    assert schema == {"$ref": "#/definitions/messageList"}
    url = fake.origin + "/api" + path.format(owner=ALICE, **{"with": BOB})
    assert fake.admin_credentials is not None
    records = await fetch(http, "GET", url, basic(*fake.admin_credentials))
    check_records(spec, schema, records)
    assert len(records) == 5


@pytest.mark.parametrize("path", ["/messages", "/messages/{with}"])
async def test_client_rest_message_list(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, path: str
) -> None:
    spec = load("mongooseim/Client-frontend_swagger.6.5.0.yml")
    schema = spec.response(path, "get", 200)
    url = fake.origin + "/client/api" + path.format(**{"with": BOB})
    records = await fetch(http, "GET", url, basic(ALICE, fake.users[ALICE]))
    check_records(spec, schema, records)
    assert {"thread", "parent"} <= set(records[-1])  # the optional fields were checked too
    sent = await fetch(
        http, "POST", fake.origin + "/client/api/messages", basic(ALICE, fake.users[ALICE]),
        json={"to": BOB, "body": "hello"},
    )  # fmt: skip
    assert not spec.problems(sent, spec.response("/messages", "post", 200))
    assert isinstance(sent["id"], str)


# -- GraphQL ---------------------------------------------------------------------------


def sdl_types() -> dict[str, dict[str, str]]:
    """``{type: {field: type reference}}`` from the stanza SDL files."""
    folder = SPECS / "mongooseim/graphql"
    if not folder.exists():
        pytest.skip("the provider specs (shared/specs) are not beside this checkout")
    types: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.gql")):
        text = re.sub(r'"""(?s:.*?)"""|"[^"\n]*"', "", path.read_text())  # descriptions
        for name, body in re.findall(r"^type\s+(\w+)[^{]*\{([^}]*)\}", text, re.MULTILINE):
            fields = re.findall(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*([\w\[\]!]+)", body, re.M)
            types[name] = dict(fields)
    return types


def selection(types: dict[str, dict[str, str]], type_name: str) -> str:
    """Every field of ``type_name``, nested object types expanded."""
    parts = []
    for field, ref in types[type_name].items():
        inner = ref.strip("[]!")
        parts.append(f"{field} {{ {selection(types, inner)} }}" if inner in types else field)
    return " ".join(parts)


def gql_problems(types: dict[str, dict[str, str]], value: Any, ref: str, where: str) -> list[str]:
    """How ``value`` breaks the SDL type reference ``ref`` (e.g. ``[StanzaMap]``)."""
    if value is None:
        return [f"{where}: null for non-null {ref}"] if ref.endswith("!") else []
    ref = ref.removesuffix("!")
    if ref.startswith("["):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        items = (gql_problems(types, v, ref[1:-1], f"{where}[{i}]") for i, v in enumerate(value))
        return [p for found in items for p in found]
    if ref in types:
        if not isinstance(value, dict) or set(value) != set(types[ref]):
            return [f"{where}: {value!r} does not have exactly the fields of {ref}"]
        fields = (gql_problems(types, v, types[ref][k], f"{where}.{k}") for k, v in value.items())
        return [p for found in fields for p in found]
    scalar = SCALARS[ref]
    ok = isinstance(value, scalar) and (scalar is bool or not isinstance(value, bool))
    return [] if ok else [f"{where}: {value!r} is not {ref}"]


@pytest.mark.parametrize("role", ["user", "admin"])
async def test_graphql_results_follow_the_sdl(
    fake: FakeMongooseIM, http: aiohttp.ClientSession, role: str
) -> None:
    types = sdl_types()
    query_type, mutation_type = f"Stanza{role.title()}Query", f"Stanza{role.title()}Mutation"
    assert types[query_type]["getLastMessages"] == "StanzasPayload"
    assert types[mutation_type]["sendMessage"] == "SendStanzaPayload"
    assert set(types["StanzaMap"]) == {"sender", "timestamp", "stanza_id", "stanza"}
    if role == "user":
        headers = basic(ALICE, fake.users[ALICE])
        read_args, send_args = f'with: "{BOB}", limit: 10', f'to: "{BOB}", body: "hi"'
    else:
        assert fake.admin_credentials is not None
        headers = basic(*fake.admin_credentials)
        read_args = f'caller: "{ALICE}", with: "{BOB}", limit: 10, before: "2999-01-01T00:00:00Z"'
        send_args = f'from: "{ALICE}", to: "{BOB}", body: "hi"'
    url = f"{fake.origin}/{role}/api/graphql"
    sent = await fetch(
        http, "POST", url, headers,
        json={"query": f"mutation {{ stanza {{ sendMessage({send_args}) "
                       f"{{ {selection(types, 'SendStanzaPayload')} }} }} }}"},
    )  # fmt: skip
    assert "errors" not in sent, sent
    payload = sent["data"]["stanza"]["sendMessage"]
    assert not gql_problems(types, payload, "SendStanzaPayload", "sendMessage")
    assert payload["id"]
    read = await fetch(
        http, "POST", url, headers,
        json={"query": f"query {{ stanza {{ getLastMessages({read_args}) "
                       f"{{ {selection(types, 'StanzasPayload')} }} }} }}"},
    )  # fmt: skip
    assert "errors" not in read, read
    result = read["data"]["stanza"]["getLastMessages"]
    problems = gql_problems(types, result, "StanzasPayload", "getLastMessages")
    assert not problems, "\n".join(problems)
    assert len(result["stanzas"]) == 6 and result["limit"] == 10
    broken = {"stanzas": [{**result["stanzas"][0], "timestamp": 1}], "limit": "10"}
    assert len(gql_problems(types, broken, "StanzasPayload", "$")) == 2  # negative control
