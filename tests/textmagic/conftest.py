"""Fixtures shared by the TextMagic tests (each module brings its own ``fake``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import messaging_hub as mh
from messaging_hub.adapters.textmagic import TextMagicAdapter
from messaging_hub.testing.textmagic import FakeTextMagic


@pytest.fixture
async def client(fake: FakeTextMagic) -> AsyncIterator[TextMagicAdapter]:
    """An adapter connected to the fake."""
    async with mh.connect(fake.config) as connected:
        assert isinstance(connected, TextMagicAdapter)
        yield connected
