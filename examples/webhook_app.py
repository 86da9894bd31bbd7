"""A web app that receives RingCentral webhooks and answers each SMS.

    python examples/webhook_app.py      # offline: a fake RingCentral calls the app

The app is a plain aiohttp application with messaging-hub's webhook sub-app
mounted at ``/hooks/``; in production it runs behind your public URL and
``native.create_webhook_subscription("https://you.example/hooks/rc", ...)``
points RingCentral at it. The receiver answers RingCentral's
``Validation-Token`` handshake, refuses calls without the verification
token, and hands each new message to ``on_message`` once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import anyio
from aiohttp import web

import messaging_hub as mh


def make_app(
    client: mh.Adapter[Any],
    token: str,
    inbox: list[mh.Message],
    answered: Callable[[], None] = lambda: None,
) -> web.Application:
    """The web app: webhooks under /hooks/, each message answered by SMS."""

    async def on_message(message: mh.Message) -> None:
        print(f"{message.sender}: {message.text!r}")
        await client.send(mh.Outgoing(session_id=message.session_id, text="Thanks, noted!"))
        inbox.append(message)
        answered()

    app = web.Application()
    app.add_subapp(
        "/hooks/", mh.webhooks.aiohttp_app(client, on_message=on_message, verification_token=token)
    )
    return app


async def offline_demo(messages: int = 2) -> list[mh.Message]:
    """Serve the app on loopback, subscribe a fake RingCentral to it, let two people write."""
    from messaging_hub.testing import FakeRingCentral

    token = secrets.token_urlsafe(24)  # RingCentral sends it back on every call
    inbox: list[mh.Message] = []
    done = anyio.Event()

    def answered() -> None:
        if len(inbox) >= messages:
            done.set()

    async with FakeRingCentral() as fake, mh.connect(fake.config) as client:
        runner = web.AppRunner(make_app(client, token, inbox, answered), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            address = f"http://127.0.0.1:{port}/hooks/ringcentral"
            await client.native.create_webhook_subscription(address, verification_token=token)
            fake.deliver_inbound("+14155550123", "Is my order ready?")
            fake.deliver_inbound("+16505550188", "Table for two at 8?")
            with anyio.fail_after(10):  # the fake calls the webhook in the background
                await done.wait()
        finally:
            await runner.cleanup()
    return inbox


def main() -> int:
    """Run the offline demo."""
    inbox = anyio.run(offline_demo)
    print(f"{len(inbox)} messages received through the webhook and answered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
