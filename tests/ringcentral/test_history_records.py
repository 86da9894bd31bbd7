"""History pages give the same messages whether their records are read as
plain JSON or through the converter.

A page whose records all hold the JSON types of ``MessageInfo`` is mapped
from the decoded JSON; any other page is read by the converter first. Both
must give exactly what ``to_message`` of the converter's ``MessageInfo``
gives, ``raw`` included, and a page the converter refuses fails the same way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.adapters.ringcentral.adapter import message_from_record, to_message
from messaging_hub.adapters.ringcentral.wire import MessageList, converter, plain_message_list
from messaging_hub.testing.ringcentral import FakeRingCentral

from .._models import message_fields
from .._spec import SPECS

pytestmark = pytest.mark.anyio

EXAMPLES = SPECS / "ringcentral/examples"

ODD_PLAIN: list[dict[str, Any]] = [
    {
        "id": 11,
        "type": "SMS",
        "direction": "Inbound",
        "readStatus": "Read",
        "messageStatus": "Received",
        "creationTime": "2024-05-01T10:00:00.123Z",
        "from": {"extensionNumber": "101", "name": "Desk"},
        "to": [{"phoneNumber": "+14155550100"}, {"extensionId": "42"}, {"name": "nobody"}],
        "attachments": [
            {"id": 1, "type": "Text", "contentType": "text/plain"},
            {"id": 2, "type": "MmsAttachment", "contentType": "image/png", "size": 12,
             "fileName": "a.png", "uri": "https://media.example/2"},
            {"id": 3, "type": "MmsAttachment", "contentType": "bad type\n", "filename": "b"},
        ],
        "conversation": {"id": "4178398077955743750", "uri": "https://x/c"},
        "conversationId": 4178398077955743750,
        "subject": "hello",
        "owner": {"extensionId": "1", "name": "n"},
        "forwarding": {"originalSender": {"phoneNumber": "12"}},
        "vmSideRecipients": [{"phoneNumber": "+1"}],
        "pgToDepartment": False,
        "notInTheSpec": [1, {"a": None}],
    },
    {"id": 12, "type": "Fax", "coverPageText": "cover", "subject": "s", "availability": "Purged",
     "creationTime": "not a time", "conversation": {"id": ""}, "conversationId": 77},
    {"id": 13, "type": "Pager", "from": None, "to": [], "creationTime": None,
     "conversation": None, "direction": "Outbound", "messageStatus": "Sent"},
    {"id": 14, "type": "VoiceMail", "from": {"phoneNumber": "4155550100"}, "faxPageCount": 2,
     "smsSendingAttemptsCount": 1, "private": True},
]  # fmt: skip

# Each holds a value the converter converts (or refuses): not plain.
ODD_TYPED: list[dict[str, Any]] = [
    {"id": "21", "subject": "id as digits"},
    {"id": 22, "subject": 5, "conversationId": "4178398077955743750"},
    {"id": 23, "private": "true", "attachments": [{"id": "7", "contentType": "text/plain"}]},
    {"id": 24.0, "from": {"phoneNumber": 14155550100}},
]
REFUSED: list[dict[str, Any]] = [{"id": 31}, {"id": 32, "to": None}]


def _page(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uri": "https://platform.example/message-store",
        "records": records,
        "paging": {"page": 1, "perPage": 100, "totalPages": 1},
        "navigation": {},
    }


def _pages() -> list[tuple[str, dict[str, Any]]]:
    if not EXAMPLES.is_dir():  # the specs are not beside this checkout
        return [("odd-plain", _page(ODD_PLAIN)), ("odd-typed", _page(ODD_TYPED))]
    fax = json.loads((EXAMPLES / "message-store.list.fax.200.json").read_text())["body"]
    fax = {**fax, "paging": {**fax["paging"], "totalPages": 1}, "navigation": {}}
    singles = [
        json.loads((EXAMPLES / f"message-store.get.{name}.200.json").read_text())["body"]
        for name in ("sms", "voicemail")
    ]
    return [
        ("fax", fax),
        ("sms-voicemail", _page(singles)),
        ("odd-plain", _page(ODD_PLAIN)),
        ("odd-typed", _page(ODD_TYPED)),
        ("mixed", _page([*ODD_PLAIN, ODD_TYPED[0]])),
    ]


@pytest.mark.parametrize(("name", "page"), _pages(), ids=lambda v: v if isinstance(v, str) else "")
async def test_history_matches_the_typed_read(
    fake: FakeRingCentral, client: RingCentralAdapter, name: str, page: dict[str, Any]
) -> None:
    assert plain_message_list(page) is (name in ("fax", "sms-voicemail", "odd-plain"))
    fake.fail(status=200, body=json.dumps(page).encode(), method="GET", path=r"/message-store$")
    got = [m async for m in client.history("4178398077955743750")]
    expected = [to_message(m) for m in converter.structure(page, MessageList).records]
    assert len(got) == len(page["records"])
    assert [message_fields(m) for m in got] == [message_fields(m) for m in expected]
    if plain_message_list(page):  # the record mapping on its own
        mapped = [message_from_record(r) for r in page["records"]]
        assert [message_fields(m) for m in mapped] == [message_fields(m) for m in expected]


async def test_a_page_the_converter_refuses_fails_as_before(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    body = json.dumps(_page(REFUSED)).encode()
    fake.fail(status=200, body=body, method="GET", path=r"/message-store$")
    with pytest.raises(mh.errors.MalformedResponse) as history_error:
        [m async for m in client.history("4178398077955743750")]
    fake.fail(status=200, body=body, method="GET", path=r"/message-store$")
    with pytest.raises(mh.errors.MalformedResponse) as typed_error:
        await client.native.list_messages(conversation_id="4178398077955743750")
    assert str(history_error.value) == str(typed_error.value)
