"""Shared test configuration: async tests run on asyncio through anyio.

Async test modules set ``pytestmark = pytest.mark.anyio``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from messaging_hub.testing.redis_server import RedisServer, redis_server_binary

# pytester runs inner pytest sessions: the plugin is tested as users meet it.
pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """The library is built on aiohttp, so asyncio is the only backend."""
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real ``redis-server`` on a free loopback port for the whole run.

    Tests marked ``redis`` use it; without the binary they are skipped
    with the reason (CI installs it, so there they always run).
    """
    if redis_server_binary() is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI_REQUIRE_REDIS"):
            pytest.fail(f"{reason}, and CI_REQUIRE_REDIS is set (CI)")
        pytest.skip(reason)
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of the test Redis, emptied after each test."""
    yield redis_server.url
    if redis_server._process is None:  # a test stopped it: bring it back
        redis_server.start()
    redis_server.resume()
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        sock.recv(16)
