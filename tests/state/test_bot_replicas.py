"""Bot replicas in separate processes split one account's inbound messages.

Four replica processes (``bot_worker.py``, each its own Python interpreter)
listen to ONE NetSapiens account with ``state=RedisState`` on a real
redis-server, while the fake NetSapiens server runs in this test's event
loop. The test delivers 500 inbound messages with distinct texts; each
replica records in Redis every message it handled, after handling it. Every
message must be handled exactly once in all, by more than one replica, also
when one replica crashes (``os._exit``) in the middle of handling one: that
message goes to another replica once its claim lapses.

Why NetSapiens, and ``listen(since=...)`` rather than ``watch()``:
NetSapiens has no push, so every replica polls the same history over plain
HTTP, which the fake answers quickly, and a short ``poll_interval`` makes the
loop fast; nothing depends on a push connection (RingCentral's or
MongooseIM's) being established in time. ``since`` (a moment before
anything was delivered) makes the start deterministic: ``watch()`` and
``listen()`` without it skip whatever already exists when their first poll
runs, so a replica whose first poll came after some deliveries would
legitimately never see those messages, and whether all four replicas had
polled before the first delivery would be a race. With ``since`` every
replica sees every message, and only the claims keep them from handling
one twice. ``lookback=1000`` lets one poll read every message delivered
since the last (``HistoryPollingSource`` reads at most ``lookback``
messages per conversation per poll). The first test also runs the replicas
on ``watch()``, started a few poll intervals before the first delivery.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from messaging_hub.testing import FakeNetSapiens

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

WORKER = Path(__file__).with_name("bot_worker.py")
REPLICAS = 4
MESSAGES = 500
SENDERS = 4  # conversations the messages arrive in
CLAIM_TTL = 2.0
POLL_INTERVAL = 0.1
HANDLE_SECONDS = 0.005
KEYS = {"handled": "bot-test:handled", "died": "bot-test:died"}


@asynccontextmanager
async def replicas(
    fake: FakeNetSapiens,
    redis_url: str,
    tmp_path: Path,
    *,
    die_on: dict[int, int],
    loop: str = "listen",
) -> AsyncIterator[list[Process]]:
    """Start the replica processes and wait until each says it is ready;
    on the way out close their stdin (they stop cleanly) and wait for them,
    killing any that does not stop in time. ``die_on``: replica -> the
    message number it crashes on."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    processes: list[Process] = []
    async with AsyncExitStack() as stack:
        try:
            for replica in range(REPLICAS):
                settings = {
                    "replica": replica,
                    "config": fake.config,
                    "redis_url": redis_url,
                    "namespace": "bots",
                    "timeout": 2.0,
                    "since": since.isoformat(),
                    "poll_interval": POLL_INTERVAL,
                    "lookback": 1000,
                    "claim_ttl": CLAIM_TTL,
                    "handle_seconds": HANDLE_SECONDS,
                    "die_on": die_on.get(replica, 0),
                    "keys": KEYS,
                    "loop": loop,
                }
                log = stack.enter_context((tmp_path / f"replica-{replica}.log").open("wb"))
                process = await anyio.open_process(
                    [sys.executable, "-W", "error", str(WORKER), json.dumps(settings)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                )
                processes.append(process)
            with anyio.fail_after(30):
                for replica, process in enumerate(processes):
                    assert process.stdout is not None
                    lines = BufferedByteReceiveStream(process.stdout)
                    try:
                        line = await lines.receive_until(b"\n", 100)
                    except anyio.EndOfStream:
                        pytest.fail(f"replica {replica} ended: {logs(tmp_path, replica)}")
                    assert line == b"ready"
            yield processes
        finally:
            with anyio.CancelScope(shield=True):
                await stop(processes)


async def stop(processes: list[Process]) -> None:
    """Close every replica's stdin, wait for it; kill what still runs after 10 s."""
    for process in processes:
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(OSError):  # it is gone already
                await process.stdin.aclose()
    try:
        with anyio.fail_after(10):
            for process in processes:
                await process.wait()
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.aclose()  # closes its pipes, waits for it


def logs(tmp_path: Path, replica: int) -> str:
    return (tmp_path / f"replica-{replica}.log").read_text(errors="replace")[-3000:]


def deliver(fake: FakeNetSapiens, texts: list[str]) -> None:
    """Deliver ``texts`` round-robin into SENDERS conversations."""
    sessions: dict[int, str] = {}
    for i, text in enumerate(texts):
        sender = i % SENDERS
        sessions[sender] = fake.deliver_inbound(
            f"+1714555{sender:04d}", text, session_id=sessions.get(sender)
        )


async def handled(store: aioredis.Redis) -> list[dict[str, Any]]:
    return [json.loads(line) for line in await store.lrange(KEYS["handled"], 0, -1)]


async def run(
    redis_url: str, tmp_path: Path, *, die_on: dict[int, int], loop: str = "listen"
) -> tuple[list[dict[str, Any]], list[int | None], dict[str, Any] | None]:
    """Deliver MESSAGES to running replicas and wait until each was recorded
    (and a while longer, for late duplicates); the handled records, the
    replicas' exit statuses and the died note."""
    texts = [f"message {i:03d}" for i in range(MESSAGES)]
    store = aioredis.Redis.from_url(redis_url)
    try:
        with anyio.fail_after(35):
            async with FakeNetSapiens() as fake:
                async with replicas(
                    fake, redis_url, tmp_path, die_on=die_on, loop=loop
                ) as processes:
                    if loop == "watch":
                        # watch() yields what arrives after its first poll: give
                        # the replicas time for one (a replica that polled late
                        # would skip the first messages; the others take them).
                        await anyio.sleep(20 * POLL_INTERVAL)
                    # In batches, as traffic comes: several polls see new messages.
                    for start in range(0, MESSAGES, 50):
                        deliver(fake, texts[start : start + 50])
                        await anyio.sleep(0.05)
                    # Another process writes the list: polled.
                    while await store.llen(KEYS["handled"]) < MESSAGES:  # noqa: ASYNC110
                        await anyio.sleep(0.05)
                    # Replicas re-check what they saw claimed every CLAIM_TTL/2:
                    # a duplicate, if any, would show within this.
                    await anyio.sleep(1.5 * CLAIM_TTL)
                statuses = [p.returncode for p in processes]
        records = await handled(store)
        died = await store.get(KEYS["died"])
        return records, statuses, json.loads(died) if died else None
    finally:
        await store.aclose()


def check_exactly_once(records: list[dict[str, Any]]) -> Counter[int]:
    """Every message handled exactly once; the messages each replica handled."""
    counts = Counter(r["text"] for r in records)
    twice = {text: n for text, n in counts.items() if n > 1}
    assert twice == {}, f"handled more than once: {twice}"
    expected = {f"message {i:03d}" for i in range(MESSAGES)}
    assert set(counts) == expected, f"never handled: {sorted(expected - set(counts))}"
    return Counter(r["replica"] for r in records)


@pytest.mark.parametrize("loop", ["listen", "watch"])
async def test_replicas_split_500_messages_each_handled_once(
    redis_url: str, tmp_path: Path, loop: str
) -> None:
    started = time.monotonic()
    records, statuses, died = await run(redis_url, tmp_path, die_on={}, loop=loop)
    per_replica = check_exactly_once(records)
    assert len(per_replica) > 1, f"one replica did all the work: {per_replica}"
    assert died is None
    assert statuses == [0] * REPLICAS, [logs(tmp_path, r) for r in range(REPLICAS)]
    # Nothing on stderr: no warning, no unclosed connection at exit.
    assert [logs(tmp_path, r) for r in range(REPLICAS)] == [""] * REPLICAS
    print(f"per replica: {dict(per_replica)}; {time.monotonic() - started:.1f} s")


async def test_a_replica_dying_mid_handling_loses_nothing(redis_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    records, statuses, died = await run(redis_url, tmp_path, die_on={0: 5})
    per_replica = check_exactly_once(records)
    assert died is not None, "replica 0 never got its 5th message"
    assert died["replica"] == 0
    # Replica 0 crashed (exit 1) after recording 4 messages; the rest stopped cleanly.
    assert statuses == [1] + [0] * (REPLICAS - 1), [logs(tmp_path, r) for r in range(REPLICAS)]
    assert per_replica[0] == 4
    assert len([r for r in per_replica if r != 0]) > 1
    # The message it died on was handled by another replica, once its claim
    # lapsed: a claim lives CLAIM_TTL from its last keep-alive (every
    # CLAIM_TTL/3), so nobody may take it sooner than 2/3 CLAIM_TTL after the crash.
    (rescue,) = [r for r in records if r["text"] == died["text"]]
    assert rescue["replica"] != 0
    waited = rescue["at"] - died["at"]
    assert 2 / 3 * CLAIM_TTL - 0.2 < waited < 3 * CLAIM_TTL, waited
    print(
        f"per replica: {dict(per_replica)}; {died['text']!r} taken over after {waited:.2f} s; "
        f"{time.monotonic() - started:.1f} s"
    )
