"""MCP client benchmark: what the hub adds to an MCP tool call, and what an idle stdio server costs.

Run: ``python -m tests.bench.mcp_client [--calls 300] [--json FILE]``.

- ``direct_call_p50_ms``: ``add(1, 2)`` on the SDK-built Streamable HTTP fake (its own process on
  127.0.0.1) straight through a FastMCP client with an open session: the server's own time and
  the round trip.
- ``hub_call_p50_ms`` / ``_p90_ms``: the same call through the integration's toolset (pydantic-ai's
  ``MCPToolset``, the pin check, the result bound, the prefix) on its own open session.
- ``hub_overhead_p50_ms``: the difference of the two medians (target: at most 5 ms).
- ``list_tools_p50_ms``: one ``get_tools`` of the hub's toolset (a listing and the pin check),
  which every model step of a run with the server pays.
- ``stdio_child_rss_mb`` / ``stdio_hub_rss_delta_mb``: ``mcp-server-time`` started over stdio as
  the integration starts it, connected and idle: the child's resident memory, and the hub
  process's growth for the connection (libraries already imported).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hub.integrations.tool_review import ToolPins
from integrations.mcp.client import ServerSpec, close_client, make_client, probe
from tests.bench.report import report
from tests.bench.startup import rss_mb
from tests.integrations.mcp.support import TIME_SERVER, fake_mcp


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


async def _timed(call: Any, calls: int) -> list[float]:
    for _ in range(min(20, calls)):  # warm up
        await call()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def call_overhead(calls: int) -> dict[str, dict[str, Any]]:
    """The same call straight through the SDK client and through the hub's toolset."""
    from pydantic_ai import RunContext
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.usage import RunUsage

    from integrations.mcp.toolset import build_toolset

    home = tempfile.mkdtemp(prefix="bench-mcp-")
    async with fake_mcp() as url:
        spec = ServerSpec("http", url=url)
        found = await probe(spec, home)
        pins = ToolPins.from_data({"tool_pins": ToolPins.pin_all(found.tools)})

        direct = make_client(spec, home)
        async with direct:
            direct_samples = await _timed(lambda: direct.call_tool("add", {"a": 1, "b": 2}), calls)

        toolset = build_toolset(make_client(spec, home), pins, prefix="b", label="bench")
        ctx = RunContext(deps=None, model=TestModel(), usage=RunUsage())
        async with toolset:
            tools = await toolset.get_tools(ctx)
            tool = tools["b_add"]
            hub_samples = await _timed(
                lambda: toolset.call_tool("b_add", {"a": 1, "b": 2}, ctx, tool), calls
            )
            list_samples = await _timed(lambda: toolset.get_tools(ctx), max(20, calls // 5))
    direct_p50, hub_p50 = _ms(direct_samples, 0.5), _ms(hub_samples, 0.5)
    return {
        "direct_call_p50_ms": {"value": direct_p50, "unit": "ms"},
        "hub_call_p50_ms": {"value": hub_p50, "unit": "ms"},
        "hub_call_p90_ms": {"value": _ms(hub_samples, 0.9), "unit": "ms"},
        "hub_overhead_p50_ms": {"value": round(hub_p50 - direct_p50, 3), "unit": "ms", "target": 5},
        "list_tools_p50_ms": {"value": _ms(list_samples, 0.5), "unit": "ms"},
    }


def _children() -> list[int]:
    me = os.getpid()
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == me:
                found.append(int(status.parent.name))
    return found


async def stdio_memory() -> dict[str, dict[str, Any]]:
    """An idle ``mcp-server-time`` connection's memory, child and hub."""
    home = tempfile.mkdtemp(prefix="bench-mcp-stdio-")
    spec = ServerSpec("stdio", argv=(str(TIME_SERVER),))
    warm = make_client(spec, home)  # imports and first-use allocations out of the figure
    await probe(spec, home, client=warm)
    await close_client(warm)
    await asyncio.sleep(0.5)
    before = rss_mb(os.getpid())
    client = make_client(spec, home)
    await probe(spec, home, client=client)  # kept alive: the child stays, idle
    await asyncio.sleep(1.0)
    children = [pid for pid in _children() if "mcp-server-time" in _cmdline(pid)]
    child = sum(rss_mb(pid) for pid in children)
    after = rss_mb(os.getpid())
    await close_client(client)
    return {
        "stdio_child_rss_mb": {"value": round(child, 1), "unit": "MB"},
        "stdio_hub_rss_delta_mb": {"value": round(after - before, 2), "unit": "MB"},
    }


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def main_async(calls: int) -> dict[str, dict[str, Any]]:
    """Every figure."""
    figures = await call_overhead(calls)
    figures.update(await stdio_memory())
    return figures


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, measure, report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    report(asyncio.run(main_async(args.calls)), args.json)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
