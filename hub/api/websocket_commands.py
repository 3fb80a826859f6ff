"""The websocket's messages: the sign-in, then commands, each of which parses its message, checks
the caller, and calls its REST twin's service; and the helpers that frame and close the socket."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.api.access import require_admin
from hub.api.config_entries import entry_view
from hub.api.config_flows import flow_view
from hub.api.entities import ActionBody, EntityFilters, act, entity_list
from hub.api.history import event_pattern
from hub.api.integrations import catalog_view
from hub.api.request import language_of
from hub.api.state import (
    AUTH,
    CONFIG_ENTRIES,
    FLOW_MANAGER,
    TRANSLATIONS,
)
from hub.auth.principal import Principal
from hub.core.errors import NotFoundError
from hub.entities.listing import TABLE, Layout
from hub.integrations.entry import visible_entries
from hub.integrations.flow_manager import FlowOutcome

if TYPE_CHECKING:
    from hub.api.websocket import Connection

AUTH_TIMEOUT: Final = 10.0


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON; a value JSON cannot hold becomes its ``str`` rather than a failure."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def matches(pattern: str, event_type: str) -> bool:
    """Whether ``event_type`` is ``pattern``, or under ``prefix.*``, or anything for ``*``."""
    if pattern == "*" or pattern == event_type:
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


async def send_message(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    """Write one message straight to the socket, ahead of any queue."""
    await ws.send_frame(encode(message), WSMsgType.TEXT)


async def close_socket(
    ws: web.WebSocketResponse, request: web.Request, code: int, reason: str, grace: float
) -> None:
    """Send a close frame with ``reason``; drop the line if the client does not answer in time."""
    try:
        async with asyncio.timeout(grace * 2):  # ws.close() waits ``grace`` for the answer
            await ws.close(code=code, message=reason.encode()[:120])
    except TimeoutError:
        pass  # the frame could not even be written: the client stopped reading
    if ws.close_code == WSCloseCode.ABNORMAL_CLOSURE and request.transport is not None:
        request.transport.abort()  # else the unread buffer keeps the line open for good


class Message(BaseModel):
    """What every command carries; each command adds its own fields, and no others."""

    model_config = ConfigDict(extra="forbid")

    id: int
    type: str


MessageT = TypeVar("MessageT", bound=Message)
Handler = Callable[["Connection", MessageT], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Command:
    """A command's message model and handler; an async handler runs in a task of its own."""

    model: type[Message]
    handler: Handler[Any]
    is_async: bool
    twin: bool = False
    """Whether a REST route does the same: its refused fields are then that route's
    ``bad_request``, not the socket's ``invalid_format``, so one bad input has one code."""


COMMANDS: Final[dict[str, Command]] = {}


def command(
    name: str, model: type[MessageT], *, twin: bool = False
) -> Callable[[Handler[MessageT]], Handler[MessageT]]:
    """Register a handler for the command ``name``; ``twin`` when a REST route does the same."""

    def register(handler: Handler[MessageT]) -> Handler[MessageT]:
        COMMANDS[name] = Command(model, handler, inspect.iscoroutinefunction(handler), twin)
        return handler

    return register


# Signing in


class AuthMessage(BaseModel):
    """The client's first message."""

    model_config = ConfigDict(extra="forbid")

    type: str
    access_token: str = Field(max_length=4096)


async def authenticate(
    request: web.Request, ws: web.WebSocketResponse, close_timeout: float
) -> Principal | None:
    """The principal of the client's ``auth`` message, or ``None`` once the socket is closed."""
    try:
        msg = await ws.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await close_socket(ws, request, WSCloseCode.POLICY_VIOLATION, "no auth", close_timeout)
        return None
    if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
        return None  # closed before signing in
    principal = None
    message = 'the first message must be {"type": "auth", "access_token": "..."}'
    try:
        auth = AuthMessage.model_validate_json(msg.data)
    except ValidationError:
        pass
    else:
        if auth.type == "auth":
            principal = request.app[AUTH].authenticate(auth.access_token)
            message = "invalid or expired access token"
    if principal is None:
        await send_message(ws, {"type": "auth_invalid", "message": message})
        await close_socket(ws, request, WSCloseCode.POLICY_VIOLATION, "auth_invalid", close_timeout)
    return principal


# Commands


class SubscribeEvents(Message):
    """``subscribe_events``: every event, one type, or ``prefix.*``."""

    event_type: str = Field(default="*", min_length=1, max_length=128)


class Unsubscribe(Message):
    """``unsubscribe_events``: end an event or entity subscription."""

    subscription: int


class ListEntities(Message, EntityFilters):
    """``entities/list``: the filters of ``GET /api/entities``, checked by the same model."""

    model_config = ConfigDict(extra="forbid")

    form: Literal["table", "views", "compact"] = "table"
    """``table``: ``{"columns", "types", "entities": [[values], …]}``; ``views``: ``{"entities":
    [view, …]}`` as ``GET /api/entities``; ``compact``: ``{"a": {id: entity}}`` in
    ``subscribe_entities``' short keys."""


class EntityAction(Message, ActionBody):
    """``entities/action``: ``POST /api/entities/{id}/action``'s body and the entity's id."""

    entity_id: int


class StartFlow(Message):
    """``config_flow/start``: ``POST /api/config-flows``."""

    domain: str = Field(min_length=1, max_length=64)
    scope: Literal["user", "global"] | None = None
    language: str | None = None


class AdvanceFlow(Message):
    """``config_flow/advance``: ``POST /api/config-flows/{flow_id}``."""

    flow_id: str = Field(min_length=1, max_length=64)
    user_input: dict[str, Any] = Field(default_factory=dict)
    language: str | None = None


class AbortFlow(Message):
    """``config_flow/abort``: ``DELETE /api/config-flows/{flow_id}``."""

    flow_id: str = Field(min_length=1, max_length=64)


class ListEntries(Message):
    """``config_entries/list``: ``GET /api/config-entries``."""

    domain: str | None = None


@command("ping", Message)
def ping(conn: Connection, msg: Message) -> None:
    """Answer at once."""
    conn.send(b'{"id":%d,"type":"pong"}' % msg.id)


@command("subscribe_events", SubscribeEvents, twin=True)
def subscribe_events(conn: Connection, msg: SubscribeEvents) -> None:
    """Events the caller may see arrive as ``{id, type: event, event}`` with this message's id."""
    conn.events[msg.id] = event_pattern(msg.event_type)
    conn.send_result(msg.id, None)


@command("unsubscribe_events", Unsubscribe)
def unsubscribe_events(conn: Connection, msg: Unsubscribe) -> None:
    """End an event or entity subscription."""
    stream = conn.entities.pop(msg.subscription, None)
    if stream is not None:
        stream.stop()
    elif conn.events.pop(msg.subscription, None) is None:
        raise NotFoundError(f"no subscription {msg.subscription}")
    conn.send_result(msg.id, None)


@command("entities/list", ListEntities, twin=True)
async def list_entities(conn: Connection, msg: ListEntities) -> None:
    """Visible entities, filtered like ``GET /api/entities``, in the form asked for."""
    if msg.form == "table":
        body = await entity_list(conn.app, conn.principal, msg, TABLE)
    elif msg.form == "compact":
        body = b'{"a":%b}' % await entity_list(conn.app, conn.principal, msg, compact_layout())
    else:
        body = b'{"entities":%b}' % await entity_list(conn.app, conn.principal, msg)
    conn.send(b'{"id":%d,"type":"result","success":true,"result":%b}' % (msg.id, body))


@cache
def compact_layout() -> Layout:
    """``subscribe_entities``' snapshot form: ``{id: entity}`` in its short keys."""
    # Imported here: that module registers its command through this one.
    from hub.api.websocket_entities import COMPACT_KEYS

    return Layout(COMPACT_KEYS, keyed_by_id=True)


@command("entities/action", EntityAction, twin=True)
async def entity_action(conn: Connection, msg: EntityAction) -> None:
    """Run a declared action; the entity afterwards and the integration's message."""
    conn.send_result(msg.id, await act(conn.app, conn.principal, msg.entity_id, msg))


@command("config_flow/start", StartFlow)
async def start_flow(conn: Connection, msg: StartFlow) -> None:
    """Begin adding an integration: global for an admin by default, else the caller's own."""
    principal = conn.principal
    scope = msg.scope or ("global" if principal.is_admin else "user")
    if scope == "global":
        require_admin(principal)
    app = conn.app
    language = language_of(conn.request, app[TRANSLATIONS], msg.domain, msg.language)
    outcome = await app[FLOW_MANAGER].start(
        msg.domain,
        scope=scope,
        owner=principal.person_id,
        language=language,
        by=principal.person_id,
    )
    conn.send_result(msg.id, _flow_view(conn, outcome))


@command("config_flow/advance", AdvanceFlow)
async def advance_flow(conn: Connection, msg: AdvanceFlow) -> None:
    """Submit the current step's form."""
    app = conn.app
    language = (
        language_of(conn.request, app[TRANSLATIONS], None, msg.language)
        if msg.language or "Accept-Language" in conn.request.headers
        else None
    )
    outcome = await app[FLOW_MANAGER].advance(
        msg.flow_id, msg.user_input, language=language, by=conn.principal.person_id
    )
    conn.send_result(msg.id, _flow_view(conn, outcome))


@command("config_flow/abort", AbortFlow)
def abort_flow(conn: Connection, msg: AbortFlow) -> None:
    """Drop a flow and whatever it had collected."""
    conn.app[FLOW_MANAGER].abort(msg.flow_id, by=conn.principal.person_id)
    conn.send_result(msg.id, {"flow_id": msg.flow_id, "aborted": True})


@command("config_entries/list", ListEntries)
def list_entries(conn: Connection, msg: ListEntries) -> None:
    """Entries the caller may see."""
    entries = conn.app[CONFIG_ENTRIES].entries(msg.domain or None)
    visible = visible_entries(entries, conn.principal.person_id)
    language = conn.language()
    public = [entry_view(conn.app, conn.principal, entry, language) for entry in visible]
    conn.send_result(msg.id, {"entries": public})


@command("integrations/list", Message)
def list_integrations(conn: Connection, msg: Message) -> None:
    """Every integration the hub knows, with its catalog settings."""
    conn.send_result(msg.id, catalog_view(conn.app, conn.principal, conn.language()))


@command("auth/current_user", Message)
def current_user(conn: Connection, msg: Message) -> None:
    """The signed-in person."""
    conn.send_result(msg.id, conn.app[AUTH].person(conn.principal.person_id).public())


def _flow_view(conn: Connection, outcome: FlowOutcome) -> dict[str, Any]:
    return flow_view(conn.app, outcome)
