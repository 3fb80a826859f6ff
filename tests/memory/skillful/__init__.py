"""A test integration contributing skills: one needing its own tool, one needing a tool nobody
offers, and a chores tool. The tests copy this folder into a hub's integrations directory.
"""

from __future__ import annotations

from typing import Any

from hub.integrations.capabilities import SkillDescriptor
from hub.integrations.integration import Integration
from hub.integrations.toolsets import deferred

REVIEW_INSTRUCTIONS = "Call chore_list, then sort the chores by who does them. SECRET-RECIPE-42"
"""A marker the tests look for in what the model is sent."""


def build() -> Any:
    """The toolset, built on first use (pydantic-ai is imported here, not at start-up)."""
    from pydantic_ai import Tool
    from pydantic_ai.toolsets import FunctionToolset

    def chore_list() -> list[str]:
        """Every chore of the household."""
        return ["dishes", "laundry"]

    return FunctionToolset([Tool(chore_list, metadata={"read_only": True})])


class Skillful(Integration):
    """Offers the chores tool and two skills."""

    async def async_setup_entry(self, ctx: Any) -> list[Any]:
        """One deferred toolset."""
        return [deferred(build)]

    def skills(self) -> dict[str, SkillDescriptor]:
        """A skill over its own tool, and one over a tool no run has."""
        return {
            "review": SkillDescriptor(
                name="Chore review",
                description="Sort the household's chores\nby who does them.",
                instructions=REVIEW_INSTRUCTIONS,
                required_tools=("chore_list",),
            ),
            "launch": SkillDescriptor(
                name="Rocket launch",
                description="Launch the rocket.",
                instructions="Call launch_rocket.",
                required_tools=("launch_rocket",),
            ),
        }


INTEGRATION = Skillful()
