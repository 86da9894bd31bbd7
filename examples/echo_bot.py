"""An echo bot: answers every inbound message, on any provider.

    python examples/echo_bot.py                      # offline, on a fake NetSapiens
    python examples/echo_bot.py --config hub.toml    # a real account ([messaging_hub] table)

It hears messages with ``messaging_hub.listen`` (pushed where the provider
pushes, polled otherwise) and replies in the same conversation.
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio

import messaging_hub as mh


async def run_bot(client: mh.Adapter[Any], *, replies: int | None, **listen_options: Any) -> int:
    """Answer inbound messages until ``replies`` were sent (forever when None)."""
    sent = 0
    async for message in mh.listen(client, **listen_options):
        if message.sender is None:
            continue
        await client.send(
            mh.Outgoing(
                to=[message.sender], text=f"echo: {message.text}", session_id=message.session_id
            )
        )
        print(f"{message.sender}: {message.text!r} -> replied")
        sent += 1
        if replies is not None and sent >= replies:
            break
    return sent


async def offline_demo(replies: int) -> int:
    """Run the bot against a fake NetSapiens where two people write in."""
    from messaging_hub.testing import FakeNetSapiens

    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        async with anyio.create_task_group() as tg:
            result: list[int] = []

            async def bot() -> None:
                # NetSapiens has no push: listen() polls, here every 50 ms.
                result.append(await run_bot(client, replies=replies, poll_interval=0.05))

            tg.start_soon(bot)
            await anyio.sleep(0.2)  # the bot takes its baseline first
            fake.deliver_inbound("1123", "hello bot")
            fake.deliver_inbound("1004", "are you there?")
        return result[0]


def main(argv: list[str] | None = None) -> int:
    """Run the bot (offline unless ``--config`` is given)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="TOML file with a [messaging_hub] table")
    parser.add_argument("--replies", type=int, default=None, help="stop after this many")
    args = parser.parse_args(argv)
    if args.config is None:
        anyio.run(offline_demo, args.replies or 2)
        return 0

    async def online() -> None:
        async with mh.connect(mh.from_toml(args.config)) as client:
            await run_bot(client, replies=args.replies)

    anyio.run(online)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
