"""TextMagic auth modes, error mapping, 429 handling, pacing and secrets."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.adapters.textmagic import TextMagicAdapter
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio

PEER = "+447860021130"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    """A running fake TextMagic."""
    async with FakeTextMagic() as server:
        yield server


def _connect(fake: FakeTextMagic, **options: Any) -> TextMagicAdapter:
    client = mh.connect(fake.config, **options)
    assert isinstance(client, TextMagicAdapter)
    return client


async def test_header_auth_is_the_default(fake: FakeTextMagic) -> None:
    async with _connect(fake) as client:
        pong = await client.native.ping()
    assert pong.ping == "pong"
    sent = fake.requests[-1].headers
    assert sent["X-TM-Username"] == fake.username
    assert sent["X-TM-Key"] == fake.api_key
    assert "Authorization" not in sent


async def test_basic_auth_sends_the_api_key_as_password(fake: FakeTextMagic) -> None:
    async with _connect(fake, auth="basic") as client:
        await client.native.ping()
    sent = fake.requests[-1].headers
    expected = base64.b64encode(f"{fake.username}:{fake.api_key}".encode()).decode()
    assert sent["Authorization"] == f"Basic {expected}"
    assert "X-TM-Key" not in sent


async def test_unknown_auth_mode_is_a_config_error(fake: FakeTextMagic) -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect(fake.config, auth="digest")
    assert info.value.key == "auth"


@pytest.mark.parametrize("mode", ["headers", "basic"])
async def test_wrong_key_is_an_authentication_error(fake: FakeTextMagic, mode: str) -> None:
    async with _connect(fake, api_key="wrong-key-123", auth=mode) as client:
        with pytest.raises(mh.AuthenticationError) as info:
            await client.native.ping()
    assert info.value.status == 401
    assert info.value.code == "401"
    assert "Wrong username" in info.value.message
    assert "wrong-key-123" not in str(info.value)


async def test_missing_session_is_not_found(fake: FakeTextMagic) -> None:
    async with _connect(fake) as client:
        with pytest.raises(mh.NotFound):
            await client.native.get_message_session(424242)
        with pytest.raises(mh.NotFound):
            await client.delete("424242")


async def test_field_errors_are_kept_on_bad_request(fake: FakeTextMagic) -> None:
    async with _connect(fake) as client:
        with pytest.raises(mh.BadRequest) as info:
            await client.native.send_message(text="x", phones="447860021130", from_="NOTMINE")
    error = info.value
    assert error.status == 400
    assert error.field == "from"
    assert "from" in error.field_errors
    assert "NOTMINE" in error.field_errors["from"][0]
    assert isinstance(error, mh.InvalidRequest)


async def test_common_errors_are_in_the_message(fake: FakeTextMagic) -> None:
    empty_list = fake.add_list([])
    async with _connect(fake) as client:
        with pytest.raises(mh.BadRequest) as info:
            await client.native.send_message(text="x", lists=[empty_list])
    assert "at least one recipient" in str(info.value)
    assert info.value.field_errors == {}


async def test_bulk_delete_without_ids_is_refused_before_io(fake: FakeTextMagic) -> None:
    async with _connect(fake) as client:
        with pytest.raises(mh.InvalidRequest) as info:
            await client.native.delete_message_sessions_bulk()
    assert info.value.field == "ids"
    assert fake.requests == []


async def test_429_without_retry_after_is_retried_after_the_pause(fake: FakeTextMagic) -> None:
    fake.fail(
        status=429,
        body='{"code": 429, "message": "Request limit reached."}',
        path=r"^/api/v2/messages$",
    )
    async with _connect(fake, throttle_pause=0.3) as client:
        started = anyio.current_time()
        receipt = await client.send(mh.Outgoing(to=[PEER], text="after 429"))
        waited = anyio.current_time() - started
    assert len(fake.requests_to("POST", r"^/api/v2/messages$")) == 2
    assert waited >= 0.3  # no Retry-After is documented: the pause holds the retry
    assert receipt.session_id == str(fake.sessions[-1].id)
    assert len(fake.messages) == 1


async def test_persistent_429_on_a_send_gives_up_without_sending(fake: FakeTextMagic) -> None:
    fake.fail(status=429, body='{"code": 429, "message": "slow down"}', times=10)
    async with _connect(fake, throttle_pause=0.01, max_attempts=3) as client:
        with pytest.raises(mh.RateLimited):
            await client.send(mh.Outgoing(to=[PEER], text="never"))
    assert len(fake.requests_to("POST", r"^/api/v2/messages$")) == 3
    assert fake.messages == []
    assert len(fake.pending_faults) == 1  # 7 of the 10 429s were never asked for


async def test_persistent_429_is_rate_limited(fake: FakeTextMagic) -> None:
    fake.fail(status=429, body='{"code": 429, "message": "slow down"}', times=10)
    async with _connect(fake, throttle_pause=0.01, max_attempts=2) as client:
        with pytest.raises(mh.RateLimited) as info:
            await client.native.ping()
    assert info.value.message == "slow down"
    assert len(fake.requests) == 2


async def test_requests_are_paced_client_side() -> None:
    # The fake's own 429 limit is off: only the client's pacing spreads them.
    async with FakeTextMagic(rate_limit_per_second=None) as fake:
        client = _connect(fake, requests_per_second=20)
        async with client, anyio.create_task_group() as tg:
            for _ in range(30):
                tg.start_soon(client.native.ping)
            await anyio.sleep(0.5)
            # Within the first second no more than 20 may have started.
            assert 0 < len(fake.requests) <= 20
        assert len(fake.requests) == 30


async def test_pacing_can_be_switched_off() -> None:
    # The same burst as above, pacing off: nothing holds the 30 back.
    async with FakeTextMagic(rate_limit_per_second=None) as fake:
        client = _connect(fake, requests_per_second=20, rate_limiting=False)
        async with client, anyio.create_task_group() as tg:
            for _ in range(30):
                tg.start_soon(client.native.ping)
            await anyio.sleep(0.5)
            assert len(fake.requests) == 30


async def test_without_pacing_a_429_is_still_retried(fake: FakeTextMagic) -> None:
    fake.fail(status=429, body='{"code": 429, "message": "slow down"}', times=1)
    async with _connect(fake, rate_limiting=False, max_attempts=2) as client:
        await client.native.ping()
    assert len(fake.requests) == 2


async def test_default_pacing_keeps_a_burst_under_the_servers_limit(fake: FakeTextMagic) -> None:
    # The fake answers 429 above 50 requests per second, counted as they
    # arrive. The client paces itself to 50/s with a margin for network
    # jitter, so a burst of 110 goes through without a single 429 (each
    # would have been retried, so more than 110 requests would arrive).
    async with _connect(fake) as client, anyio.create_task_group() as tg:
        for _ in range(110):
            tg.start_soon(client.native.ping)
    assert len(fake.requests) == 110


async def test_secrets_stay_out_of_reprs(fake: FakeTextMagic) -> None:
    for mode in ("headers", "basic"):
        async with _connect(fake, auth=mode) as client:
            shown = " ".join(
                [repr(client), repr(client.native), repr(client.options),
                 repr(client.native.transport), repr(client.native.transport.auth)]
            )  # fmt: skip
        assert fake.api_key not in shown
