"""The agent's OpenProject tools: typed, capped results, gathered into a pydantic-ai toolset."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Annotated, Final

from pydantic import BaseModel, Field

from .client import OpenProjectClient
from .model import Status, WorkPackage

if TYPE_CHECKING:
    from pydantic_ai.toolsets import FunctionToolset

MAX_PROJECTS: Final = 100
MAX_WORK_PACKAGES: Final = 50
MAX_DESCRIPTION: Final = 20_000

OPEN: Final = {"status": {"operator": "o", "values": []}}
ASSIGNED_TO_ME: Final = {"assignee": {"operator": "=", "values": ["me"]}}


class ProjectSummary(BaseModel):
    """One OpenProject project."""

    id: int
    identifier: str = Field(description="Short name; works wherever a project id is asked for")
    name: str
    url: str


class ProjectList(BaseModel):
    """Projects the configured account can see."""

    projects: list[ProjectSummary]
    total: int = Field(description="How many projects exist in all")
    truncated: bool = Field(description="True when more projects exist than are listed")


class WorkPackageSummary(BaseModel):
    """One OpenProject work package (a task, bug, milestone, ...)."""

    id: int
    subject: str
    project: str | None
    type: str | None
    status: str | None
    closed: bool
    due_date: date | None
    overdue: bool = Field(description="Open, with a due date in the past")
    assignee: str | None
    percentage_done: int | None
    url: str


class WorkPackageList(BaseModel):
    """Work packages, soonest due first."""

    work_packages: list[WorkPackageSummary]
    total: int = Field(description="How many matched in all")
    truncated: bool = Field(description="True when more matched than are listed")


class OpenProjectTools:
    """The tools of one entry; each public ``openproject_*`` method is one tool the model sees."""

    def __init__(
        self, client: OpenProjectClient, *, today: Callable[[], date] = date.today
    ) -> None:
        self._client = client
        self._today = today

    async def openproject_list_projects(
        self, limit: Annotated[int, Field(ge=1, le=MAX_PROJECTS)] = 50
    ) -> ProjectList:
        """List the OpenProject projects this account can see, with their ids and identifiers.

        Args:
            limit: The most projects to return.
        """
        listing = await self._client.projects(limit=min(limit, MAX_PROJECTS))
        projects = [
            ProjectSummary(
                id=project.id,
                identifier=project.identifier,
                name=project.name,
                url=self._client.project_url(project.identifier),
            )
            for project in listing.items
        ]
        return ProjectList(projects=projects, total=listing.total, truncated=listing.truncated)

    async def openproject_my_work_packages(
        self,
        include_closed: bool = False,
        limit: Annotated[int, Field(ge=1, le=MAX_WORK_PACKAGES)] = 20,
    ) -> WorkPackageList:
        """List the work packages assigned to me in OpenProject, soonest due first.

        Args:
            include_closed: Also list closed (done, rejected) ones; by default only open ones.
            limit: The most work packages to return.
        """
        filters = [ASSIGNED_TO_ME] if include_closed else [OPEN, ASSIGNED_TO_ME]
        listing = await self._client.work_packages(
            filters=filters,
            limit=min(limit, MAX_WORK_PACKAGES),
            sort_by=(("dueDate", "asc"), ("id", "asc")),
        )
        statuses = await self._statuses(listing.items)
        found = [self._summary(wp, statuses) for wp in listing.items]
        return WorkPackageList(
            work_packages=found, total=listing.total, truncated=listing.truncated
        )

    async def openproject_create_work_package(
        self,
        project: Annotated[str, Field(min_length=1, max_length=100)],
        subject: Annotated[str, Field(min_length=1, max_length=255)],
        description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = "",
        due_date: date | None = None,
        assign_to_me: bool = False,
    ) -> WorkPackageSummary:
        """Create a work package in an OpenProject project, of the project's first type (usually Task).

        Args:
            project: The project's numeric id or its identifier, as openproject_list_projects shows.
            subject: A short title.
            description: Details, in Markdown.
            due_date: When it is due (YYYY-MM-DD), if it has a deadline.
            assign_to_me: Assign it to me, so it shows among my work packages.
        """
        assignee = (await self._client.me()).href if assign_to_me else None
        created = await self._client.create_work_package(
            project,
            subject=subject.strip(),
            description=description,
            due_date=due_date,
            assignee_href=assignee,
        )
        statuses = await self._statuses((created,))
        return self._summary(created, statuses)

    async def _statuses(self, found: tuple[WorkPackage, ...]) -> dict[int, Status]:
        statuses = await self._client.statuses()
        # A status created since the first read: read them again, once.
        if any(wp.status.id is not None and wp.status.id not in statuses for wp in found):
            statuses = await self._client.statuses(refresh=True)
        return statuses

    def _summary(self, wp: WorkPackage, statuses: Mapping[int, Status]) -> WorkPackageSummary:
        return WorkPackageSummary(
            id=wp.id,
            subject=wp.subject,
            project=wp.project.title,
            type=wp.type.title,
            status=wp.status.title,
            closed=wp.is_closed(statuses),
            due_date=wp.due_date,
            overdue=wp.is_overdue(statuses, self._today()),
            assignee=wp.assignee.title,
            percentage_done=wp.percentage_done,
            url=self._client.work_package_url(wp.id),
        )


def build_toolset(
    client: OpenProjectClient, *, toolset_id: str = "openproject"
) -> FunctionToolset[None]:
    """The toolset the agent sees; pydantic-ai is imported here, on first use, not at start-up."""
    from pydantic_ai import Tool
    from pydantic_ai.toolsets import FunctionToolset

    tools = OpenProjectTools(client)
    # Listing reads only, so it runs without asking; creating a work package asks the person first.
    reading = {"read_only": True}
    return FunctionToolset(
        [
            Tool(tools.openproject_list_projects, metadata=reading),
            Tool(tools.openproject_my_work_packages, metadata=reading),
            tools.openproject_create_work_package,
        ],
        id=toolset_id,
    )
