"""Attachment content: streamed from the media host in chunks, never to another host."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.testing.ringcentral import FakeRingCentral

pytestmark = pytest.mark.anyio

REMOTE = "+14155550123"
SIZE = 6 * 1024 * 1024 + 123


async def test_a_large_fax_streams_in_chunks(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    document = os.urandom(SIZE)
    fax = fake.deliver_fax("+14155550999", document)
    attachment = fax.attachments[0]
    chunks = 0
    digest = hashlib.sha256()
    total = 0
    async with client.native.load_message_attachment(
        fax.id, attachment.id, chunk_size=256 * 1024
    ) as content:
        assert content.status == 200
        assert content.content_type == "application/pdf"
        async for chunk in content:
            assert 0 < len(chunk) <= 256 * 1024  # never the whole body at once
            chunks += 1
            total += len(chunk)
            digest.update(chunk)
    assert total == SIZE
    assert chunks >= SIZE // (256 * 1024)
    assert digest.hexdigest() == hashlib.sha256(document).hexdigest()


async def test_download_to_a_file_by_the_uri_a_message_lists(
    fake: FakeRingCentral, client: RingCentralAdapter, tmp_path: Path
) -> None:
    document = os.urandom(SIZE)
    fake.deliver_fax("+14155550999", document)
    listing = await client.native.list_messages(message_type="Fax")
    (record,) = listing.records
    uri = record.attachments[0].uri
    assert uri is not None
    target = tmp_path / "fax.pdf"
    written = await client.native.download_attachment(target, uri=uri)
    assert written == SIZE == target.stat().st_size
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(document).digest()


async def test_mms_attachment_from_history_by_ids(
    fake: FakeRingCentral, client: RingCentralAdapter, tmp_path: Path
) -> None:
    inbound = fake.deliver_inbound(REMOTE, "see", attachments=[("image/jpeg", b"jpeg!", "a.jpg")])
    (message,) = [m async for m in client.history(str(inbound.conversation_id))]
    (picture,) = message.attachments
    assert picture.content_type == "image/jpeg" and picture.filename == "a.jpg"
    assert picture.id is not None
    target = tmp_path / "a.jpg"
    written = await client.native.download_attachment(
        target, message_id=message.id, attachment_id=picture.id
    )
    assert written == 5 and target.read_bytes() == b"jpeg!"
    request = fake.requests_to("GET", r"/content/")[-1]
    assert request.headers["Authorization"].startswith("Bearer ")


async def test_attachment_uri_on_another_host_fails_before_any_request(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    fax = fake.deliver_fax("+14155550999", b"%PDF")
    path = f"/restapi/v1.0/account/~/extension/~/message-store/{fax.id}/content/1"
    before = len(fake.requests)
    for uri in (f"https://evil.example{path}", f"http://localhost:1{path}", "relative/path"):
        with pytest.raises(mh.InvalidRequest):
            client.native.open_attachment(uri)
        with pytest.raises(mh.InvalidRequest):
            await client.native.download_attachment("/dev/null", uri=uri)
    assert len(fake.requests) == before


async def test_platform_uris_are_fetched_from_the_media_host(fake: FakeRingCentral) -> None:
    # The media host is "localhost" (same fake), the API host 127.0.0.1.
    media = fake.origin.replace("127.0.0.1", "localhost")
    async with mh.connect(fake.config, media_base_url=media) as client:
        assert isinstance(client, RingCentralAdapter)
        fax = fake.deliver_fax("+14155550999", b"%PDF small")
        (record,) = (await client.native.list_messages(message_type="Fax")).records
        uri = record.attachments[0].uri
        assert uri is not None and uri.startswith(fake.origin)
        async with client.native.open_attachment(uri) as content:
            body = b"".join([chunk async for chunk in content])
        assert body == b"%PDF small"
        request = fake.requests_to("GET", rf"/message-store/{fax.id}/content/")[-1]
        assert request.headers["Host"].startswith("localhost")
        # The token goes to the media host only because it is configured.
        with pytest.raises(mh.InvalidRequest):
            client.native.open_attachment(uri.replace(fake.origin, "http://127.0.0.2:9"))


async def test_missing_attachment_is_not_found(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    fax = fake.deliver_fax("+14155550999", b"%PDF")
    with pytest.raises(mh.NotFound) as info:
        async with client.native.load_message_attachment(fax.id, 1):
            pass
    assert info.value.code == "CMN-102"


async def test_an_expired_token_is_refreshed_for_a_download(
    fake: FakeRingCentral, client: RingCentralAdapter, tmp_path: Path
) -> None:
    fax = fake.deliver_fax("+14155550999", b"%PDF after refresh")
    await client.native.list_messages()  # obtains a token
    fake.expire_tokens()
    target = tmp_path / "f.pdf"
    written = await client.native.download_attachment(
        target, message_id=fax.id, attachment_id=fax.attachments[0].id
    )
    assert written == len(b"%PDF after refresh")
    assert fake.token_requests["refresh_token"] == 1


async def test_credentials_in_an_attachment_uri_are_refused_before_any_request(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    # aiohttp refuses a URL with user:password next to a bearer header with
    # a bare ValueError; the library says InvalidRequest before any I/O.
    fax = fake.deliver_fax("+14155550999", b"%PDF")
    path = f"/restapi/v1.0/account/~/extension/~/message-store/{fax.id}/content/1"
    uri = fake.origin.replace("://", "://user:pw@") + path
    before = len(fake.requests)
    with pytest.raises(mh.InvalidRequest) as info:
        client.native.open_attachment(uri)
    assert "pw" not in str(info.value)
    with pytest.raises(mh.InvalidRequest):
        await client.native.download_attachment("/dev/null", uri=uri)
    assert len(fake.requests) == before


async def test_media_uris_spelled_with_the_default_port_or_in_capitals_are_accepted() -> None:
    client = RingCentralAdapter.from_options({"client_id": "id", "client_secret": "s", "jwt": "j"})
    path = "/restapi/v1.0/account/1/extension/2/message-store/3/content/4"
    for uri in (
        f"https://media.ringcentral.com:443{path}",
        f"HTTPS://Media.RingCentral.com{path}",
        f"https://platform.ringcentral.com:443{path}",
    ):
        assert client.native.media_url(uri) == f"https://media.ringcentral.com{path}"
    for uri in (
        f"http://media.ringcentral.com{path}",  # no downgrade to plain http
        f"https://media.ringcentral.com:8443{path}",
        f"https://media.ringcentral.com.evil.example{path}",
        f"https://media.ringcentral.com@evil.example{path}",
    ):
        with pytest.raises(mh.InvalidRequest):
            client.native.media_url(uri)
    await client.aclose()
