"""``connect()``: from a provider name or a config mapping to a client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from .adapter import Adapter
from .errors import ConfigError
from .registry import load_adapter

__all__ = ["connect"]


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
    return adapter_cls.from_options(merged, session=session)
