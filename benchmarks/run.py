"""Benchmarks: messaging-hub against raw aiohttp on the same fake server.

The fake NetSapiens server runs in a child process (so the two cores are
split between client and server), and each scenario is run by the library
and by a hand-written raw-aiohttp client doing the same HTTP work. Results
are ratios from one run, since absolute times on shared machines are noisy.

    python benchmarks/run.py [--quick]

prints a table and writes ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
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


def _serve(conn: Connection, history_size: int) -> None:
    from messaging_hub.testing.netsapiens import FakeNetSapiens

    async def main() -> None:
        async with FakeNetSapiens() as fake:
            sid = fake.seed_session(history_size)
            conn.send((fake.config, sid))
            await anyio.to_thread.run_sync(conn.recv)  # wait for "stop"

    anyio.run(main)


async def _raw_send(session: aiohttp.ClientSession, config: dict[str, Any], text: str) -> None:
    url = (
        f"{config['base_url']}/domains/{config['domain']}/users/{config['user']}"
        f"/messagesessions/{new_session_id()}/messages"
    )
    body = {"type": "chat", "message": text, "destination": "1004"}
    async with session.post(url, json=body) as resp:
        resp.raise_for_status()
        await resp.json()


async def _raw_history(session: aiohttp.ClientSession, config: dict[str, Any], sid: str) -> int:
    url = (
        f"{config['base_url']}/domains/{config['domain']}/users/{config['user']}"
        f"/messagesessions/{sid}/messages"
    )
    count, start = 0, 0
    while True:
        async with session.get(url, params={"limit": "100", "start": str(start)}) as resp:
            page = await resp.json()
        count += len(page)
        if len(page) < 100:
            return count
        start += len(page)


async def _timed(fn: Callable[[], Awaitable[Any]], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def _scenarios(config: dict[str, Any], sid: str, n: int, repeats: int) -> list[list[str]]:
    headers = {"Authorization": f"Bearer {config['access_token']}"}
    rows: list[list[str]] = []
    async with (
        aiohttp.ClientSession(headers=headers) as raw,
        mh.connect(config) as client,
    ):

        async def lib_sequential() -> None:
            for i in range(n):
                await client.send(mh.Outgoing(to=["1004"], text=f"m{i}"))

        async def raw_sequential() -> None:
            for i in range(n):
                await _raw_send(raw, config, f"m{i}")

        async def lib_concurrent() -> None:
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(client.send, mh.Outgoing(to=["1004"], text=f"c{i}"))

        async def raw_concurrent() -> None:
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(_raw_send, raw, config, f"c{i}")

        async def lib_history() -> None:
            count = 0
            async for _ in client.history(sid):
                count += 1
            assert count > 0

        async def raw_history() -> None:
            assert await _raw_history(raw, config, sid) > 0

        await lib_sequential()  # warm both pools
        await raw_sequential()
        for name, lib, plain, unit in (
            (f"{n} sends, one after another", lib_sequential, raw_sequential, n),
            (f"{n} sends, concurrently", lib_concurrent, raw_concurrent, n),
            ("history, all pages, decoded", lib_history, raw_history, 1),
        ):
            lib_t = await _timed(lib, repeats)
            raw_t = await _timed(plain, repeats)
            rows.append(
                [
                    name,
                    f"{lib_t * 1000 / unit:.3f}",
                    f"{raw_t * 1000 / unit:.3f}",
                    f"{lib_t / raw_t:.2f}",
                ]
            )
        # Memory: peak allocations while walking the whole history.
        tracemalloc.start()
        await lib_history()
        lib_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        await raw_history()
        raw_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(
            [
                "history walk, peak traced memory (KiB)",
                f"{lib_peak / 1024:.0f}",
                f"{raw_peak / 1024:.0f}",
                f"{lib_peak / raw_peak:.2f}",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    n, history, repeats = (50, 300, 2) if args.quick else (400, 2000, 5)
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=_serve, args=(child, history), daemon=True)
    server.start()
    try:
        config, sid = parent.recv()
        rows = anyio.run(_scenarios, config, sid, n, repeats)
    finally:
        parent.send("stop")
        server.join(timeout=10)
    header = ["scenario", "messaging-hub (ms/op)", "raw aiohttp (ms/op)", "ratio"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    table = "\n".join([lines[0], "-+-".join("-" * w for w in widths), *lines[1:]])
    print(table)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    md_rows = ["| " + " | ".join(r) + " |" for r in [header, ["---"] * 4, *rows]]
    RESULTS.write_text(
        f"# Benchmark results\n\nRun {when} on Python {platform.python_version()}, "
        f"{platform.machine()}, {mp.cpu_count()} cores; fake NetSapiens in a separate "
        f"process; median of {repeats} runs; history of {history} messages"
        f"{' (quick run)' if args.quick else ''}.\n"
        "Ratios are library time / raw aiohttp time from this one run (lower is better; "
        "memory row: peak traced allocations).\n\n" + "\n".join(md_rows) + "\n"
    )
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
