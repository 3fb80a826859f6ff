"""Dashboards over HTTP: contributed and personal surfaces, and the card templates of manifests."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.api.access import principal_of, require_admin
from hub.api.request import read_json
from hub.api.state import REGISTRY, SURFACES
from hub.core.errors import BadRequestError
from hub.integrations.capabilities import SurfaceDescriptor


class SurfaceBody(BaseModel):
    """A dashboard as a person writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    config: dict[str, Any]
    icon: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    show_in_nav: bool = True
    scope: Literal["user", "global"] = "user"

    def descriptor(self) -> SurfaceDescriptor:
        """The checked surface; a bad layout is a 400 naming the problem."""
        try:
            return SurfaceDescriptor(
                name=self.name,
                config=self.config,
                icon=self.icon,
                description=self.description,
                show_in_nav=self.show_in_nav,
            )
        except ValidationError as err:
            problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
            raise BadRequestError(problems) from None


async def list_surfaces(request: web.Request) -> web.Response:
    """Global surfaces and the caller's own."""
    person = principal_of(request).person_id
    return web.json_response(
        {"surfaces": [s.public() for s in request.app[SURFACES].visible(person)]}
    )


async def get_surface(request: web.Request) -> web.Response:
    """One surface."""
    person = principal_of(request).person_id
    return web.json_response(request.app[SURFACES].get(request.match_info["slug"], person).public())


async def create_surface(request: web.Request) -> web.Response:
    """A new dashboard: the caller's own, or a global one (admins only)."""
    principal = principal_of(request)
    body = await read_json(request, SurfaceBody)
    if body.scope == "global":
        require_admin(principal)
    owner = None if body.scope == "global" else principal.person_id
    surface = await request.app[SURFACES].create(body.descriptor(), owner=owner)
    return web.json_response(surface.public())


async def replace_surface(request: web.Request) -> web.Response:
    """Change a dashboard the caller may edit."""
    principal = principal_of(request)
    body = await read_json(request, SurfaceBody)
    surface = await request.app[SURFACES].replace(
        request.match_info["slug"], body.descriptor(), principal.person_id, admin=principal.is_admin
    )
    return web.json_response(surface.public())


async def delete_surface(request: web.Request) -> web.Response:
    """Remove a dashboard the caller may edit."""
    principal = principal_of(request)
    slug = request.match_info["slug"]
    await request.app[SURFACES].delete(slug, principal.person_id, admin=principal.is_admin)
    return web.json_response({"slug": slug, "removed": True})


async def list_cards(request: web.Request) -> web.Response:
    """The card templates loaded integrations offer (``frontend.cards``) for the card picker."""
    principal_of(request)
    await request.app[REGISTRY].load()  # every integration's, so off the loop
    cards = [
        {"domain": item.domain, **card.model_dump(mode="json")}
        for item in request.app[REGISTRY]
        for card in item.manifest.frontend.cards
    ]
    return web.json_response({"cards": cards})


def register(app: web.Application) -> None:
    """Add the surface and card routes."""
    app.router.add_get("/api/surfaces", list_surfaces)
    app.router.add_post("/api/surfaces", create_surface)
    app.router.add_get("/api/surfaces/{slug}", get_surface)
    app.router.add_put("/api/surfaces/{slug}", replace_surface)
    app.router.add_delete("/api/surfaces/{slug}", delete_surface)
    app.router.add_get("/api/cards", list_cards)
