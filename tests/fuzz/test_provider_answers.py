"""Whatever a provider answers, users see results or messaging_hub errors.

Hypothesis feeds each adapter's history reader arbitrary JSON (and
arbitrary failure statuses with arbitrary bodies) through the fake server
over real HTTP; no KeyError, TypeError, JSON or aiohttp exception may come
out.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import messaging_hub as mh
from tests.contract.providers import ContractProvider, all_providers

PROVIDERS = all_providers()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "text",
                    "timestamp",
                    "messageTime",
                    "records",
                    "resources",
                    "data",
                    "errors",
                    "sender",
                    "body",
                    "paging",
                    "page",
                    "pageCount",
                    "stanza",
                    "code",
                    "message",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _read_with_answer(
    contract: ContractProvider, status: int, body: str, content_type: str
) -> None:
    async with contract.make_fake() as fake:
        result = contract.seed_history(fake, 3)
        session_id: Any = await result if not isinstance(result, str) else result
        config = {**fake.config, "max_attempts": 1}
        async with mh.connect(config) as client:
            fake.fail(
                status=status,
                body=body,
                content_type=content_type,
                path=contract.read_path,
                times=3,
            )
            try:
                async for message in client.history(session_id):
                    assert isinstance(message, mh.Message)
            except mh.MessagingError:
                pass


@pytest.mark.parametrize("contract", PROVIDERS, ids=[p.name for p in PROVIDERS])
@FUZZ
@given(value=json_values)
def test_any_json_success_body_is_handled(contract: ContractProvider, value: Any) -> None:
    anyio.run(_read_with_answer, contract, 200, json.dumps(value), "application/json")


@pytest.mark.parametrize("contract", PROVIDERS, ids=[p.name for p in PROVIDERS])
@FUZZ
@given(
    status=st.integers(min_value=400, max_value=599),
    body=st.one_of(json_values.map(json.dumps), st.text(max_size=40)),
)
def test_any_failure_is_a_provider_error(
    contract: ContractProvider, status: int, body: str
) -> None:
    async def check() -> None:
        async with contract.make_fake() as fake:
            result = contract.seed_history(fake, 1)
            session_id: Any = await result if not isinstance(result, str) else result
            async with mh.connect({**fake.config, "max_attempts": 1}) as client:
                fake.fail(status=status, body=body, path=contract.read_path, times=3)
                with pytest.raises(mh.ProviderError) as info:
                    [m async for m in client.history(session_id)]
                assert info.value.provider == client.provider

    anyio.run(check)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside decoded JSON."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _mutate(value: Any, path: tuple[Any, ...], replacement: Any, delete: bool) -> Any:
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _mutate(copy[head], rest, replacement, delete)
        return copy
    copy_list = list(value)
    copy_list[head] = _mutate(copy_list[head], rest, replacement, delete)
    return copy_list


@pytest.mark.parametrize("contract", PROVIDERS, ids=[p.name for p in PROVIDERS])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_subtly_wrong_answer_is_handled(contract: ContractProvider, data: st.DataObject) -> None:
    """The real answer with one field replaced by junk or removed."""

    def corrupt(decoded: Any) -> Any:
        paths = _paths(decoded)
        path = data.draw(st.sampled_from(paths), label="path")
        replacement = data.draw(json_values, label="replacement")
        return _mutate(decoded, path, replacement, data.draw(st.booleans(), label="delete"))

    async def check() -> None:
        async with contract.make_fake() as fake:
            result = contract.seed_history(fake, 3)
            session_id: Any = await result if not isinstance(result, str) else result
            async with mh.connect({**fake.config, "max_attempts": 1}) as client:
                fake.fail(transform=corrupt, path=contract.read_path)
                try:
                    async for message in client.history(session_id):
                        assert isinstance(message, mh.Message)
                        assert message.created_at.tzinfo is not None
                except mh.MessagingError:
                    pass
                assert fake.pending_faults == []  # the corrupted answer was read

    anyio.run(check)


@pytest.mark.parametrize("contract", PROVIDERS, ids=[p.name for p in PROVIDERS])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_subtly_wrong_send_answer_is_handled(
    contract: ContractProvider, data: st.DataObject
) -> None:
    """A send whose answer has one field replaced or removed."""

    def corrupt(decoded: Any) -> Any:
        path = data.draw(st.sampled_from(_paths(decoded)), label="path")
        replacement = data.draw(json_values, label="replacement")
        return _mutate(decoded, path, replacement, data.draw(st.booleans(), label="delete"))

    async def check() -> None:
        fake = contract.make_fake()
        async with fake, mh.connect({**fake.config, "max_attempts": 1}) as client:
            fake.fail(transform=corrupt, path=contract.send_path, method="POST")
            try:
                receipt = await client.send(mh.Outgoing(to=[contract.peer], text="hi"))
                assert isinstance(receipt.session_id, str) and receipt.session_id
            except mh.MessagingError:
                pass
            assert fake.pending_faults == []

    anyio.run(check)
