"""MCP server benchmark: a real ``hub run`` answering ``/api/mcp`` for a client on 127.0.0.1.

Run: ``python -m tests.bench.mcp_server [--calls 300] [--json FILE]``.

- ``mcp_ping_p50_ms``: a JSON-RPC ``ping`` round trip (HTTP, the token, the session): the floor.
- ``mcp_call_p50_ms`` / ``_p90_ms``: ``tools/call`` of a trivial read-only tool (Text tools'
  ``text_slugify``): the person's tools assembled, gated, validated, called and audited per call;
  the target is a median of at most 5 ms.
- ``mcp_list_p50_ms``: ``tools/list`` with the hub's own tools and Text tools'.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

import aiohttp

from tests.auth_helpers import OWNER, OWNER_PASSWORD
from tests.bench.report import Figures, report
from tests.bench.startup import free_port, start_hub, stop_hub

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def _rpc(session: aiohttp.ClientSession, url: str, message: dict[str, Any]) -> Any:
    async with session.post(f"{url}/api/mcp", json=message) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _times(
    session: aiohttp.ClientSession, url: str, message: dict[str, Any], runs: int
) -> list[float]:
    found = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = await _rpc(session, url, message)
        found.append((time.perf_counter() - start) * 1000)
        assert "result" in answer, answer
        assert not answer["result"].get("isError"), answer
    return found


async def measure(calls: int) -> Figures:
    """Every figure of this benchmark."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-mcp-") as config_dir:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
        env["HUB__LOGGER__DEFAULT"] = "error"
        proc, _ = start_hub(config_dir, port, env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(headers=HEADERS) as session:
                body = {"username": OWNER, "password": OWNER_PASSWORD}
                tokens = await (await session.post(f"{url}/api/onboarding", json=body)).json()
                session.headers["Authorization"] = f"Bearer {tokens['access_token']}"
                await session.post(f"{url}/api/config-flows", json={"domain": "text_tools"})
                token = await (
                    await session.post(f"{url}/api/auth/tokens", json={"name": "b"})
                ).json()
                session.headers["Authorization"] = f"Bearer {token['token']}"
                init = {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {"protocolVersion": "2025-11-25", "capabilities": {}},
                }
                async with session.post(f"{url}/api/mcp", json=init) as resp:
                    session.headers["Mcp-Session-Id"] = resp.headers["Mcp-Session-Id"]
                session.headers["MCP-Protocol-Version"] = "2025-11-25"
                call = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "text_slugify", "arguments": {"text": "Hello MCP World"}},
                }
                await _times(session, url, call, 10)  # the first builds the agent: not counted
                ping = await _times(
                    session, url, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, calls
                )
                called = await _times(session, url, call, calls)
                listing = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
                listed = await _times(session, url, listing, max(10, calls // 5))
        finally:
            stop_hub(proc)
    deciles = statistics.quantiles(called, n=10)
    return {
        "mcp_ping_p50_ms": {"value": round(statistics.median(ping), 2), "unit": "ms"},
        "mcp_call_p50_ms": {
            "value": round(statistics.median(called), 2),
            "unit": "ms",
            "target": 5,
        },
        "mcp_call_p90_ms": {"value": round(deciles[8], 2), "unit": "ms"},
        "mcp_list_p50_ms": {"value": round(statistics.median(listed), 2), "unit": "ms"},
    }


def main() -> None:
    """Parse the arguments, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    report(asyncio.run(measure(args.calls)), args.json)


if __name__ == "__main__":
    main()
