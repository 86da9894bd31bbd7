"""Fixtures shared by the RingCentral tests: a fake without server-side
throttling (pacing has its own tests) and a client connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.testing.ringcentral import FakeRingCentral


@pytest.fixture
async def fake() -> AsyncIterator[FakeRingCentral]:
    async with FakeRingCentral(rate_limiting=False) as server:
        yield server


@pytest.fixture
async def client(fake: FakeRingCentral) -> AsyncIterator[RingCentralAdapter]:
    async with mh.connect(fake.config) as connected:
        assert isinstance(connected, RingCentralAdapter)
        yield connected
