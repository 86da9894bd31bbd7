"""When the shared Redis is in trouble: down, frozen, back again, or read by
someone who should not learn the secrets in it.

In-process, against a real redis-server (the session's ``redis_server``,
which tests stop/start and pause/resume; the ``redis_url`` fixture brings it
back and empties it after each test) and the fakes over loopback.

Two ways of being down: *stopped* (the process is gone, connections are
refused at once) and *paused* (SIGSTOP: the kernel still accepts
connections and requests, nobody answers; the client must give up after the
state's ``timeout``). Either way an operation that needs Redis raises
``StateUnavailable`` within about ``timeout`` and sends nothing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis

import messaging_hub as mh
from messaging_hub.state import RedisState
from messaging_hub.testing import FakeNetSapiens, FakeRingCentral
from messaging_hub.testing.redis_server import RedisServer
from tests.hardening._chains import exception_chain

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

TO = "+14155550100"
TIMEOUT = 0.5
# What "within the timeout" allows on top of it (a loaded CI machine).
SLACK = 1.0
PASSWORD = "s3cret-Pa55"


def take_down(server: RedisServer, how: str) -> None:
    if how == "stopped":
        server.stop()
    else:
        server.pause()


def bring_back(server: RedisServer, how: str) -> None:
    if how == "stopped":
        server.start()  # same port, no data: the server persists nothing
    else:
        server.resume()  # with its data


@pytest.fixture
async def fake() -> AsyncIterator[FakeRingCentral]:
    async with FakeRingCentral(rate_limiting=False) as server:
        yield server


@pytest.fixture
async def new_state(redis_url: str) -> AsyncIterator[Callable[..., RedisState]]:
    """Makes RedisStates on the test Redis (timeout TIMEOUT); closes them after."""
    made: list[RedisState] = []

    def make(url: str | mh.Secret = redis_url, **options: Any) -> RedisState:
        options.setdefault("namespace", "trouble")
        options.setdefault("timeout", TIMEOUT)
        state = RedisState.from_url(url, **options)
        made.append(state)
        return state

    yield make
    for state in made:
        await state.aclose()


async def raw_redis(redis_url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(redis_url)


# -- Redis down: fail fast, send nothing -------------------------------------------


@pytest.mark.parametrize("key", [None, "k1"], ids=["plain", "idempotent"])
@pytest.mark.parametrize("how", ["stopped", "paused"])
async def test_a_send_with_redis_down_fails_fast_and_sends_nothing(
    fake: FakeRingCentral,
    redis_server: RedisServer,
    new_state: Callable[..., RedisState],
    how: str,
    key: str | None,
) -> None:
    # A fresh client: it has no token yet, and the token lives in Redis.
    async with mh.connect(fake.config, state=new_state()) as client:
        take_down(redis_server, how)
        started = time.monotonic()
        with anyio.fail_after(5), pytest.raises(mh.StateUnavailable) as info:
            await client.send(mh.Outgoing(to=[TO], text="never", idempotency_key=key))
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + SLACK, elapsed
    assert info.value.provider == "ringcentral"  # said by the limiter, the store or the token
    if how == "paused":
        assert elapsed >= TIMEOUT * 0.9  # it did wait for an answer, as long as told
    assert info.value.may_have_been_processed is False
    assert isinstance(info.value, mh.ProviderUnavailable)  # what a Hub fails over on
    assert fake.requests == []  # no login, no message


@pytest.mark.parametrize("how", ["stopped", "paused"])
async def test_the_same_client_works_again_when_redis_is_back(
    fake: FakeRingCentral,
    redis_server: RedisServer,
    new_state: Callable[..., RedisState],
    how: str,
) -> None:
    state = new_state()
    async with mh.connect(fake.config, state=state) as client:
        # Connections in the pool already, and a key already sent.
        first = await client.send(mh.Outgoing(to=[TO], text="before", idempotency_key="k1"))
        take_down(redis_server, how)
        for _ in range(3):
            with anyio.fail_after(5), pytest.raises(mh.StateUnavailable):
                await client.send(mh.Outgoing(to=[TO], text="during"))
        bring_back(redis_server, how)
        with anyio.fail_after(5):
            await state.ping()
            after = await client.send(mh.Outgoing(to=[TO], text="after", idempotency_key="k2"))
            again = await client.send(mh.Outgoing(to=[TO], text="after", idempotency_key="k2"))
            # No answer of a timed-out command is read as the answer to a later
            # one (a cancelled request leaves its connection unusable).
            assert again == after and again.raw is None
            repeat = await client.send(mh.Outgoing(to=[TO], text="before", idempotency_key="k1"))
    assert [m.text for m in fake.sent] == ["before", "after"] + (
        # A restarted Redis lost its keys (no persistence): k1 is new to it.
        ["before"] if how == "stopped" else []
    )
    if how == "paused":
        assert repeat == first and repeat.raw is None


# -- Redis fails around a send with an idempotency key --------------------------------


async def test_redis_frozen_after_a_send_keeps_its_receipt(
    fake: FakeRingCentral, redis_server: RedisServer, new_state: Callable[..., RedisState]
) -> None:
    """The send under key k went out and is recorded; Redis freezes: a repeat
    cannot check the key, so it raises instead of sending; once Redis answers
    again (with its data), the repeat gets the first receipt."""
    async with mh.connect(fake.config, state=new_state()) as client:
        shipped = mh.Outgoing(to=[TO], text="shipped", idempotency_key="order-1")
        receipt = await client.send(shipped)
        redis_server.pause()
        started = time.monotonic()
        with anyio.fail_after(5), pytest.raises(mh.StateUnavailable) as info:
            await client.send(shipped)
        assert time.monotonic() - started < TIMEOUT + SLACK
        assert info.value.may_have_been_processed is False
        assert len(fake.sent) == 1
        redis_server.resume()
        with anyio.fail_after(5):
            again = await client.send(shipped)
    assert again == receipt and again.raw is None
    assert [m.text for m in fake.sent] == ["shipped"]


async def test_redis_dying_while_the_provider_accepts_a_send(
    fake: FakeRingCentral,
    redis_server: RedisServer,
    new_state: Callable[..., RedisState],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis stops between the reservation of key k and the receipt's record
    (the fake stops it while it handles the send). The message is out: the
    send returns its receipt, and a warning says the outcome was not recorded.
    While Redis is down a repeat raises StateUnavailable and sends nothing.

    What happens after the restart is what an honest test must show: this
    Redis keeps no data (no RDB, no AOF), so it comes back empty, key k with
    it, and a repeat with k sends the message again. Idempotency keys are
    exactly as durable as the Redis that holds them: run it with persistence
    (``appendonly yes``) and failover that keeps the data, or accept that an
    empty Redis forgets every key. (A Redis that keeps its data, frozen and
    then thawed, is the test above.)
    """

    def stop_redis(answer: Any) -> Any:
        redis_server.stop()  # after the fake stored the message, before it answers
        return answer

    fake.fail(transform=stop_redis, method="POST", path="/sms$")
    shipped = mh.Outgoing(to=[TO], text="shipped", idempotency_key="order-1")
    async with mh.connect(fake.config, state=new_state()) as client:
        with caplog.at_level(logging.WARNING, logger="messaging_hub"), anyio.fail_after(5):
            receipt = await client.send(shipped)
        assert receipt.message_ids == (str(fake.sent[0].id),)
        (warning,) = [
            r for r in caplog.records if getattr(r, "event", None) == "idempotency_unrecorded"
        ]
        assert "order-1" in warning.getMessage()

        with anyio.fail_after(5), pytest.raises(mh.StateUnavailable):
            await client.send(shipped)
        assert len(fake.sent) == 1

        redis_server.start()
        with anyio.fail_after(5):
            second = await client.send(shipped)
    assert second.message_ids != receipt.message_ids
    assert [m.text for m in fake.sent] == ["shipped", "shipped"]


async def test_a_timed_out_reservation_does_not_block_the_key(
    fake: FakeRingCentral,
    redis_server: RedisServer,
    redis_url: str,
    new_state: Callable[..., RedisState],
) -> None:
    """A send whose reservation got no answer in time raises StateUnavailable
    with may_have_been_processed=False: nothing was sent, "retry later". The
    retry must then be able to send. The reservation command was already on
    its way (a pooled connection, the script cached on the server): Redis,
    frozen, runs it when it thaws; the client undoes it (or voids it first)."""
    async with mh.connect(fake.config, state=new_state()) as client:
        # A first idempotent send: pooled connections, the reserve script loaded.
        await client.send(mh.Outgoing(to=[TO], text="warm-up", idempotency_key="w"))
        redis_server.pause()
        shipped = mh.Outgoing(to=[TO], text="shipped", idempotency_key="order-2")
        with anyio.fail_after(5), pytest.raises(mh.StateUnavailable) as info:
            await client.send(shipped)
        assert info.value.may_have_been_processed is False
        redis_server.resume()
        await anyio.sleep(0.2)  # Redis works through what it was sent meanwhile
        raw = await raw_redis(redis_url)
        try:
            # The client undoes the late reservation in the background (or
            # voids it before it lands): the key frees itself within seconds.
            with anyio.fail_after(5):
                while True:
                    stored = await raw.get(f"trouble:idem:{client.account_key}:order-2")
                    if stored is None or str(stored).startswith(("v:", "b'v:")):
                        break
                    await anyio.sleep(0.1)
        finally:
            await raw.aclose()
        with anyio.fail_after(5):
            await client.send(shipped)
    assert [m.text for m in fake.sent] == ["warm-up", "shipped"]


# -- secrets ------------------------------------------------------------------------


def password_url(server: RedisServer) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


@pytest.mark.parametrize("wrapped", [False, True], ids=["str", "Secret"])
def test_the_repr_of_a_redis_state_hides_the_password(
    redis_server: RedisServer, wrapped: bool
) -> None:
    url = password_url(redis_server)
    state = RedisState.from_url(mh.Secret(url) if wrapped else url, namespace="n")
    assert PASSWORD not in repr(state)
    assert PASSWORD not in str(state)
    assert f"127.0.0.1:{redis_server.port}" in repr(state)  # says where, though


@pytest.mark.parametrize("how", ["stopped", "paused"])
async def test_errors_with_redis_down_hide_the_password(
    fake: FakeRingCentral,
    redis_server: RedisServer,
    redis_url: str,
    new_state: Callable[..., RedisState],
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    state = new_state(password_url(redis_server))
    failures: list[BaseException] = []
    async with mh.connect(fake.config, state=state) as client:
        take_down(redis_server, how)
        with caplog.at_level(logging.DEBUG):
            for key in (None, "k1"):
                with anyio.fail_after(5), pytest.raises(mh.StateUnavailable) as info:
                    await client.send(mh.Outgoing(to=[TO], text="x", idempotency_key=key))
                failures.append(info.value)
            with anyio.fail_after(5), pytest.raises(mh.StateUnavailable) as info:
                await state.ping()
            failures.append(info.value)
    for failure in failures:
        assert f"127.0.0.1:{redis_server.port}" in str(failure)  # says where, though
        for exc in exception_chain(failure):
            assert PASSWORD not in str(exc)
            assert PASSWORD not in repr(exc)
            assert PASSWORD not in repr(exc.args)
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(state)


def xor_cipher(data: bytes) -> bytes:
    """A reversible bytes -> bytes function (not encryption; shows where it is applied)."""
    return base64.b64encode(bytes(b ^ 0x5A for b in data))


def xor_decipher(data: bytes) -> bytes:
    return bytes(b ^ 0x5A for b in base64.b64decode(data))


@pytest.mark.parametrize("sealed", [True, False], ids=["encrypted", "plain"])
async def test_tokens_at_rest_are_sealed_when_encrypt_is_given(
    fake: FakeRingCentral, redis_url: str, new_state: Callable[..., RedisState], sealed: bool
) -> None:
    cipher = {"encrypt": xor_cipher, "decrypt": xor_decipher} if sealed else {}
    async with mh.connect(fake.config, state=new_state(**cipher)) as client:
        await client.send(mh.Outgoing(to=[TO], text="x"))
    (sent,) = fake.requests_to("POST", "/sms$")
    access = sent.headers["Authorization"].removeprefix("Bearer ")
    refresh = fake.tokens.sessions[-1].refresh_token
    assert fake.tokens.sessions[-1].access_token == access

    raw = await raw_redis(redis_url)
    try:
        (name,) = await raw.keys("trouble:tok:*")
        stored = await raw.get(name)
    finally:
        await raw.aclose()
    assert isinstance(stored, bytes)
    if sealed:
        for secret in (access, refresh):
            assert secret.encode() not in stored
        assert b"access_token" not in stored
        readable = json.loads(xor_decipher(stored))
    else:
        readable = json.loads(stored)  # plain JSON, for whoever reads the Redis
    assert readable["access_token"] == access
    assert readable["refresh_token"] == refresh

    # Another worker with the same cipher takes the stored token (no new login).
    async with mh.connect(fake.config, state=new_state(**cipher)) as other:
        await other.send(mh.Outgoing(to=[TO], text="y"))
    assert sum(fake.token_requests.values()) == 1


# -- listen()/watch() with Redis down ---------------------------------------------------


async def until(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds (checked every 10 ms)."""
    while True:
        if condition():
            return
        await anyio.sleep(0.01)


@pytest.mark.parametrize("how", ["stopped", "paused"])
@pytest.mark.parametrize("loop", ["listen", "watch"])
async def test_a_listener_waits_out_redis_and_then_yields_the_pending_message(
    redis_server: RedisServer,
    new_state: Callable[..., RedisState],
    caplog: pytest.LogCaptureFixture,
    loop: str,
    how: str,
) -> None:
    """Claims need Redis: while it is down the listener neither yields the
    message unclaimed nor ends; once Redis is back it yields it, once."""
    received: list[str] = []
    arrived = anyio.Event()
    # NetSapiens with a fixed token: only the claims need Redis.
    async with (
        FakeNetSapiens() as fake,
        mh.connect(fake.config, state=new_state(timeout=0.3)) as client,
    ):
        if loop == "listen":
            messages = mh.listen(
                client, since=datetime.now(UTC) - timedelta(minutes=1), poll_interval=0.02
            )
        else:
            messages = mh.watch(client, interval=0.02)

        async def bot() -> None:
            # Closed here, while the client and state are open.
            async with contextlib.aclosing(messages):
                async for message in messages:
                    received.append(message.text)
                    arrived.set()

        with anyio.fail_after(20), caplog.at_level(logging.WARNING, "messaging_hub"):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot)
                # watch() yields only what arrives after its first poll.
                await until(lambda: len(fake.requests_to("GET", "/messagesessions$")) >= 2)
                take_down(redis_server, how)
                fake.deliver_inbound("+17145550101", "while redis is down")
                await until(
                    lambda: any(getattr(r, "event", None) == "claim_retry" for r in caplog.records)
                )
                await anyio.sleep(0.8)  # several polls and claim attempts
                assert received == []
                bring_back(redis_server, how)
                await arrived.wait()
                arrived = anyio.Event()
                fake.deliver_inbound("+17145550101", "after redis is back")
                await arrived.wait()
                await anyio.sleep(0.2)  # nothing more comes
                tg.cancel_scope.cancel()
    assert received == ["while redis is down", "after redis is back"]
