"""One bot replica, run as its own Python process by ``test_bot_replicas.py``.

``python bot_worker.py SETTINGS_JSON`` connects to the fake provider the
test runs (its ``config`` mapping is in the settings) with
``state=RedisState.from_url(...)``, prints ``ready`` once connected, and
then ``listen()``s. Every message it handles is "handled" (a short sleep)
and then recorded by RPUSHing a JSON line (replica, text, wall time) to the
``handled`` list in Redis. With ``die_on`` set to k, the replica instead
writes a note to the ``died`` key and ends itself with ``os._exit(1)`` on
its k-th message, after the handling began and before it is recorded: a
crash mid-handling, with no clean-up of any kind.

The replica stops (cleanly, exit status 0) when its standard input closes:
the test closes it to end the run, and a test process that dies takes its
replicas with it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from datetime import datetime
from typing import Any

import anyio
import redis.asyncio as aioredis

import messaging_hub as mh
from messaging_hub.state import RedisState


async def wait_for_eof() -> None:
    """Return when standard input is closed."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while await reader.read(4096):
            pass
    finally:
        transport.close()


async def handle_messages(settings: dict[str, Any], client: mh.Adapter[Any]) -> None:
    """Handle what ``listen()`` hands this replica, recording each in Redis."""
    replica = settings["replica"]
    keys = settings["keys"]
    record = aioredis.Redis.from_url(settings["redis_url"])
    count = 0
    if settings["loop"] == "watch":
        messages = mh.watch(
            client,
            interval=settings["poll_interval"],
            lookback=settings["lookback"],
            claim_ttl=settings["claim_ttl"],
        )
    else:
        messages = mh.listen(
            client,
            since=datetime.fromisoformat(settings["since"]),
            poll_interval=settings["poll_interval"],
            lookback=settings["lookback"],
            claim_ttl=settings["claim_ttl"],
        )
    # aclosing: the listener (and its claims) is closed here, while the state
    # is open, not by the event loop's clean-up after everything else closed.
    async with contextlib.aclosing(messages), record:
        async for message in messages:
            count += 1
            await anyio.sleep(settings["handle_seconds"])  # the "work"
            if count == settings["die_on"]:
                note = {"replica": replica, "text": message.text, "at": time.time()}
                await record.set(keys["died"], json.dumps(note))
                os._exit(1)  # no finally, no claim released: a crash
            line = {"replica": replica, "text": message.text, "id": message.id, "at": time.time()}
            await record.rpush(keys["handled"], json.dumps(line))


async def main(settings: dict[str, Any]) -> None:
    state = RedisState.from_url(
        settings["redis_url"], namespace=settings["namespace"], timeout=settings["timeout"]
    )
    try:
        async with mh.connect(settings["config"], state=state) as client:
            print("ready", flush=True)
            async with anyio.create_task_group() as tg:

                async def stop_on_eof() -> None:
                    await wait_for_eof()
                    tg.cancel_scope.cancel()

                tg.start_soon(stop_on_eof)
                tg.start_soon(handle_messages, settings, client)
    finally:
        await state.aclose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
