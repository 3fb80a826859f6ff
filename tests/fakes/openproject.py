"""A fake OpenProject on 127.0.0.1 speaking the parts of API v3 (HAL+JSON) the integration uses.

Serve ``fake.app()`` with pytest-aiohttp's ``aiohttp_server``; the instance URL is the server's
root. Every request needs Basic auth ``apikey:<key>``. Projects, statuses and work packages are
plain dataclasses in dicts, so a test changes them between requests. As in OpenProject, ``offset``
is the page number (from 1), ``pageSize`` is clamped to ``max_page_size``, and the work package
collection lists open work packages unless ``filters`` says otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from aiohttp import encode_basic_auth, web

JsonDict = dict[str, Any]

API_KEY: Final = "op-fake-7c4e19a2b5d30f86"
HAL_JSON: Final = "application/hal+json"
ERROR_URN: Final = "urn:openproject-org:api:v3:errors:"
DEFAULT_OPEN: Final = [{"status": {"operator": "o", "values": None}}]


@dataclass
class FakeProject:
    """A project: the id and identifier both address it."""

    id: int
    identifier: str
    name: str
    type_ids: list[int] = field(default_factory=lambda: [1, 2])


@dataclass
class FakeWorkPackage:
    """A work package as OpenProject stores it."""

    id: int
    project_id: int
    subject: str
    description: str = ""
    status_id: int = 1
    type_id: int = 1
    assignee_id: int | None = None
    due_date: str | None = None
    percentage_done: int = 0
    updated_at: str = field(default_factory=lambda: _now())


class FakeOpenProject:
    """The in-memory instance, and what the integration asked of it."""

    def __init__(self, key: str = API_KEY) -> None:
        self.key = key
        self.me_id = 1
        self.users = {1: "Alice Admin", 2: "Bob Builder"}
        self.statuses: dict[int, tuple[str, bool]] = {
            1: ("New", False),
            7: ("In progress", False),
            12: ("Closed", True),
            14: ("Rejected", True),
        }
        self.types = {1: "Task", 2: "Milestone"}
        self.projects: dict[int, FakeProject] = {}
        self.work_packages: dict[int, FakeWorkPackage] = {}
        self.max_page_size = 100
        self.requests: list[str] = []
        self.echo_status: int | None = None
        """Answer every signed-in request with this status and an error that echoes its
        ``Authorization`` header, as a misconfigured proxy or a debugging server does."""
        self.created: list[JsonDict] = []
        self._next_id = 100

    # Setting the scene

    def add_project(self, identifier: str, name: str) -> FakeProject:
        """A new project with both types enabled."""
        project = FakeProject(len(self.projects) + 1, identifier, name)
        self.projects[project.id] = project
        return project

    def add_work_package(
        self, project: FakeProject, subject: str, **fields: Any
    ) -> FakeWorkPackage:
        """A new work package in ``project``; ``fields`` as in ``FakeWorkPackage``."""
        self._next_id += 1
        work_package = FakeWorkPackage(self._next_id, project.id, subject, **fields)
        self.work_packages[work_package.id] = work_package
        return work_package

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self._authenticate])
        api = "/api/v3"
        app.router.add_get(f"{api}/users/me", self.users_me)
        app.router.add_get(f"{api}/statuses", self.list_statuses)
        app.router.add_get(f"{api}/projects", self.list_projects)
        app.router.add_get(f"{api}/projects/{{project}}/types", self.project_types)
        app.router.add_get(f"{api}/projects/{{project}}/work_packages", self.list_work_packages)
        app.router.add_post(f"{api}/projects/{{project}}/work_packages", self.create_work_package)
        app.router.add_get(f"{api}/work_packages", self.list_work_packages)
        return app

    # Handlers

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path_qs}")
        if request.headers.get("Authorization") != encode_basic_auth("apikey", self.key):
            return error(401, "Unauthenticated", "You did not provide the correct credentials.")
        if self.echo_status is not None:
            header = request.headers["Authorization"]
            return error(self.echo_status, "Internal", f"Failed for Authorization: {header}")
        response: web.StreamResponse = await handler(request)
        return response

    async def users_me(self, request: web.Request) -> web.Response:
        """``GET /api/v3/users/me``."""
        return hal(self._user(self.me_id))

    async def list_statuses(self, request: web.Request) -> web.Response:
        """``GET /api/v3/statuses``: every status, unpaged."""
        found = [self._status(status_id) for status_id in sorted(self.statuses)]
        return hal(collection(found, len(found), len(found), 1, request))

    async def list_projects(self, request: web.Request) -> web.Response:
        """``GET /api/v3/projects``."""
        projects = [self._project(p) for p in sorted(self.projects.values(), key=lambda p: p.id)]
        return self._page(projects, request)

    async def project_types(self, request: web.Request) -> web.Response:
        """``GET /api/v3/projects/{id}/types``."""
        project = self._find_project(request)
        if project is None:
            return not_found()
        found = [self._type(type_id) for type_id in project.type_ids]
        return hal(collection(found, len(found), len(found), 1, request))

    async def list_work_packages(self, request: web.Request) -> web.Response:
        """``GET /api/v3/work_packages`` and ``/projects/{id}/work_packages``, filtered and sorted."""
        found = list(self.work_packages.values())
        if "project" in request.match_info:
            project = self._find_project(request)
            if project is None:
                return not_found()
            found = [wp for wp in found if wp.project_id == project.id]
        try:
            filters = json.loads(request.query["filters"]) if "filters" in request.query else None
            for item in DEFAULT_OPEN if filters is None else filters:
                [(name, spec)] = item.items()
                found = [wp for wp in found if self._matches(wp, name, spec)]
            for name, direction in reversed(json.loads(request.query.get("sortBy", "[]"))):
                found.sort(key=_sort_key(name), reverse=direction == "desc")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            return error(400, "InvalidQuery", f"Filters or sortBy are invalid: {err}")
        return self._page([self._work_package(wp) for wp in found], request)

    async def create_work_package(self, request: web.Request) -> web.Response:
        """``POST /api/v3/projects/{id}/work_packages``: checks the body as OpenProject does."""
        project = self._find_project(request)
        if project is None:
            return not_found()
        body = await request.json()
        self.created.append(body)
        subject = body.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            return error(422, "PropertyConstraintViolation", "Subject can't be blank.")
        type_id = _link_id(body, "type")
        if type_id not in project.type_ids:
            return error(
                422, "PropertyConstraintViolation", "Type is not set to one of the allowed values."
            )
        due = body.get("dueDate")
        if due is not None:
            try:
                date.fromisoformat(due)
            except (TypeError, ValueError):
                return error(422, "PropertyConstraintViolation", "Finish date is not a valid date.")
        description = body.get("description") or {}
        work_package = self.add_work_package(
            project,
            subject,
            description=str(description.get("raw") or ""),
            type_id=type_id,
            assignee_id=_link_id(body, "assignee"),
            due_date=due,
        )
        return hal(self._work_package(work_package), status=201)

    # HAL documents

    def _page(self, items: list[JsonDict], request: web.Request) -> web.Response:
        try:
            size = min(int(request.query.get("pageSize", "20")), self.max_page_size)
            offset = max(int(request.query.get("offset", "1")), 1)
        except ValueError:
            return error(400, "InvalidQuery", "pageSize and offset must be integers.")
        chunk = items[(offset - 1) * size : offset * size]
        return hal(collection(chunk, len(items), size, offset, request))

    def _matches(self, wp: FakeWorkPackage, name: str, spec: JsonDict) -> bool:
        operator, values = spec["operator"], [str(v) for v in spec.get("values") or []]
        if name == "status":
            closed = self.statuses[wp.status_id][1]
            return {"o": not closed, "c": closed, "*": True, "=": str(wp.status_id) in values}[
                operator
            ]
        if name == "assignee":
            ids = {str(self.me_id) if v == "me" else v for v in values}
            assigned = str(wp.assignee_id) if wp.assignee_id is not None else None
            return {"=": assigned in ids, "!": assigned not in ids, "*": assigned is not None}[
                operator
            ]
        if name == "project" and operator == "=":
            return str(wp.project_id) in values
        raise ValueError(f"unsupported filter {name!r} {operator!r}")

    def _find_project(self, request: web.Request) -> FakeProject | None:
        key = request.match_info["project"]
        return next((p for p in self.projects.values() if key in (str(p.id), p.identifier)), None)

    def _user(self, user_id: int) -> JsonDict:
        name = self.users[user_id]
        return {
            "_type": "User",
            "id": user_id,
            "name": name,
            "login": name.split()[0].lower(),
            "_links": {"self": {"href": f"/api/v3/users/{user_id}", "title": name}},
        }

    def _status(self, status_id: int) -> JsonDict:
        name, closed = self.statuses[status_id]
        return {
            "_type": "Status",
            "id": status_id,
            "name": name,
            "isClosed": closed,
            "isDefault": status_id == 1,
            "_links": {"self": {"href": f"/api/v3/statuses/{status_id}", "title": name}},
        }

    def _type(self, type_id: int) -> JsonDict:
        name = self.types[type_id]
        return {
            "_type": "Type",
            "id": type_id,
            "name": name,
            "position": type_id,
            "_links": {"self": {"href": f"/api/v3/types/{type_id}", "title": name}},
        }

    def _project(self, project: FakeProject) -> JsonDict:
        return {
            "_type": "Project",
            "id": project.id,
            "identifier": project.identifier,
            "name": project.name,
            "active": True,
            "public": False,
            "description": {"format": "markdown", "raw": "", "html": ""},
            "_links": {"self": {"href": f"/api/v3/projects/{project.id}", "title": project.name}},
        }

    def _work_package(self, wp: FakeWorkPackage) -> JsonDict:
        project = self.projects[wp.project_id]
        status = self.statuses[wp.status_id][0]
        assignee: JsonDict = {"href": None}
        if wp.assignee_id is not None:
            assignee = {
                "href": f"/api/v3/users/{wp.assignee_id}",
                "title": self.users[wp.assignee_id],
            }
        return {
            "_type": "WorkPackage",
            "id": wp.id,
            "lockVersion": 0,
            "subject": wp.subject,
            "description": {"format": "markdown", "raw": wp.description, "html": ""},
            "startDate": None,
            "dueDate": wp.due_date,
            "percentageDone": wp.percentage_done,
            "createdAt": wp.updated_at,
            "updatedAt": wp.updated_at,
            "_links": {
                "self": {"href": f"/api/v3/work_packages/{wp.id}", "title": wp.subject},
                "project": {"href": f"/api/v3/projects/{project.id}", "title": project.name},
                "status": {"href": f"/api/v3/statuses/{wp.status_id}", "title": status},
                "type": {"href": f"/api/v3/types/{wp.type_id}", "title": self.types[wp.type_id]},
                "assignee": assignee,
            },
        }


def collection(
    items: list[JsonDict], total: int, size: int, offset: int, request: web.Request
) -> JsonDict:
    """A HAL collection page."""
    return {
        "_type": "Collection",
        "total": total,
        "count": len(items),
        "pageSize": size,
        "offset": offset,
        "_embedded": {"elements": items},
        "_links": {"self": {"href": request.path_qs}},
    }


def hal(document: JsonDict, status: int = 200) -> web.Response:
    """A HAL+JSON response."""
    return web.json_response(document, status=status, content_type=HAL_JSON)


def error(status: int, identifier: str, message: str) -> web.Response:
    """OpenProject's error body."""
    body = {"_type": "Error", "errorIdentifier": ERROR_URN + identifier, "message": message}
    return hal(body, status=status)


def not_found() -> web.Response:
    """The 404 OpenProject answers for a project the key cannot see."""
    return error(404, "NotFound", "The requested resource could not be found.")


def _link_id(body: JsonDict, name: str) -> Any:
    href = ((body.get("_links") or {}).get(name) or {}).get("href")
    tail = str(href or "").rpartition("/")[2]
    return int(tail) if tail.isdigit() else None


def _sort_key(name: str) -> Any:
    if name == "id":
        return lambda item: item.id
    if name == "dueDate":
        return lambda item: (item.due_date is None, item.due_date or "")
    raise ValueError(f"unsupported sortBy {name!r}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
