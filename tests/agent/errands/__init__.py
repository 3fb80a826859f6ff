"""A test integration with one tool of each kind for approvals: read-only, acting, and one that
always asks (pydantic-ai ``requires_approval``). The tests copy this folder into a hub's
integrations directory.
"""

from __future__ import annotations

from typing import Any

from hub.integrations.integration import Integration
from hub.integrations.toolsets import deferred

ERRANDS: list[str] = []


def build() -> Any:
    """The toolset, built on first use (pydantic-ai is imported here, not at start-up)."""
    from pydantic_ai import Tool
    from pydantic_ai.toolsets import FunctionToolset

    def errand_list() -> list[str]:
        """Every errand so far."""
        return list(ERRANDS)

    def errand_add(text: str) -> str:
        """Add an errand."""
        ERRANDS.append(text)
        return f"added {text!r} ({len(ERRANDS)} errands)"

    def errand_pay(amount: float) -> str:
        """Pay for the errands."""
        return f"paid {amount:.2f}"

    return FunctionToolset(
        [
            Tool(errand_list, metadata={"read_only": True}),
            errand_add,
            Tool(errand_pay, requires_approval=True),
        ]
    )


class Errands(Integration):
    """Offers the errand tools."""

    async def async_setup_entry(self, ctx: Any) -> list[Any]:
        """One deferred toolset."""
        return [deferred(build)]


INTEGRATION = Errands()
