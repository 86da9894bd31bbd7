"""``raw`` built on first read (issue 11): the same typed objects as before."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import messaging_hub as mh
from messaging_hub.adapters.netsapiens.wire import Message as WireMessage
from messaging_hub.adapters.netsapiens.wire import converter
from messaging_hub.models import LazyRaw
from messaging_hub.testing.netsapiens import FakeNetSapiens

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _message(raw: Any) -> mh.Message:
    return mh.Message(id="1", session_id="s", provider="p", created_at=NOW, raw=raw)


def test_raw_is_built_once_on_first_read() -> None:
    built: list[dict[str, int]] = []

    def build(data: dict[str, int]) -> tuple[str, dict[str, int]]:
        built.append(data)
        return ("typed", data)

    message = _message(LazyRaw({"a": 1}, build))
    assert built == []
    assert message.raw == ("typed", {"a": 1})
    assert message.raw is message.raw
    assert built == [{"a": 1}]


def test_lazy_raw_keeps_equality_repr_pickling_and_evolve() -> None:
    lazy = _message(LazyRaw({"a": 1}, lambda d: ("typed", d)))
    plain = _message(("typed", {"a": 1}))
    assert lazy == plain and hash(lazy) == hash(plain)
    assert repr(lazy) == repr(plain) and "raw" not in repr(lazy)
    assert pickle.loads(pickle.dumps(_message(LazyRaw(1, str)))).raw == "1"  # noqa: S301
    assert attrs.evolve(_message(LazyRaw(2, str)), text="x").raw == "2"
    assert attrs.asdict(mh.Receipt(session_id="s", provider="p", raw=LazyRaw(3, str)))["raw"] == "3"
    assert mh.Receipt(session_id="s", provider="p", raw={"x": 1}).raw == {"x": 1}
    assert attrs.fields(mh.Message).raw.name == "raw"


async def test_netsapiens_history_raw_is_the_wire_message() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        sid = fake.seed_session(3)
        wire = await client.native.get_messages_for_messagesession(sid)
        messages = [m async for m in client.history(sid)]
        assert [m.raw for m in messages] == wire
        assert all(isinstance(m.raw, WireMessage) for m in messages)
        assert messages[0].raw == converter.structure(converter.unstructure(wire[0]), WireMessage)


async def test_ringcentral_receipt_raw_is_the_message_info() -> None:
    from messaging_hub.adapters.ringcentral import wire as rc
    from messaging_hub.testing import FakeRingCentral

    async with FakeRingCentral(rate_limiting=False) as fake, mh.connect(fake.config) as client:
        receipt = await client.send(mh.Outgoing(to=["+14155550123"], text="hello"))
        assert isinstance(receipt.raw, rc.MessageInfo)
        assert receipt.message_ids == (str(receipt.raw.id),)
        assert receipt.session_id == receipt.raw.conversation_key
        assert receipt.raw.to[0].phone_number == "+14155550123"


def test_slot_builder_makes_the_same_message_as_attrs() -> None:
    from messaging_hub.models import build_message

    fields = [f.name for f in attrs.fields(mh.Message)]
    values: list[Any] = ["1", "s", "p", NOW, mh.Direction.INBOUND, None, (), "x", ()]
    values += [mh.MessageStatus.SENT, mh.MessageKind.CHAT, LazyRaw({"a": 1}, str)]
    assert len(values) == len(fields)
    built, made = build_message(*values), mh.Message(*values)
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert built.raw == made.raw == "{'a': 1}"
    assert pickle.loads(pickle.dumps(built)) == made  # noqa: S301
