"""Shared state in one process: idempotent sends, shared tokens, shared
rate budgets and claims, against the fakes over loopback and (for the
``redis`` tests) a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

import messaging_hub as mh
from messaging_hub.state import ClaimOutcome, LocalState, RedisState
from messaging_hub.testing import FakeRingCentral

pytestmark = pytest.mark.anyio

TO = "+14155550100"


def texts(fake: FakeRingCentral) -> list[str]:
    return [m.text for m in fake.sent]


@pytest.fixture
async def fake() -> AsyncIterator[FakeRingCentral]:
    async with FakeRingCentral() as server:
        yield server


@pytest.fixture
async def redis_states(redis_url: str) -> AsyncIterator[list[RedisState]]:
    """Two RedisStates on one Redis: two "processes" in one test."""
    states = [RedisState.from_url(redis_url, namespace="t") for _ in range(2)]
    yield states
    for state in states:
        await state.aclose()


# -- idempotency, in-process (no state given) -------------------------------------


async def test_a_key_is_sent_once_and_repeats_get_the_first_receipt(
    fake: FakeRingCentral,
) -> None:
    async with mh.connect(fake.config) as client:
        first = await client.send(mh.Outgoing(to=[TO], text="once", idempotency_key="k1"))
        again = await client.send(mh.Outgoing(to=[TO], text="once", idempotency_key="k1"))
        other = await client.send(mh.Outgoing(to=[TO], text="once", idempotency_key="k2"))
    assert again == first
    assert again.raw is None and first.raw is not None
    assert other.message_ids != first.message_ids
    assert texts(fake).count("once") == 2


async def test_racing_sends_with_one_key_send_once(fake: FakeRingCentral) -> None:
    async with mh.connect(fake.config) as client:
        receipts = await asyncio.gather(
            *(
                client.send(mh.Outgoing(to=[TO], text="race", idempotency_key="r"))
                for _ in range(10)
            )
        )
    assert len({r.message_ids for r in receipts}) == 1
    assert texts(fake).count("race") == 1


async def test_a_certain_failure_frees_the_key(fake: FakeRingCentral) -> None:
    # Refused outright (a 429 asking for longer than the client waits): not sent.
    fake.fail(status=429, headers={"Retry-After": "120"}, path="/sms")
    async with mh.connect(fake.config) as client:
        with pytest.raises(mh.RateLimited):
            await client.send(mh.Outgoing(to=[TO], text="retry me", idempotency_key="k"))
        receipt = await client.send(mh.Outgoing(to=[TO], text="retry me", idempotency_key="k"))
    assert receipt.message_ids
    assert texts(fake).count("retry me") == 1


async def test_a_send_in_doubt_keeps_its_key_and_is_not_repeated(fake: FakeRingCentral) -> None:
    # The provider takes the message, then its answer is cut off.
    fake.fail(
        status=200, body="<html>oops</html>", content_type="text/html", path="/sms", after=True
    )
    async with mh.connect(fake.config) as client:
        with pytest.raises(mh.MalformedResponse) as doubt:
            await client.send(mh.Outgoing(to=[TO], text="maybe", idempotency_key="d"))
        assert doubt.value.may_have_been_processed
        with pytest.raises(mh.SendInDoubt) as again:
            await client.send(mh.Outgoing(to=[TO], text="maybe", idempotency_key="d"))
    assert again.value.key == "d"
    assert "not sending it again" in str(again.value)
    assert texts(fake).count("maybe") == 1


@pytest.mark.parametrize("key", ["", "a\nb", "x" * 257, 7])
def test_bad_idempotency_keys_are_refused_before_any_io(key: object) -> None:
    with pytest.raises(mh.InvalidRequest) as refused:
        mh.Outgoing(to=[TO], text="x", idempotency_key=key)  # type: ignore[arg-type]
    assert refused.value.field == "idempotency_key"


def test_state_must_be_a_shared_state() -> None:
    with pytest.raises(mh.ConfigError) as refused:
        mh.connect("textmagic", username="u", api_key="k", state="redis://localhost")
    assert refused.value.key == "state"


async def test_a_local_state_shares_one_token_between_clients(fake: FakeRingCentral) -> None:
    state = LocalState()
    async with mh.connect(fake.config, state=state) as a, mh.connect(fake.config, state=state) as b:
        await asyncio.gather(
            a.send(mh.Outgoing(to=[TO], text="a")), b.send(mh.Outgoing(to=[TO], text="b"))
        )
    assert sum(fake.token_requests.values()) == 1


# -- Redis: tokens ------------------------------------------------------------------


@pytest.mark.redis
async def test_clients_on_one_redis_log_in_once_and_refresh_once(
    fake: FakeRingCentral, redis_states: list[RedisState]
) -> None:
    clients = [mh.connect(fake.config, state=s) for s in redis_states]
    async with clients[0], clients[1]:
        await asyncio.gather(*(c.send(mh.Outgoing(to=[TO], text="hi")) for c in clients))
        assert sum(fake.token_requests.values()) == 1
        fake.expire_tokens()
        await asyncio.gather(
            *(c.send(mh.Outgoing(to=[TO], text=f"after {i}")) for i, c in enumerate(clients * 3))
        )
        assert fake.token_requests["refresh_token"] == 1
        assert sum(fake.token_requests.values()) == 2
        live = fake.tokens.live_access_tokens
    # Closing a client does not revoke the token the other still uses.
    assert fake.tokens.live_access_tokens == live


@pytest.mark.redis
async def test_revoke_token_is_explicit_and_makes_everyone_log_in_again(
    fake: FakeRingCentral, redis_states: list[RedisState]
) -> None:
    first = mh.connect(fake.config, state=redis_states[0])
    async with first:
        await first.send(mh.Outgoing(to=[TO], text="a"))
        await first.revoke_token()
    assert fake.tokens.live_access_tokens == []
    async with mh.connect(fake.config, state=redis_states[1]) as second:
        await second.send(mh.Outgoing(to=[TO], text="b"))
    assert sum(fake.token_requests.values()) == 2


@pytest.mark.redis
async def test_a_dead_renewers_lock_lapses(fake: FakeRingCentral, redis_url: str) -> None:
    state = RedisState.from_url(redis_url, namespace="t", lock_timeout=0.5)
    try:
        client = mh.connect(fake.config, state=state)
        # A worker that took the renewal lock and died: nobody releases it.
        await state.call(lambda r: r.set(state.key("lock", client.account_key), "dead", px=500))
        started = time.monotonic()
        async with client:
            await client.send(mh.Outgoing(to=[TO], text="after the lapse"))
        assert 0.3 < time.monotonic() - started < 5
        assert sum(fake.token_requests.values()) == 1
    finally:
        await state.aclose()


@pytest.mark.redis
async def test_the_account_key_holds_no_secret(fake: FakeRingCentral, redis_url: str) -> None:
    state = RedisState.from_url(redis_url, namespace="t")
    try:
        async with mh.connect(fake.config, state=state) as client:
            await client.send(mh.Outgoing(to=[TO], text="x", idempotency_key="k"))
        keys = await state.call(lambda r: r.keys("*"))
    finally:
        await state.aclose()
    names = " ".join(k.decode() if isinstance(k, bytes) else k for k in keys)
    assert "t:tok:ringcentral:" in names
    for secret in (fake.config["jwt"], fake.config["client_secret"], fake.config["client_id"]):
        assert str(secret) not in names


# -- Redis: rate budgets --------------------------------------------------------------


@pytest.mark.redis
async def test_limiters_on_one_key_share_the_budget(redis_states: list[RedisState]) -> None:
    a = redis_states[0].limiter("acct:Medium", 3, 0.6)
    b = redis_states[1].limiter("acct:Medium", 3, 0.6)
    started = time.monotonic()
    for limiter in (a, b, a):
        await limiter.acquire()
    assert time.monotonic() - started < 0.3
    await b.acquire()  # the fourth in the window waits for the first to leave it
    assert time.monotonic() - started >= 0.55


@pytest.mark.redis
async def test_a_pause_heard_by_one_holds_all(redis_states: list[RedisState]) -> None:
    a = redis_states[0].limiter("acct:Heavy", 100, 1.0)
    b = redis_states[1].limiter("acct:Heavy", 100, 1.0)
    a.pause_for(0.5)  # e.g. a Retry-After: 0.5 heard by this worker
    await asyncio.sleep(0.05)  # passed on in the background
    started = time.monotonic()
    await b.acquire()
    assert time.monotonic() - started >= 0.35


@pytest.mark.redis
async def test_ringcentral_workers_keep_together_within_the_group_limit(
    redis_states: list[RedisState],
) -> None:
    async with FakeRingCentral(rate_limits={"Medium": (6, 1.0)}) as fake:
        # One attempt per request: a 429 (the server's limit overspent) would raise.
        clients = [
            mh.connect(fake.config, state=s, max_attempts=1, rate_limits={"Medium": [6, 1.0]})
            for s in redis_states
        ]
        async with clients[0], clients[1]:
            started = time.monotonic()
            await asyncio.gather(
                *(c.send(mh.Outgoing(to=[TO], text=f"m{i}")) for i, c in enumerate(clients * 6))
            )
            elapsed = time.monotonic() - started
    assert len(texts(fake)) == 12
    assert elapsed >= 0.9  # 12 sends at 6 per second: the second half waited


# -- Redis: idempotency across clients -----------------------------------------------


@pytest.mark.redis
async def test_one_key_is_sent_once_across_clients(
    fake: FakeRingCentral, redis_states: list[RedisState]
) -> None:
    clients = [mh.connect(fake.config, state=s) for s in redis_states]
    async with clients[0], clients[1]:
        receipts = await asyncio.gather(
            *(
                c.send(mh.Outgoing(to=[TO], text=f"k{i % 5}", idempotency_key=f"k{i % 5}"))
                for i, c in enumerate(clients * 10)
            )
        )
    assert sorted(texts(fake)) == [f"k{i}" for i in range(5)]
    by_key: dict[str, set[tuple[str, ...]]] = {}
    for i, receipt in enumerate(receipts):
        by_key.setdefault(f"k{i % 5}", set()).add(receipt.message_ids)
    assert all(len(ids) == 1 for ids in by_key.values())


# -- Redis: claims ---------------------------------------------------------------------


@pytest.mark.redis
async def test_claims_go_to_one_owner_and_lapse(redis_states: list[RedisState]) -> None:
    claims = redis_states[0].claims
    assert await claims.claim("m1", "a", ttl=0.3) is ClaimOutcome.MINE
    assert await claims.claim("m1", "b", ttl=0.3) is ClaimOutcome.TAKEN
    assert await claims.extend("m1", "a", ttl=0.3)
    assert not await claims.extend("m1", "b", ttl=0.3)
    await asyncio.sleep(0.4)  # a died: its claim lapses
    assert await claims.claim("m1", "b", ttl=0.3) is ClaimOutcome.MINE
    await claims.finish("m1", ttl=10)
    assert await claims.claim("m1", "a", ttl=0.3) is ClaimOutcome.DONE


def test_redis_state_repr_and_errors_hide_the_password() -> None:
    state = RedisState.from_url("redis://:s3cret-pw@127.0.0.1:1/0", namespace="n")
    assert "s3cret-pw" not in repr(state)
    with pytest.raises(mh.ConfigError) as bad:
        RedisState.from_url("redis://:s3cret-pw@127.0.0.1:1/0", namespace="has space")
    assert "s3cret-pw" not in str(bad.value)


async def test_a_hub_gives_its_state_to_every_account(fake: FakeRingCentral) -> None:
    state = LocalState()
    config = {"accounts": {"a": dict(fake.config), "b": dict(fake.config)}}
    async with mh.Hub.from_config(config, state=state) as hub:
        await hub.send(mh.Outgoing(to=[TO], text="a"), account="a")
        await hub.send(mh.Outgoing(to=[TO], text="b"), account="b")
        assert hub["a"].state is state and hub["b"].state is state
    assert sum(fake.token_requests.values()) == 1
