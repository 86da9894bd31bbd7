"""History pages give the same messages however their records are read.

With the ``fast`` extra a page is read by msgspec into records; without it
(or for a body msgspec refuses) into dicts. Both must give exactly what the
converter's wire ``Message`` and ``to_message`` give, ``raw`` included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

import messaging_hub as mh
from messaging_hub.adapters.netsapiens import NetSapiensAdapter
from messaging_hub.adapters.netsapiens.wire import Message, converter
from messaging_hub.testing import FakeNetSapiens

from .._models import message_fields

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).parent / "examples"
ODD_RECORDS: list[dict[str, Any]] = [
    {
        "id": 7,
        "timestamp": "2024-01-15 03:59:59",
        "text": 5,
        "from-number": 14155550123,
        "terminating-user-id": "1000@acme",
        "media-type": "image/png",
        "media-size": "12",
        "file-access-url ": "https://pbx.example/read_media?x=1",
        "status": "DELIVERED",
        "type": "mms",
        "direction": "orig",
        "not-in-the-spec": {"a": [1, None]},
    },
    {
        "id": "m-2",
        "text": None,
        "timestamp": "2024-01-15T03:59:59Z",
        "from-user-id": None,
        "dialed": 1004,
        "direction": "term",
    },
    {"id": "m-3", "timestamp": "not a time", "type": "chat", "media-type": "", "media-size": ""},
    {"id": "m-4", "text": ["a", 1], "timestamp": None, "messagesession-id": 55},
    {"id": "m-5", "from-user-id": "1000@acme", "terminating-number": "+14155550124"},
    {"id": "m-6", "from-user-id": "1004@acme", "direction": "", "status": 3, "type": 4},
]


def _pages() -> list[tuple[str, list[dict[str, Any]]]]:
    pages = []
    for name in ("chat", "group-chat", "group-sms"):
        example = EXAMPLES / f"get-messages-for-messagesession.200.{name}.json"
        pages.append((name, json.loads(example.read_text())))
    return [*pages, ("odd", ODD_RECORDS)]


@pytest.mark.parametrize(("name", "page"), _pages(), ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("bom", [False, True], ids=["as-sent", "with-bom"])
async def test_history_matches_the_typed_read(
    name: str, page: list[dict[str, Any]], bom: bool
) -> None:
    body = json.dumps(page).encode()
    if bom:  # msgspec refuses a byte order mark: the page is read as dicts
        body = b"\xef\xbb\xbf" + body
    try:
        from messaging_hub.adapters.netsapiens.records import read_records
    except ImportError:  # without msgspec every page is read as dicts
        pass
    else:
        assert (read_records(body) is None) is bom  # the path this case takes
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        assert isinstance(client, NetSapiensAdapter)
        sid = fake.seed_session(1)
        fake.fail(status=200, body=body, method="GET", path=r"/messages$")
        got = [m async for m in client.history(sid)]
        expected = [client.to_message(m, sid) for m in converter.structure(page, list[Message])]
        assert [message_fields(m) for m in got] == [message_fields(m) for m in expected]
        # The dict mapping on its own, record by record.
        assert [message_fields(client._message_from_record(r, sid)) for r in page] == [
            message_fields(m) for m in expected
        ]


def test_records_have_every_field_of_the_wire_message() -> None:
    records = pytest.importorskip("messaging_hub.adapters.netsapiens.records")
    names = [f.name for f in attrs.fields(Message)]
    assert list(records.MessageRecord.__struct_fields__) == names
    assert set(records.WIRE_KEYS) == set(names)
