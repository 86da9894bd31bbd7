"""MongooseIM in the contract suite: admin REST, client REST and GraphQL.

The seeded conversations come in runs of messages sharing one timestamp,
so paging with the inclusive ``before`` re-reads boundary messages and the
adapter's de-duplication is exercised.
"""

from __future__ import annotations

from collections.abc import Callable

from messaging_hub.testing.mongooseim import Api, FakeMongooseIM

from .providers import ContractProvider

PEER = "bob@localhost"
RUN = 7
"""Messages per shared timestamp in seeded conversations (less than a page)."""


def _seed(fake: FakeMongooseIM, count: int) -> str:
    fake.seed_conversation(fake.owner, PEER, count, same_timestamp=RUN)
    return PEER


def _maker(api: Api) -> Callable[[], FakeMongooseIM]:
    def make() -> FakeMongooseIM:
        return FakeMongooseIM(api)

    return make


_BAD_RECIPIENTS = (
    "not a jid",
    "@localhost",
    "a@",
    "a b@localhost",
    "alice@local host",
    "x@y@z",
    "+15551234567",
)
_BAD_SESSIONS = ("a b@localhost", "", "x@y@z", "a/b", "..", "has space", "bob@localhost/res")


def _provider(api: Api, send_path: str, read_path: str) -> ContractProvider:
    return ContractProvider(
        name=f"mongooseim-{api}",
        make_fake=_maker(api),
        peer=PEER,
        seed_history=_seed,
        bad_recipients=_BAD_RECIPIENTS,
        text_limit=None,
        supports_delete=False,
        bad_session_ids=_BAD_SESSIONS,
        send_path=send_path,
        read_path=read_path,
    )


PROVIDERS = [
    _provider("admin-rest", r"^/api/messages$", r"^/api/messages/[^/]+/[^/]+$"),
    _provider("client-rest", r"^/client/api/messages$", r"^/client/api/messages/[^/]+$"),
    # GraphQL sends and reads through one endpoint; reads are marked idempotent.
    _provider("graphql", r"^/api/graphql$", r"^/api/graphql$"),
]
