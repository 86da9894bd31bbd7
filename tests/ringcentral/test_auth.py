"""RingCentral OAuth through the adapter: grants, refresh, revoke, config, secrets."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.testing.ringcentral import FakeRingCentral

pytestmark = pytest.mark.anyio

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REMOTE = "+14155550123"


@pytest.fixture
async def fake() -> AsyncIterator[FakeRingCentral]:
    async with FakeRingCentral(rate_limits={"Light": (1000, 60)}) as server:
        yield server


def _token_forms(fake: FakeRingCentral) -> list[dict[str, str]]:
    return [
        dict(parse_qsl(r.body.decode())) for r in fake.requests_to("POST", "/restapi/oauth/token$")
    ]


def _basic(fake: FakeRingCentral) -> str:
    pair = f"{fake.client_id}:{fake.client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


async def test_jwt_grant_is_form_encoded_with_basic_client_auth(fake: FakeRingCentral) -> None:
    async with mh.connect(fake.config) as client:
        await client.send(mh.Outgoing(to=[REMOTE], text="hi"))
    (request,) = fake.requests_to("POST", "/restapi/oauth/token$")
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert request.headers["Authorization"] == _basic(fake)
    assert _token_forms(fake) == [{"grant_type": JWT_GRANT, "assertion": fake.jwt}]
    sent = fake.requests_to("POST", "/sms$")[0]
    assert sent.headers["Authorization"].startswith("Bearer ")


async def test_password_grant_sends_username_password_extension() -> None:
    async with FakeRingCentral(username="+16505550100", password="pw-1") as fake:
        config = {k: v for k, v in fake.config.items() if k != "jwt"}
        options = {**config, "username": "+16505550100", "password": "pw-1", "extension": "101"}
        async with mh.connect(options) as client:
            receipt = await client.send(mh.Outgoing(to=[REMOTE], text="by password"))
        assert receipt.message_ids
        assert _token_forms(fake)[0] == {
            "grant_type": "password",
            "username": "+16505550100",
            "password": "pw-1",
            "extension": "101",
        }


async def test_refused_credentials_are_an_authentication_error_with_the_code(
    fake: FakeRingCentral,
) -> None:
    async with mh.connect({**fake.config, "jwt": "not-the-jwt"}) as client:
        with pytest.raises(mh.AuthenticationError) as info:
            await client.send(mh.Outgoing(to=[REMOTE], text="x"))
    assert info.value.code == "OAU-140"
    assert info.value.status == 400
    assert "not-the-jwt" not in str(info.value)
    assert not fake.requests_to("POST", "/sms$")


async def test_fifty_tasks_on_an_expired_token_cause_one_refresh(fake: FakeRingCentral) -> None:
    options = {**fake.config, "rate_limits": {"Light": [1000, 60]}}
    async with mh.connect(options) as client:
        assert isinstance(client, RingCentralAdapter)
        await client.native.list_messages()
        fake.expire_tokens()
        before = len(fake.requests_to("GET", "/message-store$"))
        results: list[int] = []

        async def one() -> None:
            listing = await client.native.list_messages(per_page=1)
            results.append(len(listing.records))

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)
        assert len(results) == 50
    assert fake.token_requests[JWT_GRANT] == 1
    assert fake.token_requests["refresh_token"] == 1
    refreshes = [f for f in _token_forms(fake) if f["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    # Every task was refused once at most, then succeeded with the new token.
    assert len(fake.requests_to("GET", "/message-store$")) - before <= 100


async def test_a_short_token_is_not_renewed_before_every_call() -> None:
    # A 30-second token falls due only in its last tenth (3 s), not at once;
    # renewal inside that window is tested on a manual clock in
    # tests/hardening/test_short_tokens.py.
    async with FakeRingCentral(access_token_ttl=30) as fake:
        async with mh.connect(fake.config) as client:
            assert isinstance(client, RingCentralAdapter)
            for _ in range(5):
                await client.native.list_messages()
        assert sum(fake.token_requests.values()) == 1
        assert len(fake.requests_to("GET", "/message-store$")) == 5  # none refused


async def test_close_revokes_the_token_the_library_obtained(fake: FakeRingCentral) -> None:
    async with mh.connect(fake.config) as client:
        await client.send(mh.Outgoing(to=[REMOTE], text="hi"))
    (revoke,) = fake.requests_to("POST", "/restapi/oauth/revoke$")
    assert revoke.headers["Authorization"] == _basic(fake)
    token = dict(parse_qsl(revoke.body.decode()))["token"]
    assert fake.tokens.check_access(token) == "unknown"  # the session is gone
    assert all(s.revoked for s in fake.tokens.sessions)


async def test_a_given_access_token_is_used_as_is_and_never_revoked(
    fake: FakeRingCentral,
) -> None:
    async with mh.connect(fake.config) as first:
        assert isinstance(first, RingCentralAdapter)
        token = await first.native.get_token(JWT_GRANT, assertion=fake.jwt)
        options = {
            "provider": "ringcentral",
            "base_url": fake.origin,
            "access_token": token.access_token,
            "from_number": fake.from_number,
        }
        async with mh.connect(options) as second:
            await second.send(mh.Outgoing(to=[REMOTE], text="given token"))
        assert not fake.requests_to("POST", "/restapi/oauth/revoke$")
        assert fake.tokens.check_access(token.access_token) is None
        await first.native.revoke_token(token.access_token)
        assert fake.tokens.check_access(token.access_token) == "unknown"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"username": "+16505550100", "password": "pw"}, "username"),
        ({"jwt": None}, "jwt"),
        ({"jwt": None, "username": "+16505550100"}, "password"),
        ({"client_secret": None}, "client_secret"),
        ({"client_id": None}, "client_id"),
        ({"from_number": "12ab"}, "from_number"),
        ({"rate_limits": {"Enormous": [1, 1]}}, "rate_limits"),
        ({"history_since": "yesterday"}, "history_since"),
        ({"extension": "101"}, "extension"),
        ({"account_id": "acme"}, "account_id"),
    ],
)
async def test_bad_configuration_names_the_key(
    fake: FakeRingCentral, change: dict[str, object], key: str
) -> None:
    options = {k: v for k, v in {**fake.config, **change}.items() if v is not None}
    with pytest.raises(mh.ConfigError) as info:
        mh.connect(options)
    assert info.value.key == key
    for secret in (fake.client_secret, fake.jwt):
        assert secret not in str(info.value)


async def test_defaults_point_at_the_real_hosts(fake: FakeRingCentral) -> None:
    options = {k: v for k, v in fake.config.items() if k not in ("base_url", "media_base_url")}
    client = mh.connect(options)
    assert isinstance(client, RingCentralAdapter)
    assert str(client.native.transport.base_url) == "https://platform.ringcentral.com"
    assert str(client.native.media_base_url) == "https://media.ringcentral.com"
    assert client.native.account_id == client.native.extension_id == "~"
    await client.aclose()


async def test_secrets_and_tokens_stay_out_of_reprs(fake: FakeRingCentral) -> None:
    async with mh.connect(fake.config) as client:
        assert isinstance(client, RingCentralAdapter)
        await client.send(mh.Outgoing(to=[REMOTE], text="hi"))
        auth = client.native.transport.auth
        shown = " ".join(
            repr(x) for x in (client, client.native, client.options, auth, client.native.client)
        )
        token = fake.tokens.sessions[0]
        for secret in (fake.client_secret, fake.jwt, token.access_token, token.refresh_token):
            assert secret not in shown


async def test_a_revoked_session_logs_in_again(fake: FakeRingCentral) -> None:
    async with mh.connect(fake.config) as client:
        await client.send(mh.Outgoing(to=[REMOTE], text="one"))
        for session in fake.tokens.sessions:
            session.revoked = True  # e.g. revoked from another process
        await client.send(mh.Outgoing(to=[REMOTE], text="two"))
    # The refresh token was refused, so the JWT grant ran a second time.
    assert fake.token_requests[JWT_GRANT] == 2
    assert len(fake.sent) == 2


async def test_an_expired_refresh_token_is_not_tried_the_client_logs_in_again() -> None:
    async with FakeRingCentral(access_token_ttl=1, refresh_token_ttl=1) as fake:
        async with mh.connect(fake.config) as client:
            await client.send(mh.Outgoing(to=[REMOTE], text="one"))
            await anyio.sleep(1.2)  # both tokens are past their lifetime now
            await client.send(mh.Outgoing(to=[REMOTE], text="two"))
        assert fake.token_requests["refresh_token"] == 0
        assert fake.token_requests[JWT_GRANT] == 2
        assert len(fake.sent) == 2
