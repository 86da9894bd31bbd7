"""Which providers the contract suite runs against, and how to drive each.

Every adapter's tests add one module ``tests/contract/provider_<name>.py``
that defines ``PROVIDERS: list[ContractProvider]`` (several entries when a
provider has several APIs, as MongooseIM does). This module collects them,
so adding a provider never edits a shared file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from messaging_hub.testing import FakeServer


@attrs.frozen
class ContractProvider:
    """How the contract suite drives one provider through its fake.

    ``make_fake`` returns a fake that is not started yet. ``peer`` is a
    recipient the fake accepts. ``seed_history(fake, n)`` creates a
    conversation of ``n`` messages and returns the id ``client.history()``
    takes (it may be async). ``bad_recipients`` are inputs the adapter must
    reject before any I/O; ``text_limit`` is the longest text it accepts
    (``None`` when the provider has no limit). ``supports_delete`` says
    whether ``client.delete`` works (otherwise it must raise
    UnsupportedOperation). ``send_path``/``read_path`` select requests for
    fault injection and for counting what reached the wire.
    """

    name: str
    make_fake: Callable[[], FakeServer]
    peer: str
    seed_history: Callable[[Any, int], str | Awaitable[str]]
    bad_recipients: tuple[str, ...] = ()
    text_limit: int | None = None
    supports_delete: bool = True
    bad_session_ids: tuple[str, ...] = ("a/b", "..", "has space")
    send_path: str = ""
    """A regex matching the path of the request a send makes."""
    read_path: str = ""
    """A regex matching the path of the requests ``history()`` makes."""


def all_providers() -> list[ContractProvider]:
    """Every provider registered by a ``provider_*`` module."""
    found: list[ContractProvider] = []
    here = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda i: i.name):
        if info.name.startswith("provider_"):
            module = importlib.import_module(f"tests.contract.{info.name}")
            found.extend(module.PROVIDERS)
    return found
