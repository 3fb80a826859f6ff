"""What every tool of a run can reach through ``ctx.deps``: the run's own scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.agent.capabilities import Providers

if TYPE_CHECKING:
    from hub.agent.sandbox.service import SandboxChoice


@dataclass(frozen=True, slots=True)
class RunDeps:
    """The entries whose entities the run may see, and the providers backing its generic tools.

    The hub's own toolsets are built once and read these per run, so assembling a run costs no
    tool-schema generation.
    """

    entry_ids: frozenset[str]
    providers: Providers
    sandbox: SandboxChoice | None = None
    """The compute providers ``run_in_sandbox`` may use; ``None``: the tool is not offered."""
    person_id: str = ""
    """Whose run it is: the memory tools read and write this person's memory."""
    tier: int = 0
    """The run's model tier: the memory tools never read a row above it."""
    conversation_id: str | None = None
    """The chat the run answers, where a remembered fact came from; ``None`` outside a chat."""


def context_tool(function: Callable[..., Any]) -> Any:
    """A pydantic-ai ``Tool`` whose first parameter ``ctx`` is the run context.

    pydantic-ai reads the signature's types, and ``RunContext`` cannot be named at module level
    here without importing pydantic-ai at start-up; so the annotation is set now, on first use.
    """
    from pydantic_ai import RunContext, Tool

    function.__annotations__["ctx"] = RunContext[Any]
    return Tool(function, takes_ctx=True)
