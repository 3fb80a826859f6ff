"""Skills in a run: one line each in the instructions, the text itself only through ``use_skill``.

A run offers the skills its person has on whose required tools (tool names or capability keys)
are in the run, and, for a contributed one, whose integration the run may use. The model sees
each one's name and description; it reads a skill's instructions by calling ``use_skill``, so a
hundred skills cost a hundred short lines per run. ``use_skill`` acts on nothing: it is
read-only for approvals and not high-privilege.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final, Protocol

from hub.agent.approvals import READ_ONLY

HEADING: Final = "Skills (call use_skill with the name to read one):"


class OfferedSkill(Protocol):
    """What a run reads of a skill (``hub.memory.skills.Skill``)."""

    @property
    def name(self) -> str:
        """The name the model asks ``use_skill`` for."""
        ...

    @property
    def source_domain(self) -> str | None:
        """The integration that contributed it; ``None`` for a person's own."""
        ...

    @property
    def required_tools(self) -> tuple[str, ...]:
        """Tool names or capability keys the run must have."""
        ...

    @property
    def listing_text(self) -> str:
        """Its line in the run's instructions."""
        ...

    @property
    def context_text(self) -> str:
        """What ``use_skill`` answers."""
        ...


class SkillSource(Protocol):
    """Where a run's skills come from (``hub.memory.skills.Skills``)."""

    def enabled_for(self, person_id: str) -> Sequence[OfferedSkill]:
        """The skills the person may see and has switched on."""
        ...


def offered_skills(
    skills: Sequence[OfferedSkill], *, present: Collection[str], domains: Collection[str]
) -> list[OfferedSkill]:
    """The skills a run offers: every required tool ``present``, a contributor among ``domains``."""
    return [
        skill
        for skill in skills
        if all(tool in present for tool in skill.required_tools)
        and (skill.source_domain is None or skill.source_domain in domains)
    ]


def skill_listing(skills: Sequence[OfferedSkill]) -> str:
    """What the run's instructions gain: nothing without skills, else the heading and a line each."""
    if not skills:
        return ""
    return "\n\n" + "\n".join([HEADING, *(skill.listing_text for skill in skills)])


def skill_toolset(skills: Sequence[OfferedSkill]) -> Any:
    """``use_skill`` over ``skills`` (which must not be empty); made per run, for its skills."""
    from pydantic_ai.toolsets import FunctionToolset

    by_name: dict[str, list[OfferedSkill]] = {}
    for skill in skills:
        by_name.setdefault(_folded(skill.name), []).append(skill)

    def use_skill(name: str) -> str:
        """Read a skill's instructions before doing what it describes.

        Args:
            name: The skill's name, as the list of skills in your instructions gives it.
        """
        found = by_name.get(_folded(name))
        if not found:
            names = ", ".join(skill.name for skill in skills)
            raise ValueError(f"no skill {name!r}; the skills are: {names}")
        # Two integrations may name a skill alike: the model gets each, in listing order.
        return "\n\n".join(skill.context_text for skill in found)

    return FunctionToolset([use_skill], id="skills", metadata={READ_ONLY: True})


def _folded(name: str) -> str:
    return " ".join(name.split()).casefold()
