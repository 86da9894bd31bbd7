"""Hostile answers from every provider's fake: nested JSON, oversize bodies,
unreadable answers to a send, and malformed base URLs.

Run for every provider and API (the contract list), so no adapter is left out.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.testing import FakeServer

from ..contract.providers import ContractProvider, all_providers

pytestmark = pytest.mark.anyio

PROVIDERS = all_providers()
DEEP = 100_000
NESTED = "[" * DEEP + "]" * DEEP
NESTED_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def contract(request: pytest.FixtureRequest) -> ContractProvider:
    """One provider's contract description."""
    provider: ContractProvider = request.param
    return provider


@pytest.fixture
async def fake(contract: ContractProvider) -> AsyncIterator[FakeServer]:
    """The provider's fake, running."""
    async with contract.make_fake() as server:
        yield server


async def _seed(contract: ContractProvider, fake: FakeServer, count: int) -> str:
    result = contract.seed_history(fake, count)
    return await result if inspect.isawaitable(result) else result


def _sends(contract: ContractProvider, fake: FakeServer) -> int:
    return len(fake.requests_to("POST", contract.send_path))


@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECT], ids=["lists", "objects"])
async def test_deeply_nested_json_in_a_read_is_malformed_response(
    contract: ContractProvider, fake: FakeServer, body: str
) -> None:
    session_id = await _seed(contract, fake, 2)
    async with mh.connect({**fake.config, "max_attempts": 1}) as client:
        fake.fail(status=200, body=body, method="GET", path=contract.read_path, times=5)
        if contract.name == "mongooseim-graphql":
            fake.clear_faults()  # GraphQL reads are POSTs to one endpoint
            fake.fail(status=200, body=body, path=contract.read_path, times=5)
        with anyio.fail_after(10), pytest.raises(mh.MalformedResponse):
            [m async for m in client.history(session_id)]


@pytest.mark.parametrize("status", [400, 401, 500])
async def test_deeply_nested_json_in_an_error_keeps_the_status_type(
    contract: ContractProvider, fake: FakeServer, status: int
) -> None:
    async with mh.connect({**fake.config, "max_attempts": 1}) as client:
        fake.fail(status=status, body=NESTED, path=contract.send_path, times=5)
        with anyio.fail_after(10), pytest.raises(mh.ProviderError) as info:
            await client.send(mh.Outgoing(to=[contract.peer], text="deep"))
        expected = {
            400: mh.BadRequest,
            401: mh.AuthenticationError,
            500: mh.ProviderUnavailable,
        }[status]
        assert isinstance(info.value, expected), repr(info.value)
        str(info.value), repr(info.value), repr(info.value.details)  # none may blow up


async def test_error_details_nested_below_the_recursion_limit_stay_printable(
    contract: ContractProvider, fake: FakeServer
) -> None:
    deep = "[" * 900 + '"x"' + "]" * 900
    body = f'{{"message": {deep}, "errors": {deep}, "code": {deep}, "error": {deep}}}'
    async with mh.connect({**fake.config, "max_attempts": 1}) as client:
        fake.fail(status=400, body=body, path=contract.send_path)
        with pytest.raises(mh.ProviderError) as info:
            await client.send(mh.Outgoing(to=[contract.peer], text="deep"))
        text = str(info.value) + repr(info.value) + repr(info.value.details)
        assert len(text) < 100_000


async def test_an_answer_over_max_response_bytes_is_malformed(
    contract: ContractProvider, fake: FakeServer
) -> None:
    session_id = await _seed(contract, fake, 2)
    huge = '["' + "x" * 200_000 + '"]'
    async with mh.connect({**fake.config, "max_attempts": 1, "max_response_bytes": 65536}) as c:
        fake.fail(status=200, body=huge, path=contract.read_path, times=5)
        with pytest.raises(mh.MalformedResponse, match="max_response_bytes"):
            [m async for m in c.history(session_id)]


@pytest.mark.parametrize(
    "fault",
    [
        {"body": "<html><body>Accepted</body></html>", "content_type": "text/html"},
        {"body": '{"id": "12', "content_type": "application/json"},
        {"body": "[[[[", "content_type": "application/json"},
    ],
    ids=["html", "bad-json", "unclosed"],
)
async def test_a_send_answered_2xx_but_unreadable_may_have_been_processed(
    contract: ContractProvider, fake: FakeServer, fault: dict[str, Any]
) -> None:
    async with mh.connect({**fake.config, "max_attempts": 3}) as client:
        fake.fail(status=200, after=True, method="POST", path=contract.send_path, **fault)
        outgoing = mh.Outgoing(to=[contract.peer], text="maybe")
        if contract.name == "mongooseim-admin-rest":
            # Admin REST answers a send with 204 and no body: nothing to read.
            assert (await client.send(outgoing)).provider == client.provider
        else:
            with pytest.raises(mh.MalformedResponse) as info:
                await client.send(outgoing)
            assert info.value.may_have_been_processed is True
        assert _sends(contract, fake) == 1  # never resent


async def test_a_send_answered_2xx_then_cut_off_may_have_been_processed(
    contract: ContractProvider, fake: FakeServer
) -> None:
    async with mh.connect({**fake.config, "max_attempts": 3}) as client:
        fake.fail(status=200, after=True, truncate=True, body='{"id": 1', path=contract.send_path)
        with pytest.raises(mh.ProviderError) as info:
            await client.send(mh.Outgoing(to=[contract.peer], text="maybe"))
        assert getattr(info.value, "may_have_been_processed", None) is True
        assert _sends(contract, fake) == 1


async def test_the_hub_does_not_fail_over_after_an_unreadable_send_answer(
    contract: ContractProvider,
) -> None:
    async with contract.make_fake() as first, contract.make_fake() as second:
        hub = mh.Hub.from_config(
            {
                "accounts": {"main": first.config, "backup": second.config},
                "default": "main",
                "failover": ["backup"],
            }
        )
        async with hub:
            first.fail(
                status=200,
                after=True,
                method="POST",
                path=contract.send_path,
                body="<html>ok?</html>",
                content_type="text/html",
            )
            outgoing = mh.Outgoing(to=[contract.peer], text="once")
            if contract.name == "mongooseim-admin-rest":
                await hub.send(outgoing)  # 204: the body is never read
            else:
                with pytest.raises(mh.MalformedResponse) as info:
                    await hub.send(outgoing)
                assert info.value.may_have_been_processed
            assert _sends(contract, first) == 1
            assert _sends(contract, second) == 0


@pytest.mark.parametrize(
    "suffix",
    ["\r\nX-Injected: 1", "?debug=1", "#frag", " ", "\x00"],
    ids=["crlf", "query", "fragment", "space", "nul"],
)
async def test_a_malformed_base_url_is_a_config_error_naming_it(
    fake: FakeServer, suffix: str
) -> None:
    config = {**fake.config}
    config["base_url"] = str(config.get("base_url") or fake.origin) + suffix
    with pytest.raises(mh.ConfigError) as info:
        mh.connect(config)
    assert info.value.key == "base_url"
    assert "\r" not in str(info.value) and "\x00" not in str(info.value)
    assert fake.requests == []


async def test_a_base_url_with_credentials_is_refused_without_echoing_them(
    fake: FakeServer,
) -> None:
    origin = fake.origin.replace("http://", "http://admin:hunter2secret@")
    base = str(fake.config.get("base_url") or fake.origin).replace(fake.origin, origin)
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake.config, "base_url": base})
    assert info.value.key == "base_url"
    assert "hunter2secret" not in str(info.value) + repr(info.value)


@pytest.mark.parametrize("bad", ["//media.example", "https://u:p@media.example", "ftp://m.example"])
async def test_ringcentral_media_base_url_follows_the_base_url_rules(
    fake_ringcentral: FakeServer, bad: str
) -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake_ringcentral.config, "media_base_url": bad})
    assert info.value.key == "media_base_url"
