"""Every walk ends: hostile paging answers end ``sessions()``/``history()`` with
``PagingStalled`` after a bounded number of requests, never loop, and never
yield an item twice, for every provider and every MongooseIM API.

The hostile answers are real fake-server answers rewritten on the wire
(``Fault.transform``): a server that ignores its paging parameter, next-page
links that never end or point back, page counts of a billion with empty
pages, MongooseIM pages repeating rows newer than ``before``. Each walk runs
under ``anyio.fail_after`` and the number of reads the fake saw is capped, so
a regression fails instead of hanging.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest

import messaging_hub as mh
from messaging_hub.testing import FakeServer
from messaging_hub.testing.mongooseim import FakeMongooseIM
from messaging_hub.testing.netsapiens import FakeNetSapiens
from messaging_hub.testing.ringcentral import FakeRingCentral
from messaging_hub.testing.textmagic import FakeTextMagic

from ..contract.providers import ContractProvider, all_providers
from ..mongooseim._helpers import T0

pytestmark = pytest.mark.anyio

PROVIDERS = all_providers()
WALK_SECONDS = 30
"""A generous ceiling: a walk that loops fails here instead of hanging the suite."""

PAGE = {"netsapiens": 100, "ringcentral": 100, "textmagic": 100}
"""Each adapter's page size when no limit is given (MongooseIM: 50)."""


def page_size(name: str) -> int:
    """The page a walk of ``name`` asks for."""
    return PAGE.get(name, 50)


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def contract(request: pytest.FixtureRequest) -> ContractProvider:
    """One provider's (or MongooseIM API's) contract description."""
    provider: ContractProvider = request.param
    return provider


@pytest.fixture
async def fake(contract: ContractProvider) -> AsyncIterator[FakeServer]:
    """The provider's fake, running (MongooseIM on a fixed clock)."""
    server: FakeServer
    if contract.name.startswith("mongooseim-"):
        server = FakeMongooseIM(contract.name.removeprefix("mongooseim-"), clock=lambda: T0)  # type: ignore[arg-type]
    else:
        server = contract.make_fake()
    async with server:
        yield server


async def _seed_history(contract: ContractProvider, fake: FakeServer, count: int) -> str:
    result = contract.seed_history(fake, count)
    return await result if inspect.isawaitable(result) else result


def _seed_sessions(fake: FakeServer, count: int) -> None:
    """``count`` conversations, one message each, a second apart."""
    if isinstance(fake, FakeNetSapiens):
        fake.seed_sessions(count)
    elif isinstance(fake, FakeRingCentral):
        for i in range(count):
            fake.seed_messages(
                1, remote_number=f"+1415555{i:04d}", start=fake.clock() - timedelta(seconds=i)
            )
    elif isinstance(fake, FakeTextMagic):
        fake.seed_sessions(count)
    else:
        assert isinstance(fake, FakeMongooseIM)
        for i in range(count):
            # inbound: admin REST records name only the sender
            fake.deliver_inbound(
                f"peer{i}@localhost",
                f"hello {i}",
                to=fake.owner,
                timestamp=T0 - timedelta(seconds=i),
            )


def _sessions_path(contract: ContractProvider) -> str:
    return {
        "netsapiens": r"/messagesessions$",
        "ringcentral": contract.read_path,
        "textmagic": r"^/api/v2/sessions$",
        "mongooseim-admin-rest": r"^/api/messages/[^/]+$",
        "mongooseim-client-rest": r"^/client/api/messages$",
        "mongooseim-graphql": r"^/api/graphql$",
    }[contract.name]


def _reads(fake: FakeServer, path: str) -> int:
    method = "POST" if path.endswith("graphql$") else "GET"
    return len(fake.requests_to(method, path))


class Replay:
    """Answers every matched request with the first answer it saw: a server that
    ignores the paging parameter and returns the same full page forever."""

    def __init__(self) -> None:
        self.first: Any = None

    def __call__(self, data: Any) -> Any:
        if self.first is None:
            self.first = data
        return self.first


async def _collect(walk: AsyncIterator[Any], key: Callable[[Any], str]) -> list[str]:
    """Drain ``walk`` into ``got`` (kept on error: the test inspects it then)."""
    got: list[str] = []
    try:
        with anyio.fail_after(WALK_SECONDS):
            async for item in walk:
                got.append(key(item))
    except mh.PagingStalled as exc:
        exc.add_note(f"collected {len(got)}")
        exc.collected = got  # type: ignore[attr-defined]
        raise
    return got


def _ids(m: mh.Message) -> str:
    return m.id


def _session_ids(s: mh.Session) -> str:
    return s.id


# -- a server ignoring the paging parameter ---------------------------------------------


async def test_history_from_a_server_ignoring_the_paging_parameter_stalls(
    contract: ContractProvider, fake: FakeServer
) -> None:
    size = page_size(contract.name)
    session_id = await _seed_history(contract, fake, size + size // 2)
    async with mh.connect(fake.config) as client:
        fake.fail(transform=Replay(), path=contract.read_path, times=10_000)
        with pytest.raises(mh.PagingStalled) as info:
            await _collect(client.history(session_id), _ids)
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert len(got) == len(set(got)) == size  # the one real page, once
    assert info.value.provider == contract.name.split("-")[0]
    assert isinstance(info.value, mh.MalformedResponse)
    assert _reads(fake, contract.read_path) <= 4


async def test_sessions_from_a_server_ignoring_the_paging_parameter_stall(
    contract: ContractProvider, fake: FakeServer
) -> None:
    size = page_size(contract.name)
    _seed_sessions(fake, size + size // 2)
    path = _sessions_path(contract)
    async with mh.connect(fake.config) as client:
        fake.fail(transform=Replay(), path=path, times=10_000)
        with pytest.raises(mh.PagingStalled) as info:
            await _collect(client.sessions(), _session_ids)
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert len(got) == len(set(got)) == size
    assert _reads(fake, path) <= 4


# -- RingCentral: navigation and paging that never end ------------------------------------


def _rc_link(fake: FakeServer, page: int) -> dict[str, str]:
    return {"uri": f"{fake.origin}/restapi/v1.0/account/~/extension/~/message-store?page={page}"}


async def test_ringcentral_next_page_always_present_stalls_after_the_real_pages() -> None:
    async with FakeRingCentral() as fake:
        conversation = fake.seed_conversation(250)
        pages = 0

        def forever(data: Any) -> Any:
            nonlocal pages
            pages += 1
            data["navigation"]["nextPage"] = _rc_link(fake, pages + 1)
            return data

        async with mh.connect(fake.config) as client:
            fake.fail(transform=forever, path="/message-store$", times=10_000)
            with pytest.raises(mh.PagingStalled) as info:
                await _collect(client.history(conversation), _ids)
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert len(got) == len(set(got)) == 250  # every real message, once
    assert pages <= 3 + 2  # three real pages, then at most two empty ones


async def test_ringcentral_next_page_pointing_back_stalls_at_once() -> None:
    async with FakeRingCentral() as fake:
        conversation = fake.seed_conversation(250)

        def back(data: Any) -> Any:
            data["navigation"]["nextPage"] = _rc_link(fake, 1)
            return data

        async with mh.connect(fake.config) as client:
            fake.fail(transform=back, path="/message-store$", times=10_000)
            with pytest.raises(mh.PagingStalled, match="already read") as info:
                await _collect(client.history(conversation), _ids)
        reads = len(fake.requests_to("GET", "/message-store$"))
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert len(got) == len(set(got)) == 100  # page 1, then the loop is seen
    assert reads == 1


async def test_ringcentral_a_billion_empty_pages_stall() -> None:
    async with FakeRingCentral() as fake:
        conversation = fake.seed_conversation(150)

        def endless(data: Any) -> Any:
            data["paging"]["totalPages"] = 10**9
            data["navigation"].pop("nextPage", None)
            return data

        async with mh.connect(fake.config) as client:
            fake.fail(transform=endless, path="/message-store$", times=10_000)
            with pytest.raises(mh.PagingStalled) as info:
                await _collect(client.history(conversation), _ids)
        reads = len(fake.requests_to("GET", "/message-store$"))
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert len(got) == len(set(got)) == 150
    assert reads <= 2 + 2


# -- TextMagic: a page count of a billion --------------------------------------------------


async def test_textmagic_a_billion_empty_pages_stall() -> None:
    async with FakeTextMagic() as fake:
        session = fake.seed_session(150)

        def endless(data: Any) -> Any:
            data["pageCount"] = 10**9
            return data

        async with mh.connect(fake.config) as client:
            fake.fail(transform=endless, path=r"^/api/v2/sessions/\d+/messages$", times=10_000)
            with pytest.raises(mh.PagingStalled) as info:
                await _collect(client.history(str(session.id), follow_ups=False), _ids)
        reads = len(fake.requests_to("GET", r"^/api/v2/sessions/\d+/messages$"))
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert len(got) == len(set(got)) == 150
    assert reads <= 2 + 2


async def test_textmagic_sessions_with_a_billion_empty_pages_stall() -> None:
    async with FakeTextMagic() as fake:
        fake.seed_sessions(120)

        def endless(data: Any) -> Any:
            data["pageCount"] = 10**9
            return data

        async with mh.connect(fake.config) as client:
            fake.fail(transform=endless, path=r"^/api/v2/sessions$", times=10_000)
            with pytest.raises(mh.PagingStalled) as info:
                await _collect(client.sessions(), _session_ids)
        reads = len(fake.requests_to("GET", r"^/api/v2/sessions$"))
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert len(got) == len(set(got)) == 120
    assert reads <= 2 + 2


# -- short pages the provider says are followed by more ------------------------------------


class ShortPages:
    """Cuts the ``nth`` answers (1-based) to ``keep`` records, leaving the paging
    fields as they were: the provider says more pages follow."""

    def __init__(self, field: str, cut: dict[int, int]) -> None:
        self.field = field
        self.cut = cut
        self.calls = 0

    def __call__(self, data: Any) -> Any:
        self.calls += 1
        if self.calls in self.cut:
            data[self.field] = data[self.field][: self.cut[self.calls]]
        return data


@pytest.mark.parametrize(
    ("cut", "expected"),
    [({1: 60}, 250 - 40), ({2: 0}, 250 - 100), ({1: 0}, 250 - 100)],
    ids=["short-first-page", "empty-middle-page", "empty-first-page"],
)
async def test_ringcentral_short_pages_do_not_end_the_walk(
    cut: dict[int, int], expected: int
) -> None:
    async with FakeRingCentral() as fake:
        conversation = fake.seed_conversation(250)
        oldest = min(m.id for m in fake.messages)
        async with mh.connect(fake.config) as client:
            fake.fail(transform=ShortPages("records", cut), path="/message-store$", times=3)
            with anyio.fail_after(WALK_SECONDS):
                got = [m.id async for m in client.history(conversation)]
    assert len(got) == len(set(got)) == expected
    assert got[-1] == str(oldest)  # the walk reached the last page


@pytest.mark.parametrize(
    ("cut", "expected"),
    [({1: 60}, 250 - 40), ({2: 0}, 250 - 100), ({1: 0}, 250 - 100)],
    ids=["short-first-page", "empty-middle-page", "empty-first-page"],
)
async def test_textmagic_short_pages_do_not_end_the_walk(
    cut: dict[int, int], expected: int
) -> None:
    async with FakeTextMagic() as fake:
        session = fake.seed_session(250)
        path = r"^/api/v2/sessions/\d+/messages$"
        async with mh.connect(fake.config) as client:
            fake.fail(transform=ShortPages("resources", cut), path=path, times=3)
            with anyio.fail_after(WALK_SECONDS):
                got = [m.id async for m in client.history(str(session.id), follow_ups=False)]
        reads = len(fake.requests_to("GET", path))
    assert len(got) == len(set(got)) == expected
    assert reads == 3


# -- MongooseIM: rows newer than ``before`` --------------------------------------------------


def _rows(data: Any) -> list[Any]:
    """The archive rows of a REST or GraphQL answer (oldest first)."""
    if isinstance(data, list):
        return data
    rows: list[Any] = data["data"]["stanza"]["getLastMessages"]["stanzas"]
    return rows


class RepeatNewer:
    """Adds the newest rows of the first answer to every later answer: rows
    stamped after the ``before`` that was asked for."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.newest: list[Any] | None = None

    def __call__(self, data: Any) -> Any:
        rows = _rows(data)
        if self.newest is None:
            self.newest = rows[-self.count :]
        else:
            rows.extend(self.newest)
        return data


@pytest.mark.parametrize("api", ["admin-rest", "client-rest", "graphql"])
async def test_mongooseim_rows_newer_than_before_are_dropped_with_a_warning(
    api: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeMongooseIM(api, clock=lambda: T0) as fake:  # type: ignore[arg-type]
        fake.seed_conversation(fake.owner, "bob@localhost", 140)
        path = {"admin-rest": r"^/api/messages/", "client-rest": r"^/client/api/messages/"}.get(
            api, r"^/api/graphql$"
        )
        async with mh.connect(fake.config) as client:
            fake.fail(transform=RepeatNewer(5), path=path, times=10_000)
            with caplog.at_level(logging.WARNING, logger="messaging_hub.adapters.mongooseim"):
                with anyio.fail_after(WALK_SECONDS):
                    texts = [m.text async for m in client.history("bob@localhost")]
    assert texts == [f"message {i}" for i in range(140, 0, -1)]  # each once, newest first
    assert "stamped after before" in caplog.text


# -- the progress check and the window, in process -----------------------------------------


async def test_a_server_cycling_two_pages_stalls() -> None:
    """Pages 1, 2, 1, 2, ...: the window of two pages recognises every repeat."""
    from messaging_hub.pagination import walk_pages

    calls = 0

    async def fetch(page: int) -> tuple[list[int], int | None]:
        nonlocal calls
        calls += 1
        start = 0 if page % 2 else 100
        return list(range(start, start + 100)), page + 1

    walk = walk_pages(fetch, first=1, key=int, provider="x", what="test")
    with pytest.raises(mh.PagingStalled) as info:
        await _collect(walk, str)
    got: list[str] = info.value.collected  # type: ignore[attr-defined]
    assert sorted(map(int, got)) == list(range(200))
    assert calls == 4
