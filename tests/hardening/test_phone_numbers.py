"""Phone numbers are never moved to another country (issue 8, item 8).

A number with ``+`` or ``00`` is international; any other is national and
goes out only through a client whose ``default_region`` says where it is
dialled, in E.164. Without one, or when the number is impossible, the send
is refused with InvalidRequest before anything reaches the provider. Every
phone provider is driven through ``connect()`` against its running fake,
and the assertions read what reached the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.testing import FakeServer
from messaging_hub.testing.ringcentral import FakeRingCentral

pytestmark = pytest.mark.anyio


def _plus(digits: str) -> str:
    return digits if digits.startswith("+") else "+" + digits


def _netsapiens_to(body: dict[str, Any]) -> list[str]:
    destination = body["destination"]
    return [_plus(d) for d in ([destination] if isinstance(destination, str) else destination)]


@attrs.frozen
class PhoneProvider:
    """How to read the recipients and the sender of a send off the wire."""

    name: str
    send_path: str
    recipients: Callable[[dict[str, Any]], list[str]]
    sender: Callable[[dict[str, Any]], str]


PROVIDERS = [
    PhoneProvider(
        "netsapiens",
        r"/messagesessions/[^/]+/messages$",
        _netsapiens_to,
        lambda body: _plus(body["from-number"]),
    ),
    PhoneProvider(
        "ringcentral",
        r"/sms$",
        lambda body: [t["phoneNumber"] for t in body["to"]],
        lambda body: body["from"]["phoneNumber"],
    ),
    PhoneProvider(
        "textmagic",
        r"^/api/v2/messages$",
        lambda body: [_plus(p) for p in body["phones"].split(",")],
        lambda body: _plus(body["from"]),
    ),
]


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> PhoneProvider:
    """One phone provider."""
    chosen: PhoneProvider = request.param
    return chosen


@pytest.fixture
def fake(provider: PhoneProvider, request: pytest.FixtureRequest) -> FakeServer:
    """That provider's running fake (the pytest plugin's fixture)."""
    server: FakeServer = request.getfixturevalue(f"fake_{provider.name}")
    return server


def _sent(provider: PhoneProvider, fake: FakeServer) -> list[dict[str, Any]]:
    return [r.json() for r in fake.requests_to("POST", provider.send_path)]


# -- the issue's examples ----------------------------------------------------


def test_the_issue_examples_are_not_moved_to_another_country() -> None:
    for text in ("441-555-1234", "858-555-1234"):
        address = mh.Address.parse(text)
        assert address.kind is mh.AddressKind.PHONE
        assert address.is_national  # not +4415551234 (UK) nor +8585551234
        with pytest.raises(mh.InvalidRequest, match="default_region"):
            address.in_region(None)
        with pytest.raises(mh.InvalidRequest, match="default_region"):
            mh.Address.phone(text)
    assert mh.Address.parse("441-555-1234").in_region("US").value == "+14415551234"
    assert mh.Address.phone("858-555-1234", "US").value == "+18585551234"


async def test_the_issue_example_send_through_ringcentral(
    fake_ringcentral: FakeRingCentral,
) -> None:
    async with mh.connect({**fake_ringcentral.config, "default_region": "US"}) as client:
        await client.send(mh.Outgoing(to=["(858) 555-1234"], text="hi"))
    (request,) = fake_ringcentral.requests_to("POST", r"/sms$")
    assert request.json()["to"] == [{"phoneNumber": "+18585551234"}]


# -- every phone provider ----------------------------------------------------


@pytest.mark.parametrize("national", ["(858) 555-1234", "858-555-1234", "858.555.1234"])
async def test_a_national_number_without_default_region_is_refused_before_any_request(
    provider: PhoneProvider, fake: FakeServer, national: str
) -> None:
    async with mh.connect(fake.config) as client:
        with pytest.raises(mh.InvalidRequest) as info:
            await client.send(mh.Outgoing(to=[national], text="hi"))
    message = str(info.value)
    assert "E.164" in message and "default_region" in message
    assert info.value.field == "to"
    assert info.value.provider == provider.name
    assert fake.requests == []


@pytest.mark.parametrize("national", ["(858) 555-1234", "858 555 1234", "1 858 555 1234"])
async def test_a_national_number_goes_out_in_e164_with_default_region(
    provider: PhoneProvider, fake: FakeServer, national: str
) -> None:
    async with mh.connect({**fake.config, "default_region": "us"}) as client:
        assert client.default_region == "US"
        await client.send(mh.Outgoing(to=[national], text="hi"))
    (body,) = _sent(provider, fake)
    assert provider.recipients(body) == ["+18585551234"]


async def test_group_sends_resolve_every_national_number(
    provider: PhoneProvider, fake: FakeServer
) -> None:
    to = ["(858) 555-1234", "+44 7860 021130", "(650) 555-0199"]
    async with mh.connect({**fake.config, "default_region": "US"}) as client:
        if provider.name == "ringcentral":
            # A RingCentral SMS has one recipient; a group goes as an MMS.
            png = mh.Attachment("image/png", content=b"png")
            await client.send(mh.Outgoing(to=to, text="all", attachments=[png]))
            (request,) = fake.requests_to("POST", r"/mms$")
            assert b"+18585551234" in request.body and b"+16505550199" in request.body
            assert b"+447860021130" in request.body
            return
        await client.send(mh.Outgoing(to=to, text="all"))
    (body,) = _sent(provider, fake)
    assert provider.recipients(body) == ["+18585551234", "+447860021130", "+16505550199"]


async def test_00_is_the_international_prefix_without_any_region(
    provider: PhoneProvider, fake: FakeServer
) -> None:
    async with mh.connect(fake.config) as client:
        await client.send(mh.Outgoing(to=["0044 7860 021130"], text="hi"))
    (body,) = _sent(provider, fake)
    assert provider.recipients(body) == ["+447860021130"]


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("+1 858 555 12345", None),  # a digit too many for +1
        ("+1 858 555 123", None),  # a digit too few
        ("+44 20 7946 09581", None),
        ("+999 1234 5678", None),  # no such country code
        ("555-1234", "US"),  # no area code: it has no E.164 form
        ("858 555 12345", "US"),
        ("12345678901234567", "US"),
    ],
)
async def test_impossible_numbers_are_refused_before_any_request(
    provider: PhoneProvider, fake: FakeServer, number: str, region: str | None
) -> None:
    with pytest.raises(mh.InvalidRequest):
        mh.Address.phone(number, region)
    options = {**fake.config, "default_region": region} if region else fake.config
    async with mh.connect(options) as client:
        with pytest.raises(mh.InvalidRequest) as info:
            await client.send(mh.Outgoing(to=[number], text="hi"))
    assert info.value.field == "to"
    assert fake.requests == []


async def test_two_spellings_of_one_number_are_one_recipient(
    provider: PhoneProvider, fake: FakeServer
) -> None:
    message = mh.Outgoing(to=["(858) 555-1234", "+1 858 555 1234"], text="twice")
    async with mh.connect({**fake.config, "default_region": "US"}) as client:
        with pytest.raises(mh.InvalidRequest, match="twice"):
            await client.send(message)
    assert fake.requests == []


async def test_from_number_in_national_form_is_put_in_e164_at_connect(
    provider: PhoneProvider, fake: FakeServer
) -> None:
    e164 = fake.config["from_number"]
    national = {"netsapiens": "(858) 555-0100", "ringcentral": "(650) 555-0100"}.get(
        provider.name, "07624 800500"
    )
    region = "GB" if provider.name == "textmagic" else "US"
    options = {**fake.config, "from_number": national, "default_region": region}
    async with mh.connect(options) as client:
        assert client.options.from_number == e164  # type: ignore[attr-defined]
        await client.send(mh.Outgoing(to=["+14155550123"], text="from"))
    (body,) = _sent(provider, fake)
    assert provider.sender(body) == e164


async def test_from_number_in_national_form_without_default_region_is_a_config_error(
    provider: PhoneProvider, fake: FakeServer
) -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake.config, "from_number": "(858) 555-0100"})
    assert info.value.key == "from_number"
    assert "default_region" in str(info.value)
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake.config, "from_number": "+1 858 555 01000"})
    assert info.value.key == "from_number"
    assert fake.requests == []


@pytest.mark.parametrize("region", ["USA", "ZZ", "", "1", "U S"])
async def test_an_unknown_default_region_is_a_config_error(
    provider: PhoneProvider, fake: FakeServer, region: str
) -> None:
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake.config, "default_region": region})
    assert info.value.key == "default_region"
    assert info.value.provider == provider.name
    assert "ISO 3166" in str(info.value)  # a known option, checked: not "unknown option"


async def test_a_national_sender_is_resolved_like_the_recipients(
    fake_ringcentral: FakeRingCentral,
) -> None:
    options = {**fake_ringcentral.config, "default_region": "US"}
    async with mh.connect(options) as client:
        await client.send(mh.Outgoing(to=["+14155550123"], text="x", sender="(650) 555-0100"))
    (request,) = fake_ringcentral.requests_to("POST", r"/sms$")
    assert request.json()["from"] == {"phoneNumber": "+16505550100"}


async def test_one_message_is_resolved_by_each_client_s_own_region(
    fake_ringcentral: FakeRingCentral,
) -> None:
    message = mh.Outgoing(to=["07860 021130"], text="which country?")
    async with mh.connect({**fake_ringcentral.config, "default_region": "GB"}) as client:
        await client.send(message)
    async with mh.connect({**fake_ringcentral.config, "default_region": "US"}) as client:
        with pytest.raises(mh.InvalidRequest):
            await client.send(message)  # a leading 0 is no US number: not guessed
    (request,) = fake_ringcentral.requests_to("POST", r"/sms$")
    assert request.json()["to"] == [{"phoneNumber": "+447860021130"}]
    assert message.to[0].is_national  # the message itself is unchanged


async def test_ringcentral_native_calls_use_the_same_default_region(
    fake_ringcentral: FakeRingCentral,
) -> None:
    async with mh.connect({**fake_ringcentral.config, "default_region": "US"}) as client:
        assert isinstance(client, RingCentralAdapter)
        await client.native.send_sms(
            from_number="(650) 555-0100", to="(415) 555-0123", text="native"
        )
        await client.native.list_messages(phone_number="(415) 555-0123")
    (sms,) = fake_ringcentral.requests_to("POST", r"/sms$")
    assert sms.json()["from"] == {"phoneNumber": "+16505550100"}
    assert sms.json()["to"] == [{"phoneNumber": "+14155550123"}]
    (listing,) = fake_ringcentral.requests_to("GET", r"/message-store$")
    assert listing.query["phoneNumber"] == "+14155550123"


async def test_ringcentral_native_calls_without_region_refuse_national_numbers(
    fake_ringcentral: FakeRingCentral,
) -> None:
    async with mh.connect(fake_ringcentral.config) as client:
        assert isinstance(client, RingCentralAdapter)
        with pytest.raises(mh.InvalidRequest, match="default_region") as info:
            await client.native.send_sms(
                from_number="+16505550100", to="(415) 555-0123", text="native"
            )
        assert info.value.provider == "ringcentral"
        with pytest.raises(mh.InvalidRequest):
            await client.native.send_fax_message(
                to=["858-555-1234"], attachments=[], cover_page_text="x"
            )
    assert fake_ringcentral.requests == []


async def test_the_mongooseim_client_has_no_default_region(fake_mongooseim: FakeServer) -> None:
    # XMPP has no phone numbers: the option is unknown there.
    with pytest.raises(mh.ConfigError) as info:
        mh.connect({**fake_mongooseim.config, "default_region": "US"})
    assert info.value.key == "default_region"


# -- E.164 out, ASCII digits in ------------------------------------------------


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        ("+1 (858) 555-1234", None, "+18585551234"),
        ("+1.858.555.1234", "GB", "+18585551234"),  # + wins over the region
        ("0044 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),  # the US exit code
        ("1 (858) 555-1234", "US", "+18585551234"),  # the US trunk prefix
        ("0151 1234 5678", "de", "+4915112345678"),
        ("+44 7700 900123", None, "+447700900123"),  # fictional range: possible
    ],
)
def test_phone_numbers_come_out_in_e164(number: str, region: str | None, e164: str) -> None:
    assert mh.Address.phone(number, region) == mh.Address(e164, mh.AddressKind.PHONE)


def test_short_dial_strings_stay_extensions() -> None:
    for text in ("1004", "0010", "00441"):
        assert mh.Address.parse(text).kind is mh.AddressKind.EXTENSION


def test_letters_extensions_and_uris_are_not_phone_numbers() -> None:
    for text in ("1-800-FLOWERS", "+1 858 555 1234 ext 5", "tel:+18585551234", "+1 858;5551234"):
        with pytest.raises(mh.InvalidRequest):
            mh.Address.phone(text, "US")
        with pytest.raises(mh.InvalidRequest):
            mh.Address.parse(text)


def test_non_ascii_digits_are_refused_with_or_without_a_region() -> None:
    def shift(text: str, zero: int) -> str:
        return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)

    for zero in (0x0660, 0x06F0, 0xFF10, 0x0966):  # Arabic-Indic, Persian, fullwidth, Devanagari
        for text in (shift("(858) 555-1234", zero), "+1" + shift("8585551234", zero)):
            with pytest.raises(mh.InvalidRequest):
                mh.Address.parse(text)
            for region in (None, "US"):
                with pytest.raises(mh.InvalidRequest):
                    mh.Address.phone(text, region)


async def test_non_ascii_digits_never_reach_a_provider(
    provider: PhoneProvider, fake: FakeServer
) -> None:
    fullwidth = "".join(chr(0xFF10 + int(c)) for c in "8585551234")
    async with mh.connect({**fake.config, "default_region": "US"}) as client:
        with pytest.raises(mh.InvalidRequest):
            await client.send(mh.Outgoing(to=[fullwidth], text="x"))
        with pytest.raises(mh.InvalidRequest):
            await client.send(
                mh.Outgoing(to=[mh.Address(fullwidth, mh.AddressKind.PHONE)], text="x")
            )
    assert fake.requests == []


def test_an_unknown_region_for_address_phone_is_invalid_request() -> None:
    with pytest.raises(mh.InvalidRequest) as info:
        mh.Address.phone("858 555 1234", "XX")
    assert info.value.field == "region"
