"""The approval gate: a pydantic-ai wrapper over one toolset of a run, for one person.

Tools whose rule is ``never`` are not offered at all; a call of an ``ask`` tool raises
``ApprovalRequired`` until the person approved it (``ctx.tool_call_approved``), which the run's
deferred-call handler turns into a pending approval. Imported only when a run assembles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pydantic_ai.exceptions import ApprovalRequired
from pydantic_ai.toolsets import WrapperToolset

from hub.agent.approvals import READ_ONLY, is_read_only
from hub.core.redact import safe_text

if TYPE_CHECKING:
    from hub.agent.approvals import Approvals

_LOGGER = logging.getLogger(__name__)

LIST_TIMEOUT: Final = 10.0
"""Seconds a toolset may take to list its tools for the approvals page."""


@dataclass
class ApprovalGate(WrapperToolset[Any]):
    """A person's rules over a toolset: read at each step, so a changed rule applies at once."""

    approvals: Approvals | None = None
    person_id: str = ""
    source: Any = None
    """Where the toolset's tools come from (a ``ToolSource``), for ``attribution``."""
    attribution: dict[str, Any] | None = None
    """The run's tool name → source, completed here with tools only a listing reveals."""

    async def get_tools(self, ctx: Any) -> dict[str, Any]:
        """The wrapped tools but those the person never allows."""
        tools = await super().get_tools(ctx)
        if self.attribution is not None and self.source is not None:
            for name in tools:
                self.attribution.setdefault(name, self.source)
        if self.approvals is None:
            return tools
        rules = self.approvals
        return {
            name: tool
            for name, tool in tools.items()
            if rules.rule_for(self.person_id, name, read_only=is_read_only(tool.tool_def))
            != "never"
        }

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        """Run the tool, or ask first when the person's rule for it is ``ask``."""
        if self.approvals is not None and not ctx.tool_call_approved:
            read_only = is_read_only(tool.tool_def)
            if self.approvals.rule_for(self.person_id, name, read_only=read_only) == "ask":
                raise ApprovalRequired(metadata={READ_ONLY: read_only})
        return await super().call_tool(name, tool_args, ctx, tool)


@dataclass(frozen=True, slots=True)
class OfferedTool:
    """A tool a person's runs may get, whatever their rule for it (``never`` ones included)."""

    name: str
    read_only: bool


async def offered_tools(toolsets: Sequence[Any], deps: Any) -> list[OfferedTool]:
    """Every tool of a run's toolsets, read under the approval gate so ``never`` ones show too.

    A toolset that cannot list its tools now (a server that is down) is left out and logged.
    """
    from pydantic_ai import RunContext
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.usage import RunUsage

    ctx = RunContext(deps=deps, model=TestModel(), usage=RunUsage())
    found: dict[str, OfferedTool] = {}
    for toolset in toolsets:
        inner = toolset.wrapped if isinstance(toolset, ApprovalGate) else toolset
        try:
            async with asyncio.timeout(LIST_TIMEOUT), inner:
                tools = await inner.get_tools(ctx)
        except Exception as err:  # noqa: BLE001  # one broken toolset never hides the others
            _LOGGER.warning("Listing the tools of %s failed: %s", inner.label, safe_text(err))
            continue
        for name, tool in tools.items():
            found.setdefault(name, OfferedTool(name, is_read_only(tool.tool_def)))
    return list(found.values())
