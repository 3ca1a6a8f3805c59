"""A validate through the Python client against a bare httpx call to the same endpoint,
with the same connection reuse, interleaved in one run (docs/BENCHMARKS.md).

    python bench/validate.py SESAME_BIN [ROUNDS] [CALLS]           # interleaved
    valgrind --tool=callgrind python bench/validate.py SESAME_BIN SIDE ROUNDS CALLS
        # SIDE: client, bare, async-client or async-bare, alone (instruction counts)

Both sides use one pooled keep-alive connection to one ``sesame serve`` on memory://,
validate the same session by its cookie with the same device, and read the JSON answer
(the bare side: ``httpx.Client.post`` + ``raise_for_status`` + ``json()``; the client:
``Sesame.validate``, which also builds the request, checks the types of every field and
returns typed objects). Rounds alternate the order, and the figure is the median of the
per-round means. The async client is measured the same way against ``httpx.AsyncClient``.
Each is reported as wall time and as this process's CPU time (``time.process_time``: the
client side alone, which the machine's load moves less than wall time). A last line gives
the client's own cost without a network: building the call and parsing a recorded answer.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import start_server

from sesame_client import AsyncSesame, Cookie, Device, Sesame, _calls

UA = "Mozilla/5.0 (X11; Linux x86_64) bench"


Timing = tuple[float, float]
"""Wall seconds and this process's CPU seconds, per call."""


def per_call(fn: Callable[[], object], calls: int) -> Timing:
    """Mean wall and CPU seconds per call of ``fn`` over ``calls`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


async def per_call_async(fn: Callable[[], Awaitable[object]], calls: int) -> Timing:
    """Mean wall and CPU seconds per call of ``fn`` over ``calls`` awaited calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def report(name: str, client: list[Timing], bare: list[Timing]) -> None:
    """Prints the medians (microseconds) and ratios of wall time, and of the CPU time of
    this process (the client side alone: less moved by the machine's load)."""
    for i, what in ((0, "wall"), (1, "cpu ")):
        c = statistics.median(t[i] for t in client) * 1e6
        b = statistics.median(t[i] for t in bare) * 1e6
        worst = max(x[i] / y[i] for x, y in zip(client, bare, strict=True))
        print(
            f"{name:>5} {what}: client {c:7.1f} us  bare {b:7.1f} us  ratio {c / b:.3f} "
            f"(worst round {worst:.3f})"
        )


def main() -> None:
    binary = Path(sys.argv[1])
    sides = ("client", "bare", "async-client", "async-bare")
    only = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] in sides else None
    numbers = sys.argv[3 if only else 2 :]
    rounds = int(numbers[0]) if numbers else 7
    calls = int(numbers[1]) if len(numbers) > 1 else 1000
    server = start_server(binary, Path(tempfile.mkdtemp()), "memory://")
    try:
        device = Device(user_agent=UA)
        sesame = Sesame(server.url, server.admin_key, max_connections=1)
        issued = sesame.create("bench", device=device)
        cookie = issued.cookie or ""
        headers = {
            "Authorization": f"Bearer {server.admin_key}",
            "Content-Type": "application/json",
            "Sesame-Cookie": cookie,
        }
        body = json.dumps({"device": {"user_agent": UA}}).encode()
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        bare = httpx.Client(base_url=server.url, limits=limits, trust_env=False)

        def bare_call() -> object:
            r = bare.post("/v1/session/validate", headers=headers, content=body)
            r.raise_for_status()
            return r.json()

        def client_call() -> object:
            return sesame.validate(Cookie(cookie), device)

        if only in ("client", "bare"):
            # One side alone, for an instruction count of this process under
            # `valgrind --tool=callgrind` (the server is another process, not counted).
            per_call(client_call if only == "client" else bare_call, rounds * calls)
            return
        if only is None:
            client_times: list[Timing] = []
            bare_times: list[Timing] = []
            per_call(client_call, 200)  # warm up both connections
            per_call(bare_call, 200)
            for i in range(rounds):
                order = [(client_call, client_times), (bare_call, bare_times)]
                for fn, out in order if i % 2 == 0 else reversed(order):
                    out.append(per_call(fn, calls))
            print(f"{rounds} rounds x {calls} validates, one keep-alive connection each")
            report("sync", client_times, bare_times)

        async def async_side() -> None:
            a = AsyncSesame(server.url, server.admin_key, max_connections=1)
            abare = httpx.AsyncClient(base_url=server.url, limits=limits, trust_env=False)

            async def abare_call() -> object:
                r = await abare.post("/v1/session/validate", headers=headers, content=body)
                r.raise_for_status()
                return r.json()

            async def aclient_call() -> object:
                return await a.validate(Cookie(cookie), device)

            if only is not None:
                side = aclient_call if only == "async-client" else abare_call
                await per_call_async(side, rounds * calls)
                return
            ct: list[Timing] = []
            bt: list[Timing] = []
            await per_call_async(aclient_call, 200)
            await per_call_async(abare_call, 200)
            for i in range(rounds):
                order = [(aclient_call, ct), (abare_call, bt)]
                for fn, out in order if i % 2 == 0 else reversed(order):
                    out.append(await per_call_async(fn, calls))
            report("async", ct, bt)
            await a.aclose()
            await abare.aclose()

        asyncio.run(async_side())
        if only is not None:
            return

        recorded = httpx.Response(
            200,
            content=bare.post("/v1/session/validate", headers=headers, content=body).content,
        )

        def offline() -> object:
            return _calls.read_answer(_calls.validate(Cookie(cookie), device), recorded)

        own = statistics.median(per_call(offline, 5000)[1] for _ in range(5)) * 1e6
        print(f"client's own work per validate (no network): {own:.1f} us")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
