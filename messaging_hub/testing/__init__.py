"""Fake provider servers for offline tests, demos and bots.

Each fake is an in-memory ``aiohttp.web`` server on loopback that follows
its provider's published API; ``fake.config`` goes straight into
``messaging_hub.connect``::

    async with FakeNetSapiens() as fake:
        async with messaging_hub.connect(fake.config) as client:
            ...

The fakes load lazily, so importing this package costs little.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._server import FakeServer, Fault, RecordedRequest

if TYPE_CHECKING:
    from .mongooseim import FakeMongooseIM
    from .netsapiens import FakeNetSapiens
    from .ringcentral import FakeRingCentral
    from .textmagic import FakeTextMagic

__all__ = [
    "FakeMongooseIM",
    "FakeNetSapiens",
    "FakeRingCentral",
    "FakeServer",
    "FakeTextMagic",
    "Fault",
    "RecordedRequest",
]

_LAZY = {
    "FakeNetSapiens": ".netsapiens",
    "FakeRingCentral": ".ringcentral",
    "FakeTextMagic": ".textmagic",
    "FakeMongooseIM": ".mongooseim",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
