"""The command line: ``messaging-hub <command>`` or ``python -m messaging_hub <command>``.

``demo`` runs the whole flow against an embedded fake; the other commands
talk to a provider configured by a TOML file, ``MESSAGING_HUB_*``
environment variables and ``--provider``/``-o KEY=VALUE`` flags (flags win
over the environment, which wins over the file).
"""

from __future__ import annotations

import argparse
import importlib
import json
import mimetypes
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import attrs

from . import __version__
from .adapter import Adapter, Capability
from .config import from_env, from_toml
from .connect import connect
from .errors import (
    AuthenticationError,
    ConfigError,
    InvalidRequest,
    MalformedResponse,
    MessagingError,
    NotFound,
    PermissionDenied,
    ProviderUnavailable,
    RateLimited,
    UnsupportedOperation,
)
from .models import Address, Attachment, MessageKind, Outgoing
from .registry import available_providers

__all__ = ["EXIT_CODES", "main"]

DESCRIPTION = """\
Send, list and read messages through NetSapiens, RingCentral, TextMagic or
MongooseIM from the shell. 'demo' runs the whole flow against a built-in
fake server, with no account and no network.

Configuration, lowest to highest precedence: a TOML file (--config, table
[messaging_hub]), MESSAGING_HUB_* environment variables (MESSAGING_HUB_PROVIDER,
MESSAGING_HUB_ACCESS_TOKEN, ...), then --provider and -o KEY=VALUE flags.
"""

# Checked in order: the first class an error is an instance of decides.
EXIT_CODES: tuple[tuple[type[MessagingError], int, str], ...] = (
    (ConfigError, 3, "configuration error (missing, unknown or invalid option)"),
    (AuthenticationError, 4, "credentials refused or permission denied"),
    (PermissionDenied, 4, "credentials refused or permission denied"),
    (NotFound, 5, "not found"),
    (RateLimited, 6, "rate limited by the provider"),
    (ProviderUnavailable, 7, "provider unavailable or its answer unreadable"),
    (MalformedResponse, 7, "provider unavailable or its answer unreadable"),
    (UnsupportedOperation, 9, "the provider cannot do this"),
    (InvalidRequest, 8, "bad request (rejected before sending, or by the provider)"),
)
"""Exit status per error kind; 1 for any other error, 2 for bad command-line usage."""


def _epilog() -> str:
    seen: dict[int, str] = {}
    for _, code, meaning in EXIT_CODES:
        seen.setdefault(code, meaning)
    lines = ["exit status:", "  0  success", "  1  any other error", "  2  bad command-line usage"]
    lines += [f"  {code}  {meaning}" for code, meaning in sorted(seen.items())]
    return "\n".join(lines)


def exit_code(exc: MessagingError) -> int:
    """The exit status for ``exc`` (see :data:`EXIT_CODES`)."""
    for cls, code, _ in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 1


# -- output ----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready form of a model value (``raw`` and file contents left out)."""
    if attrs.has(type(value)):
        return {
            a.name: _plain(getattr(value, a.name))
            for a in attrs.fields(type(value))
            if a.name not in ("raw", "content")
        }
    if isinstance(value, Address):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value") and hasattr(type(value), "__members__"):  # an enum
        return value.value
    return value


class _Out:
    """Prints lines for people, or one JSON object per line with ``--json``."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, text: str, data: Mapping[str, Any] | Any) -> None:
        if self.as_json:
            payload = data if isinstance(data, Mapping) else _plain(data)
            print(json.dumps(payload, ensure_ascii=False, default=str), flush=True)
        else:
            print(text, flush=True)

    def say(self, text: str = "") -> None:
        """Narration that only people get."""
        if not self.as_json:
            print(text, flush=True)


# -- demo ------------------------------------------------------------------------

# Each demo: the fake's module and class, a recipient it knows, and extra
# constructor arguments. Imported lazily: production code never loads a fake
# unless the demo runs.
_DEMOS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "netsapiens": ("netsapiens", "FakeNetSapiens", "1004", {}),
    "ringcentral": ("ringcentral", "FakeRingCentral", "+14155550123", {}),
    "textmagic": ("textmagic", "FakeTextMagic", "+447860021131", {}),
    "mongooseim": ("mongooseim", "FakeMongooseIM", "bob@localhost", {"api": "graphql"}),
}


async def _demo(provider: str, out: _Out) -> None:
    # The demo is the one place production code starts a fake on purpose.
    module_name, class_name, peer, extra = _DEMOS[provider]
    module = importlib.import_module(f"messaging_hub.testing.{module_name}")
    try:
        fake = getattr(module, class_name)(**extra)
    except ImportError:
        # The GraphQL fake needs the 'testing' extra; the client REST API does not.
        out.say("(graphql-core is not installed: using MongooseIM's client REST API)")
        fake = getattr(module, class_name)(api="client-rest")
    async with fake:
        out.say(f"Started a fake {provider} server at {fake.config['base_url']}")
        async with connect(fake.config) as client:
            out.say(f"Connected: {client!r}, capabilities {client.capabilities}")
            out.say()
            out.say("1. send")
            receipt = await client.send(Outgoing(to=[peer], text="Hello from messaging-hub"))
            await client.send(
                Outgoing(to=[peer], text="Second message", session_id=receipt.session_id)
            )
            out.emit(
                f"   sent to {peer}: session {receipt.session_id}, status {receipt.status.value}",
                {"step": "send", "receipt": _plain(receipt)},
            )
            out.say()
            out.say("2. sessions")
            async for session in client.sessions(limit=50):
                who = ", ".join(str(p) for p in session.participants) or "-"
                when = session.last_activity.isoformat() if session.last_activity else "-"
                out.emit(
                    f"   {session.id}  with {who}  last {when}  {session.last_text!r}",
                    {"step": "sessions", "session": _plain(session)},
                )
            out.say()
            out.say(f"3. history of {receipt.session_id}")
            async for message in client.history(receipt.session_id, limit=200):
                sender = message.sender or "?"
                out.emit(
                    f"   {message.created_at:%Y-%m-%d %H:%M:%S %Z}  {sender}: {message.text!r}"
                    f"  [{message.direction.value}, {message.status.value}]",
                    {"step": "history", "message": _plain(message)},
                )
            out.say()
            out.say(f"4. delete {receipt.session_id}")
            if Capability.DELETE in client.capabilities:
                await client.delete(receipt.session_id)
                left = [s.id async for s in client.sessions()]
                out.emit(
                    f"   deleted; {len(left)} session(s) left: {', '.join(left) or '-'}",
                    {"step": "delete", "deleted": receipt.session_id, "sessions_left": left},
                )
            else:
                try:
                    await client.delete(receipt.session_id)
                except UnsupportedOperation as exc:
                    out.emit(
                        f"   {exc} (raised before any request)",
                        {"step": "delete", "unsupported": str(exc)},
                    )
    out.say()
    out.say("Demo finished: the client and the fake server are closed.")


# -- talking to a provider -------------------------------------------------------


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """TOML file < environment < flags."""
    options: dict[str, Any] = {}
    if args.config:
        options.update(from_toml(args.config, table=args.table))
    options.update(from_env())
    if args.provider:
        options["provider"] = args.provider
    for item in args.option or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"-o takes KEY=VALUE, got {item!r}", key=key or None)
        options[key.strip()] = value
    if not options:
        raise ConfigError(
            "no configuration: pass --config FILE, set MESSAGING_HUB_* variables "
            "or give --provider and -o KEY=VALUE",
            key="provider",
        )
    return options


def _attachment(path: str) -> Attachment:
    file = Path(path)
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise InvalidRequest(
            f"cannot read {path!r}: {exc.strerror or exc}", field="attachments"
        ) from None
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return Attachment(content_type=content_type, content=content, filename=file.name)


async def _with_client(args: argparse.Namespace, out: _Out) -> None:
    client: Adapter[Any] = connect(_options(args))
    async with client:
        if args.command == "send":
            outgoing = Outgoing(
                to=args.to,
                text=args.text or "",
                session_id=args.session,
                sender=args.sender,
                attachments=[_attachment(p) for p in args.attach or ()],
                kind=MessageKind(args.kind),
            )
            receipt = await client.send(outgoing)
            out.emit(f"sent: session {receipt.session_id} ({receipt.status.value})", receipt)
        elif args.command == "sessions":
            async for session in client.sessions(limit=args.limit):
                who = ", ".join(str(p) for p in session.participants)
                out.emit(f"{session.id}\t{who}\t{session.last_activity or '-'}", session)
        elif args.command == "history":
            async for message in client.history(args.session, limit=args.limit):
                out.emit(
                    f"{message.created_at.isoformat()}\t{message.direction.value}\t"
                    f"{message.sender or '-'}\t{message.text}",
                    message,
                )
        elif args.command == "delete":
            await client.delete(args.session)
            out.emit(f"deleted: {args.session}", {"deleted": args.session})


# -- the parser ------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="messaging-hub",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="show the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(
            name,
            help=help_text,
            description=help_text[:1].upper() + help_text[1:] + ".",
            epilog=_epilog(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.add_argument(
            "--json", action="store_true", help="print JSON (one object per line for listings)"
        )
        return cmd

    demo = command("demo", "run send, sessions, history and delete against a built-in fake")
    demo.add_argument(
        "--provider", choices=sorted(_DEMOS), default="netsapiens", help="which fake to use"
    )
    command("providers", "list the registered providers")
    for name, help_text in (
        ("send", "send a message"),
        ("sessions", "list conversations, most recent first"),
        ("history", "show a conversation's messages, newest first"),
        ("delete", "delete a conversation"),
    ):
        cmd = command(name, help_text)
        cmd.add_argument("--config", metavar="FILE", help="TOML file with the provider's options")
        cmd.add_argument(
            "--table",
            default="messaging_hub",
            help="TOML table holding the options (default: messaging_hub)",
        )
        cmd.add_argument("--provider", help="provider name (overrides file and environment)")
        cmd.add_argument(
            "-o",
            "--option",
            action="append",
            metavar="KEY=VALUE",
            help="a provider option, e.g. -o base_url=https://... (repeatable; wins over all)",
        )
        if name == "send":
            cmd.add_argument("--to", action="append", required=True, help="recipient (repeatable)")
            cmd.add_argument("--text", help="the message text")
            cmd.add_argument("--session", help="continue this conversation")
            cmd.add_argument(
                "--from", dest="sender", help="sender number or ID (default: the configured one)"
            )
            cmd.add_argument(
                "--attach", action="append", metavar="FILE", help="attach a file (repeatable)"
            )
            cmd.add_argument(
                "--kind",
                choices=[k.value for k in MessageKind],
                default=MessageKind.AUTO.value,
                help="message type where the provider has several (default: auto)",
            )
        elif name in ("sessions", "history"):
            cmd.add_argument(
                "--limit", type=int, default=20, help="show at most this many (default: 20)"
            )
        if name in ("history", "delete"):
            cmd.add_argument("session", help="the conversation id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see ``--help``)."""
    args = _parser().parse_args(argv)
    out = _Out(getattr(args, "json", False))
    try:
        if args.command == "demo":
            anyio.run(_demo, args.provider, out)
        elif args.command == "providers":
            for name, target in sorted(available_providers().items()):
                out.emit(f"{name}\t{target}", {"provider": name, "adapter": str(target)})
        else:
            anyio.run(_with_client, args, out)
    except MessagingError as exc:
        if out.as_json:
            error = {"error": type(exc).__name__, "message": str(exc)}
            print(json.dumps(error, ensure_ascii=False), file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    return 0
