"""TradingView: a trading surface (a chat beside a live chart) and a Markets Analyst sub-agent.

The specification's worked example of contributions without tools: ``async_setup_entry`` returns
``[]``; the value is the surface, the agent and the dashboard card template in the manifest.
"""

from __future__ import annotations

from typing import Any, Final

from hub.integrations.capabilities import AgentDescriptor, SurfaceDescriptor
from hub.integrations.integration import Integration, SetupContext

from .config_flow import TradingViewConfigFlow
from .embed import DEFAULT_INTERVAL, DEFAULT_SYMBOL, normalize_symbol, trading_surface_config

SURFACE_KEY: Final = "trading"
AGENT_KEY: Final = "analyst"
ANALYST_INSTRUCTIONS: Final = (
    "You are a markets analyst. The person is looking at a TradingView chart beside this chat. "
    "Explain price action, trends, support and resistance, and the news that may move a market, "
    "in plain words. Say what you do not know; when you have no live data, say so rather than "
    "guess a price. Never give personal investment advice: describe the options and their risks."
)


class TradingViewIntegration(Integration):
    """Contributes no tools: the chart loads in the person's browser, straight from TradingView."""

    config_flow_cls = TradingViewConfigFlow

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Nothing to connect to; the surface and the agent are projected after this."""
        return []

    def surfaces(self) -> dict[str, SurfaceDescriptor]:
        """The trading surface of the default symbol (the specification's ctx-less hook)."""
        return {SURFACE_KEY: _trading(DEFAULT_SYMBOL, DEFAULT_INTERVAL)}

    def entry_surfaces(self, ctx: SetupContext) -> dict[str, SurfaceDescriptor]:
        """The trading surface charting the entry's symbol at its bar size."""
        symbol = normalize_symbol(str(ctx.data.get("symbol") or "")) or DEFAULT_SYMBOL
        interval = str(ctx.data.get("interval") or DEFAULT_INTERVAL)
        return {SURFACE_KEY: _trading(symbol, interval)}

    def agents(self) -> dict[str, AgentDescriptor]:
        """The Markets Analyst, offered only in the trading surface's chat."""
        return {
            AGENT_KEY: AgentDescriptor(
                name="Markets Analyst",
                description="Reads markets and charts: trends, levels, and the news behind a move.",
                instructions=ANALYST_INSTRUCTIONS,
                requires_surface=f"tradingview-{SURFACE_KEY}",
            )
        }


def _trading(symbol: str, interval: str) -> SurfaceDescriptor:
    return SurfaceDescriptor(
        name="Trading",
        icon="candlestick_chart",
        description=f"Chat with the Markets Analyst beside a live TradingView chart of {symbol}.",
        config=trading_surface_config(symbol, interval),
    )


INTEGRATION = TradingViewIntegration()
