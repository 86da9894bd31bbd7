"""Benchmarks: messaging-hub against raw aiohttp on the same fake servers.

Each provider's fake runs in a child process (the two cores are split
between client and server). Every scenario is run by the library and by a
hand-written raw-aiohttp client doing the same HTTP work, in alternating
rounds (the order flips every round); the figures are medians over the
rounds with the spread (lowest and highest) in brackets. CPU is
``time.process_time()`` of the client process only, per operation: the
fair measure of what the library itself costs, since the wall time also
holds the server's share of the two cores.

Scenarios:

* sends with 64 in flight, for each provider (TextMagic and RingCentral
  with client-side pacing off) and each of MongooseIM's three APIs:
  client CPU per send and throughput;
* the NetSapiens history walk at 2k/20k/100k messages: client CPU per
  message and peak traced memory, for the library, raw aiohttp +
  ``json.loads`` into dicts, and raw dicts turned into a hand-written
  dataclass;
* first-call costs in a fresh interpreter: ``import messaging_hub``, the
  first and the second ``connect()``, the first send against a warm send;
* shared state: what ``state=RedisState`` adds to a TextMagic send (its
  pacing on, at a rate it never waits for, so every send asks the limiter),
  without and with an ``idempotency_key``, against the default in-process
  state: wall time per send one at a time, client CPU per send and
  throughput with 64 in flight. It starts its own ``redis-server`` (skipped
  when none is installed, or redis-py is missing);
* RingCentral SDK vs library: the official RingCentral Python SDK
  (``ringcentral``, synchronous, requests-based) and the library sending the
  same SMS to the same fake, one at a time and 64 in flight (the SDK from 64
  threads): throughput, the library/SDK throughput ratio and client CPU per
  send (skipped when ``ringcentral`` is not installed).

    python benchmarks/run.py [--quick] [--write]

prints the table; ``--write`` (passed by ``nox -s bench``) also writes
``benchmarks/results.md``, so a plain run never rewrites a tracked file.
"""

from __future__ import annotations

import argparse
import base64
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import multiprocessing as mp
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import aiohttp
import anyio

import messaging_hub as mh
from messaging_hub.adapters.netsapiens import new_session_id
from messaging_hub.testing.redis_server import RedisServer, redis_server_binary

RESULTS = Path(__file__).with_name("results.md")
IN_FLIGHT = 64
CHUNKS = 4  # a send round: this many short runs of the library and the raw client in turn
HISTORY_SIZES = (2_000, 20_000, 100_000)
FIRST_CALL_ROUNDS = 3
SHARED_TARGET: Target = ("textmagic", None)
SDK_PACKAGE = "ringcentral"  # the official RingCentral Python SDK
SDK_SMS_PATH = "/restapi/v1.0/account/~/extension/~/sms"
PARTS = ("sends", "history", "histories", "first-calls", "shared-state", "ringcentral-sdk")
PROVIDER_HISTORY = 2_000  # messages in each provider's history walk

Row = list[str]
# (provider, MongooseIM api or None)
Target = tuple[str, str | None]
TARGETS: tuple[Target, ...] = (
    ("netsapiens", None),
    ("ringcentral", None),
    ("textmagic", None),
    ("mongooseim", "admin-rest"),
    ("mongooseim", "client-rest"),
    ("mongooseim", "graphql"),
)


def _label(target: Target) -> str:
    provider, api = target
    return f"{provider} ({api})" if api else provider


# -- the servers (child processes) ---------------------------------------------
def _serve(conn: Connection, target: Target, history_sizes: Sequence[int]) -> None:
    from messaging_hub import testing

    provider, api = target

    async def main() -> None:
        info: dict[str, Any] = {}
        fake: Any
        if provider == "netsapiens":
            fake = testing.FakeNetSapiens()
        elif provider == "textmagic":
            fake = testing.FakeTextMagic(rate_limit_per_second=None)
        elif provider == "ringcentral":
            fake = testing.FakeRingCentral(rate_limiting=False)
        else:
            fake = testing.FakeMongooseIM(api=cast(Any, api or "graphql"))
        async with fake:
            if provider == "netsapiens":
                info["sessions"] = {size: fake.seed_session(size) for size in history_sizes}
            elif history_sizes:  # one conversation of each size, for the history walks
                sessions: dict[int, str] = {}
                for size in history_sizes:
                    if provider == "textmagic":
                        sessions[size] = str(fake.seed_session(size).id)
                    elif provider == "ringcentral":
                        sessions[size] = fake.seed_conversation(
                            size, remote_number=f"+1415555{size:04d}"
                        )
                    else:
                        peer = f"peer{size}@localhost"
                        # Whole seconds, so REST's rounded stamps stay one per message
                        # (the raw walk pages by "older than the oldest read").
                        end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
                        fake.seed_conversation(fake.owner, peer, size, end=end)
                        sessions[size] = peer
                info["sessions"] = sessions
            conn.send((fake.config, info))
            await anyio.to_thread.run_sync(conn.recv)  # wait for "stop"

    anyio.run(main)


class _Server:
    """A fake in a child process, for the length of a ``with`` block."""

    def __init__(self, target: Target, history_sizes: Sequence[int] = ()) -> None:
        self._parent, child = mp.Pipe()
        self._process = mp.get_context("spawn").Process(
            target=_serve, args=(child, target, tuple(history_sizes)), daemon=True
        )

    def __enter__(self) -> tuple[dict[str, Any], dict[str, Any]]:
        self._process.start()
        config, info = self._parent.recv()
        return config, info

    def __exit__(self, *_: object) -> None:
        self._parent.send("stop")
        self._process.join(timeout=10)


# -- raw aiohttp clients, written from each provider's documentation -----------
def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def _raw_netsapiens_send(http: aiohttp.ClientSession, config: dict[str, Any]) -> None:
    url = (
        f"{config['base_url']}/domains/{config['domain']}/users/{config['user']}"
        f"/messagesessions/{new_session_id()}/messages"
    )
    body = {"type": "chat", "message": "hello", "destination": "1004"}
    async with http.post(url, json=body) as resp:
        resp.raise_for_status()
        await resp.json()


async def _raw_textmagic_send(http: aiohttp.ClientSession, config: dict[str, Any]) -> None:
    body = {"text": "hello", "phones": "447860021131", "from": config["from_number"][1:]}
    async with http.post(f"{config['base_url']}/api/v2/messages", json=body) as resp:
        resp.raise_for_status()
        await resp.json()


async def _raw_ringcentral_token(http: aiohttp.ClientSession, config: dict[str, Any]) -> str:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": config["jwt"],
    }
    headers = {"Authorization": _basic(config["client_id"], config["client_secret"])}
    url = f"{config['base_url']}/restapi/oauth/token"
    async with http.post(url, data=form, headers=headers) as resp:
        resp.raise_for_status()
        token: str = (await resp.json())["access_token"]
        return token


async def _raw_ringcentral_send(http: aiohttp.ClientSession, config: dict[str, Any]) -> None:
    body = {
        "from": {"phoneNumber": config["from_number"]},
        "to": [{"phoneNumber": "+14155550123"}],
        "text": "hello",
    }
    url = f"{config['base_url']}/restapi/v1.0/account/~/extension/~/sms"
    async with http.post(url, json=body) as resp:
        resp.raise_for_status()
        await resp.json()


async def _raw_mongooseim_send(http: aiohttp.ClientSession, config: dict[str, Any]) -> None:
    api = config["api"]
    if api == "admin-rest":
        body: dict[str, Any] = {"caller": config["owner"], "to": "bob@localhost", "body": "hello"}
        async with http.post(f"{config['base_url']}/messages", json=body) as resp:
            resp.raise_for_status()
            await resp.read()  # 204
        return
    if api == "client-rest":
        body = {"to": "bob@localhost", "body": "hello"}
        async with http.post(f"{config['base_url']}/messages", json=body) as resp:
            resp.raise_for_status()
            await resp.json()
        return
    query = (
        "mutation SendMessage($to: JID!, $body: String!) "
        "{ stanza { sendMessage(to: $to, body: $body) { id } } }"
    )
    body = {"query": query, "variables": {"to": "bob@localhost", "body": "hello"}}
    async with http.post(config["base_url"], json=body) as resp:
        resp.raise_for_status()
        await resp.json()


async def _raw_session(provider: str, config: dict[str, Any]) -> aiohttp.ClientSession:
    headers: dict[str, str] = {}
    if provider == "netsapiens":
        headers["Authorization"] = f"Bearer {config['access_token']}"
    elif provider == "textmagic":
        headers = {"X-TM-Username": config["username"], "X-TM-Key": config["api_key"]}
    elif provider == "mongooseim":
        headers["Authorization"] = _basic(config["username"], config["password"])
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT, limit_per_host=IN_FLIGHT)
    http = aiohttp.ClientSession(headers=headers, connector=connector)
    if provider == "ringcentral":
        token = await _raw_ringcentral_token(http, config)
        await http.close()
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT, limit_per_host=IN_FLIGHT)
        http = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token}"}, connector=connector
        )
    return http


_RAW_SENDS = {
    "netsapiens": _raw_netsapiens_send,
    "textmagic": _raw_textmagic_send,
    "ringcentral": _raw_ringcentral_send,
    "mongooseim": _raw_mongooseim_send,
}
_PEERS = {
    "netsapiens": "1004",
    "textmagic": "+447860021131",
    "ringcentral": "+14155550123",
    "mongooseim": "bob@localhost",
}


def _library_options(provider: str, config: dict[str, Any]) -> dict[str, Any]:
    options = dict(config)
    if provider in ("textmagic", "ringcentral"):
        options["rate_limiting"] = False  # measure the client, not its pacing
    # The same pool as the raw client: 64 sends in flight on 64 connections.
    options["pool_size"] = IN_FLIGHT
    return options


def _json_codec() -> str:
    """Which JSON codec the library used in this run."""
    from importlib.metadata import version

    from messaging_hub.transport import body

    if body._fast_decode is None:
        return "the standard library's json (the `fast` extra is not installed)"
    return f"msgspec {version('msgspec')} (the `fast` extra)"


# -- measuring -------------------------------------------------------------------
@dataclass
class Sample:
    """One timed run: client CPU seconds and wall seconds."""

    cpu: float
    wall: float


async def _measure(fn: Callable[[], Awaitable[Any]]) -> Sample:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await fn()
    return Sample(time.process_time() - cpu, time.perf_counter() - wall)


async def _alternating(
    runs: Sequence[Callable[[], Awaitable[Any]]], rounds: int, *, start: int = 0
) -> list[list[Sample]]:
    """``rounds`` samples of each run, the order rotating every round."""
    samples: list[list[Sample]] = [[] for _ in runs]
    for r in range(start, start + rounds):
        order = list(range(len(runs)))
        order = order[r % len(order) :] + order[: r % len(order)]
        if r % 2:
            order.reverse()
        for i in order:
            samples[i].append(await _measure(runs[i]))
    return samples


async def _interleaved(
    runs: Sequence[Callable[[], Awaitable[Any]]], rounds: int, chunks: int
) -> list[list[Sample]]:
    """:func:`_alternating`, each round made of ``chunks`` short runs of each
    in turn (summed), so that a slow moment of a shared machine weighs on
    all of them rather than on whichever ran then."""
    samples: list[list[Sample]] = [[] for _ in runs]
    for r in range(rounds):
        parts = await _alternating(runs, chunks, start=r)
        for i, taken in enumerate(parts):
            samples[i].append(Sample(sum(s.cpu for s in taken), sum(s.wall for s in taken)))
    return samples


def _spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """``median [lowest, highest]``."""
    med = statistics.median(values)
    return f"{fmt.format(med)} [{fmt.format(min(values))}, {fmt.format(max(values))}]"


async def _in_flight(n: int, op: Callable[[], Awaitable[Any]]) -> None:
    """Run ``op`` ``n`` times with IN_FLIGHT of them in flight."""
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await op()

    async with anyio.create_task_group() as tg:
        for _ in range(IN_FLIGHT):
            tg.start_soon(worker)


async def _sends(target: Target, config: dict[str, Any], n: int, rounds: int) -> Row:
    provider, _ = target
    raw_send = _RAW_SENDS[provider]
    outgoing = mh.Outgoing(to=[_PEERS[provider]], text="hello")
    http = await _raw_session(provider, config)
    try:
        async with mh.connect(_library_options(provider, config)) as client:
            chunk = max(1, n // CHUNKS)

            async def lib() -> None:
                await _in_flight(chunk, lambda: client.send(outgoing))

            async def raw() -> None:
                await _in_flight(chunk, lambda: raw_send(http, config))

            await _in_flight(n, lambda: client.send(outgoing))  # warm both pools
            await _in_flight(n, lambda: raw_send(http, config))  # (and the OAuth token)
            lib_s, raw_s = await _interleaved([lib, raw], rounds, CHUNKS)
            n = chunk * CHUNKS
    finally:
        await http.close()
    ratios = [r.cpu / lb.cpu for lb, r in zip(lib_s, raw_s, strict=True)]
    return [
        _label(target),
        _spread([s.cpu / n * 1e6 for s in lib_s]),
        _spread([s.cpu / n * 1e6 for s in raw_s]),
        _spread(ratios, "{:.2f}"),
        _spread([n / s.wall for s in lib_s], "{:.0f}"),
        _spread([n / s.wall for s in raw_s], "{:.0f}"),
    ]


# -- the history walk ------------------------------------------------------------
@dataclass(slots=True)
class PlainMessage:
    """The hand-written baseline: a dataclass built straight from the JSON dict."""

    id: str
    session_id: str
    sender: str
    recipient: str
    text: str
    created_at: datetime
    raw: dict[str, Any]


def _plain(item: dict[str, Any]) -> PlainMessage:
    return PlainMessage(
        id=item["id"],
        session_id=item["messagesession-id"],
        sender=item["from-user-id"] or item["from-number"],
        recipient=item["terminating-user-id"] or item["terminating-number"],
        text=item["text"],
        created_at=datetime.fromisoformat(item["timestamp"]).replace(tzinfo=UTC),
        raw=item,
    )


async def _raw_pages(
    http: aiohttp.ClientSession, config: dict[str, Any], sid: str, each: Callable[[Any], Any]
) -> int:
    url = (
        f"{config['base_url']}/domains/{config['domain']}/users/{config['user']}"
        f"/messagesessions/{sid}/messages"
    )
    count, start = 0, 0
    while True:
        async with http.get(url, params={"limit": "100", "start": str(start)}) as resp:
            resp.raise_for_status()
            page = json.loads(await resp.read())
        for item in page:
            each(item)  # counted, not kept, like the library's walk
        count += len(page)
        if len(page) < 100:
            return count
        start += len(page)


def _ignore(_: Any) -> None:
    pass


async def _raw_history(
    http: aiohttp.ClientSession, target: Target, config: dict[str, Any], sid: str
) -> int:
    """Walk one conversation the plain way (aiohttp + ``json.loads`` into
    dicts, each counted and dropped); the number of messages read."""
    provider, api = target
    base, count = config["base_url"], 0
    if provider == "netsapiens":
        return await _raw_pages(http, config, sid, _ignore)
    if provider in ("ringcentral", "textmagic"):
        page = 1
        while True:
            if provider == "ringcentral":
                url = f"{base}/restapi/v1.0/account/~/extension/~/message-store"
                params = {"conversationId": sid, "dateFrom": "1970-01-01T00:00:00Z",
                          "page": str(page), "perPage": "100"}  # fmt: skip
            else:
                url = f"{base}/api/v2/sessions/{sid}/messages"
                params = {"page": str(page), "limit": "100"}
            async with http.get(url, params=params) as resp:
                resp.raise_for_status()
                data = json.loads(await resp.read())
            items = data["records"] if provider == "ringcentral" else data["resources"]
            for item in items:
                _ignore(item)
            count += len(items)
            pages = data["paging"]["totalPages"] if provider == "ringcentral" else data["pageCount"]
            if page >= pages:
                return count
            page += 1
    # MongooseIM: back through the archive by ``before``, 50 at a time (the
    # seeded stamps are distinct, so "older than the oldest read" is exact).
    before: Any = None
    while True:
        if api == "graphql":
            query = (
                "query Last($with: JID, $limit: PosInt, $before: DateTime) { stanza { "
                "getLastMessages(with: $with, limit: $limit, before: $before) "
                "{ stanzas { sender timestamp stanza_id stanza } limit } } }"
            )
            variables = {"with": sid, "limit": 50, "before": before}
            async with http.post(base, json={"query": query, "variables": variables}) as resp:
                resp.raise_for_status()
                data = json.loads(await resp.read())
            items = data["data"]["stanza"]["getLastMessages"]["stanzas"]
        else:
            url = (
                f"{base}/messages/{config['owner']}/{sid}"
                if api == "admin-rest"
                else (f"{base}/messages/{sid}")
            )
            params = {"limit": "50"} if before is None else {"limit": "50", "before": str(before)}
            async with http.get(url, params=params) as resp:
                resp.raise_for_status()
                items = json.loads(await resp.read())
        for item in items:
            _ignore(item)
        count += len(items)
        if len(items) < 50:
            return count
        if api == "graphql":
            oldest = min(datetime.fromisoformat(i["timestamp"]) for i in items)
            before = (oldest - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            before = min(i["timestamp"] for i in items) - 1


async def _histories(
    target: Target, config: dict[str, Any], info: dict[str, Any], size: int, rounds: int
) -> Row:
    """Library and raw walks of one conversation of ``size`` messages."""
    provider, _ = target
    http = await _raw_session(provider, config)
    sid = info["sessions"][size]
    # TextMagic: the session alone (no follow-up sessions), as the raw walk reads it.
    options = {"follow_ups": False} if provider == "textmagic" else {}
    try:
        async with mh.connect(_library_options(provider, config)) as client:

            async def lib() -> None:
                count = 0
                async for _ in client.history(sid, **options):
                    count += 1
                assert count == size, count

            async def raw() -> None:
                count = await _raw_history(http, target, config, sid)
                assert count == size, (target, count)

            await lib()
            await raw()
            lib_s, raw_s = await _alternating([lib, raw], rounds)
    finally:
        await http.close()
    return [
        _label(target),
        _spread([s.cpu / size * 1e6 for s in lib_s], "{:.2f}"),
        _spread([s.cpu / size * 1e6 for s in raw_s], "{:.2f}"),
        _spread([lb.cpu / r.cpu for lb, r in zip(lib_s, raw_s, strict=True)], "{:.2f}"),
    ]


async def _history(
    config: dict[str, Any], info: dict[str, Any], sizes: Sequence[int], rounds: int
) -> tuple[list[Row], list[Row]]:
    cpu_rows: list[Row] = []
    memory_rows: list[Row] = []
    http = await _raw_session("netsapiens", config)
    try:
        async with mh.connect(_library_options("netsapiens", config)) as client:
            for size in sizes:
                sid = info["sessions"][size]

                async def lib(sid: str = sid, size: int = size) -> None:
                    count = 0
                    async for _ in client.history(sid):
                        count += 1
                    assert count == size, count

                async def raw(sid: str = sid, size: int = size) -> None:
                    assert await _raw_pages(http, config, sid, _ignore) == size

                async def plain(sid: str = sid, size: int = size) -> None:
                    assert await _raw_pages(http, config, sid, _plain) == size

                await lib()
                await raw()
                lib_s, raw_s, plain_s = await _alternating([lib, raw, plain], rounds)
                cpu_rows.append(
                    [
                        f"{size:,}",
                        _spread([s.cpu / size * 1e6 for s in lib_s], "{:.2f}"),
                        _spread([s.cpu / size * 1e6 for s in raw_s], "{:.2f}"),
                        _spread([s.cpu / size * 1e6 for s in plain_s], "{:.2f}"),
                        _spread(
                            [lb.cpu / r.cpu for lb, r in zip(lib_s, raw_s, strict=True)],
                            "{:.2f}",
                        ),
                        _spread(
                            [lb.cpu / p.cpu for lb, p in zip(lib_s, plain_s, strict=True)],
                            "{:.2f}",
                        ),
                    ]
                )
                peaks = []
                for walk in (lib, raw, plain):
                    gc.collect()
                    tracemalloc.start()
                    await walk()
                    peaks.append(tracemalloc.get_traced_memory()[1])
                    tracemalloc.stop()
                memory_rows.append([f"{size:,}", *(f"{p / 1024:.0f}" for p in peaks)])
    finally:
        await http.close()
    return cpu_rows, memory_rows


# -- first-call costs ------------------------------------------------------------
_FIRST_CALLS = """
import json, statistics, sys, time
started = time.perf_counter()
import messaging_hub
imported = time.perf_counter()
import anyio
options, peer = json.loads(sys.argv[1])
client = messaging_hub.connect(options)
connected = time.perf_counter()
messaging_hub.connect(options)  # never used: nothing to close
again = time.perf_counter()
outgoing = messaging_hub.Outgoing(to=[peer], text="hello")

async def sends():
    async with client:
        t0 = time.perf_counter()
        await client.send(outgoing)
        first = time.perf_counter() - t0
        warm = []
        for _ in range(20):
            t0 = time.perf_counter()
            await client.send(outgoing)
            warm.append(time.perf_counter() - t0)
        return first, statistics.median(warm)

first, warm = anyio.run(sends)
print(json.dumps([imported - started, connected - imported, again - connected, first, warm]))
"""


def _first_call_row(target: Target, config: dict[str, Any], rounds: int) -> Row:
    """In fresh interpreters: import, connect twice, a first send and warm sends."""
    provider, _ = target
    argument = json.dumps([_library_options(provider, config), _PEERS[provider]])
    samples: list[list[float]] = []
    for _ in range(rounds):
        done = subprocess.run(  # noqa: S603 - this interpreter, our own script
            [sys.executable, "-c", _FIRST_CALLS, argument],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        samples.append(json.loads(done.stdout))
    columns = list(zip(*samples, strict=True))
    return [_label(target), *(_spread([v * 1000 for v in col], "{:.1f}") for col in columns)]


# -- shared state ----------------------------------------------------------------
def _shared_state_skip() -> str | None:
    """Why the shared-state scenario cannot run here, or None."""
    if redis_server_binary() is None:
        return "redis-server is not installed"
    if importlib.util.find_spec("redis") is None:
        return "redis-py is not installed (pip install 'messaging-hub[redis]')"
    return None


def _paced_options(config: dict[str, Any], state: mh.SharedState | None) -> dict[str, Any]:
    # Pacing on, at 1,000,000 requests per second: the limiter counts every
    # send, in-process or in Redis, and never makes one wait.
    options = _library_options(SHARED_TARGET[0], config)
    options["rate_limiting"] = True
    options["requests_per_second"] = 1_000_000
    if state is not None:
        options["state"] = state
    return options


async def _shared_state(
    config: dict[str, Any], url: str, n: int, one_by_one: int, rounds: int
) -> list[Row]:
    peer = _PEERS[SHARED_TARGET[0]]
    plain = mh.Outgoing(to=[peer], text="hello")
    # Every keyed send has a key of its own, made before the clock starts
    # (the warm-up round included).
    keyed = iter(
        [
            mh.Outgoing(to=[peer], text="hello", idempotency_key=f"bench-{i}")
            for i in range((rounds + 1) * (n + one_by_one))
        ]
    )
    state = mh.RedisState.from_url(url, namespace="bench")
    try:
        await state.ping()
        async with (
            mh.connect(_paced_options(config, None)) as local,
            mh.connect(_paced_options(config, state)) as shared,
        ):
            sends: list[Callable[[], Awaitable[Any]]] = [
                lambda: local.send(plain),
                lambda: shared.send(plain),
                lambda: shared.send(next(keyed)),
            ]

            def sequential(send: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
                async def run() -> None:
                    for _ in range(one_by_one):
                        await send()

                return run

            def concurrent(send: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
                async def run() -> None:
                    await _in_flight(n, send)

                return run

            one_at_a_time = [sequential(send) for send in sends]
            in_flight = [concurrent(send) for send in sends]
            for run in (*in_flight, *one_at_a_time):  # warm the pools (Redis's too)
                await run()
            seq_s = await _alternating(one_at_a_time, rounds)
            par_s = await _alternating(in_flight, rounds)
    finally:
        await state.aclose()

    def vs_default(values: list[list[float]], i: int) -> str:
        if i == 0:
            return "—"
        return _spread([v / d for v, d in zip(values[i], values[0], strict=True)], "{:.2f}")

    latency = [[s.wall / one_by_one * 1e6 for s in samples] for samples in seq_s]
    cpu = [[s.cpu / n * 1e6 for s in samples] for samples in par_s]
    throughput = [[n / s.wall for s in samples] for samples in par_s]
    labels = ("no state (default)", "RedisState", "RedisState + idempotency_key")
    rows = []
    for i, label in enumerate(labels):
        added = (
            "—" if i == 0 else _spread([v - d for v, d in zip(latency[i], latency[0], strict=True)])
        )
        rows.append(
            [
                label,
                _spread(latency[i]),
                added,
                vs_default(latency, i),
                _spread(cpu[i]),
                vs_default(cpu, i),
                _spread(throughput[i], "{:.0f}"),
                vs_default(throughput, i),
            ]
        )
    return rows


# -- the official RingCentral SDK ------------------------------------------------
def _sdk_skip() -> str | None:
    """Why the SDK scenario cannot run here, or None."""
    if importlib.util.find_spec(SDK_PACKAGE) is None:
        return f"the RingCentral SDK is not installed (pip install {SDK_PACKAGE})"
    return None


def _sdk_platform(config: dict[str, Any]) -> Any:
    """The SDK's ``Platform``, logged in with the fake's JWT.

    The SDK has no type hints: it stays ``Any`` from here on.
    """
    sdk: Any = importlib.import_module(SDK_PACKAGE)
    rc = sdk.SDK(config["client_id"], config["client_secret"], config["base_url"]).platform()
    rc.login(jwt=config["jwt"])
    return rc


async def _sdk_vs_library(
    config: dict[str, Any], n: int, one_by_one: int, rounds: int
) -> list[Row]:
    rc = _sdk_platform(config)
    body = {
        "from": {"phoneNumber": config["from_number"]},
        "to": [{"phoneNumber": _PEERS["ringcentral"]}],
        "text": "hello",
    }
    outgoing = mh.Outgoing(to=[_PEERS["ringcentral"]], text="hello")

    def sdk_send() -> None:
        # Raises on an error status; the answer is decoded, as the library does.
        rc.post(SDK_SMS_PATH, body).json_dict()

    def sdk_sequential() -> None:
        for _ in range(one_by_one):
            sdk_send()

    # One logged-in SDK shared by the threads: it makes a new requests
    # Session for every request, so nothing but the token is shared.
    with ThreadPoolExecutor(IN_FLIGHT) as pool:

        def sdk_concurrent() -> None:
            left = iter(range(n))  # like _in_flight: each thread takes the next send

            def worker() -> None:
                for _ in left:
                    sdk_send()

            for future in [pool.submit(worker) for _ in range(IN_FLIGHT)]:
                future.result()

        async with mh.connect(_library_options("ringcentral", config)) as client:

            async def lib_one() -> None:
                for _ in range(one_by_one):
                    await client.send(outgoing)

            async def lib_par() -> None:
                await _in_flight(n, lambda: client.send(outgoing))

            async def sdk_one() -> None:
                await anyio.to_thread.run_sync(sdk_sequential)

            async def sdk_par() -> None:
                await anyio.to_thread.run_sync(sdk_concurrent)

            # Warm up: the library's pool and token, the SDK's 64 threads.
            for run in (lib_par, sdk_par, lib_one, sdk_one):
                await run()
            one_s = await _alternating([lib_one, sdk_one], rounds)
            par_s = await _alternating([lib_par, sdk_par], rounds)

    rows = []
    for mode, count, (lib_s, sdk_s) in (
        ("1 at a time", one_by_one, one_s),
        (f"{IN_FLIGHT} in flight", n, par_s),
    ):
        pairs = list(zip(lib_s, sdk_s, strict=True))
        rows.append(
            [
                mode,
                str(count),
                _spread([count / s.wall for s in lib_s], "{:.0f}"),
                _spread([count / s.wall for s in sdk_s], "{:.0f}"),
                _spread([s.wall / lb.wall for lb, s in pairs], "{:.2f}"),
                _spread([s.cpu / count * 1e6 for s in lib_s]),
                _spread([s.cpu / count * 1e6 for s in sdk_s]),
                _spread([s.cpu / lb.cpu for lb, s in pairs], "{:.2f}"),
            ]
        )
    return rows


# -- the report ------------------------------------------------------------------
def _table(header: Row, rows: list[Row]) -> tuple[str, str]:
    """The table as aligned text and as Markdown."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    text = "\n".join([lines[0], "-+-".join("-" * w for w in widths), *lines[1:]])
    md = "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows])
    return text, md


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the tables and (with --write) write the results file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per scenario (>= 5)")
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="run only these parts (repeatable)",
    )
    args = parser.parse_args(argv)
    n, sizes, rounds = (200, (2_000, 5_000), 3) if args.quick else (2_000, HISTORY_SIZES, 7)
    one_by_one = n // 4  # shared state, SDK: sends made one at a time per round
    rounds = args.rounds or rounds
    parts = set(args.only or PARTS)
    sections: list[tuple[str, str, Row, list[Row]]] = []

    if "sends" in parts:
        rows = []
        for target in TARGETS:
            with _Server(target) as (config, _):
                rows.append(anyio.run(_sends, target, config, n, rounds))
        sections.append(
            (
                f"Sends, {IN_FLIGHT} in flight",
                f"{n} sends per round, as {CHUNKS} runs of {n // CHUNKS} by each client in "
                "turn (a slow moment of the shared machine then weighs on both). CPU: client "
                "process time per send (µs). "
                "Ratio: raw CPU / library CPU per round (higher is better; 1.00 means "
                "the library costs nothing over the raw call). Throughput: sends per "
                "second of wall time (client and server share the two cores).",
                [
                    "provider",
                    "library CPU µs/send",
                    "raw CPU µs/send",
                    "raw/library CPU",
                    "library sends/s",
                    "raw sends/s",
                ],
                rows,
            )
        )
    if "history" in parts:
        with _Server(("netsapiens", None), sizes) as (config, info):
            cpu_rows, memory_rows = anyio.run(_history, config, info, sizes, rounds)
        sections.append(
            (
                "NetSapiens history walk: CPU",
                "Client CPU per message (µs), pages of 100. raw: aiohttp + `json.loads` "
                "into dicts, counted and dropped; dataclass: the same dicts made into a "
                "hand-written slotted dataclass (parsed timestamp, raw dict kept). Ratios: "
                "library CPU / baseline CPU per round (lower is better).",
                [
                    "messages",
                    "library µs/msg",
                    "raw dicts µs/msg",
                    "dataclass µs/msg",
                    "library/raw",
                    "library/dataclass",
                ],
                cpu_rows,
            )
        )
        sections.append(
            (
                "NetSapiens history walk: peak memory",
                "Peak traced memory (tracemalloc, KiB) during one walk of each kind; "
                "nothing is kept by the consumer, so a flat column means O(page).",
                ["messages", "library KiB", "raw dicts KiB", "dataclass KiB"],
                memory_rows,
            )
        )
    if "histories" in parts:
        size = 500 if args.quick else PROVIDER_HISTORY
        rows = []
        for target in TARGETS:
            with _Server(target, (size,)) as (config, info):
                rows.append(anyio.run(_histories, target, config, info, size, rounds))
        sections.append(
            (
                "History walk, every provider",
                f"One conversation of {size:,} messages read through `history()` and by a "
                "raw walk (aiohttp + `json.loads` into dicts, counted and dropped) of the "
                "same pages: 100 per page, 50 on MongooseIM (its default cap). Client CPU "
                "per message (µs); library/raw per round (lower is better). The library "
                "does more than the raw walk: it checks and maps every record to the "
                "shared `Message`, de-duplicates, and on MongooseIM re-reads each page's "
                "boundary (REST stamps are rounded) and parses each GraphQL stanza's XML; "
                "TextMagic is read with `follow_ups=False` (the session alone, as the raw "
                "walk reads it).",
                ["provider", "library µs/msg", "raw dicts µs/msg", "library/raw"],
                rows,
            )
        )
    if "first-calls" in parts:
        rows = []
        for target in TARGETS[:3] + TARGETS[-1:]:
            with _Server(target) as (config, _):
                rows.append(_first_call_row(target, config, FIRST_CALL_ROUNDS))
        sections.append(
            (
                "First-call costs",
                f"Milliseconds of wall time in a fresh interpreter, median of "
                f"{FIRST_CALL_ROUNDS} interpreters [spread]: `import messaging_hub`, the "
                "first `connect()` (imports the adapter), a second `connect()`, the first "
                "send (opens the connection, obtains a token where there is one) and a "
                "warm send, one at a time.",
                ["provider", "import", "1st connect", "2nd connect", "1st send", "warm send"],
                rows,
            )
        )

    if "shared-state" in parts:
        title = "Shared state (Redis)"
        skipped = _shared_state_skip()
        if skipped is not None:
            sections.append((title, f"Skipped: {skipped}.", [], []))
        else:
            with RedisServer() as redis, _Server(SHARED_TARGET) as (config, _):
                rows = anyio.run(_shared_state, config, redis.url, n, one_by_one, rounds)
            sections.append(
                (
                    title,
                    f"TextMagic sends with client-side pacing on (`requests_per_second` "
                    "1,000,000: every send is counted by the limiter, none waits): the "
                    "default in-process state, `state=RedisState` (the limiter is a Lua "
                    "script in Redis: one round trip per send) and `state=RedisState` with "
                    "an `idempotency_key` per send (two more round trips: reserve, then "
                    "store the receipt). A `redis-server` on loopback shares the two cores "
                    f"with the client and the fake. One at a time: {one_by_one} sends per "
                    "round, wall time per send (µs) and what Redis adds to it. "
                    f"{IN_FLIGHT} in flight: {n} sends per round, client CPU per send (µs) "
                    "and sends per second of wall time. /default: the figure divided by the "
                    "default's in the same round (1.00: no cost; for sends/s, below 1 is "
                    "slower).",
                    [
                        "state",
                        "1 at a time µs/send",
                        "added µs",
                        "/default",
                        f"{IN_FLIGHT} in flight CPU µs/send",
                        "/default",
                        "sends/s",
                        "/default",
                    ],
                    rows,
                )
            )

    if "ringcentral-sdk" in parts:
        title = "RingCentral SDK vs library"
        skipped = _sdk_skip()
        if skipped is not None:
            sections.append((title, f"Skipped: {skipped}.", [], []))
        else:
            with _Server(("ringcentral", None)) as (config, _):
                rows = anyio.run(_sdk_vs_library, config, n, one_by_one, rounds)
            version = importlib.metadata.version(SDK_PACKAGE)
            sections.append(
                (
                    title,
                    f"The official RingCentral Python SDK (`{SDK_PACKAGE}` {version}: "
                    "synchronous, on requests) and the library sending the same SMS to the "
                    "same fake (client-side pacing off), both logged in with the JWT before "
                    "the clock starts. One at a time: the SDK's calls in a loop in one worker "
                    "thread, the library awaiting each send. "
                    f"{IN_FLIGHT} in flight: one logged-in SDK shared by {IN_FLIGHT} threads "
                    f"against the library's {IN_FLIGHT} tasks on {IN_FLIGHT} pooled "
                    "connections. The SDK makes a new requests Session, so a new "
                    "connection, for every request. Sends/s: sends per second of wall time; "
                    "library/SDK: the library's throughput over the SDK's in the same round "
                    "(higher: the library is faster). CPU: client process time per send "
                    "(µs, all threads); SDK/library: the SDK's CPU over the library's.",
                    [
                        "sends",
                        "per round",
                        "library sends/s",
                        "SDK sends/s",
                        "library/SDK sends/s",
                        "library CPU µs/send",
                        "SDK CPU µs/send",
                        "SDK/library CPU",
                    ],
                    rows,
                )
            )

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    intro = (
        f"Run {when} on Python {platform.python_version()}, {platform.machine()}, "
        f"{mp.cpu_count()} cores{' (quick run)' if args.quick else ''}. Each fake ran in "
        f"its own process; figures are medians of {rounds} alternating rounds, with "
        "[lowest, highest] over the rounds. The raw clients do the same HTTP work without "
        "validation, typed models, retries or pacing (client-side pacing is switched off "
        "for the library too, so the client itself is measured; the shared-state "
        "scenario, which compares the library with itself, keeps it on). JSON: "
        f"{_json_codec()}."
    )
    md_parts = ["# Benchmark results", intro]
    for title, note, header, rows in sections:
        if not header:  # a scenario that did not run says why
            print(f"\n{title}\n{note}")
            md_parts += [f"## {title}", note]
            continue
        text, md = _table(header, rows)
        print(f"\n{title}\n{text}")
        md_parts += [f"## {title}", note, md]
    if args.write:
        RESULTS.write_text("\n\n".join(md_parts) + "\n")
        print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
