"""The TradingView embed: a symbol's check, its chart URL, and the trading surface around it."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlencode

EMBED_ORIGIN: Final = "https://s.tradingview.com"
EMBED_URL: Final = f"{EMBED_ORIGIN}/widgetembed/"
"""TradingView's documented widget embed (the Advanced Chart as an iframe), no key needed."""
DEFAULT_SYMBOL: Final = "NASDAQ:AAPL"
DEFAULT_INTERVAL: Final = "D"
INTERVALS: Final = ("1", "5", "15", "60", "240", "D", "W", "M")
"""The chart's bar sizes as TradingView names them: minutes, then day, week and month."""

# ``EXCHANGE:TICKER`` (the exchange may be left out), e.g. NYSE:BRK.B, CME_MINI:ES1!, FX:EURUSD.
_SYMBOL: Final = re.compile(r"(?:[A-Z0-9_]{1,32}:)?[A-Z0-9][A-Z0-9_.!&/-]{0,39}")


def normalize_symbol(raw: str) -> str | None:
    """The symbol as TradingView spells it (upper case, no blanks), or ``None`` when it is not one."""
    symbol = raw.strip().upper()
    return symbol if _SYMBOL.fullmatch(symbol) else None


def chart_url(symbol: str, interval: str = DEFAULT_INTERVAL) -> str:
    """The embed URL of ``symbol``'s chart; an unknown interval falls back to daily bars."""
    query = {
        "symbol": symbol,
        "interval": interval if interval in INTERVALS else DEFAULT_INTERVAL,
        "theme": "light",
        "style": "1",
        "locale": "en",
    }
    return f"{EMBED_URL}?{urlencode(query)}"


def trading_surface_config(symbol: str, interval: str = DEFAULT_INTERVAL) -> dict[str, Any]:
    """The specification's layout: a chat view pinned beside a cards view of one iframe card."""
    return {
        "views": [
            {"type": "chat", "title": "Markets Analyst"},
            {
                "type": "cards",
                "title": "Chart",
                "cards": [
                    {
                        "type": "iframe",
                        "title": symbol,
                        "url": chart_url(symbol, interval),
                        "aspect_ratio": "4:3",
                    }
                ],
            },
        ],
        "arrangement": {"type": "split", "views": [0, 1]},
    }
