"""One worker process of the multi-process RingCentral tests.

A plain script (no pytest): ``python rc_worker.py '<json spec>'``. The spec
gives the connect() ``config``, the ``redis_url`` of the shared state
(``null``: no ``state=``, the client keeps everything to itself), the
``namespace``, the sends of each round (``rounds``: lists of
``{"text": ..., "key": ...}``, ``key`` being the idempotency key or
``null``) and how many sends a round keeps in flight (``concurrency``).

Protocol on stdio, one JSON object per line: the worker connects and prints
``{"event": "ready"}``; then, for each round, it waits for a line on stdin,
makes the round's sends (in order, ``concurrency`` at a time) and prints
``{"event": "round", "round": i, "results": [...], "raced": [...]}``. A
result is the send's receipt (``session_id``, ``message_ids``,
``replayed``: the receipt came from the shared state) or its ``error``.
``raced`` lists the idempotency keys whose reservation found another send
with the key under way (a race that really happened). At the end it closes
the client and the state and exits 0; a failure outside the sends exits
non-zero with a traceback on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import messaging_hub as mh
from messaging_hub.state import (
    IdempotencyStore,
    RedisState,
    Reservation,
    ReservationState,
)


class _CountingIdempotency:
    """Passes every call through; notes the keys whose reservation found PENDING."""

    def __init__(self, inner: IdempotencyStore) -> None:
        self.inner = inner
        self.raced: set[str] = set()

    async def reserve(self, key: str, *, holder: str, ttl: float) -> Reservation:
        reservation = await self.inner.reserve(key, holder=holder, ttl=ttl)
        if reservation.state is ReservationState.PENDING:
            self.raced.add(key)
        return reservation

    async def complete(self, key: str, receipt: str, *, ttl: float) -> None:
        await self.inner.complete(key, receipt, ttl=ttl)

    async def release(self, key: str, *, holder: str) -> None:
        await self.inner.release(key, holder=holder)

    async def abandon(self, key: str, *, holder: str) -> None:
        await self.inner.abandon(key, holder=holder)

    async def mark_in_doubt(self, key: str, *, ttl: float) -> None:
        await self.inner.mark_in_doubt(key, ttl=ttl)


class CountingRedisState(RedisState):
    """A :class:`RedisState` whose idempotency store counts the races it sees."""

    _counting: _CountingIdempotency | None = None

    @property
    def idempotency(self) -> _CountingIdempotency:
        if self._counting is None:
            self._counting = _CountingIdempotency(super().idempotency)
        return self._counting


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def wait_for_go() -> None:
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise SystemExit("stdin closed before the go signal")


async def send_one(client: mh.Adapter[Any], to: str, item: dict[str, Any]) -> dict[str, Any]:
    text, key = item["text"], item.get("key")
    try:
        receipt = await client.send(mh.Outgoing(to=[to], text=text, idempotency_key=key))
    except Exception as exc:
        return {"text": text, "key": key, "error": repr(exc)}
    return {
        "text": text,
        "key": key,
        "session_id": receipt.session_id,
        "message_ids": list(receipt.message_ids),
        "replayed": receipt.raw is None,
    }


async def run_round(
    client: mh.Adapter[Any], to: str, sends: list[dict[str, Any]], concurrency: int
) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(concurrency)

    async def limited(item: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            return await send_one(client, to, item)

    # Tasks are created in list order and the semaphore is FIFO: sends
    # start in the order given, so positions line up across workers.
    return list(await asyncio.gather(*(limited(item) for item in sends)))


async def main(spec: dict[str, Any]) -> None:
    state: CountingRedisState | None = None
    if spec["redis_url"] is not None:
        made = CountingRedisState.from_url(spec["redis_url"], namespace=spec["namespace"])
        assert isinstance(made, CountingRedisState)  # from_url builds cls
        state = made
        await state.ping()  # connected before "ready": the workers race from "go"
    client = mh.connect(spec["config"], state=state)
    try:
        emit({"event": "ready"})
        for number, sends in enumerate(spec["rounds"]):
            await wait_for_go()
            results = await run_round(client, spec["to"], sends, spec["concurrency"])
            emit(
                {
                    "event": "round",
                    "round": number,
                    "results": results,
                    "raced": [] if state is None else sorted(state.idempotency.raced),
                }
            )
    finally:
        await client.aclose()
        if state is not None:
            await state.aclose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
