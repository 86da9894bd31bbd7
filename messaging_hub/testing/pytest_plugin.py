"""pytest fixtures for code that uses messaging-hub: running fake providers.

Installed as a pytest plugin (entry point ``pytest11``), so a project's
own tests can ask for ``fake_netsapiens``, ``fake_ringcentral``,
``fake_textmagic`` or ``fake_mongooseim`` and get a running fake server
whose ``config`` goes straight into ``messaging_hub.connect``. The fixtures
are async (anyio plugin), so tests using them run under
``@pytest.mark.anyio``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .mongooseim import FakeMongooseIM
    from .netsapiens import FakeNetSapiens
    from .ringcentral import FakeRingCentral
    from .textmagic import FakeTextMagic


@pytest.fixture
async def fake_netsapiens() -> AsyncIterator[FakeNetSapiens]:
    """A running fake NetSapiens server."""
    from .netsapiens import FakeNetSapiens

    async with FakeNetSapiens() as fake:
        yield fake


@pytest.fixture
async def fake_ringcentral() -> AsyncIterator[FakeRingCentral]:
    """A running fake RingCentral server."""
    from .ringcentral import FakeRingCentral

    async with FakeRingCentral() as fake:
        yield fake


@pytest.fixture
async def fake_textmagic() -> AsyncIterator[FakeTextMagic]:
    """A running fake TextMagic server."""
    from .textmagic import FakeTextMagic

    async with FakeTextMagic() as fake:
        yield fake


@pytest.fixture
async def fake_mongooseim() -> AsyncIterator[FakeMongooseIM]:
    """A running fake MongooseIM server (GraphQL as the user)."""
    from .mongooseim import FakeMongooseIM

    async with FakeMongooseIM(api="graphql") as fake:
        yield fake
