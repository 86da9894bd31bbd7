"""RingCentral in the contract suite."""

from __future__ import annotations

from messaging_hub.testing.ringcentral import FakeRingCentral

from .providers import ContractProvider


def _seed(fake: FakeRingCentral, count: int) -> str:
    return fake.seed_conversation(count)


PROVIDERS = [
    ContractProvider(
        name="ringcentral",
        make_fake=FakeRingCentral,
        peer="+14155550123",
        seed_history=_seed,
        bad_recipients=("12ab", "+12", "555-CALL-NOW", "", "alice@example.com"),
        text_limit=1000,
        supports_delete=True,
        bad_session_ids=("a/b", "..", "has space", "12ab", "-1", "99999999999999999999"),
        send_path=r"/restapi/v1\.0/account/[^/]+/extension/[^/]+/sms$",
        read_path=r"/restapi/v1\.0/account/[^/]+/extension/[^/]+/message-store$",
    ),
]
