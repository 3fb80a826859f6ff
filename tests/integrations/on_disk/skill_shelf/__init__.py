"""A shelf of one skill for skills tests: "Plant care", contributed by every entry of it."""

from __future__ import annotations

from hub.integrations.capabilities import SkillDescriptor
from hub.integrations.integration import Integration

INSTRUCTIONS = (
    "Water the plants on Sunday.\n\n"
    "1. Ask which plants look dry.\n"
    "2. Remind the person to check the ferns twice."
)


class SkillShelf(Integration):
    """Contributes the "Plant care" skill and nothing else."""

    def skills(self) -> dict[str, SkillDescriptor]:
        return {
            "plant_care": SkillDescriptor(
                name="Plant care",
                description="How to look after the house plants.",
                instructions=INSTRUCTIONS,
            )
        }


INTEGRATION = SkillShelf()
