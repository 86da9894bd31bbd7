"""REST error strings and GraphQL error codes (also with HTTP 200) become typed errors."""

from __future__ import annotations

import pytest

import messaging_hub as mh
from messaging_hub.adapters.mongooseim import GraphQLAPI
from messaging_hub.adapters.mongooseim.graphql import GET_LAST_MESSAGES
from messaging_hub.testing.mongooseim import Api, FakeMongooseIM

pytestmark = pytest.mark.anyio


async def test_admin_rest_unknown_owner_is_not_found() -> None:
    async with FakeMongooseIM("admin-rest") as fake:
        config = {**fake.config, "owner": "nobody@localhost"}
        async with mh.connect(config) as client:
            with pytest.raises(mh.NotFound) as info:
                [m async for m in client.history("bob@localhost")]
            with pytest.raises(mh.NotFound):
                await client.send(mh.Outgoing(to=["bob@localhost"], text="hi"))
    assert info.value.status == 400
    assert info.value.code == "unknown_user"
    assert info.value.message == "User does not exist"


@pytest.mark.parametrize("api", ["admin-rest", "client-rest"])
async def test_rest_error_string_is_kept(api: Api) -> None:
    async with FakeMongooseIM(api) as fake, mh.connect(fake.config) as client:
        fake.fail(status=400, body='"Invalid limit"', method="GET")
        with pytest.raises(mh.BadRequest) as info:
            [m async for m in client.history("bob@localhost")]
        fake.fail(status=403, body='"Denied"')
        with pytest.raises(mh.PermissionDenied):
            await client.send(mh.Outgoing(to=["bob@localhost"], text="hi"))
    assert info.value.message == "Invalid limit"
    assert info.value.status == 400


@pytest.mark.parametrize("api", ["admin-rest", "client-rest", "graphql"])
async def test_wrong_password_is_an_authentication_error(api: Api) -> None:
    async with (
        FakeMongooseIM(api) as fake,
        mh.connect({**fake.config, "password": "n0t-Th3-pa55"}) as client,
    ):
        with pytest.raises(mh.AuthenticationError) as info:
            await client.send(mh.Outgoing(to=["bob@localhost"], text="hi"))
    assert info.value.status == 401
    assert "n0t-Th3-pa55" not in str(info.value)
    assert fake.archive(fake.owner) == []


async def test_admin_rest_without_configured_credentials() -> None:
    async with FakeMongooseIM("admin-rest", admin_credentials=None) as fake:
        assert "username" not in fake.config
        async with mh.connect(fake.config) as client:
            await client.send(mh.Outgoing(to=["bob@localhost"], text="open"))
            texts = [m.text async for m in client.history("bob@localhost")]
        assert texts == ["open"]
        assert all("Authorization" not in r.headers for r in fake.requests)


async def test_graphql_resolver_error_with_http_200() -> None:
    """A user may not send as someone else: the field is null, HTTP 200, code invalid_sender."""
    async with FakeMongooseIM("graphql") as fake, mh.connect(fake.config) as client:
        native = client.native
        assert isinstance(native, GraphQLAPI)
        with pytest.raises(mh.PermissionDenied) as info:
            await native.send_message("bob@localhost", "hi", from_="bob@localhost")
    assert info.value.status == 200
    assert info.value.code == "invalid_sender"
    assert fake.archive("bob@localhost") == []


async def test_graphql_admin_unknown_caller_is_not_found_with_http_200() -> None:
    async with (
        FakeMongooseIM("graphql", graphql_admin=True) as fake,
        mh.connect({**fake.config, "owner": "ghost@localhost"}) as client,
    ):
        with pytest.raises(mh.NotFound) as info:
            [m async for m in client.history("bob@localhost")]
    assert (info.value.status, info.value.code) == (200, "unknown_user")


async def test_graphql_missing_credentials_is_permission_denied() -> None:
    async with FakeMongooseIM("graphql", graphql_admin=True) as fake:
        config = {k: v for k, v in fake.config.items() if k not in ("username", "password")}
        async with mh.connect(config) as client:
            with pytest.raises(mh.PermissionDenied) as info:
                await client.send(mh.Outgoing(to=["bob@localhost"], text="hi"))
    assert info.value.code == "no_permissions"


async def test_graphql_input_coercion_is_bad_request() -> None:
    async with FakeMongooseIM("graphql") as fake, mh.connect(fake.config) as client:
        native = client.native
        assert isinstance(native, GraphQLAPI)
        with pytest.raises(mh.BadRequest) as info:
            await native.execute(
                GET_LAST_MESSAGES,
                {"with": "not a jid"},
                operation_name="GetLastMessages",
                idempotent=True,
            )
    assert info.value.code == "input_coercion"
    assert info.value.status == 400


async def test_graphql_errors_without_a_known_code() -> None:
    async with FakeMongooseIM("graphql") as fake, mh.connect(fake.config) as client:
        fake.fail(
            status=200,
            body='{"data": {"stanza": {"getLastMessages": null}}, '
            '"errors": [{"message": "boom", "extensions": {"code": "weird"}}]}',
        )
        with pytest.raises(mh.ProviderError) as info:
            [m async for m in client.history("bob@localhost")]
    assert (info.value.message, info.value.code, info.value.status) == ("boom", "weird", 200)


async def test_graphql_resolver_crash_is_provider_unavailable() -> None:
    """The server's resolver crashed (HTTP 200, ``resolver_crash``): a server failure
    after the request arrived, so a send may have gone through."""
    async with FakeMongooseIM("graphql") as fake, mh.connect(fake.config) as client:
        fake.fail(
            status=200,
            body='{"data": {"stanza": {"sendMessage": null}}, "errors": [{"message": '
            '"Unexpected error resolver crash", "extensions": {"code": "resolver_crash"}, '
            '"path": ["stanza", "sendMessage"]}]}',
        )
        with pytest.raises(mh.ProviderUnavailable) as info:
            await client.send(mh.Outgoing(to=["bob@localhost"], text="hi"))
    assert info.value.may_have_been_processed
    assert info.value.code == "resolver_crash"
