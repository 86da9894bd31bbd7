"""Sending through the adapter: SMS, MMS, pager and fax, and what reached the wire."""

from __future__ import annotations

import json

import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import FilePart, RingCentralAdapter
from messaging_hub.testing._server import RecordedRequest
from messaging_hub.testing.ringcentral import FakeRingCentral
from messaging_hub.testing.ringcentral_store import parse_multipart

pytestmark = pytest.mark.anyio

REMOTE = "+14155550123"


def _parts(request: RecordedRequest) -> list[tuple[str, str | None, str | None, bytes]]:
    """(content type, field name, file name, data) of each part."""
    parts = parse_multipart(request.headers["Content-Type"], request.body)
    return [(p.content_type, p.name, p.filename, p.data) for p in parts]


async def test_sms_body_and_receipt(fake: FakeRingCentral, client: RingCentralAdapter) -> None:
    receipt = await client.send(mh.Outgoing(to=["+1 (415) 555-0123"], text="hello"))
    (request,) = fake.requests_to("POST", "/sms$")
    assert request.json() == {
        "from": {"phoneNumber": fake.from_number},
        "to": [{"phoneNumber": REMOTE}],
        "text": "hello",
    }
    stored = fake.sent[-1]
    assert receipt.message_ids == (str(stored.id),)
    assert receipt.session_id == str(stored.conversation_id)
    assert receipt.status is mh.MessageStatus.QUEUED


async def test_outgoing_sender_wins_over_from_number(fake: FakeRingCentral) -> None:
    async with FakeRingCentral(phone_numbers=["+16505550199"], rate_limiting=False) as fake2:
        async with mh.connect(fake2.config) as client:
            await client.send(mh.Outgoing(to=[REMOTE], text="x", sender="+16505550199"))
        assert fake2.requests_to("POST", "/sms$")[0].json()["from"] == {
            "phoneNumber": "+16505550199"
        }


async def test_sms_without_a_sender_fails_before_any_request(fake: FakeRingCentral) -> None:
    options = {k: v for k, v in fake.config.items() if k != "from_number"}
    async with mh.connect(options) as client:
        with pytest.raises(mh.InvalidRequest) as info:
            await client.send(mh.Outgoing(to=[REMOTE], text="x"))
    assert info.value.field == "sender"
    assert fake.requests == []


async def test_text_limit_counts_utf16_units(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    # 500 emoji are 1000 UTF-16 units: allowed; one more character is not.
    await client.send(mh.Outgoing(to=[REMOTE], text="\U0001f600" * 500))
    before = len(fake.requests)
    with pytest.raises(mh.InvalidRequest) as info:
        await client.send(mh.Outgoing(to=[REMOTE], text="\U0001f600" * 500 + "x"))
    assert info.value.field == "text"
    assert len(fake.requests) == before


async def test_attachments_make_an_mms(fake: FakeRingCentral, client: RingCentralAdapter) -> None:
    picture = mh.Attachment("image/png", b"\x89PNG fake picture", filename="cat.png")
    receipt = await client.send(
        mh.Outgoing(to=[REMOTE, "+14155550124"], text="look", attachments=[picture])
    )
    (request,) = fake.requests_to("POST", "/mms$")
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    parts = _parts(request)
    assert parts[0][0] == "application/json"
    assert json.loads(parts[0][3]) == {
        "from": {"phoneNumber": fake.from_number},
        "to": [{"phoneNumber": REMOTE}, {"phoneNumber": "+14155550124"}],
        "text": "look",
    }
    assert parts[1] == ("image/png", "attachments", "cat.png", b"\x89PNG fake picture")
    stored = fake.sent[-1]
    assert receipt.message_ids == (str(stored.id),)
    assert [a.content for a in stored.attachments if a.type == "MmsAttachment"] == [
        b"\x89PNG fake picture"
    ]
    (message,) = [m async for m in client.history(receipt.session_id)]
    assert message.kind is mh.MessageKind.MMS
    assert [a.filename for a in message.attachments] == ["cat.png"]


async def test_file_names_reach_the_server_as_written(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    # Browsers and the official SDKs send file names as UTF-8 text; aiohttp's
    # default would turn "Q3 report.pdf" into "Q3%20report.pdf".
    name = "Q3 report \u2013 été.pdf"
    document = mh.Attachment("application/pdf", b"%PDF", filename=name)
    await client.send(mh.Outgoing(to=[REMOTE], attachments=[document], kind=mh.MessageKind.FAX))
    (request,) = fake.requests_to("POST", "/fax$")
    assert _parts(request)[1][2] == name
    assert fake.sent[-1].attachments[0].file_name == name
    # A quote cannot end the quoted name; line breaks are refused outright
    # (tests/hardening/test_header_values.py).
    await client.native.send_mms(
        from_number=fake.from_number, to=REMOTE,
        attachments=[FilePart(b"png", "image/png", 'a"b X-Evil: 1.png')],
    )  # fmt: skip
    (mms,) = fake.requests_to("POST", "/mms$")
    headers = [p.headers for p in parse_multipart(mms.headers["Content-Type"], mms.body)]
    assert all("x-evil" not in h for h in headers)
    assert _parts(mms)[1][2] == "a%22b X-Evil: 1.png"


async def test_extensions_get_a_pager_message(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    receipt = await client.send(
        mh.Outgoing(to=["102", "103"], text="meeting now", kind=mh.MessageKind.PAGER)
    )
    (request,) = fake.requests_to("POST", "/company-pager$")
    assert request.json() == {
        "text": "meeting now",
        "to": [{"extensionNumber": "102"}, {"extensionNumber": "103"}],
    }
    (message,) = [m async for m in client.history(receipt.session_id)]
    assert message.kind is mh.MessageKind.PAGER
    assert message.recipients == (mh.Address.extension("102"), mh.Address.extension("103"))


async def test_a_short_number_is_paged_only_when_asked(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    with pytest.raises(mh.InvalidRequest, match=r"kind=MessageKind.PAGER") as info:
        await client.send(mh.Outgoing(to=["12"], text="oops, a typo"))
    assert info.value.field == "to"
    assert fake.requests_to("POST", "/company-pager$") == []
    assert fake.requests_to("POST", "/sms$") == []


async def test_a_pager_conversation_continues_with_only_its_session(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    first = await client.send(mh.Outgoing(to=["102"], text="page one", kind=mh.MessageKind.PAGER))
    await client.send(mh.Outgoing(session_id=first.session_id, text="page two"))
    requests = fake.requests_to("POST", "/company-pager$")
    assert [r.json()["to"] for r in requests] == [[{"extensionNumber": "102"}]] * 2


async def test_an_sms_conversation_continues_with_only_its_session(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    first = await client.send(mh.Outgoing(to=[REMOTE], text="sms one"))
    second = await client.send(mh.Outgoing(session_id=first.session_id, text="sms two"))
    assert second.session_id == first.session_id
    last = fake.requests_to("POST", "/sms$")[-1].json()
    assert last["to"] == [{"phoneNumber": REMOTE}]


async def test_fax_is_multipart_json_first_then_documents(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    docs = [
        mh.Attachment("application/pdf", b"%PDF-1.4 page one", filename="one.pdf"),
        mh.Attachment("text/plain", b"page two", filename="two.txt"),
    ]
    receipt = await client.send(
        mh.Outgoing(to=[REMOTE], text="Please sign", attachments=docs, kind=mh.MessageKind.FAX)
    )
    (request,) = fake.requests_to("POST", "/fax$")
    parts = _parts(request)
    assert parts[0][0] == "application/json"
    assert json.loads(parts[0][3]) == {
        "to": [{"phoneNumber": REMOTE}],
        "coverPageText": "Please sign",
    }
    assert parts[1:] == [
        ("application/pdf", "attachment", "one.pdf", b"%PDF-1.4 page one"),
        ("text/plain", "attachment", "two.txt", b"page two"),
    ]
    stored = fake.sent[-1]
    assert stored.type == "Fax"
    assert receipt.message_ids == (str(stored.id),)
    assert receipt.session_id == str(stored.id)  # faxes have no conversation


async def test_native_fax_options_and_retry_rebuilds_the_body(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    fake.fail(status=429, headers={"Retry-After": "0"}, path="/fax$")
    fax = await client.native.send_fax_message(
        to=[REMOTE],
        attachments=[FilePart(b"doc", "application/pdf", "d.pdf")],
        fax_resolution="High",
        cover_index=0,
    )
    first, second = fake.requests_to("POST", "/fax$")
    assert first.body.split(b"\r\n", 1)[1:] and _parts(first)[1:] == _parts(second)[1:]
    assert json.loads(_parts(second)[0][3]) == {
        "to": [{"phoneNumber": REMOTE}],
        "faxResolution": "High",
        "coverIndex": 0,
    }
    assert fax.fax_resolution == "High"
    assert fax.type == "Fax"


@pytest.mark.parametrize(
    ("outgoing", "error"),
    [
        (dict(to=["102", REMOTE], text="x"), mh.InvalidRequest),
        (dict(to=[REMOTE, "+14155550124"], text="x"), mh.InvalidRequest),  # SMS: one number
        (dict(to=[REMOTE], text="x", kind=mh.MessageKind.FAX), mh.InvalidRequest),
        (dict(to=["102"], text="x", kind=mh.MessageKind.SMS), mh.InvalidRequest),
        (dict(to=[REMOTE], text="x", kind=mh.MessageKind.PAGER), mh.InvalidRequest),
        (dict(to=[REMOTE], text="x", kind=mh.MessageKind.MMS), mh.InvalidRequest),
        (dict(to=[REMOTE], text="x", kind=mh.MessageKind.CHAT), mh.UnsupportedOperation),
        (dict(to=[REMOTE], text="x", session_id="abc"), mh.InvalidRequest),
        (dict(to=["102"], text="x" * 1025), mh.InvalidRequest),
        (dict(to=[REMOTE], text="x", sender="102"), mh.InvalidRequest),
    ],
)
async def test_impossible_sends_fail_before_any_request(
    fake: FakeRingCentral,
    client: RingCentralAdapter,
    outgoing: dict[str, object],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await client.send(mh.Outgoing(**outgoing))  # type: ignore[arg-type]
    assert fake.requests == []


async def test_provider_validation_errors_keep_code_and_field(
    client: RingCentralAdapter,
) -> None:
    with pytest.raises(mh.NotFound) as info:
        await client.native.send_internal_message(text="hi", reply_on=12345)
    assert info.value.code == "CMN-102"
    with pytest.raises(mh.BadRequest) as bad:
        await client.native.send_fax_message(
            to=[REMOTE], attachments=[FilePart(b"x", "text/plain")], cover_index=99
        )
    assert bad.value.code == "CMN-101"
    assert bad.value.field == "coverIndex"
    assert "coverIndex" in bad.value.field_errors
    with pytest.raises(mh.PermissionDenied) as denied:
        await client.native.send_sms(from_number="+16505550999", to=REMOTE, text="x")
    assert denied.value.code == "MSG-304"
