"""MCP: a Model Context Protocol server's tools for the agent, as an untrusted integration.

Each entry is one server, over Streamable HTTP or as a stdio child. Its tools reach a run through
pydantic-ai's ``MCPToolset`` under the entry's prefix, only while each matches the definition
pinned when a person trusted it (``hub.integrations.tool_review``). The manifest's
``trust_tier: untrusted`` makes the hub drop high-privilege tools from any run with these in it.
Nothing MCP-related is imported until a run or a health check needs the server.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import (
    ConfigEntryError,
    HealthResult,
    Integration,
    SetupContext,
)
from hub.integrations.tool_review import ToolPins
from hub.integrations.toolsets import deferred

from .client import (
    MAX_TOOLS,
    McpProbeError,
    Probe,
    ServerSpec,
    close_client,
    make_client,
    probe,
)
from .config_flow import STDIO, McpConfigFlow, default_prefix, server_spec


@dataclass
class _Server:
    """One entry's server while the entry is set up: how to reach it, its pins, its client."""

    spec: ServerSpec
    pins: ToolPins
    prefix: str
    label: str
    home: str
    client: Any = field(default=None, repr=False)
    last: Probe | None = None

    def connection(self) -> Any:
        """The entry's one FastMCP client (a stdio child is kept alive between runs)."""
        if self.client is None:
            self.client = make_client(self.spec, self.home)
        return self.client

    def build(self) -> Any:
        """The run's toolset (imports pydantic-ai and fastmcp)."""
        from .toolset import build_toolset

        return build_toolset(self.connection(), self.pins, prefix=self.prefix, label=self.label)

    async def close(self) -> None:
        """Stop the connection and remove the private directory."""
        if self.client is not None:
            client, self.client = self.client, None
            await close_client(client)
        shutil.rmtree(self.home, ignore_errors=True)


TOOLS_TYPE = EntityStateTypeDescriptor(
    key="mcp_tools", name="MCP tools offered", state_class="measurement"
)
"""One entity per entry: how many of the server's tools a run is offered. Being a pulled type
also makes the scheduler check the server's health on every sync."""


class McpIntegration(Integration):
    """Tools of one MCP server per entry; health is whether it answers a listing."""

    config_flow_cls = McpConfigFlow

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """``mcp_tools``."""
        return {TOOLS_TYPE.key: TOOLS_TYPE}

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult:
        """The counts the health check before this sync saw (nothing new is asked of the server)."""
        server: _Server | None = ctx.runtime_data
        found = server.last if server is not None else None
        if server is None or found is None:
            return EntityStateSyncResult(records=(), full=False)
        withheld = len(server.pins.changes)
        record = EntityStateRecord(
            entity_type=TOOLS_TYPE.key,
            external_id="tools",
            name=f"{server.prefix} tools",
            state=min(len(found.tools), MAX_TOOLS) - withheld,
            attributes={"listed": len(found.tools), "withheld": withheld, "limit": MAX_TOOLS},
        )
        return EntityStateSyncResult(records=(record,), full=False)

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Nothing connects here: the first run (or health check) starts the connection."""
        data = dict(ctx.data)
        if data.get("transport") == STDIO and ctx.scope != "global":
            raise ConfigEntryError("a stdio MCP server may only be a household entry")
        try:
            spec = server_spec(data, token=ctx.secrets.get("token"))
        except ValueError as err:
            raise ConfigEntryError(f"the command line cannot be read: {err}") from None
        label = str(data.get("url") or data.get("command") or "mcp")[:200]
        server = _Server(
            spec=spec,
            pins=ToolPins.from_data(data),
            prefix=str(data.get("prefix") or default_prefix(ctx.domain)),
            label=label if spec.transport == STDIO else spec.url,
            home=tempfile.mkdtemp(prefix="hub-mcp-"),
        )
        ctx.runtime_data = server
        ctx.async_on_unload(server.close)
        return [deferred(server.build, label=f"mcp {server.prefix}")]

    async def async_health(self, ctx: SetupContext) -> HealthResult | None:
        """``ok`` when the server lists its tools; ``degraded`` with changes to review or too many
        tools; ``error`` with a short reason when it does not answer."""
        server: _Server | None = ctx.runtime_data
        if server is None:
            return None
        try:
            found = await probe(server.spec, server.home, client=server.connection())
        except McpProbeError as err:
            return HealthResult(
                HealthResult.ERROR, f"the server did not answer: {err}", key=f"health.{err.kind}"
            )
        server.last = found
        server.pins.observe(found.tools[:MAX_TOOLS])
        changes = len(server.pins.changes)
        if changes:
            return HealthResult(
                HealthResult.DEGRADED,
                f"{changes} tool change(s) to review",
                key="health.review",
                params={"count": changes},
            )
        if len(found.tools) > MAX_TOOLS:
            return HealthResult(
                HealthResult.DEGRADED,
                f"the server lists {len(found.tools)} tools; the first {MAX_TOOLS} are offered",
                key="health.too_many_tools",
                params={"count": len(found.tools), "limit": MAX_TOOLS},
            )
        return HealthResult(
            HealthResult.OK,
            f"{len(found.tools)} tools",
            key="health.ok",
            params={"count": len(found.tools)},
        )

    def tool_pins(self, ctx: SetupContext) -> ToolPins | None:
        """The pins the review view shows and accepts."""
        server: _Server | None = ctx.runtime_data
        return server.pins if server is not None else None


INTEGRATION = McpIntegration()
