"""The MongooseIM fake's GraphQL: graphql-core validation, MongooseIM's error
shape, the bundled schema against the official 6.5.0 SDL, and the fake's
defaults (the fixture and ``FakeMongooseIM()`` agree; no graphql-core needed
for the REST APIs).

Plain aiohttp (not the library) talks to the fake, as a client written from
the MongooseIM docs would.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from graphql import (
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
)

from messaging_hub.testing.mongooseim import FakeMongooseIM
from messaging_hub.testing.mongooseim_graphql import SERVED
from messaging_hub.testing.mongooseim_schema import (
    BUNDLED_SDL,
    Role,
    SdlSource,
    official_sdl_dir,
    schema_text,
)

pytestmark = pytest.mark.anyio

ALICE = {"Authorization": "Basic " + base64.b64encode(b"alice@localhost:secret").decode()}
SEND = (
    "mutation S($to: JID!, $body: String!) { stanza { sendMessage(to: $to, body: $body) { id } } }"
)


@pytest.fixture(params=["auto", "bundled"])
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeMongooseIM]:
    """The fake validating against the official SDL (when there) and its own."""
    source: SdlSource = request.param
    async with FakeMongooseIM(graphql_sdl=source) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession,
    fake: FakeMongooseIM,
    query: str,
    variables: dict[str, Any] | None = None,
    operation: str | None = None,
) -> tuple[int, Any]:
    body: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation is not None:
        body["operationName"] = operation
    async with http.post(f"{fake.origin}/api/graphql", json=body, headers=ALICE) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


INVALID = [
    pytest.param(
        "mutation { stanza { sendMessage(to: \"bob@localhost\", body: \"x\") { id sentAt } } }",
        None, None, "unknown_field", ["ROOT", "stanza", "sendMessage", "sentAt"],
        id="unknown-field",
    ),
    pytest.param(
        "mutation { stanza { sendMessage(to: \"bob@localhost\", body: 42) { id } } }",
        None, None, "param_mismatch", ["ROOT", "stanza", "sendMessage", "body"],
        id="literal-of-the-wrong-type",
    ),
    pytest.param(
        "mutation S($to: String!, $body: String!) "
        "{ stanza { sendMessage(to: $to, body: $body) { id } } }",
        {"to": "bob@localhost", "body": "x"}, "S", "type_mismatch",
        ["S", "stanza", "sendMessage", "to"],
        id="variable-of-the-wrong-type",
    ),
    pytest.param(
        SEND, {"to": "bob@localhost", "body": 42}, "S", "param_mismatch", ["S", "body"],
        id="variable-value-of-the-wrong-type",
    ),
    pytest.param(
        "{ stanza { getLastMessages(limit: -1) { limit } } }",
        None, None, "input_coercion", ["ROOT", "stanza", "getLastMessages", "limit"],
        id="custom-scalar-refuses-the-value",
    ),
    pytest.param(
        "mutation { stanza { sendMessage(to: \"bob@localhost\" body: \"x\") { id } }",
        None, None, "parser_error", None, id="syntax-error",
    ),
    pytest.param(
        "mutation { stanza { sendMessage(to: \"bob@localhost\", body: \"x\") ^ { id } } }",
        None, None, "scanner_error", None, id="illegal-character",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("query", "variables", "operation", "code", "path"), INVALID)
async def test_invalid_documents_get_mongooseims_error_shape(
    fake: FakeMongooseIM,
    http: aiohttp.ClientSession,
    query: str,
    variables: dict[str, Any] | None,
    operation: str | None,
    code: str,
    path: list[str] | None,
) -> None:
    status, body = await post(http, fake, query, variables, operation)
    assert status == 400
    assert set(body) == {"errors"}  # a request error: no "data" at all
    [error] = body["errors"]
    assert error["extensions"] == {"code": code}
    assert isinstance(error["message"], str) and error["message"]
    if path is None:  # parse-phase errors carry no path, as mongoose_graphql_errors sends them
        assert set(error) == {"message", "extensions"}
    else:
        assert error["path"] == path
    assert fake.archive("bob@localhost") == []  # nothing ran


async def test_syntax_errors_name_the_line(
    fake: FakeMongooseIM, http: aiohttp.ClientSession
) -> None:
    _, body = await post(http, fake, "query {\n  stanza {\n    getLastMessages(limit: 1 { limit }")
    assert body["errors"][0]["message"].startswith("Cannot parse line 3 because of ")
    _, body = await post(http, fake, "query {\n  stanza ~ }")
    assert body["errors"][0]["message"].startswith("Cannot scan line 2 because of ")


async def test_valid_documents_use_the_whole_language(
    fake: FakeMongooseIM, http: aiohttp.ClientSession
) -> None:
    """Fragments, ``@skip``/``@include``, repeated keys and introspection work, as on
    a real GraphQL server (the hand-written parser refused fragments and directives)."""
    fake.seed_conversation("alice@localhost", "bob@localhost", 3)
    query = """
      query Q($full: Boolean!) { stanza { ...Last } }
      fragment Last on StanzaUserQuery {
        getLastMessages(limit: 2) {
          limit
          limit
          stanzas {
            ... on StanzaMap { sender }
            stanza @include(if: $full)
            stanza_id @skip(if: true)
          }
        }
      }"""
    status, body = await post(http, fake, query, {"full": False}, "Q")
    assert status == 200, body
    got = body["data"]["stanza"]["getLastMessages"]
    assert got["limit"] == 2
    assert [set(s) for s in got["stanzas"]] == [{"sender"}, {"sender"}]
    status, body = await post(http, fake, query, {"full": True}, "Q")
    assert [set(s) for s in body["data"]["stanza"]["getLastMessages"]["stanzas"]] == [
        {"sender", "stanza"}
    ] * 2
    status, body = await post(http, fake, "{ __schema { mutationType { name } } }")
    assert (status, body) == (
        200,
        {"data": {"__schema": {"mutationType": {"name": "UserMutation"}}}},
    )


async def test_fields_only_the_official_schema_declares(http: aiohttp.ClientSession) -> None:
    """``sendStanza`` is in MongooseIM's schema but not served: the fake says so
    rather than pretend it is unknown (or send nothing and answer success)."""
    if official_sdl_dir() is None:
        pytest.skip("the provider specs (shared/specs) are not beside this checkout")
    query = 'mutation { stanza { sendStanza(stanza: "<message/>") { id } } }'
    async with FakeMongooseIM() as official, FakeMongooseIM(graphql_sdl="bundled") as bundled:
        _, body = await post(http, official, query)
        assert body["errors"][0]["extensions"] == {"code": "unsupported_by_fake"}
        _, body = await post(http, bundled, query)
        assert body["errors"][0]["extensions"] == {"code": "unknown_field"}


# -- the bundled schema against MongooseIM's own SDL ---------------------------------------


def _fields(schema: GraphQLSchema, type_name: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{field: (type, {argument: (type, default)})}`` of an object type."""
    named = schema.get_type(type_name)
    assert isinstance(named, GraphQLObjectType), type_name
    return {
        name: (str(f.type), {a: (str(arg.type), arg.default_value) for a, arg in f.args.items()})
        for name, f in named.fields.items()
    }


def differences(bundled: GraphQLSchema, official: GraphQLSchema) -> list[str]:
    """Every way the bundled schema says something the official one does not."""
    found: list[str] = []
    for name, named in bundled.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        other = official.get_type(name)
        if type(other) is not type(named):
            found.append(f"{name}: {type(named).__name__} here, {type(other).__name__} there")
        elif isinstance(named, GraphQLObjectType):
            theirs = _fields(official, name)
            for field, spec in _fields(bundled, name).items():
                if theirs.get(field) != spec:
                    found.append(f"{name}.{field}: {spec} here, {theirs.get(field)} there")
    return found


@pytest.mark.parametrize("role", ["user", "admin"])
def test_bundled_schema_agrees_with_the_official_sdl(role: Role) -> None:
    if official_sdl_dir() is None:
        pytest.skip(
            "the official MongooseIM SDL (shared/specs/mongooseim/graphql) is not beside "
            "this checkout"
        )
    official_text, is_official = schema_text(role, "auto")
    assert is_official
    official, bundled = build_schema(official_text), build_schema(BUNDLED_SDL[role])
    assert differences(bundled, official) == []
    # every field the walk serves is declared in the bundled schema
    other_role = "Admin" if role == "user" else "User"
    for type_name, served in SERVED.items():
        if other_role not in type_name:
            declared = bundled.get_type(type_name)
            assert isinstance(declared, GraphQLObjectType), type_name
            assert served <= set(declared.fields), type_name
    for name in ("JID", "DateTime", "PosInt", "XmlElement"):
        assert isinstance(bundled.get_type(name), GraphQLScalarType)
    # negative control: a changed default or argument type is reported
    drifted = build_schema(BUNDLED_SDL[role].replace("limit: PosInt = 50", "limit: Int = 10"))
    assert len(differences(drifted, official)) == 1


# -- defaults and the optional dependency ------------------------------------------------


async def test_the_fixture_and_the_class_default_to_the_same_api(
    fake_mongooseim: FakeMongooseIM,
) -> None:
    async with FakeMongooseIM() as plain:
        assert plain.api == fake_mongooseim.api == "graphql"
        mine = {**plain.config, "base_url": plain.config["base_url"].removeprefix(plain.origin)}
        theirs = fake_mongooseim.config
        theirs = {**theirs, "base_url": theirs["base_url"].removeprefix(fake_mongooseim.origin)}
        assert mine == theirs


def test_rest_apis_work_without_graphql_core() -> None:
    """``messaging_hub.testing`` imports without graphql-core; GraphQL then says which
    extra to install (at construction, or answering a GraphQL request)."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        sys.modules["graphql"] = None  # as if graphql-core were not installed
        import aiohttp
        from messaging_hub.testing import FakeMongooseIM

        async def main():
            try:
                FakeMongooseIM()
            except ImportError as exc:
                print("default:", exc)
            async with FakeMongooseIM("admin-rest") as fake, aiohttp.ClientSession() as http:
                url = fake.origin + "/api/messages/alice@localhost"
                admin = {"Authorization": "Basic YWRtaW46c2VjcmV0"}  # admin:secret
                async with http.get(url, headers=admin) as resp:
                    print("rest:", resp.status)
                async with http.post(fake.origin + "/api/graphql", json={"query": "{ x }"}) as resp:
                    print("graphql:", resp.status, (await resp.json())["errors"][0]["message"])

        asyncio.run(main())
        """
    )
    run = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    hint = "pip install 'messaging-hub[testing]'"
    lines = run.stdout.splitlines()
    assert lines[0].startswith("default: ") and hint in lines[0]
    assert lines[1] == "rest: 200"
    assert lines[2].startswith("graphql: 500 ") and hint in lines[2]
