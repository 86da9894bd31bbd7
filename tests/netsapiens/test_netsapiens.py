"""NetSapiens specifics: message types, session ids, auth flows, wire quirks."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.adapters.netsapiens import NetSapiensAdapter, new_session_id
from messaging_hub.adapters.netsapiens.wire import Message, MessageSession, converter
from messaging_hub.testing.netsapiens import FakeNetSapiens

pytestmark = pytest.mark.anyio

# Recorded payloads copied from the spec (shared/specs/netsapiens/examples).
EXAMPLES = Path(__file__).resolve().parent / "examples"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _sends(fake: FakeNetSapiens) -> list[dict[str, object]]:
    return [r.json() for r in fake.requests_to("POST", r"/messagesessions/[^/]+/messages$")]


async def test_message_type_follows_what_is_sent() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        await client.send(mh.Outgoing(to=["1004"], text="chat"))
        await client.send(mh.Outgoing(to=["1004", "1123"], text="group chat"))
        await client.send(mh.Outgoing(to=["+18585551234"], text="sms"))
        await client.send(mh.Outgoing(to=["+18585551234", "+18585550001"], text="group sms"))
        png = mh.Attachment(content_type="image/png", content=PNG)
        await client.send(mh.Outgoing(to=["1004"], text="media", attachments=[png]))
        await client.send(mh.Outgoing(to=["+18585551234"], text="mms", attachments=[png]))
        bodies = _sends(fake)
    assert [(b["type"], b["destination"]) for b in bodies] == [
        ("chat", "1004"),
        ("chat", ["1004", "1123"]),
        ("sms", "18585551234"),
        ("sms", ["18585551234", "18585550001"]),
        ("chat-media", "1004"),
        ("mms", "18585551234"),
    ]
    assert bodies[2]["from-number"] == "18585550100"
    assert bodies[5]["data"] == base64.b64encode(PNG).decode()
    assert bodies[5]["mime-type"] == "image/png"
    assert bodies[5]["size"] == len(PNG)
    assert "from-number" not in bodies[0]


async def test_new_sessions_get_spec_conforming_random_ids() -> None:
    ids = {new_session_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_]{32,}", i) for i in ids)
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        receipt = await client.send(mh.Outgoing(to=["1004"], text="hi"))
        assert re.fullmatch(r"[A-Za-z0-9_]{40}", receipt.session_id)
        assert fake.requests[-1].path.endswith(f"/messagesessions/{receipt.session_id}/messages")


async def test_sms_without_a_sender_is_refused_before_sending() -> None:
    async with FakeNetSapiens() as fake:
        config = {k: v for k, v in fake.config.items() if k != "from_number"}
        async with mh.connect(config) as client:
            with pytest.raises(mh.InvalidRequest) as info:
                await client.send(mh.Outgoing(to=["+18585551234"], text="sms"))
            assert info.value.field == "sender"
            receipt = await client.send(
                mh.Outgoing(to=["+18585551234"], text="sms", sender="+18585550100")
            )
            assert receipt.session_id
        assert len(fake.requests) == 1


async def test_bad_inputs_never_reach_the_server() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.InvalidRequest):
            await client.send(mh.Outgoing(to=["1004", "+18585551234"], text="mixed"))
        with pytest.raises(mh.InvalidRequest):
            await client.send(mh.Outgoing(to=["+18585551234"], text="x" * 1601))
        with pytest.raises(mh.UnsupportedOperation):
            await client.send(mh.Outgoing(to=["1004"], text="fax", kind=mh.MessageKind.FAX))
        png = mh.Attachment(content_type="image/png", content=PNG)
        with pytest.raises(mh.InvalidRequest):
            await client.send(mh.Outgoing(to=["1004"], text="two", attachments=[png, png]))
        with pytest.raises(mh.InvalidRequest):
            await client.native.get_messages_for_messagesession("../../etc")
        with pytest.raises(mh.InvalidRequest):
            await client.native.get_message_sessions_for_user(limit=5000)
        with pytest.raises(mh.InvalidRequest):
            await client.native.get_message_sessions_for_user(user="a/b")
        with pytest.raises(mh.InvalidRequest):
            mh.Outgoing(to=[], text="nobody")
        with pytest.raises(mh.InvalidRequest):
            mh.Outgoing(to=["1004"], text="")
        assert fake.requests == []


async def test_native_client_covers_every_message_operation() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        api = client.native
        sid = new_session_id()
        accepted = await api.send_message_group_chat(
            sid, destination=["1004", "1123"], message="team"
        )
        assert (accepted.code, accepted.message) == (202, "Accepted")
        await api.update_message_session_session_name(sid, session_name="Poway Soccer Team")
        [one] = await api.get_message_session_for_user(sid)
        assert one.messagesession_name == "Poway Soccer Team"
        await api.update_message_session_participants(sid, participants=["1000@acme", "1004@acme"])
        [one] = await api.get_message_session_for_user(sid)
        assert one.messagesession_participants == "1000@acme,1004@acme"
        assert fake.requests[-2].json() == {"participants": "1000@acme,1004@acme"}
        mine = await api.get_message_sessions_for_user()
        domain = await api.get_message_sessions_for_domain()
        assert {s.messagesession_id for s in mine} <= {s.messagesession_id for s in domain}
        await api.send_message_media_chat(
            sid, destination="1004", message="pic", data=PNG, mime_type="image/png"
        )
        await api.send_message_sms(
            new_session_id(), destination="18585551234", message="s", from_number="18585550100"
        )
        await api.send_message_group_sms(
            new_session_id(),
            destination=["18585551234", "18585550001"],
            message="g",
            from_number="18585550100",
        )
        await api.send_message_mms(
            new_session_id(),
            destination="18585551234",
            message="m",
            from_number="18585550100",
            data=PNG,
            mime_type="image/png",
        )
        await api.send_message_chat(new_session_id(), destination="1123", message="c")
        started = await api.start_session(destination="1004", message="started")
        assert started == {"code": 202, "message": "Accepted"}
        messages = await api.get_messages_for_messagesession(sid, limit=1)
        assert [m.text for m in messages] == ["pic"]
        await api.leave_messagesession(sid)
        with pytest.raises(mh.NotFound):
            await api.get_messages_for_messagesession(sid)
        other = new_session_id()
        await api.send_message_chat(other, destination="1004", message="bye")
        await api.delete_messagesession(other)
        with pytest.raises(mh.NotFound) as info:
            await api.delete_messagesession(other)
        assert info.value.status == 404
        assert "not found" in info.value.message


async def test_inbound_messages_and_directions() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        sid = fake.deliver_inbound("+17145550353", "hello from a phone")
        [message] = [m async for m in client.history(sid)]
        assert message.direction is mh.Direction.INBOUND
        assert message.sender == mh.Address("+17145550353", mh.AddressKind.PHONE)
        assert message.kind is mh.MessageKind.SMS
        chat = fake.deliver_inbound("1123", "hello from 1123")
        [message] = [m async for m in client.history(chat)]
        assert message.direction is mh.Direction.INBOUND
        assert message.sender == mh.Address("1123@acme", mh.AddressKind.USER)


async def test_zone_less_timestamps_are_read_in_the_configured_timezone() -> None:
    noon_utc = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    async with FakeNetSapiens(timezone="America/Los_Angeles", clock=lambda: noon_utc) as fake:
        sid = fake.seed_session(1)
        async with mh.connect(fake.config) as raw_client:
            wire = await raw_client.native.get_messages_for_messagesession(sid)
        # The server wrote its local time (UTC-8) without a zone.
        assert wire[0].timestamp == "2024-01-15 03:59:59"
        async with mh.connect({**fake.config, "timezone": "America/Los_Angeles"}) as client:
            [message] = [m async for m in client.history(sid)]
            assert message.created_at == datetime(2024, 1, 15, 11, 59, 59, tzinfo=UTC)
        async with mh.connect(fake.config) as naive:
            [message] = [m async for m in naive.history(sid)]
            assert message.created_at.tzinfo is not None


async def test_both_field_spellings_are_accepted() -> None:
    for spelling in ("timestamp", "datetime"):
        async with FakeNetSapiens(timestamp_spelling=spelling) as fake:
            sid = fake.seed_session(2)
            async with mh.connect(fake.config) as client:
                sessions = [s async for s in client.sessions()]
                assert sessions[0].id == sid
                assert sessions[0].last_activity is not None


def test_recorded_examples_decode_with_their_loose_types() -> None:
    sessions = converter.structure(
        json.loads((EXAMPLES / "get-messagesessions-for-user.200.json").read_text()),
        list[MessageSession],
    )
    assert sessions[0].messagesession_remote == "17145550353"  # a JSON number on the wire
    assert sessions[1].messagesession_last_message == "941173465"
    assert sessions[0].last_activity == "2023-10-05 17:35:15"
    adapter = mh.connect("netsapiens", base_url="https://pbx.example/ns-api/v2", access_token="t")
    assert isinstance(adapter, NetSapiensAdapter)
    shared = adapter.to_session(sessions[1])
    assert shared.kind is mh.MessageKind.CHAT
    assert [p.value for p in shared.participants] == ["1123@portal", "2500@portal", "1004@portal"]
    assert shared.last_activity == datetime(2023, 10, 10, 18, 24, 40, tzinfo=UTC)
    for name in ("chat", "group-chat", "group-sms"):
        payload = json.loads(
            (EXAMPLES / f"get-messages-for-messagesession.200.{name}.json").read_text()
        )
        messages = converter.structure(payload, list[Message])
        shared_messages = [adapter.to_message(m) for m in messages]
        assert all(m.created_at.tzinfo is not None for m in shared_messages)
    group_sms = converter.structure(
        json.loads((EXAMPLES / "get-messages-for-messagesession.200.group-sms.json").read_text()),
        list[Message],
    )
    assert group_sms[0].text == "5"  # text sent as a number
    mms = adapter.to_message(group_sms[1])
    assert mms.attachments[0].content_type == "image/png"
    assert mms.attachments[0].url is not None and "read_media" in mms.attachments[0].url


async def test_password_grant_refreshes_once_under_concurrency() -> None:
    async with FakeNetSapiens(token_ttl=3600) as fake:
        async with mh.connect(fake.password_config) as client:
            await client.send(mh.Outgoing(to=["1004"], text="first"))
            assert fake.token_requests == {"password": 1, "refresh_token": 0}
            fake.expire_tokens()
            async with anyio.create_task_group() as tg:
                for i in range(40):
                    tg.start_soon(client.send, mh.Outgoing(to=["1004"], text=f"n{i}"))
            assert fake.token_requests == {"password": 1, "refresh_token": 1}
        token_bodies = [r.json() for r in fake.requests_to("POST", r"/tokens$")]
        assert token_bodies[0]["grant_type"] == "password"
        assert token_bodies[1]["grant_type"] == "refresh_token"


async def test_wrong_credentials_are_an_authentication_error() -> None:
    async with FakeNetSapiens() as fake:
        async with mh.connect({**fake.password_config, "password": "wrong"}) as client:
            with pytest.raises(mh.AuthenticationError) as info:
                await client.send(mh.Outgoing(to=["1004"], text="x"))
            assert "wrong" not in str(info.value)
        async with mh.connect({**fake.config, "access_token": "nope"}) as client:
            with pytest.raises(mh.AuthenticationError) as auth:
                [s async for s in client.sessions()]
            assert auth.value.status == 401
            assert auth.value.code == "401"


async def test_api_key_is_sent_as_a_bearer_token() -> None:
    async with FakeNetSapiens() as fake:
        config = {k: v for k, v in fake.config.items() if k != "access_token"}
        async with mh.connect({**config, "api_key": fake.api_key}) as client:
            await client.send(mh.Outgoing(to=["1004"], text="via key"))
        assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.api_key}"


async def test_sessions_page_with_limit_and_start() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        fake.seed_sessions(250)
        ids = [s.id async for s in client.sessions()]
        assert len(ids) == len(set(ids)) == 250
        starts = [r.query.get("start") for r in fake.requests_to("GET", r"/messagesessions$")]
        assert starts == ["0", "100", "200"]
        first = [s.id async for s in client.sessions(limit=5)]
        assert first == ids[:5]
        assert fake.requests[-1].query == {"limit": "5", "start": "0"}


async def test_percent_encoding_of_path_parameters() -> None:
    async with FakeNetSapiens() as fake:
        client = mh.connect({**fake.config, "domain": "acme.example-1"})
        async with client:
            with pytest.raises(mh.NotFound):
                await client.native.get_message_sessions_for_user()
        assert (
            fake.requests[-1].path == "/ns-api/v2/domains/acme.example-1/users/1000/messagesessions"
        )


def test_options_reject_contradictions_and_hide_secrets() -> None:
    base: dict[str, Any] = {"base_url": "https://pbx.example/ns-api/v2"}
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", **base, access_token="a", api_key="b")
    assert info.value.key == "api_key"
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", **base, client_id="id", client_secret="s3cr3t-value")
    assert info.value.key == "username"
    assert "s3cr3t-value" not in str(info.value)
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", **base, access_token="a", timezone="Mars/Olympus")
    assert info.value.key == "timezone"
    client = mh.connect(
        "netsapiens",
        **base,
        client_id="id",
        client_secret="s3cr3t-value",
        username="u",
        password="pa55word",
    )
    assert isinstance(client, NetSapiensAdapter)
    shown = (
        repr(client.options) + repr(client.native.transport) + repr(client.native.transport.auth)
    )
    assert "s3cr3t-value" not in shown and "pa55word" not in shown


async def test_a_delete_cut_off_after_it_took_effect_still_succeeds() -> None:
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        receipt = await client.send(mh.Outgoing(to=["1004"], text="bye"))
        fake.fail(reset=True, after=True, method="DELETE")
        await client.delete(receipt.session_id)
        assert receipt.session_id not in fake.sessions["1000"]
        assert len(fake.requests_to("DELETE", "/messagesessions/")) == 2
        with pytest.raises(mh.NotFound):  # a plain 404 is still an error
            await client.delete(receipt.session_id)


async def test_ids_with_a_trailing_newline_never_reach_the_server() -> None:
    # A regex "$" also matches before a final "\n": "abc\n" must not pass as an
    # id and go out percent-encoded as "abc%0A".
    async with FakeNetSapiens() as fake, mh.connect(fake.config) as client:
        with pytest.raises(mh.InvalidRequest):
            await client.send(mh.Outgoing(to=["1004"], text="hi", session_id="abc\n"))
        with pytest.raises(mh.InvalidRequest):
            [m async for m in client.history("abc\n")]
        with pytest.raises(mh.InvalidRequest):
            await client.delete("abc\n")
        with pytest.raises(mh.InvalidRequest):
            await client.native.get_message_sessions_for_user(user="1000\n")
        with pytest.raises(mh.InvalidRequest):
            await client.native.get_message_sessions_for_domain(domain="acme\n")
        with pytest.raises(mh.InvalidRequest):
            await client.native.get_message_sessions_for_user(limit="50")
        with pytest.raises(mh.InvalidRequest):
            await client.native.get_message_sessions_for_user(start="0")
        assert fake.requests == []
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", base_url="https://pbx.example", access_token="t", user="1000\n")
    assert info.value.key == "user"
