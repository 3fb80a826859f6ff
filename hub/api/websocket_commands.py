"""The websocket commands: each parses its message, checks the caller, and calls its REST twin's service."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import entity_for, require_admin, visible_entry_ids
from hub.api.config_flows import flow_view
from hub.api.request import language_of
from hub.api.state import (
    AUTH,
    CATALOG,
    CONFIG_ENTRIES,
    ENTITIES,
    FLOW_MANAGER,
    REGISTRY,
    TRANSLATIONS,
)
from hub.core.bus import Event
from hub.core.errors import BadRequestError, NotFoundError
from hub.entities.actions import call_action
from hub.integrations.entry import visible_entries
from hub.integrations.flow_manager import FlowOutcome
from hub.integrations.overview import overview

if TYPE_CHECKING:
    from hub.api.websocket import Connection


# fmt: off
COMPACT_KEYS: Final = (
    ("state", "s"), ("attributes", "a"), ("name", "n"), ("last_changed", "lc"),
    ("updated_at", "lu"), ("entry_id", "e"), ("domain", "d"), ("entity_type", "t"),
    ("external_id", "x"), ("visible", "v"), ("parent_id", "p"), ("device_id", "dv"),
    ("unit", "u"), ("device_class", "dc"), ("state_class", "sc"), ("category", "ct"),
)
# fmt: on
"""An entity view's fields as ``subscribe_entities`` names them; a changed field is sent whole."""


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON; a value JSON cannot hold becomes its ``str`` rather than a failure."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def matches(pattern: str, event_type: str) -> bool:
    """Whether ``event_type`` is ``pattern``, or under ``prefix.*``, or anything for ``*``."""
    if pattern == "*" or pattern == event_type:
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


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


COMMANDS: Final[dict[str, Command]] = {}


def command(name: str, model: type[MessageT]) -> Callable[[Handler[MessageT]], Handler[MessageT]]:
    """Register a handler for the command ``name``."""

    def register(handler: Handler[MessageT]) -> Handler[MessageT]:
        COMMANDS[name] = Command(model, handler, inspect.iscoroutinefunction(handler))
        return handler

    return register


# Entity changes, compacted once per event and coalesced per client


@dataclass(slots=True)
class Change:
    """One entity's pending change for ``subscribe_entities``: added, changed fields, or removed."""

    entity_id: int
    kind: Literal["a", "c", "r"]
    fields: dict[str, Any]
    encoded: bytes | None = None

    def body(self) -> bytes:
        """The event body carrying this change alone; encoded once, however many clients get it."""
        if self.encoded is None:
            self.encoded = encode_changes((self,))
        return self.encoded

    def then(self, later: Change) -> Change:
        """This change followed by ``later``, as one: the newest value of each field wins."""
        if later.kind != "c":
            return later
        if self.kind == "r":
            return self
        return Change(self.entity_id, self.kind, {**self.fields, **later.fields})


def compact(view: Mapping[str, Any]) -> dict[str, Any]:
    """An entity view with short keys."""
    return {short: view.get(name) for name, short in COMPACT_KEYS}


def change_of(event: Event[Mapping[str, Any]]) -> Change | None:
    """The change an ``entity.*`` event makes, or ``None`` when nothing a client sees changed."""
    data = event.data
    old, new = data.get("old_state"), data.get("new_state")
    entity_id = data.get("entity_id")
    if not isinstance(entity_id, int):
        return None
    if new is None:
        return Change(entity_id, "r", {})
    if old is None:
        return Change(entity_id, "a", compact(new))
    fields = {
        short: new.get(name) for name, short in COMPACT_KEYS if old.get(name) != new.get(name)
    }
    return Change(entity_id, "c", fields) if fields else None


def encode_changes(changes: Iterable[Change]) -> bytes:
    """``{"a": {id: compact}, "c": {id: {"+": fields}}, "r": [ids]}``, leaving out empty parts."""
    body: dict[str, Any] = {}
    for change in changes:
        if change.kind == "r":
            body.setdefault("r", []).append(change.entity_id)
        else:
            value = change.fields if change.kind == "a" else {"+": change.fields}
            body.setdefault(change.kind, {})[str(change.entity_id)] = value
    return encode(body)


class EntityStream:
    """A ``subscribe_entities`` subscription: takes one slot of its client's queue however many
    changes wait, so a client that falls behind gets each entity's newest state, coalesced."""

    def __init__(self, connection: Connection, subscription: int) -> None:
        self._connection = connection
        self._prefix = b'{"id":%d,"type":"event","event":' % subscription
        self._pending: dict[int, Change] = {}
        self._queued = False
        self._live = False

    def offer(self, change: Change) -> None:
        """Add a change; merge it into one already waiting for the same entity."""
        earlier = self._pending.get(change.entity_id)
        self._pending[change.entity_id] = change if earlier is None else earlier.then(change)
        self._queue()

    def start(self) -> None:
        """The snapshot is out: from now on send what changed."""
        self._live = True
        self._queue()

    def stop(self) -> None:
        """Send nothing more."""
        self._live = False
        self._pending.clear()

    def take(self) -> bytes | None:
        """The message for everything waiting (the writer calls this when its turn comes)."""
        self._queued = False
        pending, self._pending = self._pending, {}
        if not pending:
            return None
        if len(pending) == 1:
            [change] = pending.values()
            return self._prefix + change.body() + b"}"
        return self._prefix + encode_changes(pending.values()) + b"}"

    def _queue(self) -> None:
        if self._live and not self._queued and self._pending:
            self._queued = True
            self._connection.send(self)


# Commands


class SubscribeEvents(Message):
    """``subscribe_events``: every event, one type, or ``prefix.*``."""

    event_type: str = Field(default="*", min_length=1, max_length=128)


class Unsubscribe(Message):
    """``unsubscribe_events``: end an event or entity subscription."""

    subscription: int


class ListEntities(Message):
    """``entities/list``: the filters of ``GET /api/entities``."""

    domain: str | None = None
    entry_id: str | None = None
    entity_type: str | None = None
    device_id: int | None = None
    visible: bool | None = None
    category: str | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)


class EntityAction(Message):
    """``entities/action``: ``POST /api/entities/{id}/action``."""

    entity_id: int
    action: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)


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


@command("subscribe_events", SubscribeEvents)
def subscribe_events(conn: Connection, msg: SubscribeEvents) -> None:
    """Events the caller may see arrive as ``{id, type: event, event}`` with this message's id."""
    pattern = msg.event_type
    if "*" in pattern.removesuffix(".*") and pattern != "*":
        raise BadRequestError(f"event_type {pattern!r} is not a type, '*' or 'prefix.*'")
    conn.events[msg.id] = pattern
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


@command("entities/list", ListEntities)
async def list_entities(conn: Connection, msg: ListEntities) -> None:
    """Visible entities, filtered like ``GET /api/entities``."""
    service = conn.app[ENTITIES]
    allowed = visible_entry_ids(conn.app, conn.principal)
    if msg.entry_id:
        allowed = [entry_id for entry_id in allowed if entry_id == msg.entry_id]
    rows = await service.list_entities(
        domain=msg.domain or None,
        entry_ids=allowed,
        entity_type=msg.entity_type or None,
        device_id=msg.device_id,
        visible=msg.visible,
        limit=msg.limit,
    )
    views = [service.view(row) for row in rows]
    if msg.category:
        wanted = None if msg.category == "none" else msg.category
        views = [view for view in views if view["category"] == wanted]
    conn.send_result(msg.id, {"entities": views})


@command("subscribe_entities", Message)
async def subscribe_entities(conn: Connection, msg: Message) -> None:
    """A result, a snapshot ``{"a": {id: compact}}`` of the visible entities, then diffs."""
    stream = EntityStream(conn, msg.id)
    conn.entities[msg.id] = stream  # changes made while the snapshot is read wait in the stream
    try:
        service = conn.app[ENTITIES]
        rows = await service.list_entities(entry_ids=visible_entry_ids(conn.app, conn.principal))
    except BaseException:
        del conn.entities[msg.id]
        raise
    snapshot = {str(row.id): compact(service.view(row)) for row in rows}
    conn.send_result(msg.id, None)
    conn.send(b'{"id":%d,"type":"event","event":%b}' % (msg.id, encode({"a": snapshot})))
    stream.start()


@command("entities/action", EntityAction)
async def entity_action(conn: Connection, msg: EntityAction) -> None:
    """Run a declared action; the entity afterwards and the integration's message."""
    app = conn.app
    row = await entity_for(app, conn.principal, msg.entity_id, manage=False)
    updated, message = await call_action(
        row,
        msg.action,
        msg.args,
        service=app[ENTITIES],
        entries=app[CONFIG_ENTRIES],
        registry=app[REGISTRY],
    )
    conn.send_result(msg.id, {"entity": app[ENTITIES].view(updated), "message": message})


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
    conn.send_result(msg.id, {"entries": [entry.as_public() for entry in visible]})


@command("integrations/list", Message)
def list_integrations(conn: Connection, msg: Message) -> None:
    """Every integration the hub knows, with its catalog settings."""
    app = conn.app
    conn.send_result(msg.id, overview(app[REGISTRY], app[CATALOG].rows()))


@command("auth/current_user", Message)
def current_user(conn: Connection, msg: Message) -> None:
    """The signed-in person."""
    conn.send_result(msg.id, conn.app[AUTH].person(conn.principal.person_id).public())


def _flow_view(conn: Connection, outcome: FlowOutcome) -> dict[str, Any]:
    return flow_view(conn.app, outcome)
