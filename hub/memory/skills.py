"""Skills: instructions the agent reads only when it decides to use one, stored in ``.storage/core.skills``.

A contributed skill is projected when an entry is set up (slug ``<domain>-<key>``, read-only, owned
like its entry) and withdrawn with the last entry of its domain in that scope; a person writes
their own (slug ``own-<hex>``). Whether a skill is on is each person's choice: a contributed one
starts off (a person switches it on after reading its text, and again after that text changes), a
person's own starts on.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from hub.core.committed import Committed
from hub.core.errors import (
    SKILL_LIMIT,
    SKILL_NOT_FOUND,
    SKILL_READ_ONLY,
    SKILL_TOO_LARGE,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
)
from hub.core.storage import StorageManager
from hub.integrations.capabilities import (
    MAX_SKILL_DESCRIPTION,
    MAX_SKILL_INSTRUCTIONS,
    SkillDescriptor,
)
from hub.integrations.entry import ConfigEntry, contribution_owner, drop_contributions
from hub.integrations.integration import Integration
from hub.integrations.surfaces import contributed_slug

_LOGGER = logging.getLogger(__name__)

SKILLS_KEY: Final = "core.skills"
MAX_OWN_SKILLS: Final = 100
"""Skills one person may write: a bound on the file every run reads."""
PERSON: Final = "person"
"""The ``source`` of a skill a person wrote."""


class SkillNotFoundError(NotFoundError):
    """No skill with that id (or not one the caller may see)."""

    code = SKILL_NOT_FOUND


class SkillTooLargeError(BadRequestError):
    """A skill's instructions or description are longer than a skill may have."""

    code = SKILL_TOO_LARGE


class SkillReadOnlyError(ForbiddenError):
    """Only the skills a person wrote can be edited; contributed ones only switched on and off."""

    code = SKILL_READ_ONLY


class SkillLimitError(BadRequestError):
    """The person has written as many skills as one may."""

    code = SKILL_LIMIT


@dataclass(frozen=True, slots=True)
class Skill:
    """A stored skill; ``owner`` ``None`` means everyone's, ``source_domain`` ``None`` a person's own."""

    id: str
    name: str
    description: str
    instructions: str
    required_tools: tuple[str, ...]
    owner: str | None
    source_domain: str | None
    updated_at: float

    @property
    def listing_text(self) -> str:
        """The line a run's instructions carry for this skill (one line, whatever the description)."""
        return f"- {' '.join(self.name.split())}: {' '.join(self.description.split())}"

    @property
    def context_text(self) -> str:
        """Exactly what ``use_skill`` puts into the model's context."""
        return f"# Skill: {self.name}\n\n{self.instructions}"

    def own(self, person_id: str) -> bool:
        """Whether ``person_id`` wrote it (and so may edit and delete it)."""
        return self.source_domain is None and self.owner == person_id

    def stored(self) -> dict[str, Any]:
        """The skill as the storage file keeps it."""
        data = asdict(self)
        data["required_tools"] = list(self.required_tools)
        return data


@dataclass(frozen=True, slots=True)
class _State:
    skills: Mapping[str, Skill]
    enabled: Mapping[str, Mapping[str, bool]]
    """Each person's choices, by skill id; a skill without one has its default (``own``)."""


class Skills:
    """Every skill; contributed ones follow their entries, people's own are edited by them."""

    def __init__(self, storage: StorageManager) -> None:
        self._state = Committed[_State](storage.store(SKILLS_KEY, 1), _State({}, {}), _encode)

    async def load(self) -> None:
        """Read the stored skills and choices."""
        data = await self._state.store.load()
        if data is not None:
            skills = {
                s["id"]: Skill(**{**s, "required_tools": tuple(s["required_tools"])})
                for s in data["skills"]
            }
            self._state.reset(_State(skills, data.get("enabled") or {}))

    # Reading

    def visible(self, person_id: str) -> list[Skill]:
        """The household's skills and the person's own, by name."""
        found = [s for s in self._state.value.skills.values() if s.owner in (None, person_id)]
        return sorted(found, key=lambda s: (s.name.lower(), s.id))

    def get(self, skill_id: str, person_id: str) -> Skill:
        """One skill the person may see."""
        skill = self._state.value.skills.get(skill_id)
        if skill is None or skill.owner not in (None, person_id):
            raise SkillNotFoundError(f"no skill {skill_id!r}", key="errors.skill_not_found")
        return skill

    def is_enabled(self, skill: Skill, person_id: str) -> bool:
        """Whether the person has the skill on (their choice, else its default)."""
        chosen = self._state.value.enabled.get(person_id, {}).get(skill.id)
        return skill.own(person_id) if chosen is None else chosen

    def enabled_for(self, person_id: str) -> list[Skill]:
        """The skills the person may see and has on: what a run of theirs may offer."""
        return [s for s in self.visible(person_id) if self.is_enabled(s, person_id)]

    def view(self, skill: Skill, person_id: str) -> dict[str, Any]:
        """What a client sees, for ``person_id``: with the exact texts the model would get."""
        return {
            "id": skill.id,
            "name": skill.name,
            "description": skill.description,
            "instructions": skill.instructions,
            "required_tools": list(skill.required_tools),
            "source": skill.source_domain or PERSON,
            "owner": skill.owner,
            "enabled": self.is_enabled(skill, person_id),
            "own": skill.own(person_id),
            "context_text": skill.context_text,
            "listing_text": skill.listing_text,
            "updated_at": skill.updated_at,
        }

    # A person's choices and their own skills

    async def create(
        self,
        person_id: str,
        *,
        name: str,
        description: str,
        instructions: str,
        required_tools: Iterable[str] = (),
    ) -> Skill:
        """A new skill of the person's own, switched on."""
        _check_size(description, instructions)
        owned = sum(1 for s in self._state.value.skills.values() if s.own(person_id))
        if owned >= MAX_OWN_SKILLS:
            raise SkillLimitError(
                f"{person_id} has {owned} skills, the most allowed ({MAX_OWN_SKILLS})",
                key="errors.skill_limit",
                limit=MAX_OWN_SKILLS,
            )
        skill = Skill(
            id=f"own-{secrets.token_hex(8)}",
            name=name.strip(),
            description=description.strip(),
            instructions=instructions,
            required_tools=tuple(required_tools),
            owner=person_id,
            source_domain=None,
            updated_at=time.time(),
        )
        await self._state.change(lambda state: _with_skill(state, skill))
        return skill

    async def update(
        self,
        skill_id: str,
        person_id: str,
        *,
        enabled: bool | None = None,
        name: str | None = None,
        description: str | None = None,
        instructions: str | None = None,
        required_tools: Iterable[str] | None = None,
    ) -> Skill:
        """Switch a visible skill on or off for the person, and change one of their own."""
        skill = self.get(skill_id, person_id)
        content = (name, description, instructions, required_tools)
        edited = any(value is not None for value in content)
        changed = skill
        if edited:
            if not skill.own(person_id):
                raise SkillReadOnlyError(
                    f"{skill_id!r} comes from {skill.source_domain or 'someone else'}; "
                    "only switching it on or off is possible",
                    key="errors.skill_read_only",
                )
            changed = replace(
                skill,
                name=skill.name if name is None else name.strip(),
                description=skill.description if description is None else description.strip(),
                instructions=skill.instructions if instructions is None else instructions,
                required_tools=skill.required_tools
                if required_tools is None
                else tuple(required_tools),
                updated_at=time.time(),
            )
            _check_size(changed.description, changed.instructions)

        def apply(state: _State) -> _State:
            if edited and skill_id in state.skills:  # not brought back if deleted meanwhile
                state = _with_skill(state, changed)
            if enabled is None:
                return state
            mine = {**state.enabled.get(person_id, {}), skill_id: enabled}
            return replace(state, enabled={**state.enabled, person_id: mine})

        await self._state.change(apply)
        return changed

    async def delete(self, skill_id: str, person_id: str) -> None:
        """Remove one of the person's own skills."""
        skill = self.get(skill_id, person_id)
        if not skill.own(person_id):
            raise SkillReadOnlyError(
                f"{skill_id!r} comes from {skill.source_domain or 'someone else'}; "
                "only its author may delete it",
                key="errors.skill_read_only",
            )
        await self._state.change(lambda state: _without(state, {skill_id}))

    async def forget_person(self, person_id: str) -> None:
        """Drop a removed person's skills (their own and their entries') and their choices."""
        state = self._state.value
        doomed = {s.id for s in state.skills.values() if s.owner == person_id}
        if doomed or person_id in state.enabled:

            def apply(state: _State) -> _State:
                state = _without(state, doomed)
                rest = {p: c for p, c in state.enabled.items() if p != person_id}
                return replace(state, enabled=rest)

            await self._state.change(apply)

    # Contributions

    async def project(self, entry: ConfigEntry, integration: Integration) -> None:
        """Upsert the skills an entry's integration contributes (after its setup)."""
        try:
            declared: dict[str, Any] = dict(integration.skills())  # checked one by one below
        except Exception:  # a broken declaration contributes nothing
            _LOGGER.exception("skills() of %s failed", entry.domain)
            return
        owner = contribution_owner(entry)
        current = self._state.value.skills
        changed: dict[str, Skill] = {}
        for key, descriptor in declared.items():
            if not isinstance(descriptor, SkillDescriptor):
                _LOGGER.error("skills() of %s: %r is not a SkillDescriptor", entry.domain, key)
                continue
            slug = contributed_slug(entry.domain, str(key), owner)
            old = current.get(slug)
            skill = Skill(
                id=slug,
                name=descriptor.name,
                description=descriptor.description,
                instructions=descriptor.instructions,
                required_tools=tuple(descriptor.required_tools),
                owner=owner,
                source_domain=entry.domain,
                updated_at=time.time(),
            )
            if old is None or replace(old, updated_at=skill.updated_at) != skill:
                changed[slug] = skill
        if not changed:
            return
        # A person switched a skill on having read its text: a changed text starts off again.
        reworded = {
            slug
            for slug, skill in changed.items()
            if slug in current and current[slug].context_text != skill.context_text
        }

        def apply(state: _State) -> _State:
            enabled = {
                person: {s: on for s, on in choices.items() if s not in reworded}
                for person, choices in state.enabled.items()
            }
            return _State({**state.skills, **changed}, enabled)

        await self._state.change(apply)

    async def withdraw(self, entry: ConfigEntry, remaining: Iterable[ConfigEntry]) -> None:
        """Remove an entry's skills unless another entry of its domain and scope holds them."""
        kept = dict(self._state.value.skills)  # a fresh dict: the one served is never changed
        if drop_contributions(kept, entry, remaining):
            doomed = self._state.value.skills.keys() - kept.keys()
            await self._state.change(lambda state: _without(state, doomed))


def _check_size(description: str, instructions: str) -> None:
    if len(instructions) > MAX_SKILL_INSTRUCTIONS:
        raise SkillTooLargeError(
            f"the instructions have {len(instructions)} characters, "
            f"more than a skill may have ({MAX_SKILL_INSTRUCTIONS})",
            key="errors.skill_too_large",
            limit=MAX_SKILL_INSTRUCTIONS,
        )
    if len(description) > MAX_SKILL_DESCRIPTION:
        raise SkillTooLargeError(
            f"the description has {len(description)} characters, "
            f"more than a skill may have ({MAX_SKILL_DESCRIPTION})",
            key="errors.skill_description_too_long",
            limit=MAX_SKILL_DESCRIPTION,
        )


def _with_skill(state: _State, skill: Skill) -> _State:
    return replace(state, skills={**state.skills, skill.id: skill})


def _without(state: _State, doomed: Iterable[str]) -> _State:
    """``state`` without ``doomed`` skills, nor anyone's choice about them."""
    gone = set(doomed)
    return _State(
        {i: s for i, s in state.skills.items() if i not in gone},
        {
            person: {i: on for i, on in choices.items() if i not in gone}
            for person, choices in state.enabled.items()
        },
    )


def _encode(state: _State) -> dict[str, Any]:
    return {
        "skills": [s.stored() for s in state.skills.values()],
        "enabled": {person: dict(choices) for person, choices in state.enabled.items()},
    }
