"""Surfaces: dashboards and chat modes, contributed by integrations or made by people.

Stored in ``.storage/core.surfaces``. A contributed surface is projected when an entry is set up
(slug ``<domain>-<key>``, read-only, owned like its entry) and removed with the last entry of its
domain in that scope; a person's own dashboards are theirs to edit.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from hub.core.committed import CommittedItems
from hub.core.errors import (
    SURFACE_NOT_FOUND,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
)
from hub.core.storage import StorageManager
from hub.integrations.capabilities import SurfaceDescriptor
from hub.integrations.entry import ConfigEntry, contribution_owner, drop_contributions
from hub.integrations.integration import Integration, SetupContext

_LOGGER = logging.getLogger(__name__)

SURFACES_KEY: Final = "core.surfaces"
_SLUG: Final = re.compile(r"[^a-z0-9]+")


class SurfaceNotFoundError(NotFoundError):
    """No surface with that slug (or not one the caller may see)."""

    code = SURFACE_NOT_FOUND


@dataclass(frozen=True, slots=True)
class Surface:
    """A stored surface; ``owner`` ``None`` means everyone's (global)."""

    slug: str
    name: str
    config: dict[str, Any]
    icon: str | None
    description: str | None
    show_in_nav: bool
    kind: str
    owner: str | None
    source_domain: str | None
    read_only: bool
    updated_at: float

    def public(self) -> dict[str, Any]:
        """What a client sees."""
        return asdict(self)


class Surfaces:
    """Every surface; contributed ones follow their entries, people's own are edited by them."""

    def __init__(self, storage: StorageManager) -> None:
        self._state = CommittedItems[str, Surface](storage.store(SURFACES_KEY, 1), _encode)

    async def load(self) -> None:
        """Read the stored surfaces."""
        data = await self._state.store.load()
        if data is not None:
            self._state.reset({s["slug"]: Surface(**s) for s in data["surfaces"]})

    @property
    def _surfaces(self) -> dict[str, Surface]:
        return self._state.value

    @property
    def stored(self) -> Mapping[str, Surface]:
        """Every surface, by slug; a new mapping after each change, never changed in place."""
        return self._state.value

    def visible(self, person_id: str) -> list[Surface]:
        """Global surfaces and the person's own, by name."""
        found = [s for s in self._surfaces.values() if s.owner in (None, person_id)]
        return sorted(found, key=lambda s: (s.name.lower(), s.slug))

    def get(self, slug: str, person_id: str) -> Surface:
        """One surface the person may see."""
        surface = self._surfaces.get(slug)
        if surface is None or surface.owner not in (None, person_id):
            raise SurfaceNotFoundError(f"no surface {slug!r}")
        return surface

    async def create(self, descriptor: SurfaceDescriptor, *, owner: str | None) -> Surface:
        """A person's own dashboard (``owner``), or a global one made by an admin (``None``)."""
        base = _SLUG.sub("-", descriptor.name.lower()).strip("-") or "dashboard"
        slug, n = base, 1
        while slug in self._surfaces:
            n += 1
            slug = f"{base}-{n}"
        surface = _surface(slug, descriptor, owner=owner, source_domain=None, read_only=False)
        await self._state.set_item(slug, surface)
        return surface

    async def replace(
        self, slug: str, descriptor: SurfaceDescriptor, person_id: str, *, admin: bool
    ) -> Surface:
        """Change a dashboard; contributed surfaces are read-only, global ones need an admin."""
        current = self._editable(slug, person_id, admin=admin)
        surface = _surface(
            slug, descriptor, owner=current.owner, source_domain=None, read_only=False
        )
        await self._state.set_item(slug, surface)
        return surface

    async def delete(self, slug: str, person_id: str, *, admin: bool) -> None:
        """Remove a dashboard."""
        self._editable(slug, person_id, admin=admin)
        await self._state.set_item(slug, None)

    async def forget_person(self, person_id: str) -> None:
        """Remove every surface a removed person owned, their own dashboards and contributed ones."""
        if any(s.owner == person_id for s in self._surfaces.values()):
            await self._state.change(
                lambda surfaces: {slug: s for slug, s in surfaces.items() if s.owner != person_id}
            )

    async def project(self, entry: ConfigEntry, integration: Integration) -> None:
        """Upsert the surfaces an entry's integration contributes (after its setup)."""
        try:
            declared = dict(integration.entry_surfaces(_contribution_context(entry)))
        except Exception:  # a broken declaration contributes nothing
            _LOGGER.exception("surfaces() of %s failed", entry.domain)
            return
        owner = contribution_owner(entry)
        changed: dict[str, Surface] = {}
        for key, descriptor in declared.items():
            slug = contributed_slug(entry.domain, key, owner)
            surface = _surface(
                slug, descriptor, owner=owner, source_domain=entry.domain, read_only=True
            )
            old = self._surfaces.get(slug)
            if old is None or replace(old, updated_at=surface.updated_at) != surface:
                changed[slug] = surface
        if changed:
            await self._state.change(lambda surfaces: {**surfaces, **changed})

    async def withdraw(self, entry: ConfigEntry, remaining: Iterable[ConfigEntry]) -> None:
        """Remove an entry's contributed surfaces unless another entry of its domain and scope holds them."""
        kept = dict(self._surfaces)  # a fresh dict: the one served is never changed in place
        if drop_contributions(kept, entry, remaining):
            doomed = self._surfaces.keys() - kept.keys()
            await self._state.change(
                lambda surfaces: {s: v for s, v in surfaces.items() if s not in doomed}
            )

    def _editable(self, slug: str, person_id: str, *, admin: bool) -> Surface:
        surface = self.get(slug, person_id)
        if surface.read_only:
            raise BadRequestError(
                f"{slug!r} comes from the {surface.source_domain} integration and is read-only"
            )
        if surface.owner is None and not admin:
            raise ForbiddenError("only an admin may change a global dashboard")
        return surface


def _contribution_context(entry: ConfigEntry) -> SetupContext:
    """The entry as ``entry_surfaces`` sees it: its settings, never its secrets."""
    return SetupContext(
        entry_id=entry.entry_id,
        domain=entry.domain,
        scope=entry.scope,
        owner_sub=entry.owner,
        data=dict(entry.data),
        version=entry.version,
    )


def _encode(surfaces: dict[str, Surface]) -> dict[str, Any]:
    return {"surfaces": [s.public() for s in surfaces.values()]}


def contributed_slug(domain: str, key: str, owner: str | None) -> str:
    """``<domain>-<key>``, with the owner appended for a person's own so two people never clash."""
    slug = f"{domain}-{key}"
    return slug if owner is None else f"{slug}-{owner}"


def _surface(
    slug: str,
    descriptor: SurfaceDescriptor,
    *,
    owner: str | None,
    source_domain: str | None,
    read_only: bool,
) -> Surface:
    return Surface(
        slug=slug,
        name=descriptor.name,
        config=dict(descriptor.config),
        icon=descriptor.icon,
        description=descriptor.description,
        show_in_nav=descriptor.show_in_nav,
        kind=descriptor.kind,
        owner=owner,
        source_domain=source_domain,
        read_only=read_only,
        updated_at=time.time(),
    )
