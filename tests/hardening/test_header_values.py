"""Values bound for HTTP headers refuse control characters before any I/O
(issue 8, item 3), and attachment URIs a provider lists cannot send the
token elsewhere or fail with an untyped exception.

Header-bound here: the TextMagic username (``X-TM-Username`` or Basic
auth), an attachment's content type (a multipart part's ``Content-Type``)
and file name (its ``Content-Disposition``). Provider answers that carry
such values are read without breaking a history walk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import FilePart, RingCentralAdapter
from messaging_hub.testing.netsapiens import FakeNetSapiens
from messaging_hub.testing.ringcentral import FakeRingCentral
from messaging_hub.testing.textmagic import FakeTextMagic

pytestmark = pytest.mark.anyio

CONTROLS = ["\r", "\n", "\r\n", "\x00", "\x7f", "\x85", "\u2028"]
IDS = ["CR", "LF", "CRLF", "NUL", "DEL", "NEL", "LSEP"]


# -- the TextMagic username ----------------------------------------------------


@pytest.mark.parametrize("control", CONTROLS, ids=IDS)
@pytest.mark.parametrize("auth", ["headers", "basic"])
async def test_textmagic_username_with_control_characters_is_a_config_error(
    fake_textmagic: FakeTextMagic, control: str, auth: str
) -> None:
    username = f"{fake_textmagic.config['username']}{control}X-Evil: 1"
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake_textmagic.config, "username": username, "auth": auth})
    assert info.value.key == "username"
    assert info.value.provider == "textmagic"
    assert fake_textmagic.requests == []


async def test_textmagic_username_with_a_colon_cannot_go_in_basic_auth(
    fake_textmagic: FakeTextMagic,
) -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake_textmagic.config, "username": "a:b", "auth": "basic"})
    assert info.value.key == "username"
    async with mh.connect({**fake_textmagic.config, "auth": "basic"}) as client:
        await client.send(mh.Outgoing(to=["+447860021130"], text="basic still works"))
    assert len(fake_textmagic.requests) == 1


# -- outgoing attachments --------------------------------------------------------


@pytest.mark.parametrize("control", CONTROLS, ids=IDS)
async def test_attachment_content_type_with_control_characters_is_refused(
    fake_ringcentral: FakeRingCentral, fake_netsapiens: FakeNetSapiens, control: str
) -> None:
    for fake in (fake_ringcentral, fake_netsapiens):
        async with mh.connect(fake.config) as client:
            with pytest.raises(mh.InvalidRequest) as info:
                await client.send(
                    mh.Outgoing(
                        to=["+14155550123"],
                        attachments=[mh.Attachment(f"image/png{control}X-Evil: 1", content=b"x")],
                    )
                )
            assert info.value.field == "attachments"
        assert fake.requests == []


@pytest.mark.parametrize("control", CONTROLS, ids=IDS)
async def test_attachment_file_name_with_control_characters_is_refused(
    fake_ringcentral: FakeRingCentral, fake_netsapiens: FakeNetSapiens, control: str
) -> None:
    for fake in (fake_ringcentral, fake_netsapiens):
        async with mh.connect(fake.config) as client:
            with pytest.raises(mh.InvalidRequest) as info:
                await client.send(
                    mh.Outgoing(
                        to=["+14155550123"],
                        attachments=[
                            mh.Attachment("image/png", content=b"x", filename=f"a{control}b.png")
                        ],
                    )
                )
            assert info.value.field == "attachments"
        assert fake.requests == []


@pytest.mark.parametrize("content_type", ["image/png ", " image/png", "image/pngé", "png", ""])
def test_attachment_content_types_are_printable_ascii_media_types(content_type: str) -> None:
    with pytest.raises(mh.InvalidRequest):
        mh.Attachment(content_type, content=b"x")


def test_file_names_keep_spaces_and_letters_of_any_script() -> None:
    for name in ("Q3 report \u2013 été.pdf", "写真 1.jpg", 'quote".png'):
        assert mh.Attachment("image/png", content=b"x", filename=name).filename == name


@pytest.mark.parametrize("control", CONTROLS, ids=IDS)
async def test_ringcentral_native_file_parts_refuse_control_characters(
    fake_ringcentral: FakeRingCentral, control: str
) -> None:
    async with mh.connect(fake_ringcentral.config) as client:
        assert isinstance(client, RingCentralAdapter)
        bad: list[tuple[str, str | None]] = [
            (f"image/png{control}X-Evil: 1", None),
            ("image/png", f"a{control}b.png"),
        ]
        for content_type, filename in bad:
            with pytest.raises(mh.InvalidRequest) as info:
                await client.native.send_mms(
                    from_number="+16505550100",
                    to="+14155550123",
                    attachments=[FilePart(b"x", content_type, filename)],
                )
            assert info.value.field == "attachments"
    assert fake_ringcentral.requests == []


# -- what a provider lists ------------------------------------------------------


async def test_odd_attachment_fields_from_a_provider_do_not_break_history(
    fake_ringcentral: FakeRingCentral,
) -> None:
    inbound = fake_ringcentral.deliver_inbound(
        "+14155550123",
        "see",
        attachments=[
            ("image/png\r\nX-Evil: 1", b"a", "a\r\nb.png"),
            ("not a media type", b"b", "fine.png"),
            ("image/jpeg", b"c", "ok.jpg"),
        ],
    )
    async with mh.connect(fake_ringcentral.config) as client:
        (message,) = [m async for m in client.history(str(inbound.conversation_id))]
    assert [(a.content_type, a.filename) for a in message.attachments] == [
        ("application/octet-stream", None),
        ("application/octet-stream", "fine.png"),
        ("image/jpeg", "ok.jpg"),
    ]
    # The provider's own values stay in raw.
    assert message.raw.attachments[1].content_type == "image/png\r\nX-Evil: 1"


def _with_attachment_uri(uri: str) -> Any:
    def transform(listing: Any) -> Any:
        for record in listing["records"]:
            for attachment in record.get("attachments", []):
                attachment["uri"] = uri
        return listing

    return transform


@pytest.mark.parametrize(
    "uri",
    [
        "//evil.example/restapi/v1.0/account/~/extension/~/message-store/1/content/2",
        "//user:pw@evil.example/x",
        "/restapi/v1.0/account/~/extension/~/message-store/1/content/2",
        "http://[::1/x",
        "https://media.ringcentral.com:99999/x",
        "javascript:alert(1)",
        "https:evil.example/x",
        "https://evil.example/x\r\nX-Evil: 1",
        "",
    ],
    ids=[
        "scheme-relative",
        "scheme-relative-credentials",
        "relative",
        "broken-ipv6",
        "bad-port",
        "javascript",
        "no-slashes",
        "crlf",
        "empty",
    ],
)
async def test_a_malformed_attachment_uri_from_the_provider_is_a_typed_error(
    fake_ringcentral: FakeRingCentral, tmp_path: Path, uri: str
) -> None:
    fax = fake_ringcentral.deliver_fax("+14155550999", b"%PDF")
    async with mh.connect(fake_ringcentral.config) as client:
        assert isinstance(client, RingCentralAdapter)
        fake_ringcentral.fail(
            method="GET", path=r"/message-store$", transform=_with_attachment_uri(uri)
        )
        listing = await client.native.list_messages(message_type="Fax")
        (record,) = listing.records
        assert record.id == fax.id
        listed = record.attachments[0].uri
        assert listed == uri
        before = len(fake_ringcentral.requests)
        with pytest.raises(mh.InvalidRequest) as info:
            client.native.open_attachment(uri)
        assert info.value.field == "uri"
        assert "pw" not in str(info.value)
        with pytest.raises(mh.InvalidRequest):
            await client.native.download_attachment(tmp_path / "fax.pdf", uri=uri)
        assert len(fake_ringcentral.requests) == before
    assert not (tmp_path / "fax.pdf").exists()
