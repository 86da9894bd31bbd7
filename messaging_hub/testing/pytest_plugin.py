"""pytest fixtures for code that uses messaging-hub: running fake providers.

Installed as a pytest plugin (entry point ``pytest11``), so a project's
own tests can ask for ``fake_netsapiens`` and get a running fake server.
The fixtures are async (anyio plugin), so tests using them run under
``@pytest.mark.anyio``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .netsapiens import FakeNetSapiens


@pytest.fixture
async def fake_netsapiens() -> AsyncIterator[FakeNetSapiens]:
    """A running fake NetSapiens server."""
    async with FakeNetSapiens() as fake:
        yield fake
