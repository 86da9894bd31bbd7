"""The fake TextMagic's inbound-message callbacks.

TextMagic POSTs a copy of the reply resource (``MessageIn``: ``id``,
``sender``, ``receiver``, ``messageTime``, ``text``, ...) to the account's
"Callback URL for incoming messages" as soon as a reply arrives, in the
account's callback format: ``j`` (application/json), ``u``
(application/x-www-form-urlencoded) or ``m`` (multipart/form-data). It signs
nothing. The fake does the same when :meth:`TextMagicCallbacks.set_callback`
gave it a URL, and serves ``GET``/``PUT /api/v2/callback/settings``
(``{outUrl, inUrl, format}``), as the v2 SDKs describe them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import aiohttp
import attrs
from aiohttp import web

from messaging_hub.testing.textmagic_account import TextMagicAccount
from messaging_hub.testing.textmagic_state import FakeReply

__all__ = ["CALLBACK_FORMATS", "SentCallback", "TextMagicCallbacks"]

CALLBACK_FORMATS = {
    "j": "application/json",
    "u": "application/x-www-form-urlencoded",
    "m": "multipart/form-data",
}
"""The ``format`` letters of the callback settings and what they send."""


@attrs.frozen
class SentCallback:
    """One callback the fake POSTed: where, what, and how it was answered."""

    url: str
    content_type: str
    body: bytes = attrs.field(repr=False)
    status: int | None = None
    """The answer's status; None when no answer came (``error`` says why)."""
    error: str | None = None


class TextMagicCallbacks(TextMagicAccount):
    """A TextMagic account that POSTs its inbound callbacks (see the module docstring)."""

    def __init__(self, **account: Any) -> None:
        super().__init__(**account)
        self.callback_in_url: str | None = None
        self.callback_out_url: str | None = None
        self.callback_format = "j"
        self.callback_timeout = 10.0
        self.callbacks: list[SentCallback] = []
        """Every callback POSTed, in order, with the answer it got."""
        self._posting: set[asyncio.Task[None]] = set()

    def set_callback(self, in_url: str | None, *, format: str = "j") -> None:
        """Set the "Callback URL for incoming messages" (None: no callbacks)."""
        if format not in CALLBACK_FORMATS:
            raise ValueError(f"format must be one of {', '.join(CALLBACK_FORMATS)}")
        self.callback_in_url = in_url
        self.callback_format = format

    def deliver_inbound(
        self,
        sender: str,
        text: str,
        *,
        session_id: int | None = None,
        to: str | None = None,
    ) -> FakeReply:
        """Record a reply from ``sender`` and, with a callback URL set, POST
        its callback (in the background: await :meth:`callbacks_sent`)."""
        reply = super().deliver_inbound(sender, text, session_id=session_id, to=to)
        if self.callback_in_url is not None:
            task = asyncio.get_running_loop().create_task(
                self._post(self.callback_in_url, *self.inbound_callback(reply))
            )
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)
        return reply

    def inbound_callback(self, reply: FakeReply, format: str | None = None) -> tuple[str, bytes]:
        """The Content-Type and body TextMagic POSTs for ``reply``."""
        letter = format or self.callback_format
        fields = {k: v for k, v in self._reply_json(reply).items() if v is not None}
        if letter == "j":
            return CALLBACK_FORMATS["j"], json.dumps(fields).encode()
        values = {k: str(v) for k, v in fields.items()}
        if letter == "u":
            return CALLBACK_FORMATS["u"], urlencode(values).encode()
        if letter != "m":
            raise ValueError(f"unknown callback format {letter!r}")
        boundary = "----TextMagic" + secrets.token_hex(8)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
            for name, value in values.items()
        ]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return f"{CALLBACK_FORMATS['m']}; boundary={boundary}", body

    async def callbacks_sent(self) -> list[SentCallback]:
        """Wait until every callback started so far was answered; all sent so far."""
        while self._posting:
            await asyncio.gather(*self._posting, return_exceptions=True)
        return list(self.callbacks)

    async def cancel_callbacks(self) -> None:
        """Stop callbacks still under way (the fake is shutting down)."""
        for task in list(self._posting):
            task.cancel()
        await asyncio.gather(*self._posting, return_exceptions=True)

    async def _post(self, url: str, content_type: str, body: bytes) -> None:
        status: int | None = None
        error: str | None = None
        try:
            timeout = aiohttp.ClientTimeout(total=self.callback_timeout)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=body, headers={"Content-Type": content_type}) as answer,
            ):
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.callbacks.append(SentCallback(url, content_type, body, status, error))

    # -- /api/v2/callback/settings ------------------------------------------
    def add_callback_routes(self, app: web.Application) -> None:
        """Serve the callback settings (``GET``/``PUT /api/v2/callback/settings``)."""
        app.router.add_get("/api/v2/callback/settings", self._get_callback_settings)
        app.router.add_put("/api/v2/callback/settings", self._put_callback_settings)

    def _callback_settings(self) -> dict[str, Any]:
        return {
            "outUrl": self.callback_out_url,
            "inUrl": self.callback_in_url,
            "format": self.callback_format,
        }

    async def _get_callback_settings(self, request: web.Request) -> web.Response:
        return web.json_response(self._callback_settings())

    async def _put_callback_settings(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            data = None
        fields: dict[str, list[str]] = {}
        if not isinstance(data, dict):
            data, fields = {}, {"common": ["Invalid request body."]}
        for name in ("inUrl", "outUrl"):
            value = data.get(name)
            if value is not None and (
                not isinstance(value, str) or not value.startswith(("http://", "https://"))
            ):
                fields[name] = ["This value is not a valid URL."]
        if "format" in data and data["format"] not in CALLBACK_FORMATS:
            fields["format"] = ["The value you selected is not a valid choice."]
        if fields:
            return web.json_response(
                {"code": 400, "message": "Validation Failed", "errors": {"fields": fields}},
                status=400,
            )
        if "inUrl" in data:
            self.callback_in_url = data["inUrl"]
        if "outUrl" in data:
            self.callback_out_url = data["outUrl"]
        if "format" in data:
            self.callback_format = data["format"]
        return web.json_response(self._callback_settings())
