"""Projects and work packages as entities, their search text, and the overdue event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Final

from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
)
from hub.integrations.manifest import FieldDescriptor

from .model import Project, Status, WorkPackage

PROJECT_TYPE: Final = "project"
WORK_PACKAGE_TYPE: Final = "work_package"
ENTITY_TYPES: Final = (PROJECT_TYPE, WORK_PACKAGE_TYPE)
WP_OVERDUE: Final = "openproject.wp_overdue"


def work_package_text(record: EntityStateRecord) -> str:
    """What search finds a work package by: id, subject, project, status, people, dates, description."""
    attributes = record.attributes
    lines = [f"Work package #{record.external_id}: {attributes.get('subject') or record.name}"]
    for label, key in (
        ("Project", "project"),
        ("Type", "type"),
        ("Assignee", "assignee"),
        ("Due", "due_date"),
    ):
        if attributes.get(key):
            lines.append(f"{label}: {attributes[key]}")
    if record.state is not None:
        closed = " (closed)" if attributes.get("closed") else " (open)"
        lines.append(f"Status: {record.state}{closed}")
    if attributes.get("description"):
        lines.extend(("", str(attributes["description"])))
    return "\n".join(lines)


# The English here is the fallback: GET /api/entity-types shows a person the words of
# translations/<lang>.json under "entity.<key>" (and the event's under "event").
PROJECT: Final = EntityStateTypeDescriptor(
    key=PROJECT_TYPE,
    name="Project",
    world_kind="project",
    attributes=(
        FieldDescriptor(name="identifier", label="Identifier"),
        FieldDescriptor(name="active", label="Active", type="bool"),
        FieldDescriptor(name="url", label="Link"),
    ),
)

WORK_PACKAGE: Final = EntityStateTypeDescriptor(
    key=WORK_PACKAGE_TYPE,
    name="Work package",
    attributes=(
        FieldDescriptor(name="subject", label="Subject"),
        FieldDescriptor(name="status", label="Status"),
        FieldDescriptor(name="closed", label="Closed", type="bool"),
        FieldDescriptor(name="due_date", label="Due date", type="date", required=False),
        FieldDescriptor(name="assignee", label="Assignee", required=False),
        FieldDescriptor(name="project", label="Project"),
        FieldDescriptor(name="type", label="Type", required=False),
        FieldDescriptor(name="percentage_done", label="% done", type="number", required=False),
        FieldDescriptor(name="description", label="Description", required=False),
        FieldDescriptor(name="url", label="Link"),
        FieldDescriptor(name="updated_at", label="Updated", type="datetime", required=False),
    ),
    rag=True,
    to_text=work_package_text,
    device_class="task",
    world_kind="task",
)

OVERDUE_EVENT: Final = EventTypeDescriptor(
    event_type=WP_OVERDUE,
    name="Work package overdue",
    payload_schema=(
        FieldDescriptor(name="work_package_id", label="Work package"),
        FieldDescriptor(name="due_date", label="Due date", type="date"),
    ),
)


def project_record(project: Project, url: str) -> EntityStateRecord:
    """A project as an entity; it has no state of its own."""
    return EntityStateRecord(
        entity_type=PROJECT_TYPE,
        external_id=str(project.id),
        name=project.name,
        attributes={"identifier": project.identifier, "active": project.active, "url": url},
    )


def work_package_record(
    work_package: WorkPackage, statuses: Mapping[int, Status], url: str
) -> EntityStateRecord:
    """A work package as an entity under its project; its state is its status's name."""
    project_id = work_package.project.id
    return EntityStateRecord(
        entity_type=WORK_PACKAGE_TYPE,
        external_id=str(work_package.id),
        name=work_package.subject or f"#{work_package.id}",
        state=work_package.status.title,
        attributes={
            "subject": work_package.subject,
            "status": work_package.status.title,
            "closed": work_package.is_closed(statuses),
            "due_date": _iso(work_package.due_date),
            "assignee": work_package.assignee.title,
            "project": work_package.project.title,
            "type": work_package.type.title,
            "percentage_done": work_package.percentage_done,
            "description": work_package.description or None,
            "url": url,
            "updated_at": work_package.updated_at,
        },
        parent_type=PROJECT_TYPE if project_id is not None else None,
        parent_external_id=str(project_id) if project_id is not None else None,
    )


class OverdueTracker:
    """Which ``(work package, due date)`` pairs were already announced as overdue, in memory.

    Each pair is announced once for as long as the process runs. The memory is not stored, so
    after a restart a work package that is still overdue is announced again: at least once, not
    exactly once. A due date that moves forgets the old pair, so a new date that passes is news.
    """

    def __init__(self) -> None:
        self._announced: set[tuple[int, date]] = set()

    def newly_overdue(
        self,
        work_packages: Iterable[WorkPackage],
        statuses: Mapping[int, Status],
        today: date,
        *,
        complete: bool = True,
    ) -> list[tuple[int, date]]:
        """The pairs to announce now; ``complete`` says the poll returned every work package."""
        current = list(work_packages)
        due = {wp.id: wp.due_date for wp in current}

        def keep(pair: tuple[int, date]) -> bool:
            # Closing keeps a pair (reopening is no news); a moved date or a deletion drops it.
            if pair[0] in due:
                return due[pair[0]] == pair[1]
            return not complete

        self._announced = {pair for pair in self._announced if keep(pair)}
        fresh = [
            (wp.id, wp.due_date)
            for wp in current
            if wp.due_date is not None
            and wp.is_overdue(statuses, today)
            and (wp.id, wp.due_date) not in self._announced
        ]
        self._announced.update(fresh)
        return fresh


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
