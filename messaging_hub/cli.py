"""The command line: ``python -m messaging_hub <command>``.

``demo`` runs send -> sessions -> history -> delete against an embedded
fake NetSapiens server (no credentials, no network). ``providers`` lists
the registered adapters. ``send`` / ``sessions`` / ``history`` talk to a
real provider configured by a TOML file or ``MESSAGING_HUB_*`` variables.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from .adapter import Adapter, Capability
from .config import from_env, from_toml
from .connect import connect
from .errors import MessagingError, UnsupportedOperation
from .models import Outgoing
from .registry import available_providers

__all__ = ["main"]


def _print(text: str = "") -> None:
    print(text, flush=True)


# Each demo: the fake's module and class, a recipient it knows, and extra
# constructor arguments. Imported lazily: production code never loads a fake
# unless the demo runs.
_DEMOS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "netsapiens": ("netsapiens", "FakeNetSapiens", "1004", {}),
    "ringcentral": ("ringcentral", "FakeRingCentral", "+14155550123", {}),
    "textmagic": ("textmagic", "FakeTextMagic", "+447860021131", {}),
    "mongooseim": ("mongooseim", "FakeMongooseIM", "bob@localhost", {"api": "graphql"}),
}


async def _demo(provider: str) -> None:
    # The demo is the one place production code starts a fake on purpose.
    module_name, class_name, peer, extra = _DEMOS[provider]
    module = importlib.import_module(f"messaging_hub.testing.{module_name}")
    async with getattr(module, class_name)(**extra) as fake:
        _print(f"Started a fake {provider} server at {fake.config['base_url']}")
        async with connect(fake.config) as client:
            _print(f"Connected: {client!r}, capabilities {client.capabilities}")
            _print()
            _print("1. send")
            receipt = await client.send(Outgoing(to=[peer], text="Hello from messaging-hub"))
            await client.send(
                Outgoing(to=[peer], text="Second message", session_id=receipt.session_id)
            )
            _print(
                f"   sent to {peer}: session {receipt.session_id}, status {receipt.status.value}"
            )
            _print()
            _print("2. sessions")
            async for session in client.sessions(limit=50):
                who = ", ".join(str(p) for p in session.participants) or "-"
                when = session.last_activity.isoformat() if session.last_activity else "-"
                _print(f"   {session.id}  with {who}  last {when}  {session.last_text!r}")
            _print()
            _print(f"3. history of {receipt.session_id}")
            async for message in client.history(receipt.session_id, limit=200):
                sender = message.sender or "?"
                _print(
                    f"   {message.created_at:%Y-%m-%d %H:%M:%S %Z}  {sender}: {message.text!r}"
                    f"  [{message.direction.value}, {message.status.value}]"
                )
            _print()
            _print(f"4. delete {receipt.session_id}")
            if Capability.DELETE in client.capabilities:
                await client.delete(receipt.session_id)
                left = [s.id async for s in client.sessions()]
                _print(f"   deleted; {len(left)} session(s) left: {', '.join(left) or '-'}")
            else:
                try:
                    await client.delete(receipt.session_id)
                except UnsupportedOperation as exc:
                    _print(f"   {exc} (raised before any request)")
    _print()
    _print("Demo finished: the client and the fake server are closed.")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    if args.config:
        return from_toml(args.config, table=args.table)
    options = from_env()
    if not options:
        raise SystemExit("no configuration: pass --config FILE or set MESSAGING_HUB_* variables")
    return options


async def _with_client(args: argparse.Namespace) -> None:
    client: Adapter[Any] = connect(_options(args))
    async with client:
        if args.command == "send":
            receipt = await client.send(
                Outgoing(to=args.to, text=args.text, session_id=args.session)
            )
            _print(f"sent: session {receipt.session_id} ({receipt.status.value})")
        elif args.command == "sessions":
            async for session in client.sessions(limit=args.limit):
                who = ", ".join(str(p) for p in session.participants)
                _print(f"{session.id}\t{who}\t{session.last_activity or '-'}")
        elif args.command == "history":
            async for message in client.history(args.session, limit=args.limit):
                _print(f"{message.created_at.isoformat()}\t{message.sender}\t{message.text}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="messaging-hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole flow against an embedded fake provider")
    demo.add_argument(
        "--provider", choices=sorted(_DEMOS), default="netsapiens", help="which fake to use"
    )
    sub.add_parser("providers", help="list the registered providers")
    for name, help_text in (
        ("send", "send a message"),
        ("sessions", "list conversations"),
        ("history", "show a conversation's messages"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", help="TOML file with the provider's options")
        cmd.add_argument("--table", default="messaging_hub", help="TOML table to read")
        if name == "send":
            cmd.add_argument("--to", action="append", required=True, help="recipient (repeatable)")
            cmd.add_argument("--text", required=True)
            cmd.add_argument("--session", help="continue this conversation")
        else:
            cmd.add_argument("--limit", type=int, default=20)
        if name == "history":
            cmd.add_argument("session", help="the conversation id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            anyio.run(_demo, args.provider)
        elif args.command == "providers":
            for name, target in sorted(available_providers().items()):
                _print(f"{name}\t{target}")
        else:
            anyio.run(_with_client, args)
    except MessagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
