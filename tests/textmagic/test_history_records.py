"""History pages give the same messages whether their records are read as
plain JSON or through the converter.

A page whose messages all hold the JSON types of ``MessageOut`` is mapped
from the decoded JSON; any other page is read by the converter first. Both
must give exactly what ``to_message`` of the converter's ``MessageOut``
gives, ``raw`` included, and fail the same way where they fail.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import messaging_hub as mh
from messaging_hub.adapters.textmagic import TextMagicAdapter
from messaging_hub.adapters.textmagic.wire import MessagePage, converter, plain_message_page
from messaging_hub.testing.textmagic import FakeTextMagic

from .._models import message_fields
from .._spec import SPECS

pytestmark = pytest.mark.anyio

EXAMPLE = SPECS / "textmagic/examples/get-session-messages.200.json"
MESSAGES = r"/api/v2/sessions/\d+/messages$"

ODD_PLAIN: list[dict[str, Any]] = [
    {"id": 1, "messageTime": "2024-05-01T10:00:00+00:00", "receiver": None, "phone": "447860021130",
     "sender": "", "fromNumber": "+447624800500", "text": None, "status": "x",
     "charsetLabel": "Voice", "sessionId": 9, "price": 1, "deleted": True,
     "session": None, "senderSource": {"id": 3}, "notInTheSpec": {"a": [1]}},
    {"id": 2, "messageTime": "2024-05-01 10:00:00", "receiver": "MyShop", "sender": "0123",
     "text": "hi", "status": "d", "sessionId": None},
]  # fmt: skip
# Each holds a value the converter converts: not plain.
ODD_TYPED: list[dict[str, Any]] = [
    {"id": "3", "messageTime": "2024-05-01T10:00:00Z", "text": 12},
    {"id": 4.0, "messageTime": "2024-05-01T10:00:00Z", "deleted": 0, "sessionId": "9"},
]
UNREADABLE_TIME: dict[str, Any] = {"id": 5, "messageTime": "yesterday", "text": "late"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTextMagic]:
    async with FakeTextMagic(rate_limit_per_second=None, deliver_after=None) as server:
        yield server


def _page(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"page": 1, "pageCount": 1, "limit": 100, "resources": records}


def _pages() -> list[tuple[str, dict[str, Any]]]:
    pages = [("odd-plain", _page(ODD_PLAIN)), ("odd-typed", _page(ODD_TYPED))]
    pages.append(("mixed", _page([*ODD_PLAIN, *ODD_TYPED])))
    if EXAMPLE.is_file():
        recorded = json.loads(EXAMPLE.read_text())
        # The example repeats one message: ids made distinct, or the walk drops the copy.
        resources = [{**r, "id": r["id"] + i} for i, r in enumerate(recorded["resources"])]
        pages.append(("recorded", {**recorded, "page": 1, "pageCount": 1, "resources": resources}))
    return pages


@pytest.mark.parametrize(("name", "page"), _pages(), ids=lambda v: v if isinstance(v, str) else "")
async def test_history_matches_the_typed_read(
    fake: FakeTextMagic, client: TextMagicAdapter, name: str, page: dict[str, Any]
) -> None:
    assert plain_message_page(page) is (name in ("odd-plain", "recorded"))
    sid = str(fake.seed_session(1).id)
    fake.fail(status=200, body=json.dumps(page).encode(), method="GET", path=MESSAGES)
    got = [m async for m in client.history(sid, follow_ups=False)]
    structured = converter.structure(page, MessagePage).resources
    expected = [client.to_message(m, sid) for m in structured]
    assert len(got) == len(page["resources"])
    assert [message_fields(m) for m in got] == [message_fields(m) for m in expected]


@pytest.mark.parametrize("plain", [True, False], ids=["plain", "typed"])
async def test_an_unreadable_time_fails_at_that_message(
    fake: FakeTextMagic, client: TextMagicAdapter, plain: bool
) -> None:
    records = [ODD_PLAIN[1], UNREADABLE_TIME, ODD_PLAIN[0]]
    if not plain:
        records.append(ODD_TYPED[0])
    page = _page(records)
    assert plain_message_page(page) is plain
    sid = str(fake.seed_session(1).id)
    fake.fail(status=200, body=json.dumps(page).encode(), method="GET", path=MESSAGES)
    got: list[mh.Message] = []

    async def walk() -> None:
        async for message in client.history(sid, follow_ups=False):
            got.append(message)

    with pytest.raises(mh.errors.MalformedResponse) as failure:
        await walk()
    assert [m.id for m in got] == ["2"]  # the messages before it were yielded
    assert str(failure.value) == "[textmagic] message 5 has no readable messageTime ('yesterday')"
