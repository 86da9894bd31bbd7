"""Shared test configuration: async tests run on asyncio through anyio.

Async test modules set ``pytestmark = pytest.mark.anyio``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """The library is built on aiohttp, so asyncio is the only backend."""
    return "asyncio"
