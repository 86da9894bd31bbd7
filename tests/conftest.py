"""Shared test configuration: every async test runs on asyncio via anyio."""

from __future__ import annotations

import inspect

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """The library is built on aiohttp, so asyncio is the only backend."""
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every coroutine test for the anyio plugin."""
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            item.add_marker(pytest.mark.anyio)
