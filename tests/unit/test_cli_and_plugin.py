"""The command line demo, the pytest plugin fixture, and secret-free logs."""

from __future__ import annotations

import logging

import pytest

import messaging_hub as mh
from messaging_hub.cli import main
from messaging_hub.testing import FakeServer
from messaging_hub.testing.netsapiens import FakeNetSapiens


def test_demo_runs_the_four_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for step in ("1. send", "2. sessions", "3. history", "4. delete"):
        assert step in out
    assert "Hello from messaging-hub" in out
    assert "deleted; 0 session(s) left" in out


@pytest.mark.parametrize("provider", ["ringcentral", "textmagic", "mongooseim"])
def test_demo_runs_on_every_fake(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--provider", provider]) == 0
    out = capsys.readouterr().out
    assert "4. delete" in out
    assert "Demo finished" in out


def test_providers_lists_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    for name in ("netsapiens", "ringcentral", "textmagic", "mongooseim"):
        assert name in out


@pytest.mark.anyio
async def test_plugin_fixture_serves_a_fake(fake_netsapiens: FakeNetSapiens) -> None:
    async with mh.connect(fake_netsapiens.config) as client:
        receipt = await client.send(mh.Outgoing(to=["1004"], text="from the fixture"))
    assert receipt.session_id in fake_netsapiens.sessions["1000"]


@pytest.mark.anyio
async def test_every_plugin_fixture_connects(
    fake_netsapiens: FakeNetSapiens,
    fake_ringcentral: FakeServer,
    fake_textmagic: FakeServer,
    fake_mongooseim: FakeServer,
) -> None:
    for fake in (fake_netsapiens, fake_ringcentral, fake_textmagic, fake_mongooseim):
        async with mh.connect(fake.config) as client:
            assert mh.Capability.SEND in client.capabilities
            assert client.provider == fake.provider


@pytest.mark.anyio
async def test_debug_logs_never_contain_credentials(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeNetSapiens() as fake:
        async with mh.connect(fake.password_config) as client:
            await client.send(mh.Outgoing(to=["1004"], text="logged"))
            fake.expire_tokens()
            _ = [s async for s in client.sessions()]
        secrets = [fake.client_secret, fake.users["1000"][1]]
        secrets += list(fake._grants)  # issued access tokens
    assert caplog.records, "the transport logs each request at DEBUG"
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in text
