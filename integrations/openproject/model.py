"""OpenProject API v3 resources as frozen values, read from HAL+JSON; pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Generic, TypeVar

API: Final = "/api/v3"
DESCRIPTION_LIMIT: Final = 2000
"""Characters of a work package's description kept for search; the rest stays in OpenProject."""


T = TypeVar("T")


class MalformedResourceError(ValueError):
    """A HAL document lacks a field every OpenProject version sends; the client reports it."""


@dataclass(frozen=True, slots=True)
class Link:
    """A HAL link: where it points (``None`` for an unset one, like no assignee) and its title."""

    href: str | None
    title: str | None = None

    @property
    def id(self) -> int | None:
        """The numeric id at the end of ``href`` (``/api/v3/statuses/7`` → 7), if there is one."""
        tail = (self.href or "").rstrip("/").rpartition("/")[2]
        return int(tail) if tail.isdigit() else None


@dataclass(frozen=True, slots=True)
class User:
    """The person the API key belongs to."""

    id: int
    name: str
    href: str


@dataclass(frozen=True, slots=True)
class Project:
    """One project the key can see."""

    id: int
    identifier: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class Status:
    """A work package status; ``is_closed`` tells done from open."""

    id: int
    name: str
    is_closed: bool


@dataclass(frozen=True, slots=True)
class WorkPackageType:
    """A work package type (Task, Milestone, ...) enabled in a project."""

    id: int
    name: str
    href: str


@dataclass(frozen=True, slots=True)
class WorkPackage:
    """One work package, with its linked resources reduced to ids and titles."""

    id: int
    subject: str
    description: str
    status: Link
    project: Link
    type: Link
    assignee: Link
    due_date: date | None
    percentage_done: int | None
    updated_at: str | None

    def is_closed(self, statuses: Mapping[int, Status]) -> bool:
        """Whether its status is a closed one; an unknown status counts as open."""
        status = statuses.get(self.status.id) if self.status.id is not None else None
        return status is not None and status.is_closed

    def is_overdue(self, statuses: Mapping[int, Status], today: date) -> bool:
        """Open, with a due date before ``today``."""
        return self.due_date is not None and self.due_date < today and not self.is_closed(statuses)


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """Some elements of a collection and how many the server holds in all."""

    items: tuple[T, ...]
    total: int

    @property
    def truncated(self) -> bool:
        """True when the server holds more than ``items``."""
        return self.total > len(self.items)


def elements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``_embedded.elements`` of a HAL collection."""
    embedded = document.get("_embedded")
    found = embedded.get("elements") if isinstance(embedded, Mapping) else None
    if not isinstance(found, list):
        raise MalformedResourceError("a collection without _embedded.elements")
    return [item for item in found if isinstance(item, Mapping)]


def link(resource: Mapping[str, Any], name: str) -> Link:
    """The link ``name`` of a resource; a missing one reads as unset."""
    links = resource.get("_links")
    raw = links.get(name) if isinstance(links, Mapping) else None
    if not isinstance(raw, Mapping):
        return Link(None)
    href, title = raw.get("href"), raw.get("title")
    return Link(href if isinstance(href, str) else None, title if isinstance(title, str) else None)


def parse_user(data: Mapping[str, Any]) -> User:
    """``GET /api/v3/users/me``."""
    user_id = _id(data)
    href = link(data, "self").href or f"{API}/users/{user_id}"
    return User(id=user_id, name=_text(data, "name") or f"User {user_id}", href=href)


def parse_project(data: Mapping[str, Any]) -> Project:
    """One element of ``GET /api/v3/projects``."""
    project_id = _id(data)
    return Project(
        id=project_id,
        identifier=_text(data, "identifier") or str(project_id),
        name=_text(data, "name") or f"Project {project_id}",
        active=data.get("active") is not False,
    )


def parse_status(data: Mapping[str, Any]) -> Status:
    """One element of ``GET /api/v3/statuses``."""
    status_id = _id(data)
    return Status(
        id=status_id,
        name=_text(data, "name") or f"Status {status_id}",
        is_closed=data.get("isClosed") is True,
    )


def parse_type(data: Mapping[str, Any]) -> WorkPackageType:
    """One element of ``GET /api/v3/projects/{id}/types``."""
    type_id = _id(data)
    href = link(data, "self").href or f"{API}/types/{type_id}"
    return WorkPackageType(id=type_id, name=_text(data, "name") or f"Type {type_id}", href=href)


def parse_work_package(data: Mapping[str, Any]) -> WorkPackage:
    """One work package; a milestone's ``date`` counts as its due date."""
    description = data.get("description")
    raw = description.get("raw") if isinstance(description, Mapping) else None
    percentage = data.get("percentageDone")
    return WorkPackage(
        id=_id(data),
        subject=_text(data, "subject"),
        description=raw[:DESCRIPTION_LIMIT] if isinstance(raw, str) else "",
        status=link(data, "status"),
        project=link(data, "project"),
        type=link(data, "type"),
        assignee=link(data, "assignee"),
        due_date=_date(data.get("dueDate") or data.get("date")),
        percentage_done=percentage if isinstance(percentage, int) else None,
        updated_at=_text(data, "updatedAt") or None,
    )


def _id(data: Mapping[str, Any]) -> int:
    value = data.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedResourceError(f"a {data.get('_type') or 'resource'} without a numeric id")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
