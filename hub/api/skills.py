"""Skills over HTTP: every skill the caller may see, with the exact text each puts before the model."""

from __future__ import annotations

from typing import Annotated, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.api.access import principal_of
from hub.api.request import read_json
from hub.memory.skills import Skills

SKILLS: Final = web.AppKey("skills", Skills)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ToolName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Lengths of description and instructions are the store's to check: its error names the limit.


class NewSkill(BaseModel):
    """``POST /api/skills``: a skill of the caller's own."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = ""
    instructions: str = Field(min_length=1)
    required_tools: list[ToolName] = Field(default_factory=list, max_length=20)


class SkillChanges(BaseModel):
    """``PATCH /api/skills/{id}``: ``enabled`` on any visible skill, the rest on one's own."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    name: Name | None = None
    description: str | None = None
    instructions: str | None = Field(default=None, min_length=1)
    required_tools: list[ToolName] | None = Field(default=None, max_length=20)


async def list_skills(request: web.Request) -> web.Response:
    """The household's skills and the caller's own, each with whether the caller has it on."""
    person = principal_of(request).person_id
    skills = request.app[SKILLS]
    return web.json_response({"skills": [skills.view(s, person) for s in skills.visible(person)]})


async def create_skill(request: web.Request) -> web.Response:
    """A new skill of the caller's own, switched on."""
    person = principal_of(request).person_id
    body = await read_json(request, NewSkill)
    skills = request.app[SKILLS]
    skill = await skills.create(
        person,
        name=body.name,
        description=body.description,
        instructions=body.instructions,
        required_tools=body.required_tools,
    )
    return web.json_response(skills.view(skill, person), status=201)


async def change_skill(request: web.Request) -> web.Response:
    """Switch a skill on or off for the caller, or change one of their own."""
    person = principal_of(request).person_id
    body = await read_json(request, SkillChanges)
    skills = request.app[SKILLS]
    skill = await skills.update(
        request.match_info["skill_id"],
        person,
        enabled=body.enabled,
        name=body.name,
        description=body.description,
        instructions=body.instructions,
        required_tools=body.required_tools,
    )
    return web.json_response(skills.view(skill, person))


async def delete_skill(request: web.Request) -> web.Response:
    """Remove one of the caller's own skills."""
    person = principal_of(request).person_id
    skill_id = request.match_info["skill_id"]
    await request.app[SKILLS].delete(skill_id, person)
    return web.json_response({"id": skill_id, "removed": True})


def register(app: web.Application) -> None:
    """Add the skill routes."""
    app.router.add_get("/api/skills", list_skills)
    app.router.add_post("/api/skills", create_skill)
    app.router.add_patch("/api/skills/{skill_id}", change_skill)
    app.router.add_delete("/api/skills/{skill_id}", delete_skill)
