"""Shared test configuration: async tests run on asyncio through anyio.

Async test modules set ``pytestmark = pytest.mark.anyio``.
"""

from __future__ import annotations

import pytest

# pytester runs inner pytest sessions: the plugin is tested as users meet it.
pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """The library is built on aiohttp, so asyncio is the only backend."""
    return "asyncio"
