"""Hub: named accounts, failover only when nothing was sent, broadcast."""

from __future__ import annotations

import pytest

import messaging_hub as mh
from messaging_hub.hub import Hub
from messaging_hub.testing.netsapiens import FakeNetSapiens

pytestmark = pytest.mark.anyio

MESSAGE = mh.Outgoing(to=["1004"], text="hub")


async def test_failover_when_the_default_is_unreachable() -> None:
    async with FakeNetSapiens() as backup:
        down = FakeNetSapiens()
        await down.start()
        down_config = down.config
        await down.stop()  # its port now refuses connections
        config = {
            "default": "primary",
            "failover": ["backup"],
            "accounts": {"primary": {**down_config, "max_attempts": 1}, "backup": backup.config},
        }
        async with Hub.from_config(config) as hub:
            receipt = await hub.send(MESSAGE)
            assert receipt.session_id in backup.sessions["1000"]
            assert sorted(hub) == ["backup", "primary"]
            assert "primary=netsapiens" in repr(hub)


async def test_no_failover_when_the_message_may_have_gone_out() -> None:
    async with FakeNetSapiens() as primary, FakeNetSapiens() as backup:
        primary.fail(reset=True, after=True, method="POST", path="/messages$")
        hub = Hub.from_config(
            {"failover": ["backup"], "accounts": {"a": primary.config, "backup": backup.config}}
        )
        async with hub:
            with pytest.raises(mh.ProviderUnavailable):
                await hub.send(MESSAGE)
        assert backup.requests == []
        assert len(next(iter(primary.sessions["1000"].values())).messages) == 1


async def test_broadcast_reports_each_account() -> None:
    async with FakeNetSapiens() as one, FakeNetSapiens() as two:
        two.fail(status=403, body='{"code": 403, "message": "no"}', times=5)
        async with Hub.from_config({"accounts": {"one": one.config, "two": two.config}}) as hub:
            results = await hub.broadcast(MESSAGE)
            assert isinstance(results["one"], mh.Receipt)
            assert isinstance(results["two"], mh.PermissionDenied)
            with pytest.raises(mh.ConfigError):
                await hub.broadcast(MESSAGE, accounts=["nobody"])
            with pytest.raises(mh.ConfigError):
                await hub.send(MESSAGE, account="nobody")


def test_hub_config_errors_name_the_key() -> None:
    with pytest.raises(mh.ConfigError) as info:
        Hub.from_config({"accounts": {}})
    assert info.value.key == "accounts"
    with pytest.raises(mh.ConfigError) as info:
        Hub.from_config({"accounts": {"a": {"provider": "netsapiens"}}})
    assert info.value.key == "base_url"
    assert "account 'a'" in str(info.value)
    with pytest.raises(mh.ConfigError) as info:
        Hub.from_config(
            {
                "default": "b",
                "accounts": {
                    "a": {"provider": "netsapiens", "base_url": "https://x", "access_token": "t"}
                },
            }
        )
    assert info.value.key == "b"


def test_hub_failover_must_be_a_list_of_names() -> None:
    account = {"provider": "netsapiens", "base_url": "https://x", "access_token": "t"}
    for bad in ("backup", [1]):
        with pytest.raises(mh.ConfigError) as info:
            Hub.from_config({"failover": bad, "accounts": {"a": account, "backup": account}})
        assert info.value.key == "failover"
