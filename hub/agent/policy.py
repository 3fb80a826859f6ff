"""The untrusted gate: once attacker-influenced output is in a run, high-privilege tools leave it.

An integration declaring ``trust_tier: untrusted`` proxies output an attacker may shape (an external
MCP server, an arbitrary API). When one of its toolsets is in a run, every trusted toolset is wrapped
in a pydantic-ai filtered view without the tools below, for the whole run: presence-based and
conservative, as the specification's Contract #13 says. The gate is a wrapper, never an ``if`` in a
tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

HIGH_PRIVILEGE_TOOLS: Final = frozenset(
    {
        "send_email",
        "send_message",
        "reply_message",
        "web_fetch",
        "delegate_to",
        "control_entity",
        "create_automation",
        "run_command",
        "run_in_sandbox",
        # They persist what the model was told: attacker-shaped text must not become a memory.
        "remember",
        "relate",
        "forget",
    }
)
"""Tools that act in the world or reach out of the hub: gone when untrusted output is present."""

HIGH_PRIVILEGE_PREFIXES: Final = ("dev_",)
"""Device-agent tools (``dev_shell``, ``dev_write_file``, ...) are all high-privilege."""


def is_high_privilege(tool_name: str) -> bool:
    """Whether the untrusted gate drops a tool of this name."""
    return tool_name in HIGH_PRIVILEGE_TOOLS or tool_name.startswith(HIGH_PRIVILEGE_PREFIXES)


@dataclass(frozen=True, slots=True)
class GatedToolset:
    """A toolset of a run and whether its output can be trusted."""

    toolset: Any
    trusted: bool


def apply_untrusted_gate(
    toolsets: Sequence[GatedToolset], *, untrusted_provider: bool = False
) -> list[Any]:
    """The run's toolsets, trusted ones filtered when any untrusted one is present.

    ``untrusted_provider``: a capability slot is filled by an untrusted integration, so its
    output reaches the model through a generic tool; that engages the gate just the same.
    """
    if not untrusted_provider and all(item.trusted for item in toolsets):
        return [item.toolset for item in toolsets]
    return [
        item.toolset.filtered(_low_privilege) if item.trusted else item.toolset for item in toolsets
    ]


def _low_privilege(ctx: Any, tool_def: Any) -> bool:
    return not is_high_privilege(tool_def.name)
