"""Workflows over HTTP: CRUD, switching on and off, running, the run history and the catalog.

Thin: each route reads the caller and the body and asks ``WorkflowService`` (built on a hub's
first use of workflows, ``hub.workflows.lazy``), which holds the one rule of who may see which
workflow. A workflow that cannot be saved is answered 400
``workflow_invalid`` naming the first problem, with every problem under ``problems``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, get_args

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel

from hub.api.access import principal_of
from hub.api.errors import error_body, request_language
from hub.api.request import read_json, read_query
from hub.api.state import AUTH, CONFIG_ENTRIES, REGISTRY, TRANSLATIONS
from hub.auth.principal import Principal
from hub.core.errors import BadRequestError, HubError
from hub.integrations.contributions import event_types as declared_event_types
from hub.integrations.entry import visible_entries
from hub.integrations.translations import Localizer, fill
from hub.workflows.lazy import LazyWorkflows

if TYPE_CHECKING:  # the models, validator and engine load with the service (hub.workflows.lazy)
    from hub.workflows.problems import Problem, WorkflowInvalidError

WORKFLOWS: Final = web.AppKey("workflows", LazyWorkflows)

HUB_EVENT_TYPES: Final = (
    "entity.created",
    "entity.updated",
    "entity.deleted",
    "config_entry.created",
    "config_entry.updated",
    "config_entry.removed",
    "config_entry.state_changed",
    "inbox.message",
    "inbox.draft",
    "approval.requested",
    "approval.decided",
    "notification.created",
    "webhook_delivery.received",
    "workflow.run",
    "workflow.changed",
)
"""The hub's own events a workflow may listen to (every one of them, the caller's audience)."""
ADMIN_EVENT_TYPES: Final = ("hub.started", "hub.stopping")
"""The hub's own events that reach admins only: household workflows."""
READ_ONLY: Final = ("id", "owner", "created_at", "updated_at", "disabled_reason", "status")
"""What a view has beyond the input: an editor may send a view back as it got it; the hub keeps
these itself."""


class _Object(RootModel[dict[str, Any]]):
    """A JSON object body, checked field by field afterwards."""


class EnableBody(BaseModel):
    """``POST /api/workflows/{id}/enable``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    version: int | None = Field(default=None, ge=1)


class RunsQuery(BaseModel):
    """``GET /api/workflows/{id}/runs``."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, le=500)
    before: str | None = Field(default=None, min_length=1, max_length=100)


async def list_workflows(request: web.Request) -> web.Response:
    """The workflows the caller may see."""
    service = await request.app[WORKFLOWS].get()
    workflows = service.visible(principal_of(request))
    return web.json_response({"workflows": [service.view(w) for w in workflows]})


async def create_workflow(request: web.Request) -> web.Response:
    """Save a new workflow."""
    from hub.workflows.problems import WorkflowInvalidError, parse_input

    service = await request.app[WORKFLOWS].get()
    data, _ = _input(await read_json(request, _Object))
    try:
        workflow = await service.create(principal_of(request), parse_input(data))
    except WorkflowInvalidError as err:
        return _invalid(request, err)
    return web.json_response(service.view(workflow), status=201)


async def get_workflow(request: web.Request) -> web.Response:
    """One workflow."""
    service = await request.app[WORKFLOWS].get()
    return web.json_response(service.view(service.get(principal_of(request), _id(request))))


async def put_workflow(request: web.Request) -> web.Response:
    """Replace a workflow; ``version`` (the one edited) must still be current."""
    from hub.workflows.problems import WorkflowInvalidError, parse_input

    service = await request.app[WORKFLOWS].get()
    caller = principal_of(request)
    service.get(caller, _id(request))  # someone else's is a 404 before its body is judged
    data, version = _input(await read_json(request, _Object))
    try:
        workflow = await service.replace(caller, _id(request), parse_input(data), version)
    except WorkflowInvalidError as err:
        return _invalid(request, err)
    return web.json_response(service.view(workflow))


async def delete_workflow(request: web.Request) -> web.Response:
    """Delete a workflow and its runs."""
    await (await request.app[WORKFLOWS].get()).delete(principal_of(request), _id(request))
    return web.Response(status=204)


async def enable_workflow(request: web.Request) -> web.Response:
    """Switch a workflow on or off."""
    service = await request.app[WORKFLOWS].get()
    caller = principal_of(request)
    service.get(caller, _id(request))  # someone else's is a 404 before its body is judged
    body = await read_json(request, EnableBody)
    workflow = await service.set_enabled(caller, _id(request), body.enabled, body.version)
    return web.json_response(service.view(workflow))


async def run_workflow(request: web.Request) -> web.Response:
    """Run a workflow's actions now; answered once the run has started."""
    run_id = (await request.app[WORKFLOWS].get()).run_now(principal_of(request), _id(request))
    return web.json_response({"run_id": run_id}, status=202)


async def list_runs(request: web.Request) -> web.Response:
    """A page of the workflow's runs, newest first."""
    query = read_query(request, RunsQuery)
    page = await (await request.app[WORKFLOWS].get()).runs(
        principal_of(request), _id(request), limit=query.limit, before=query.before
    )
    return web.json_response(page)


async def get_run(request: web.Request) -> web.Response:
    """One run with its conditions and steps."""
    run = await (await request.app[WORKFLOWS].get()).run(
        principal_of(request), _id(request), request.match_info["run_id"]
    )
    return web.json_response(run)


async def rerun(request: web.Request) -> web.Response:
    """Run a workflow again with a past run's trigger data."""
    run_id = await (await request.app[WORKFLOWS].get()).rerun(
        principal_of(request), _id(request), request.match_info["run_id"]
    )
    return web.json_response({"run_id": run_id}, status=202)


async def catalog(request: web.Request) -> web.Response:
    """What a workflow may be made of, for the editor: types, events, people, modes."""
    from hub.workflows.model import Action, Condition, Mode, Trigger

    caller = principal_of(request)
    return web.json_response(
        {
            "trigger_types": _types(Trigger),
            "condition_types": _types(Condition),
            "action_types": _types(Action),
            "event_types": _event_types(request.app, caller),
            "people": _people(request.app, caller),
            "modes": list(get_args(Mode)),
        }
    )


def _types(union: Any) -> list[str]:
    """The ``type`` values of a discriminated union of models."""
    members = get_args(get_args(union)[0])
    return [get_args(member.model_fields["type"].annotation)[0] for member in members]


def _event_types(app: web.Application, caller: Principal) -> list[dict[str, str]]:
    found = [{"type": name, "source": "hub"} for name in HUB_EVENT_TYPES]
    if caller.is_admin:
        found += [{"type": name, "source": "hub"} for name in ADMIN_EVENT_TYPES]
    registry = app[REGISTRY]
    domains = sorted(
        {e.domain for e in visible_entries(app[CONFIG_ENTRIES].entries(), caller.person_id)}
    )
    for domain in domains:
        loaded = registry.get(domain) if domain in registry.candidates() else None
        if loaded is not None:
            found += [
                {"type": item["event_type"], "source": domain}
                for item in declared_event_types(loaded)
            ]
    return found


def _people(app: web.Application, caller: Principal) -> list[dict[str, str]]:
    if not caller.is_admin:
        return []
    return [
        {"id": person.person_id, "name": person.display_name}
        for person in app[AUTH].people()
        if not person.removing
    ]


def _id(request: web.Request) -> str:
    return request.match_info["workflow_id"]


def _input(body: _Object) -> tuple[dict[str, Any], int | None]:
    """The workflow's input and the version it was edited from (``None``: any)."""
    data = {key: value for key, value in body.root.items() if key not in READ_ONLY}
    return data, _version(data.pop("version", None))


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequestError(
            "version: must be a whole number of at least 1",
            key="errors.invalid_fields",
            problems="version",
        )
    return value


def _invalid(request: web.Request, err: WorkflowInvalidError) -> web.Response:
    """The error envelope of ``err`` with every problem, all in the reader's language."""
    translations = request.app[TRANSLATIONS]
    language = request_language(request)
    localizer = translations.localizer(None, language)
    localized = [_localized(problem, localizer) for problem in err.problems]
    body = error_body(localized[0], translations, language)
    body["problems"] = [
        {
            "path": problem.path,
            "reason": problem.reason,
            "message": error_body(error, translations, language)["message"],
        }
        for problem, error in zip(err.problems, localized, strict=True)
    ]
    return web.json_response({"error": body}, status=err.http_status)


def _localized(problem: Problem, localizer: Localizer) -> HubError:
    """The problem's error with its ``problem`` placeholder in the reader's language."""
    error = problem.error()
    if problem.problem_type is not None:
        template = localizer.get(f"validation.{problem.problem_type}")
        if template is not None:
            error.params["problem"] = fill(template, dict(problem.problem_params))
    return error


def register(app: web.Application) -> None:
    """Add the workflow routes (``catalog`` before ``{workflow_id}``)."""
    app.router.add_get("/api/workflows", list_workflows)
    app.router.add_post("/api/workflows", create_workflow)
    app.router.add_get("/api/workflows/catalog", catalog)
    app.router.add_get("/api/workflows/{workflow_id}", get_workflow)
    app.router.add_put("/api/workflows/{workflow_id}", put_workflow)
    app.router.add_delete("/api/workflows/{workflow_id}", delete_workflow)
    app.router.add_post("/api/workflows/{workflow_id}/enable", enable_workflow)
    app.router.add_post("/api/workflows/{workflow_id}/run", run_workflow)
    app.router.add_get("/api/workflows/{workflow_id}/runs", list_runs)
    app.router.add_get("/api/workflows/{workflow_id}/runs/{run_id}", get_run)
    app.router.add_post("/api/workflows/{workflow_id}/runs/{run_id}/rerun", rerun)
