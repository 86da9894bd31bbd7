"""A seeded fake provider in a process of its own, for memory measurements.

``python -m tests.hardening._paging_server <netsapiens|mongooseim-graphql> <count>``
prints one JSON line ``{"config": ..., "session": ...}`` and serves until its
standard input closes. A fake builds each answer from its whole store, so in
the test's own process its allocations would hide the client's.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

from messaging_hub.testing import FakeServer
from messaging_hub.testing.mongooseim import FakeMongooseIM
from messaging_hub.testing.netsapiens import FakeNetSapiens

from ..mongooseim._helpers import T0


async def serve(provider: str, count: int) -> None:
    """Start the fake, seed ``count`` messages, announce it, wait for stdin to close."""
    fake: FakeServer
    if provider == "netsapiens":
        ns = FakeNetSapiens()
        fake = ns
        await fake.start()
        session = ns.seed_session(count)
    else:
        mim = FakeMongooseIM("graphql", clock=lambda: T0)
        fake = mim
        await fake.start()
        session = "bob@localhost"
        mim.seed_conversation(mim.owner, session, count, end=T0 - timedelta(days=1))
    print(json.dumps({"config": fake.config, "session": session}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
