"""Eight real worker processes on one RingCentral account through one Redis.

Each worker is a separate Python interpreter (``rc_worker.py``, started with
asyncio subprocesses) with its own ``RedisState`` and client; the fake
RingCentral server runs in the test's own event loop, so it keeps serving
while the test awaits the workers. The workers report their receipts as
JSON lines; the fake says what reached the wire (token requests, sent
texts) and an ``on_response_prepare`` hook counts every status it answered
(429s included).

The fake's Medium group allows 40 requests per **1 s** window instead of
the usage plan's 60 s (and the clients are configured with that plan), so
pacing is exercised over several windows in a few seconds; the Auth group
keeps its real 5 per 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from aiohttp import web

from messaging_hub.testing import FakeRingCentral

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

WORKER = Path(__file__).with_name("rc_worker.py")
WORKERS = 8
TO = "+14155550100"
JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH = "refresh_token"
TOKEN_PATH = "/restapi/oauth/token"
# How long one step of the protocol may take before the test gives up.
STEP_TIMEOUT = 60.0


class Answers:
    """Every answer the fake sent: (method, path, status, monotonic time)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, int, float]] = []

    async def __call__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.log.append((request.method, request.path, response.status, time.monotonic()))

    def statuses(self, path_part: str = "") -> Counter[int]:
        return Counter(status for _, path, status, _ in self.log if path_part in path)


@contextlib.asynccontextmanager
async def serve(
    rate_limits: dict[str, tuple[int, float]],
) -> AsyncIterator[tuple[FakeRingCentral, Answers]]:
    fake = FakeRingCentral(rate_limits=rate_limits)
    answers = Answers()
    fake.app.on_response_prepare.append(answers)  # before start: signals freeze then
    async with fake:
        yield fake, answers


def client_config(
    fake: FakeRingCentral, rate_limits: dict[str, tuple[int, float]], **extra: Any
) -> dict[str, Any]:
    """The fake's connect() options, with the client told the fake's plan."""
    return {
        **fake.config,
        "rate_limits": {group: list(rule) for group, rule in rate_limits.items()},
        **extra,
    }


class Workers:
    """Worker processes driven over stdio (see ``rc_worker.py``)."""

    def __init__(self, tmp_path: Path) -> None:
        self._dir = tmp_path
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, specs: Iterable[dict[str, Any]]) -> None:
        for number, spec in enumerate(specs):
            with (self._dir / f"worker{number}.stderr").open("wb") as stderr:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(WORKER),
                    json.dumps(spec),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=stderr,
                    limit=16 * 1024 * 1024,
                )
            self.procs.append(proc)

    def stderr(self, number: int) -> str:
        return (self._dir / f"worker{number}.stderr").read_text(errors="replace")

    async def _line(self, number: int, event: str) -> dict[str, Any]:
        stdout = self.procs[number].stdout
        assert stdout is not None
        try:
            line = await asyncio.wait_for(stdout.readline(), STEP_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"worker {number} said nothing for {STEP_TIMEOUT:g} s")
        if not line:
            await self.procs[number].wait()
            pytest.fail(
                f"worker {number} exited ({self.procs[number].returncode}) "
                f"before {event!r}:\n{self.stderr(number)}"
            )
        message: dict[str, Any] = json.loads(line)
        assert message["event"] == event, message
        return message

    async def expect(self, event: str) -> list[dict[str, Any]]:
        """One ``event`` line from every worker, in worker order."""
        return list(await asyncio.gather(*(self._line(n, event) for n in range(len(self.procs)))))

    async def go(self) -> None:
        """Let every worker start its next round (all at once)."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        for proc in self.procs:
            assert proc.stdin is not None
            await proc.stdin.drain()

    async def finish(self) -> None:
        """Wait for every worker to exit cleanly, with nothing on stderr."""
        for number, proc in enumerate(self.procs):
            code = await asyncio.wait_for(proc.wait(), STEP_TIMEOUT)
            assert code == 0, f"worker {number} exited {code}:\n{self.stderr(number)}"
            assert self.stderr(number) == "", f"worker {number} complained:\n{self.stderr(number)}"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for proc in self.procs:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            if proc.returncode is None and exc_type is not None:
                proc.kill()
        for proc in self.procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def spec(
    config: dict[str, Any],
    redis_url: str | None,
    rounds: list[list[dict[str, Any]]],
    *,
    concurrency: int,
) -> dict[str, Any]:
    return {
        "config": config,
        "redis_url": redis_url,
        "namespace": "multiprocess",
        "to": TO,
        "rounds": rounds,
        "concurrency": concurrency,
    }


def round_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [result for message in messages for result in message["results"]]


def errors(results: list[dict[str, Any]]) -> list[str]:
    return [f"{r['text']}: {r['error']}" for r in results if "error" in r]


# -- one login, one refresh, one rate budget ------------------------------------------

SENDS_PER_ROUND = 15  # per worker: 120 a round, three 40-request windows

PACED = {"Medium": (40, 1.0), "Auth": (5, 60.0)}


async def test_eight_workers_share_one_login_one_refresh_and_the_rate_budget(
    redis_url: str, tmp_path: Path
) -> None:
    """8 workers send 15 SMS each (Medium group: 40 per 1 s at the fake),
    then the fake expires every access token and each sends 15 more: one
    JWT login, one refresh, no 429 and every send delivered."""
    async with serve(PACED) as (fake, answers), Workers(tmp_path) as workers:
        config = client_config(fake, PACED)
        rounds = [
            [[{"text": f"w{w} r{r} n{n}", "key": None} for n in range(SENDS_PER_ROUND)]
             for r in range(2)]
            for w in range(WORKERS)
        ]  # fmt: skip
        await workers.start(spec(config, redis_url, plan, concurrency=16) for plan in rounds)
        await workers.expect("ready")

        started = time.monotonic()
        await workers.go()
        first = round_results(await workers.expect("round"))
        first_took = time.monotonic() - started
        assert errors(first) == []
        assert fake.token_requests == Counter({JWT: 1})
        assert len(fake.requests_to("POST", TOKEN_PATH)) == 1
        assert len(fake.sent) == WORKERS * SENDS_PER_ROUND
        first_429s = answers.statuses()[429]

        fake.expire_tokens()
        started = time.monotonic()
        await workers.go()
        second = round_results(await workers.expect("round"))
        second_took = time.monotonic() - started
        await workers.finish()

    assert errors(second) == []
    assert fake.token_requests == Counter({JWT: 1, REFRESH: 1})
    assert len(fake.requests_to("POST", TOKEN_PATH)) == 2
    assert fake.requests_to("POST", "/restapi/oauth/revoke") == []  # a shared token stays
    statuses = answers.statuses()
    assert statuses[401] >= 1, "the expiry was never noticed: the test proves nothing"
    expected = {
        f"w{w} r{r} n{n}" for w in range(WORKERS) for r in range(2) for n in range(SENDS_PER_ROUND)
    }
    sent = Counter(m.text for m in fake.sent)
    assert set(sent) == expected
    assert max(sent.values()) == 1
    # 120 sends at 40 per second span at least two windows each round.
    assert first_took >= 2.0
    assert second_took >= 2.0
    print(
        f"\nrounds took {first_took:.2f} s and {second_took:.2f} s; "
        f"token requests {dict(fake.token_requests)}; answers {dict(statuses)} "
        f"({first_429s} of the 429s in the first round)"
    )
    # The shared log counts each request from its answer on (the server
    # counted it on arrival, before): no burst straddling a window boundary
    # overspends it.
    assert statuses[429] == 0, statuses


async def test_without_shared_state_every_worker_logs_in(tmp_path: Path) -> None:
    """The contrast: the same 8 workers without ``state=`` log in 8 times.

    The fake's Auth group is raised to 100 per 60 s here so that all 8
    logins go through (at the plan's 5 per 60 s the last 3 are refused with
    a ~60 s Retry-After, and a worker whose login used the last slot then
    waits out its close)."""
    limits = {**PACED, "Auth": (100, 60.0)}
    async with serve(limits) as (fake, answers), Workers(tmp_path) as workers:
        config = client_config(fake, limits)
        await workers.start(
            spec(config, None, [[{"text": f"w{w}", "key": None}]], concurrency=1)
            for w in range(WORKERS)
        )
        await workers.expect("ready")
        await workers.go()
        results = round_results(await workers.expect("round"))
        await workers.finish()

    assert errors(results) == []
    assert fake.token_requests == Counter({JWT: WORKERS})
    assert answers.statuses()[429] == 0
    # Unshared tokens are revoked at close; shared ones are not.
    assert len(fake.requests_to("POST", "/restapi/oauth/revoke")) == WORKERS


# -- idempotency keys across processes -----------------------------------------------

TOTAL_SENDS = 1000
DUPLICATED_KEYS = 200
POSITIONS = TOTAL_SENDS // WORKERS  # 125 sends per worker

FAST = {"Medium": (1000, 1.0), "Auth": (5, 60.0)}


def idempotency_plan(seed: int = 9) -> list[list[dict[str, Any]]]:
    """Per worker, 125 sends: 1,000 in all over 800 keys, 200 of them sent
    twice by two different workers at the same position in their lists (so
    that the two sends race)."""
    rng = random.Random(seed)  # a reproducible test plan
    plans: list[list[dict[str, Any]]] = [[] for _ in range(WORKERS)]
    pairs_per_position = 2
    # 100 of the 125 positions, spread over the whole run (not just its start).
    dup_positions = set(rng.sample(range(POSITIONS), DUPLICATED_KEYS // pairs_per_position))
    dups = singles = 0
    for position in range(POSITIONS):
        order = list(range(WORKERS))
        rng.shuffle(order)
        if position in dup_positions:
            for pair in range(pairs_per_position):
                key = f"dup-{dups}"
                dups += 1
                for worker in order[2 * pair : 2 * pair + 2]:
                    plans[worker].append({"text": f"key {key}", "key": key})
            order = order[2 * pairs_per_position :]
        for worker in order:
            key = f"one-{singles}"
            singles += 1
            plans[worker].append({"text": f"key {key}", "key": key})
    return plans


def test_the_plan_splits_every_duplicate_between_two_workers() -> None:
    plans = idempotency_plan()
    owners: dict[str, list[int]] = {}
    for worker, plan in enumerate(plans):
        assert len(plan) == POSITIONS
        for item in plan:
            owners.setdefault(item["key"], []).append(worker)
    assert sum(len(plan) for plan in plans) == TOTAL_SENDS
    assert len(owners) == TOTAL_SENDS - DUPLICATED_KEYS
    twice = {key: ws for key, ws in owners.items() if len(ws) == 2}
    assert len(twice) == DUPLICATED_KEYS
    assert all(a != b for a, b in twice.values())
    assert all(len(ws) <= 2 for ws in owners.values())


async def test_a_thousand_sends_with_racing_duplicate_keys_send_each_key_once(
    redis_url: str, tmp_path: Path
) -> None:
    """1,000 sends over 800 idempotency keys from 8 workers; each of the 200
    keys sent twice is sent by two workers at the same point of their runs.
    The fake gets every key once, and both workers hold the same receipt.
    (Medium raised to 1,000 per 1 s so that this takes a few seconds.)"""
    plans = idempotency_plan()
    async with serve(FAST) as (fake, answers), Workers(tmp_path) as workers:
        config = client_config(fake, FAST)
        await workers.start(spec(config, redis_url, [plan], concurrency=8) for plan in plans)
        await workers.expect("ready")
        started = time.monotonic()
        await workers.go()
        messages = await workers.expect("round")
        took = time.monotonic() - started
        await workers.finish()

    results = round_results(messages)
    assert errors(results) == []
    assert len(results) == TOTAL_SENDS
    sent = Counter(m.text for m in fake.sent)
    assert len(sent) == TOTAL_SENDS - DUPLICATED_KEYS
    assert max(sent.values()) == 1, [text for text, n in sent.items() if n > 1]
    assert set(sent) == {r["text"] for r in results}
    delivered = {m.text: str(m.id) for m in fake.sent}

    by_key: dict[str, list[dict[str, Any]]] = {}
    for worker, message in enumerate(messages):
        for result in message["results"]:
            by_key.setdefault(result["key"], []).append({**result, "worker": worker})
    for key, receipts in by_key.items():
        assert len({r["worker"] for r in receipts}) == len(receipts)  # never twice in one worker
        real = [r for r in receipts if not r["replayed"]]
        assert len(real) == 1, (key, receipts)  # one send; a repeat replays it
        assert real[0]["message_ids"] == [delivered[f"key {key}"]]
        for receipt in receipts:
            assert (receipt["session_id"], receipt["message_ids"]) == (
                real[0]["session_id"],
                real[0]["message_ids"],
            )
    assert sum(len(r) == 2 for r in by_key.values()) == DUPLICATED_KEYS

    assert fake.token_requests == Counter({JWT: 1})
    statuses = answers.statuses()
    assert statuses[429] == 0, statuses
    # The duplicates did race: for some keys a worker found the other's send
    # still under way (and waited for its receipt instead of sending).
    raced = {key.rsplit(":", 1)[1] for m in messages for key in m["raced"]}  # account:key
    assert raced, "no duplicate send overlapped another: the test proves little"
    assert all(len(by_key[key]) == 2 for key in raced)
    print(
        f"\n1,000 sends took {took:.2f} s; {len(raced)} of the {DUPLICATED_KEYS} duplicated "
        f"keys met the other send under way; answers {dict(statuses)}"
    )
