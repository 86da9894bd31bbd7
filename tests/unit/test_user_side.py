"""What a new user meets first: error texts, option typos, env and TOML config, the Hub."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import messaging_hub as mh
from messaging_hub.testing import FakeNetSapiens, FakeServer, FakeTextMagic

pytestmark = pytest.mark.anyio


async def test_bad_request_message_lists_the_providers_field_errors() -> None:
    async with FakeTextMagic() as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.BadRequest) as info:
            await client.send(
                mh.Outgoing(to=["+447860021130"], text="hi", sender=mh.Address.user("ACME"))
            )
    assert "from: Sender ID 'ACME' is not allowed" in info.value.message
    assert info.value.field_errors["from"]  # still there, structured


async def test_an_error_without_a_message_says_what_the_status_means_once(
    fake_netsapiens: FakeServer,
) -> None:
    async with mh.connect({**fake_netsapiens.config, "max_attempts": 1}) as client:
        fake_netsapiens.fail(status=503, body=b"", path="/messagesessions")
        with pytest.raises(mh.ProviderUnavailable) as info:
            [s async for s in client.sessions()]
    assert str(info.value) == "[netsapiens] Service Unavailable (HTTP 503)"


def test_an_unknown_option_suggests_the_closest_one() -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", base_url="https://pbx.example/ns-api/v2", acess_token="t")
    assert info.value.key == "acess_token"
    assert "did you mean 'access_token'?" in str(info.value)


def test_an_unknown_option_with_no_close_match_lists_the_known_ones() -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", base_url="https://pbx.example/ns-api/v2", zzz="1")
    assert "known: " in str(info.value) and "access_token" in str(info.value)


def test_mapping_options_come_from_the_environment_as_json() -> None:
    env = {
        "MESSAGING_HUB_PROVIDER": "ringcentral",
        "MESSAGING_HUB_CLIENT_ID": "id",
        "MESSAGING_HUB_CLIENT_SECRET": "[not json, a secret]",
        "MESSAGING_HUB_JWT": "a.b.c",
        "MESSAGING_HUB_RATE_LIMITS": '{"Medium": [40, 60]}',
    }
    options = mh.connect("ringcentral", **mh.from_env(env)).options
    assert options.rate_limits == {"Medium": (40, 60.0)}
    # A string option keeps its text even when it looks like JSON.
    assert options.client_secret is not None
    assert options.client_secret.reveal() == "[not json, a secret]"


def test_invalid_json_for_a_mapping_option_names_it() -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect(
            "ringcentral", client_id="i", client_secret="s", jwt="j", rate_limits="{Medium: 1"
        )
    assert info.value.key == "rate_limits"


async def test_hub_from_toml_with_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeNetSapiens() as main, FakeNetSapiens() as backup:
        monkeypatch.setenv("MAIN_TOKEN", str(main.config["access_token"]))
        path = tmp_path / "hub.toml"
        lines = ['default = "main"', 'failover = ["backup"]']
        for name, fake in (("main", main), ("backup", backup)):
            lines.append(f"[accounts.{name}]")
            for key, value in fake.config.items():
                if key == "access_token" and name == "main":
                    lines.append('access_token = { env = "MAIN_TOKEN" }')
                else:
                    lines.append(f"{key} = {value!r}".replace("'", '"'))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        async with mh.Hub.from_toml(path) as hub:
            first = await hub.send(mh.Outgoing(to=["1004"], text="via main"))
            assert first.account == "main"
            # Refused with a long Retry-After: provably not sent, so the Hub fails over.
            main.fail(status=429, headers={"Retry-After": "3600"}, method="POST", path="/messages$")
            second = await hub.send(mh.Outgoing(to=["1004"], text="via backup"))
            assert second.account == "backup"


def test_hub_from_toml_names_a_missing_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[accounts.a]\nprovider = "netsapiens"\nbase_url = "https://p.example/ns-api/v2"\n'
        'access_token = { env = "MH_TEST_SURELY_UNSET" }\n',
        encoding="utf-8",
    )
    with pytest.raises(mh.ConfigError, match="MH_TEST_SURELY_UNSET"):
        mh.Hub.from_toml(path)


async def test_a_bare_client_receipt_has_no_account(fake_netsapiens: FakeServer) -> None:
    async with mh.connect(fake_netsapiens.config) as client:
        receipt = await client.send(mh.Outgoing(to=["1004"], text="bare"))
    assert receipt.account is None


async def test_trace_configs_see_every_request(fake_netsapiens: FakeServer) -> None:
    seen: list[str] = []

    async def on_start(session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append(f"{params.method} {params.url.path}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with mh.connect({**fake_netsapiens.config, "trace_configs": [trace]}) as client:
        await client.send(mh.Outgoing(to=["1004"], text="traced"))
    assert any(s.startswith("POST ") and s.endswith("/messages") for s in seen)


def test_trace_configs_must_be_trace_configs() -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect(
            "netsapiens",
            base_url="https://p.example/ns-api/v2",
            access_token="t",
            trace_configs=["not a trace config"],
        )
    assert info.value.key == "trace_configs"


async def test_retries_and_pacing_are_logged_with_structured_fields(
    fake_ringcentral: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="messaging_hub.transport")
    config = {**fake_ringcentral.config, "rate_limits": {"Light": [1, 0.3]}}
    async with mh.connect(config) as client:
        fake_ringcentral.fail(status=503, method="GET", path="/message-store$")
        [s async for s in client.sessions(limit=1)]
        [s async for s in client.sessions(limit=1)]
    events = {getattr(r, "event", None): r for r in caplog.records}
    retry = events["retry"]
    assert vars(retry)["provider"] == "ringcentral"
    assert vars(retry)["http_method"] == "GET"
    assert vars(retry)["attempt"] == 2
    assert "503" in vars(retry)["reason"]
    wait = events["rate_limit_wait"]
    assert vars(wait)["rate_group"] == "Light"
    assert vars(wait)["waited"] > 0


async def test_native_as_narrows_a_hub_account(fake_netsapiens: FakeServer) -> None:
    from messaging_hub.adapters.netsapiens import NetSapiensAPI
    from messaging_hub.adapters.ringcentral import RingCentralAPI

    async with mh.Hub.from_config({"accounts": {"pbx": fake_netsapiens.config}}) as hub:
        api = hub["pbx"].native_as(NetSapiensAPI)
        assert isinstance(api, NetSapiensAPI)
        with pytest.raises(mh.UnsupportedOperation, match="NetSapiensAPI"):
            hub["pbx"].native_as(RingCentralAPI)
