"""pytest fixtures for code that uses messaging-hub: running fake providers.

Installed as a pytest plugin (entry point ``pytest11``), so a project's
own tests can ask for ``fake_netsapiens``, ``fake_ringcentral``,
``fake_textmagic`` or ``fake_mongooseim`` and get a running fake server
whose ``config`` goes straight into ``messaging_hub.connect``::

    async def test_my_bot(fake_netsapiens):
        async with messaging_hub.connect(fake_netsapiens.config) as client:
            ...

The fixtures run on anyio's pytest plugin (installed with anyio): a test
that uses one must be ``async def``; it then runs on asyncio with or
without ``@pytest.mark.anyio``. A plain ``def`` test that asks for a fake
fails with a message saying so; on a trio parametrization (when trio is
installed) it is skipped, since the fakes and the library run on aiohttp,
which needs asyncio.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .mongooseim import FakeMongooseIM
    from .netsapiens import FakeNetSapiens
    from .ringcentral import FakeRingCentral
    from .textmagic import FakeTextMagic


def _require_async_test(request: pytest.FixtureRequest, anyio_backend: Any, name: str) -> None:
    backend = anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0]
    if backend != "asyncio":
        pytest.skip(f"{name} runs on asyncio (aiohttp), not on {backend}")
    test = getattr(request.node, "obj", None)
    inner = getattr(getattr(test, "hypothesis", None), "inner_test", test)
    if not inspect.iscoroutinefunction(inner):
        pytest.fail(
            f"{request.node.name} uses {name}, a running async fake server: write the test "
            "as 'async def' (it then runs on anyio's pytest plugin; @pytest.mark.anyio is "
            "optional)",
            pytrace=False,
        )


@pytest.fixture
async def fake_netsapiens(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeNetSapiens]:
    """A running fake NetSapiens server."""
    from .netsapiens import FakeNetSapiens

    _require_async_test(request, anyio_backend, "fake_netsapiens")
    async with FakeNetSapiens() as fake:
        yield fake


@pytest.fixture
async def fake_ringcentral(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeRingCentral]:
    """A running fake RingCentral server."""
    from .ringcentral import FakeRingCentral

    _require_async_test(request, anyio_backend, "fake_ringcentral")
    async with FakeRingCentral() as fake:
        yield fake


@pytest.fixture
async def fake_textmagic(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeTextMagic]:
    """A running fake TextMagic server."""
    from .textmagic import FakeTextMagic

    _require_async_test(request, anyio_backend, "fake_textmagic")
    async with FakeTextMagic() as fake:
        yield fake


@pytest.fixture
async def fake_mongooseim(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeMongooseIM]:
    """A running fake MongooseIM server: ``FakeMongooseIM()``, GraphQL as the user."""
    from .mongooseim import FakeMongooseIM

    _require_async_test(request, anyio_backend, "fake_mongooseim")
    async with FakeMongooseIM() as fake:
        yield fake
