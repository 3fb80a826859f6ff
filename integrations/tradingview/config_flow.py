"""The TradingView form: the symbol to chart (``EXCHANGE:TICKER``) and the bar size."""

from __future__ import annotations

from typing import Any, ClassVar, Final

from hub.integrations.manifest import FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow

from .embed import DEFAULT_INTERVAL, DEFAULT_SYMBOL, INTERVALS, normalize_symbol

INVALID_SYMBOL: Final = "invalid_symbol"

SCHEMA: Final = [
    FieldDescriptor(
        name="symbol",
        label="field.symbol.label",
        type="text",
        required=True,
        default=DEFAULT_SYMBOL,
        placeholder="field.symbol.placeholder",
        description="field.symbol.description",
    ),
    FieldDescriptor(
        name="interval",
        label="field.interval.label",
        type="select",
        required=True,
        default=DEFAULT_INTERVAL,
        options=tuple(
            SelectOption(value=value, label=f"field.interval.{value}") for value in INTERVALS
        ),
    ),
]


class TradingViewConfigFlow(SimpleConfigFlow):
    """One form; nothing to connect to, since the chart loads in the person's browser."""

    domain = "tradingview"
    SCHEMA = SCHEMA
    TITLE_FIELD = "symbol"
    ENTRY_FIELDS: ClassVar[list[str]] = ["symbol", "interval"]

    def preprocess(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """Spell the symbol as TradingView does (``nasdaq:aapl`` → ``NASDAQ:AAPL``)."""
        data = super().preprocess(user_input)
        symbol = data.get("symbol")
        if isinstance(symbol, str):
            data["symbol"] = normalize_symbol(symbol) or symbol
        return data

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The required checks, then a symbol TradingView could name."""
        errors = super().validate_fields(data)
        symbol = data.get("symbol")
        if "symbol" not in errors and (
            not isinstance(symbol, str) or normalize_symbol(symbol) is None
        ):
            errors["symbol"] = INVALID_SYMBOL
        return errors
