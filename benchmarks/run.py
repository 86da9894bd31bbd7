"""Benchmarks: messaging-hub against raw aiohttp on the same fake servers.

Each provider's fake runs in a child process (so the two cores are split
between client and server), and each scenario is run twice: by the library
and by a hand-written raw-aiohttp client doing the same HTTP work. Ratios
(library / raw) from one run are the figures to quote; absolute times on
shared machines are noisy.

    python benchmarks/run.py [--quick]

prints a table and writes ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import anyio

import messaging_hub as mh
from messaging_hub.adapters.netsapiens import new_session_id

RESULTS = Path(__file__).with_name("results.md")
FAX_BYTES = 16 * 1024 * 1024

Row = list[str]


# -- the servers (child processes) ---------------------------------------------
def _serve(conn: Connection, provider: str, history_size: int) -> None:
    from messaging_hub import testing

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
            fake = testing.FakeMongooseIM(api="graphql")
        async with fake:
            if provider == "netsapiens":
                info["session"] = fake.seed_session(history_size)
            if provider == "ringcentral":
                fax = fake.deliver_fax("+14155550999", b"\x00" * FAX_BYTES)
                info["fax"] = (fax.id, fax.attachments[0].id)
            conn.send((fake.config, info))
            await anyio.to_thread.run_sync(conn.recv)  # wait for "stop"

    anyio.run(main)


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


async def _raw_netsapiens_history(
    http: aiohttp.ClientSession, config: dict[str, Any], sid: str
) -> int:
    url = (
        f"{config['base_url']}/domains/{config['domain']}/users/{config['user']}"
        f"/messagesessions/{sid}/messages"
    )
    count, start = 0, 0
    while True:
        async with http.get(url, params={"limit": "100", "start": str(start)}) as resp:
            page = await resp.json()
        count += len(page)
        if len(page) < 100:
            return count
        start += len(page)


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
    http = aiohttp.ClientSession(headers=headers)
    if provider == "ringcentral":
        token = await _raw_ringcentral_token(http, config)
        await http.close()
        http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
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


# -- measuring -------------------------------------------------------------------
async def _timed(fn: Callable[[], Awaitable[Any]], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _row(name: str, lib: float, raw: float, unit: float, fmt: str = "{:.3f}") -> Row:
    return [name, fmt.format(lib / unit), fmt.format(raw / unit), f"{lib / raw:.2f}"]


async def _scenarios(
    provider: str, config: dict[str, Any], info: dict[str, Any], n: int, repeats: int
) -> list[Row]:
    rows: list[Row] = []
    options = dict(config)
    if provider == "textmagic":
        options["requests_per_second"] = 100_000  # measure the client, not its pacing
    if provider == "ringcentral":
        options["rate_limiting"] = False
    raw_send = _RAW_SENDS[provider]
    peer = _PEERS[provider]
    http = await _raw_session(provider, config)
    try:
        async with mh.connect(options) as client:

            async def lib_sequential() -> None:
                for _ in range(n):
                    await client.send(mh.Outgoing(to=[peer], text="hello"))

            async def raw_sequential() -> None:
                for _ in range(n):
                    await raw_send(http, config)

            async def lib_concurrent() -> None:
                async with anyio.create_task_group() as tg:
                    for _ in range(n):
                        tg.start_soon(client.send, mh.Outgoing(to=[peer], text="hello"))

            async def raw_concurrent() -> None:
                async with anyio.create_task_group() as tg:
                    for _ in range(n):
                        tg.start_soon(raw_send, http, config)

            await lib_sequential()  # warm both pools (and the OAuth token)
            await raw_sequential()
            for label, lib, plain in (
                ("sends, one after another", lib_sequential, raw_sequential),
                ("sends, concurrently", lib_concurrent, raw_concurrent),
            ):
                lib_t = await _timed(lib, repeats)
                raw_t = await _timed(plain, repeats)
                rows.append(
                    _row(f"{provider}: {n} {label} (ms/send)", lib_t * 1000, raw_t * 1000, n)
                )
            if provider == "netsapiens":
                rows.extend(await _netsapiens_history(client, http, config, info, repeats))
            if provider == "ringcentral":
                rows.extend(await _ringcentral_download(client, http, config, info))
    finally:
        await http.close()
    return rows


async def _netsapiens_history(
    client: mh.Adapter[Any],
    http: aiohttp.ClientSession,
    config: dict[str, Any],
    info: dict[str, Any],
    repeats: int,
) -> list[Row]:
    sid = info["session"]

    async def lib_history() -> None:
        count = 0
        async for _ in client.history(sid):  # counted, not kept, like the raw walk
            count += 1
        assert count > 0

    async def raw_history() -> None:
        assert await _raw_netsapiens_history(http, config, sid) > 0

    lib_t = await _timed(lib_history, repeats)
    raw_t = await _timed(raw_history, repeats)
    rows = [_row("netsapiens: history walk, decoded (ms/walk)", lib_t * 1000, raw_t * 1000, 1)]
    tracemalloc.start()
    await lib_history()
    lib_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    await raw_history()
    raw_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append(
        _row("netsapiens: history walk, peak memory (KiB)", lib_peak, raw_peak, 1024, "{:.0f}")
    )
    return rows


async def _ringcentral_download(
    client: mh.Adapter[Any],
    http: aiohttp.ClientSession,
    config: dict[str, Any],
    info: dict[str, Any],
) -> list[Row]:
    message_id, attachment_id = info["fax"]
    api: Any = client.native
    url = (
        f"{config['media_base_url']}/restapi/v1.0/account/~/extension/~/message-store/"
        f"{message_id}/content/{attachment_id}"
    )

    async def lib_download() -> int:
        size = 0
        async with api.load_message_attachment(message_id, attachment_id) as content:
            async for chunk in content:
                size += len(chunk)
        return size

    async def raw_download() -> int:
        async with http.get(url) as resp:
            return len(await resp.read())  # the usual raw client holds the body

    tracemalloc.start()
    started = time.perf_counter()
    assert await lib_download() == FAX_BYTES
    lib_t = time.perf_counter() - started
    lib_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    started = time.perf_counter()
    assert await raw_download() == FAX_BYTES
    raw_t = time.perf_counter() - started
    raw_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    mib = FAX_BYTES // 2**20
    return [
        _row(f"ringcentral: {mib} MiB attachment, streamed (ms)", lib_t * 1000, raw_t * 1000, 1),
        _row(
            f"ringcentral: {mib} MiB attachment, peak memory (KiB)",
            lib_peak,
            raw_peak,
            1024,
            "{:.0f}",
        ),
    ]


def _run_provider(provider: str, n: int, history: int, repeats: int) -> list[Row]:
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(
        target=_serve, args=(child, provider, history), daemon=True
    )
    server.start()
    try:
        config, info = parent.recv()
        rows: list[Row] = anyio.run(_scenarios, provider, config, info, n, repeats)
        return rows
    finally:
        parent.send("stop")
        server.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    n, history, repeats = (50, 300, 2) if args.quick else (300, 2000, 5)
    rows: list[Row] = []
    for provider in ("netsapiens", "ringcentral", "textmagic", "mongooseim"):
        rows.extend(_run_provider(provider, n, history, repeats))
    header = ["scenario", "messaging-hub", "raw aiohttp", "ratio"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    print("\n".join([lines[0], "-+-".join("-" * w for w in widths), *lines[1:]]))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    md_rows = ["| " + " | ".join(r) + " |" for r in [header, ["---"] * 4, *rows]]
    RESULTS.write_text(
        f"# Benchmark results\n\nRun {when} on Python {platform.python_version()}, "
        f"{platform.machine()}, {mp.cpu_count()} cores. Each fake ran in its own process; "
        f"times are medians of {repeats} runs (downloads: one run); NetSapiens history of "
        f"{history} messages{' (quick run)' if args.quick else ''}.\n\n"
        "The ratio is library / raw aiohttp from this one run (lower is better). The raw "
        "clients do the same HTTP work without validation, typed models, retries or "
        "pacing (client-side pacing is switched off here so the client itself is "
        "measured). The raw download reads the body whole, as `resp.read()` does; the "
        "library streams it in 64 KiB chunks.\n\n" + "\n".join(md_rows) + "\n"
    )
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
