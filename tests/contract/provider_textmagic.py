"""TextMagic in the contract suite."""

from __future__ import annotations

from messaging_hub.testing.textmagic import FakeTextMagic

from .providers import ContractProvider


def _seed(fake: FakeTextMagic, count: int) -> str:
    return str(fake.seed_session(count).id)


PROVIDERS = [
    ContractProvider(
        name="textmagic",
        make_fake=FakeTextMagic,
        peer="+447860021130",
        seed_history=_seed,
        bad_recipients=("12ab", "+12", "555-CALL-NOW", "1004", "alice@example.com", ""),
        text_limit=918,
        supports_delete=True,
        bad_session_ids=("a/b", "..", "has space", "12x", "-1", "bulk-"),
        send_path=r"^/api/v2/messages$",
        read_path=r"^/api/v2/sessions/\d+/messages$",
    ),
]
