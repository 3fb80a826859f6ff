"""``subscribe_entities``: a snapshot of the visible entities in short keys, then their changes.

Each ``entity.*`` event becomes one compact change, encoded once however many clients get it; each
subscription coalesces what waits for its client, so a client that falls behind gets each entity's
newest state. What waits counts against the client's outgoing bytes, so a client that stops reading
is disconnected like any other. Importing this module registers the ``subscribe_entities`` command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from hub.api.access import visible_entry_ids
from hub.api.state import ENTITIES
from hub.api.websocket_commands import Message, command, compact_layout, encode
from hub.core.bus import Event

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
CHANGE_BYTES: Final = 160
"""What a waiting change costs beyond its encoding (its object, its dict, its slot)."""


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
        self._held = 0
        self._queued = False
        self._live = False

    def offer(self, change: Change) -> None:
        """Add a change; merge it into one already waiting for the same entity."""
        earlier = self._pending.get(change.entity_id)
        self._pending[change.entity_id] = change if earlier is None else earlier.then(change)
        # What the change adds, at most: its own encoding, shared by every stream it reaches.
        size = len(change.body()) + CHANGE_BYTES
        self._held += size
        self._connection.hold(size)
        self._queue()

    def start(self) -> None:
        """The snapshot is out: from now on send what changed."""
        self._live = True
        self._queue()

    def stop(self) -> None:
        """Send nothing more."""
        self._live = False
        self._pending.clear()
        self._release()

    def take(self) -> bytes | None:
        """The message for everything waiting (the writer calls this when its turn comes)."""
        self._queued = False
        pending, self._pending = self._pending, {}
        self._release()
        if not pending:
            return None
        if len(pending) == 1:
            [change] = pending.values()
            return self._prefix + change.body() + b"}"
        return self._prefix + encode_changes(pending.values()) + b"}"

    def _release(self) -> None:
        self._connection.release(self._held)
        self._held = 0

    def _queue(self) -> None:
        if self._live and not self._queued and self._pending:
            self._queued = True
            self._connection.send(self)


@command("subscribe_entities", Message)
async def subscribe_entities(conn: Connection, msg: Message) -> None:
    """A result, a snapshot ``{"a": {id: compact}}`` of the visible entities, then diffs."""
    stream = EntityStream(conn, msg.id)
    conn.entities[msg.id] = stream  # changes made while the snapshot is read wait in the stream
    try:
        # The same text as ``entities/list``'s compact form: built by SQLite, kept till a change.
        snapshot = await conn.app[ENTITIES].list_json(
            entry_ids=visible_entry_ids(conn.app, conn.principal), layout=compact_layout()
        )
    except BaseException:
        del conn.entities[msg.id]
        raise
    conn.send_result(msg.id, None)
    conn.send(b'{"id":%d,"type":"event","event":{"a":%b}}' % (msg.id, snapshot))
    stream.start()
