"""Shared models, secrets, configuration and the provider registry."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import messaging_hub as mh
from messaging_hub.registry import ENTRY_POINT_GROUP


def test_addresses_are_parsed_by_shape() -> None:
    assert mh.Address.parse("+1 (858) 555-1234") == mh.Address("+18585551234", mh.AddressKind.PHONE)
    assert mh.Address.parse("18585551234").kind is mh.AddressKind.PHONE
    assert mh.Address.parse("1004") == mh.Address("1004", mh.AddressKind.EXTENSION)
    assert mh.Address.parse("alice@example.com/phone").kind is mh.AddressKind.JID
    for bad in ("", "12ab", "+12", "+0123456789", "call me", "+1234567890123456"):
        with pytest.raises(mh.InvalidRequest):
            mh.Address.parse(bad)


@given(st.text(max_size=30))
def test_address_parsing_never_raises_anything_but_invalid_request(text: str) -> None:
    try:
        address = mh.Address.parse(text)
    except mh.InvalidRequest:
        return
    assert address.value
    assert isinstance(address.kind, mh.AddressKind)


def test_outgoing_validates_at_construction() -> None:
    message = mh.Outgoing(to="1004", text="hi")
    assert message.to == (mh.Address("1004", mh.AddressKind.EXTENSION),)
    with pytest.raises(mh.InvalidRequest, match="recipient"):
        mh.Outgoing(to=[], text="x")
    with pytest.raises(mh.InvalidRequest, match="twice"):
        mh.Outgoing(to=["1004", "1004"], text="x")
    with pytest.raises(mh.InvalidRequest, match="text or an attachment"):
        mh.Outgoing(to=["1004"])
    with pytest.raises(mh.InvalidRequest):
        mh.Outgoing(to=["1004"], text="x", attachments=[mh.Attachment("image/png")])
    with pytest.raises(mh.InvalidRequest):
        mh.Attachment("png", content=b"x")
    assert mh.Attachment("image/png", content=b"abc").size == 3


def test_raw_payload_is_kept_but_not_compared_or_shown() -> None:
    a = mh.Receipt(session_id="s", provider="p", raw={"secret": "payload"})
    b = mh.Receipt(session_id="s", provider="p", raw={"other": 1})
    assert a == b
    assert "payload" not in repr(a)
    assert a.raw == {"secret": "payload"}


def test_secrets_do_not_leak() -> None:
    secret = mh.Secret("hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert f"{secret}" != "hunter2"
    assert secret.reveal() == "hunter2"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_connect_reports_the_offending_key() -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("nonesuch")
    assert info.value.key == "provider"
    assert "netsapiens" in str(info.value)
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({"base_url": "https://x"})
    assert info.value.key == "provider"
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", access_token="t")
    assert info.value.key == "base_url"
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", provider="textmagic", base_url="https://x", access_token="t")
    assert info.value.key == "provider"
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", base_url="https://x", access_token="t", max_attempts="many")
    assert info.value.key == "max_attempts"


def test_config_from_environment_and_toml(tmp_path: Path) -> None:
    env = {
        "MESSAGING_HUB_PROVIDER": "netsapiens",
        "MESSAGING_HUB_BASE_URL": "https://pbx.example/ns-api/v2",
        "MESSAGING_HUB_ACCESS_TOKEN": "from-env",
        "MESSAGING_HUB_MAX_ATTEMPTS": "5",
        "UNRELATED": "x",
    }
    options = mh.from_env(env)
    assert options["provider"] == "netsapiens" and "unrelated" not in options
    client = mh.connect(options)
    assert client.provider == "netsapiens"
    toml = tmp_path / "hub.toml"
    toml.write_text(
        '[messaging_hub]\nprovider = "netsapiens"\nbase_url = "https://pbx.example/ns-api/v2"\n'
        'user = 1000\napi_key = "nsd_x"\n[other]\nprovider = "textmagic"\n'
    )
    client = mh.connect(mh.from_toml(toml))
    assert client.provider == "netsapiens"
    assert mh.from_toml(toml, table="other") == {"provider": "textmagic"}
    with pytest.raises(mh.ConfigError):
        mh.from_toml(toml, table="missing")
    (tmp_path / "bad.toml").write_text("not = [valid")
    with pytest.raises(mh.ConfigError):
        mh.from_toml(tmp_path / "bad.toml")


def test_builtin_providers_are_registered_as_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"netsapiens", "ringcentral", "textmagic", "mongooseim"} <= names
    assert set(mh.available_providers()) >= names


def test_unsupported_operations_fail_before_io() -> None:
    class SendOnly(mh.Adapter[None]):
        provider = "sendonly"
        capabilities = mh.Capability.SEND

        @classmethod
        def from_options(cls, options: object, *, session: object = None) -> SendOnly:
            return cls(None)

        async def _send(self, outgoing: mh.Outgoing) -> mh.Receipt:
            return mh.Receipt(session_id="s", provider=self.provider)

        async def _aclose(self) -> None:
            return None

    client = SendOnly(None)
    with pytest.raises(mh.UnsupportedOperation) as info:
        client.sessions()
    assert info.value.operation == "sessions" and info.value.provider == "sendonly"
    with pytest.raises(mh.UnsupportedOperation):
        client.history("x")


def test_connect_is_typed_per_builtin_provider() -> None:
    """mypy checks these assignments: a provider name gives its adapter class."""
    from messaging_hub.adapters.mongooseim import MongooseIMAdapter
    from messaging_hub.adapters.netsapiens import NetSapiensAdapter
    from messaging_hub.adapters.ringcentral import RingCentralAdapter
    from messaging_hub.adapters.textmagic import TextMagicAdapter

    ns: NetSapiensAdapter = mh.connect("netsapiens", base_url="https://x/ns-api/v2", api_key="k")
    rc: RingCentralAdapter = mh.connect("ringcentral", client_id="i", client_secret="s", jwt="j")
    tm: TextMagicAdapter = mh.connect("textmagic", username="u", api_key="k")
    mim: MongooseIMAdapter = mh.connect("mongooseim", api="admin-rest", owner="a@b.c")
    for client, cls in (
        (ns, NetSapiensAdapter),
        (rc, RingCentralAdapter),
        (tm, TextMagicAdapter),
        (mim, MongooseIMAdapter),
    ):
        assert isinstance(client, cls)
