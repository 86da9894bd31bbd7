"""``connect()``: from a provider name or a config mapping to a client."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

import aiohttp

from .adapter import Adapter
from .errors import ConfigError
from .registry import load_adapter

if TYPE_CHECKING:
    # For the typed overloads only: a built-in's name gives its own class.
    from .adapters.mongooseim import MongooseIMAdapter
    from .adapters.netsapiens import NetSapiensAdapter
    from .adapters.ringcentral import RingCentralAdapter
    from .adapters.textmagic import TextMagicAdapter

__all__ = ["connect"]


@overload
def connect(
    provider_or_config: Literal["netsapiens"],
    /,
    *,
    session: aiohttp.ClientSession | None = None,
    **options: Any,
) -> NetSapiensAdapter: ...


@overload
def connect(
    provider_or_config: Literal["ringcentral"],
    /,
    *,
    session: aiohttp.ClientSession | None = None,
    **options: Any,
) -> RingCentralAdapter: ...


@overload
def connect(
    provider_or_config: Literal["textmagic"],
    /,
    *,
    session: aiohttp.ClientSession | None = None,
    **options: Any,
) -> TextMagicAdapter: ...


@overload
def connect(
    provider_or_config: Literal["mongooseim"],
    /,
    *,
    session: aiohttp.ClientSession | None = None,
    **options: Any,
) -> MongooseIMAdapter: ...


@overload
def connect(
    provider_or_config: str | Mapping[str, Any],
    /,
    *,
    session: aiohttp.ClientSession | None = None,
    **options: Any,
) -> Adapter[Any]: ...


def connect(
    provider_or_config: str | Mapping[str, Any],
    /,
    *,
    session: aiohttp.ClientSession | None = None,
    **options: Any,
) -> Adapter[Any]:
    """Create a client for a provider.

    ``connect("netsapiens", base_url=..., ...)`` or
    ``connect({"provider": "netsapiens", ...})``; keyword options override
    the mapping's. ``session`` is a caller-owned ``aiohttp.ClientSession``
    that the client uses but never closes. Nothing is sent until the first
    operation; bad options raise :class:`ConfigError` naming the key.
    """
    if isinstance(provider_or_config, Mapping):
        merged = {**provider_or_config, **options}
        provider = merged.pop("provider", None)
        if provider is None:
            raise ConfigError("the configuration has no 'provider' key", key="provider")
    elif isinstance(provider_or_config, str):
        provider, merged = provider_or_config, dict(options)
        if "provider" in merged and merged.pop("provider") != provider:
            raise ConfigError("two different providers were given", key="provider")
    else:
        raise ConfigError("connect() takes a provider name or a mapping", key="provider")
    adapter_cls = load_adapter(provider)
    client = adapter_cls.from_options(merged, session=session)
    _import_event_loop_backend()
    return client


def _import_event_loop_backend() -> None:
    """Import anyio's asyncio backend now, not inside the first send (it takes
    tens of milliseconds the first time, on top of that send's latency)."""
    # A future anyio may move it: then it is loaded when first used, as before.
    with contextlib.suppress(ImportError):
        importlib.import_module("anyio._backends._asyncio")
