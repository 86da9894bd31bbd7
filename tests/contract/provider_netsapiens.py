"""NetSapiens in the contract suite."""

from __future__ import annotations

from messaging_hub.testing.netsapiens import FakeNetSapiens

from .providers import ContractProvider


def _seed(fake: FakeNetSapiens, count: int) -> str:
    return fake.seed_session(count)


PROVIDERS = [
    ContractProvider(
        name="netsapiens",
        make_fake=FakeNetSapiens,
        peer="1004",
        seed_history=_seed,
        bad_recipients=("12ab", "+12", "555-CALL-NOW", ""),
        text_limit=10_000,
        supports_delete=True,
        send_path=r"/messagesessions/[^/]+/messages$",
        read_path=r"/messagesessions/[^/]+/messages$",
    ),
]
