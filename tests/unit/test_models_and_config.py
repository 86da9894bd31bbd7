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


def test_addresses_take_ascii_digits_only() -> None:
    # str.isdigit() and regex \d accept Arabic-Indic and other digits, which
    # no provider dials: they must be refused, not sent.
    def digits(text: str, zero: int) -> str:
        return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)

    arabic_indic, persian, fullwidth = 0x0660, 0x06F0, 0xFF10
    bad = [
        "+1" + digits("2345678901", arabic_indic),
        digits("1004", arabic_indic),
        "+4" + digits("4207946095", fullwidth),
        digits("1004", persian),
    ]
    for text in bad:
        with pytest.raises(mh.InvalidRequest):
            mh.Address.parse(text)
    with pytest.raises(mh.InvalidRequest):
        mh.Address.phone(bad[0])
    with pytest.raises(mh.InvalidRequest):
        mh.Address.extension(bad[1])
    assert mh.Address.parse("+1 858 555 1234\n").value == "+18585551234"
    # 15 digits, the E.164 maximum, where the country has numbers that long
    assert mh.Address.parse("+491511234567890").value == "+491511234567890"


def test_wrong_input_types_raise_invalid_request() -> None:
    for to in (None, 5, 1.5, object()):
        with pytest.raises(mh.InvalidRequest) as info:
            mh.Outgoing(to=to, text="x")  # type: ignore[arg-type]
        assert info.value.field == "to"
    for build in (mh.Address.phone, mh.Address.extension, mh.Address.jid, mh.Address.user):
        with pytest.raises(mh.InvalidRequest):
            build(1004)  # type: ignore[arg-type]
    with pytest.raises(mh.InvalidRequest):
        mh.Attachment(5, content=b"x")  # type: ignore[arg-type]
    with pytest.raises(mh.InvalidRequest):
        mh.Attachment("text/plain", content="not bytes")  # type: ignore[arg-type]


def test_bad_config_values_are_config_errors_naming_the_key(tmp_path: Path) -> None:
    base = {"base_url": "https://pbx.example/ns-api/v2", "access_token": "t"}
    cases: list[tuple[dict[str, object], str]] = [
        ({"access_token": "tok-secret\n"}, "access_token"),  # a pasted token's newline
        ({"access_token": "tok-secret\r\nX-Evil: 1"}, "access_token"),
        ({"timeout": "inf"}, "timeout"),
        ({"connect_timeout": float("inf")}, "connect_timeout"),
        ({"timeout": -1}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"pool_size": 0}, "pool_size"),
        ({"retry_after_ceiling": -1}, "retry_after_ceiling"),
        ({"base_url": "http://[::1"}, "base_url"),
        ({"base_url": "ftp://pbx.example"}, "base_url"),
    ]
    for override, key in cases:
        with pytest.raises(mh.ConfigError) as info:
            mh.connect("netsapiens", **{**base, **override})  # type: ignore[call-overload]
        assert info.value.key == key, override
        assert "tok-secret" not in str(info.value)
    with pytest.raises(mh.ConfigError) as info:
        mh.connect("netsapiens", session="not a session", **base)  # type: ignore[call-overload]
    assert info.value.key == "session"
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[messaging_hub]\nprovider = "netsapiens"\nuser = "J\xf6rg"\n')
    with pytest.raises(mh.ConfigError, match="UTF-8"):
        mh.from_toml(latin1)
