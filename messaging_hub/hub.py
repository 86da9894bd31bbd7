"""Hub: several named accounts behind one object, with failover and broadcast.

::

    hub = Hub.from_config({
        "default": "pbx",
        "failover": ["sms-backup"],
        "accounts": {"pbx": {...netsapiens options...}, "sms-backup": {...}},
    })
    async with hub:
        receipt = await hub.send(Outgoing(to=["+18585551234"], text="hi"))

A send fails over to the next account only when the message provably did
not go out (the provider was unreachable before the request reached it, it
rate-limited the request, or the account cannot send this message), so a
failover never delivers a message twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import aiohttp
import anyio
import attrs

from .adapter import Adapter
from .config import from_toml
from .connect import connect
from .errors import (
    ConfigError,
    InvalidRequest,
    MessagingError,
    ProviderUnavailable,
    RateLimited,
    UnsupportedOperation,
)
from .models import Outgoing, Receipt
from .state.base import SharedState

__all__ = ["Hub"]


def _safe_to_fail_over(exc: MessagingError) -> bool:
    if isinstance(exc, ProviderUnavailable):
        return not exc.may_have_been_processed
    if isinstance(exc, InvalidRequest) and not isinstance(exc, UnsupportedOperation):
        # Provider-specific validation (e.g. a text limit) may pass elsewhere,
        # and nothing was sent.
        return exc.__class__ is InvalidRequest
    return isinstance(exc, RateLimited | UnsupportedOperation)


class Hub:
    """Named clients, a default account, an ordered failover list."""

    def __init__(
        self,
        clients: Mapping[str, Adapter[Any]],
        *,
        default: str | None = None,
        failover: Sequence[str] = (),
    ) -> None:
        if not clients:
            raise ConfigError("a hub needs at least one account", key="accounts")
        self._clients = dict(clients)
        self.default = default or next(iter(self._clients))
        for name in (self.default, *failover):
            if name not in self._clients:
                raise ConfigError(f"no account named {name!r}", key=name)
        self.failover = tuple(failover)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        session: aiohttp.ClientSession | None = None,
        state: SharedState | None = None,
    ) -> Self:
        """Build from ``{"accounts": {name: options}, "default": ..., "failover": [...]}``.

        ``state`` (a :class:`~messaging_hub.state.RedisState`, say) is given to
        every account that does not name its own."""
        accounts = config.get("accounts")
        if not isinstance(accounts, Mapping) or not accounts:
            raise ConfigError("'accounts' must map names to provider options", key="accounts")
        unknown = set(config) - {"accounts", "default", "failover"}
        if unknown:
            raise ConfigError(f"unknown hub option {sorted(unknown)[0]!r}", key=sorted(unknown)[0])
        clients: dict[str, Adapter[Any]] = {}
        for name, options in accounts.items():
            if not isinstance(options, Mapping):
                raise ConfigError(f"account {name!r} must be a table of options", key=name)
            try:
                shared = {"state": state} if state is not None and "state" not in options else {}
                clients[name] = connect(options, session=session, **shared)
            except ConfigError as exc:
                exc.message = f"account {name!r}: {exc.message}"
                raise
        failover = config.get("failover", ())
        if isinstance(failover, str) or not all(isinstance(n, str) for n in failover):
            raise ConfigError("'failover' must be a list of account names", key="failover")
        default = config.get("default")
        if default is not None and not isinstance(default, str):
            raise ConfigError("'default' must be an account name", key="default")
        return cls(clients, default=default, failover=tuple(failover))

    @classmethod
    def from_toml(
        cls,
        path: str | os.PathLike[str],
        *,
        table: str | None = None,
        session: aiohttp.ClientSession | None = None,
        state: SharedState | None = None,
    ) -> Self:
        """Build from a TOML file: ``default``, ``failover`` and ``[accounts.NAME]``
        tables (at the root, or under ``table``); ``{env = "NAME"}`` values are
        read from the environment, so secrets need not live in the file; ``state``
        as for :meth:`from_config`."""
        return cls.from_config(from_toml(path, table=table), session=session, state=state)

    def __getitem__(self, name: str) -> Adapter[Any]:
        try:
            return self._clients[name]
        except KeyError:
            raise ConfigError(f"no account named {name!r}", key=name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    async def send(self, outgoing: Outgoing, *, account: str | None = None) -> Receipt:
        """Send through ``account`` (default: the default, then the failover list).

        An explicit ``account`` is used alone. Otherwise each account in
        turn is tried while the failure proves nothing was sent; the last
        error is raised when every account failed.
        """
        if account is not None:
            return attrs.evolve(await self[account].send(outgoing), account=account)
        order = [self.default, *(n for n in self.failover if n != self.default)]
        last: MessagingError | None = None
        for name in order:
            try:
                return attrs.evolve(await self._clients[name].send(outgoing), account=name)
            except MessagingError as exc:
                if not _safe_to_fail_over(exc):
                    raise
                last = exc
        assert last is not None
        raise last

    async def broadcast(
        self, outgoing: Outgoing, accounts: Sequence[str] | None = None
    ) -> dict[str, Receipt | MessagingError]:
        """Send the same message through several accounts at once.

        Returns each account's receipt or error; one failure does not stop
        the others.
        """
        names = list(accounts) if accounts is not None else list(self._clients)
        for name in names:
            self[name]
        results: dict[str, Receipt | MessagingError] = {}

        async def one(name: str) -> None:
            try:
                receipt = await self._clients[name].send(outgoing)
                results[name] = attrs.evolve(receipt, account=name)
            except MessagingError as exc:
                results[name] = exc

        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(one, name)
        return {name: results[name] for name in names}

    async def aclose(self) -> None:
        """Close every account's client."""
        for client in self._clients.values():
            await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        accounts = ", ".join(f"{n}={c.provider}" for n, c in self._clients.items())
        return f"<Hub default={self.default!r} accounts: {accounts}>"
