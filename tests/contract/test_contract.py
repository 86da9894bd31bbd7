"""The contract every adapter honours, run against each provider's fake.

What a user observes: a send gives a receipt whose session continues the
conversation; sessions and history page transparently, newest first, each
item once, capped by ``limit``; bad input fails before any request; errors
are typed; closed clients refuse reuse.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import aiohttp
import pytest

import messaging_hub as mh
from messaging_hub.testing import FakeServer

from .providers import ContractProvider, all_providers

pytestmark = pytest.mark.anyio

PROVIDERS = all_providers()


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


@pytest.fixture
async def client(fake: FakeServer) -> AsyncIterator[mh.Adapter[object]]:
    """A client connected to the fake with ``fake.config`` as it is."""
    async with mh.connect(fake.config) as connected:
        yield connected


async def _seed(contract: ContractProvider, fake: FakeServer, count: int) -> str:
    result = contract.seed_history(fake, count)
    if inspect.isawaitable(result):
        return await result
    return result


def _count(fake: FakeServer, path_regex: str) -> int:
    return len(
        [r for r in fake.requests if path_regex and __import__("re").search(path_regex, r.path)]
    )


async def test_send_then_history_shows_the_message(
    contract: ContractProvider, client: mh.Adapter[object]
) -> None:
    receipt = await client.send(mh.Outgoing(to=[contract.peer], text="hello contract"))
    assert receipt.session_id
    assert receipt.provider == client.provider
    texts = [m.text async for m in client.history(receipt.session_id, limit=5)]
    assert "hello contract" in texts


async def test_receipt_session_continues_the_conversation(
    contract: ContractProvider, client: mh.Adapter[object]
) -> None:
    first = await client.send(mh.Outgoing(to=[contract.peer], text="first"))
    second = await client.send(
        mh.Outgoing(to=[contract.peer], text="second", session_id=first.session_id)
    )
    assert second.session_id == first.session_id
    texts = [m.text async for m in client.history(first.session_id)]
    assert texts.index("second") < texts.index("first")  # newest first


async def test_sessions_include_the_new_conversation(
    contract: ContractProvider, client: mh.Adapter[object]
) -> None:
    receipt = await client.send(mh.Outgoing(to=[contract.peer], text="find me"))
    sessions = [s async for s in client.sessions(limit=50)]
    assert receipt.session_id in {s.id for s in sessions}
    found = next(s for s in sessions if s.id == receipt.session_id)
    assert found.provider == client.provider
    assert found.last_activity is None or found.last_activity.tzinfo is not None


async def test_history_pages_newest_first_each_message_once(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    session_id = await _seed(contract, fake, 230)
    messages = [m async for m in client.history(session_id)]
    assert len(messages) == 230
    assert len({m.id for m in messages}) == 230
    stamps = [m.created_at for m in messages]
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s in stamps)
    assert stamps == sorted(stamps, reverse=True)
    assert all(
        m.created_at.tzinfo == UTC or m.created_at.utcoffset() == timedelta(0) for m in messages
    )


async def test_limit_caps_what_is_yielded(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    session_id = await _seed(contract, fake, 30)
    newest = [m async for m in client.history(session_id, limit=7)]
    everything = [m async for m in client.history(session_id)]
    assert len(newest) == 7
    assert [m.id for m in newest] == [m.id for m in everything[:7]]


async def test_delete_removes_the_conversation_or_is_unsupported(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    receipt = await client.send(mh.Outgoing(to=[contract.peer], text="to be deleted"))
    if not contract.supports_delete:
        before = len(fake.requests)
        assert mh.Capability.DELETE not in client.capabilities
        with pytest.raises(mh.UnsupportedOperation) as info:
            await client.delete(receipt.session_id)
        assert info.value.provider == client.provider
        assert len(fake.requests) == before
        return
    await client.delete(receipt.session_id)
    assert receipt.session_id not in {s.id async for s in client.sessions()}


async def test_bad_recipients_fail_before_any_request(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    before = len(fake.requests)
    for bad in (*contract.bad_recipients, []):
        with pytest.raises(mh.InvalidRequest):
            await client.send(mh.Outgoing(to=bad, text="x"))
    assert len(fake.requests) == before


async def test_text_over_the_limit_fails_before_any_request(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    if contract.text_limit is None:
        pytest.skip("the provider documents no text limit")
    before = len(fake.requests)
    with pytest.raises(mh.InvalidRequest) as info:
        await client.send(mh.Outgoing(to=[contract.peer], text="x" * (contract.text_limit + 1)))
    assert info.value.field == "text"
    assert len(fake.requests) == before


async def test_bad_session_ids_fail_before_any_request(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    before = len(fake.requests)
    for bad in contract.bad_session_ids:
        with pytest.raises(mh.InvalidRequest):
            client.history(bad)
        with pytest.raises(mh.InvalidRequest):
            await client.send(mh.Outgoing(to=[contract.peer], text="x", session_id=bad))
        if contract.supports_delete:
            with pytest.raises(mh.InvalidRequest):
                await client.delete(bad)
    with pytest.raises(mh.InvalidRequest):
        client.sessions(limit=0)
    with pytest.raises(mh.InvalidRequest):
        client.sessions(no_such_filter=True)
    assert len(fake.requests) == before


async def test_closed_client_refuses_reuse(fake: FakeServer, contract: ContractProvider) -> None:
    client = mh.connect(fake.config)
    async with client:
        await client.send(mh.Outgoing(to=[contract.peer], text="once"))
    assert client.closed
    before = len(fake.requests)
    with pytest.raises(mh.ClientClosed):
        await client.send(mh.Outgoing(to=[contract.peer], text="twice"))
    with pytest.raises(mh.ClientClosed):
        client.sessions()
    with pytest.raises(mh.ClientClosed):
        async with client:
            pass
    assert len(fake.requests) == before
    await client.aclose()  # closing twice is harmless


async def test_caller_owned_session_is_left_open(
    fake: FakeServer, contract: ContractProvider
) -> None:
    async with aiohttp.ClientSession() as session:
        async with mh.connect(fake.config, session=session) as client:
            await client.send(mh.Outgoing(to=[contract.peer], text="shared session"))
        assert not session.closed


async def test_connect_rejects_unknown_options(fake: FakeServer) -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake.config, "no_such_option": 1})
    assert info.value.key == "no_such_option"


async def test_secrets_stay_out_of_reprs(fake: FakeServer) -> None:
    client = mh.connect(fake.config)
    async with client:
        shown = repr(client) + repr(client.native) + repr(getattr(client, "options", ""))
    for key, value in fake.config.items():
        if any(word in key for word in ("token", "key", "secret", "password", "jwt")):
            assert str(value) not in shown


async def test_server_error_on_read_is_retried(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    session_id = await _seed(contract, fake, 3)
    fake.fail(
        status=503, body="<html>busy</html>", content_type="text/html", path=contract.read_path
    )
    messages = [m async for m in client.history(session_id)]
    assert len(messages) == 3


async def test_rate_limit_with_retry_after_is_honoured(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    fake.fail(status=429, headers={"Retry-After": "0"}, body="{}", path=contract.send_path)
    receipt = await client.send(mh.Outgoing(to=[contract.peer], text="after 429"))
    assert "after 429" in [m.text async for m in client.history(receipt.session_id, limit=3)]


async def test_persistent_outage_is_a_typed_error(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    session_id = await _seed(contract, fake, 2)
    fake.fail(
        status=502,
        body="<html>bad gateway</html>",
        content_type="text/html",
        path=contract.read_path,
        times=10,
    )
    with pytest.raises(mh.ProviderUnavailable) as info:
        [m async for m in client.history(session_id)]
    assert info.value.status == 502
    assert info.value.provider == client.provider


async def test_reset_during_send_is_not_resent(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    fake.fail(reset=True, path=contract.send_path, method="POST", after=True)
    before = _count(fake, contract.send_path)
    with pytest.raises(mh.ProviderUnavailable) as info:
        await client.send(mh.Outgoing(to=[contract.peer], text="maybe delivered"))
    assert info.value.may_have_been_processed
    assert _count(fake, contract.send_path) == before + 1


async def test_malformed_success_body_is_a_typed_error(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    session_id = await _seed(contract, fake, 2)
    fake.fail(
        status=200,
        body="<html>login page</html>",
        content_type="text/html",
        path=contract.read_path,
    )
    with pytest.raises(mh.MalformedResponse):
        [m async for m in client.history(session_id)]


async def test_truncated_body_is_a_typed_error(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    session_id = await _seed(contract, fake, 2)
    fake.fail(status=200, body='[{"id": 1, "tex', truncate=True, path=contract.read_path, times=10)
    with pytest.raises(mh.ProviderError):
        [m async for m in client.history(session_id)]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, mh.AuthenticationError),
        (403, mh.PermissionDenied),
        (404, mh.NotFound),
        (409, mh.Conflict),
        (422, mh.BadRequest),
    ],
)
async def test_error_statuses_become_typed_errors(
    contract: ContractProvider,
    fake: FakeServer,
    client: mh.Adapter[object],
    status: int,
    expected: type[mh.ProviderError],
) -> None:
    session_id = await _seed(contract, fake, 2)
    fake.fail(status=status, body='{"message": "refused"}', path=contract.read_path, times=5)
    with pytest.raises(expected) as info:
        [m async for m in client.history(session_id)]
    assert info.value.status == status
    assert info.value.provider == client.provider


async def test_a_stalled_provider_times_out_with_a_typed_error(
    contract: ContractProvider, fake: FakeServer
) -> None:
    session_id = await _seed(contract, fake, 2)
    async with mh.connect({**fake.config, "timeout": 0.3, "max_attempts": 1}) as client:
        fake.fail(delay=2.0, status=200, body="[]", path=contract.read_path)
        with pytest.raises(mh.ProviderUnavailable) as info:
            [m async for m in client.history(session_id)]
        assert "timed out" in info.value.message


async def test_a_429_in_the_middle_of_paging_loses_nothing(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    session_id = await _seed(contract, fake, 230)
    pages = client.history(session_id)
    first = await pages.__anext__()
    fake.fail(status=429, headers={"Retry-After": "0"}, body="{}", path=contract.read_path)
    rest = [m async for m in pages]
    assert fake.pending_faults == []  # the 429 hit a later page, mid-way
    ids = [first.id, *(m.id for m in rest)]
    assert len(ids) == len(set(ids)) == 230


async def test_ids_with_a_newline_or_foreign_digits_never_reach_the_server(
    contract: ContractProvider, fake: FakeServer, client: mh.Adapter[object]
) -> None:
    receipt = await client.send(mh.Outgoing(to=[contract.peer], text="real"))
    before = len(fake.requests)
    # Arabic-Indic digits pass str.isdigit() and int(); a trailing newline
    # passes a "^...$" pattern. Neither is a valid id anywhere.
    for bad in (receipt.session_id + "\n", "\u0661\u0662\u0663"):
        with pytest.raises(mh.InvalidRequest):
            client.history(bad)
        if contract.supports_delete:
            with pytest.raises(mh.InvalidRequest):
                await client.delete(bad)
    assert len(fake.requests) == before


async def test_refused_credentials_never_echo_the_secret(
    contract: ContractProvider, fake: FakeServer
) -> None:
    secret_keys = [
        k for k in fake.config if any(w in k for w in ("token", "key", "secret", "password", "jwt"))
    ]
    if not secret_keys:
        pytest.skip("this configuration carries no secret")
    wrong = "WRONG-s3cret-value-0123456789"
    config = {**fake.config, **dict.fromkeys(secret_keys, wrong)}
    async with mh.connect(config) as client:
        with pytest.raises(mh.ProviderError) as info:
            await client.send(mh.Outgoing(to=[contract.peer], text="x"))
    error = info.value
    assert isinstance(error, mh.AuthenticationError | mh.PermissionDenied)
    shown = f"{error} {error!r} {error.details!r} {error.message}"
    assert wrong not in shown
