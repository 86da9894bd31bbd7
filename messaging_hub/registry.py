"""Provider name -> adapter class, found through entry points.

The built-in adapters are declared in the ``messaging_hub.adapters``
entry-point group like any third-party one; the table below is only the
fallback for a source tree used without installing it.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .adapter import Adapter

__all__ = ["ENTRY_POINT_GROUP", "available_providers", "load_adapter"]

ENTRY_POINT_GROUP = "messaging_hub.adapters"

_BUILTIN = {
    "netsapiens": "messaging_hub.adapters.netsapiens:NetSapiensAdapter",
    "ringcentral": "messaging_hub.adapters.ringcentral:RingCentralAdapter",
    "textmagic": "messaging_hub.adapters.textmagic:TextMagicAdapter",
    "mongooseim": "messaging_hub.adapters.mongooseim:MongooseIMAdapter",
}


def available_providers() -> dict[str, str]:
    """Every known provider name and the ``module:Class`` it loads."""
    found = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.value
    return found


@cache
def _known() -> tuple[tuple[str, str], ...]:
    """:func:`available_providers` as of the first ``connect()`` of this process:
    scanning the installed distributions' entry points takes milliseconds."""
    return tuple(available_providers().items())


def load_adapter(name: str) -> type[Adapter[Any]]:
    """The adapter class registered as ``name`` (raises ConfigError)."""
    from .adapter import Adapter

    if not isinstance(name, str) or not name:
        raise ConfigError("provider must be a non-empty string", key="provider")
    providers = dict(_known())
    target = providers.get(name.lower())
    if target is None:
        # Installed since the first look? Scan again before refusing.
        _known.cache_clear()
        providers = dict(_known())
        target = providers.get(name.lower())
    if target is None:
        raise ConfigError(
            f"unknown provider {name!r}; known: {', '.join(sorted(providers))}", key="provider"
        )
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"provider {name!r} is registered as {target!r} but cannot be loaded: {exc}",
            key="provider",
        ) from exc
    if not (isinstance(obj, type) and issubclass(obj, Adapter)):
        raise ConfigError(f"{target!r} is not an Adapter subclass", key="provider")
    return obj
