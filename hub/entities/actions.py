"""Entity actions: only what a type declares, with arguments checked against its field descriptors."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from hub.core.errors import (
    ACTION_NOT_DECLARED,
    BadRequestError,
    HubError,
)
from hub.entities.schema import EntityRow
from hub.entities.service import EntityService
from hub.entities.sync import EntryNotLoadedError
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entities import (
    EntityStateActionResult,
    EntityStateSyncResult,
)
from hub.integrations.entry import EntryState
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import ACTION

_LOGGER = logging.getLogger(__name__)


class ActionNotDeclaredError(HubError):
    """The entity's type does not declare that action."""

    code = ACTION_NOT_DECLARED
    http_status = 400


def check_args(fields: Sequence[FieldDescriptor], args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` checked against the action's fields; a ``BadRequestError`` names each problem."""
    known = {item.name: item for item in fields if item.type != "note"}
    problems = [f"{name}: not an argument of this action" for name in args if name not in known]
    checked: dict[str, Any] = {}
    for name, item in known.items():
        if name not in args or args[name] is None:
            if item.required and item.default is None:
                problems.append(f"{name}: required")
            elif item.default is not None:
                checked[name] = item.default
            continue
        value = args[name]
        problem = _problem(item, value)
        if problem:
            problems.append(f"{name}: {problem}")
        else:
            checked[name] = value
    if problems:
        raise BadRequestError("; ".join(problems))
    return checked


def _problem(item: FieldDescriptor, value: Any) -> str | None:
    if item.type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else "must be a number"
    if item.type == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if item.type == "select":
        allowed = [option.value for option in item.options or ()]
        values = value if item.multiple and isinstance(value, list) else [value]
        if item.multiple and not isinstance(value, list):
            return "must be a list"
        bad = [v for v in values if v not in allowed]
        return f"{bad[0]!r} is not one of {allowed}" if bad else None
    if item.multiple:
        return None if isinstance(value, list) else "must be a list"
    return None if isinstance(value, str) else "must be a string"


async def call_action(
    row: EntityRow,
    action: str,
    args: Mapping[str, Any],
    *,
    service: EntityService,
    entries: ConfigEntries,
    registry: IntegrationRegistry,
) -> tuple[EntityRow, str | None]:
    """Run a declared action on ``row`` and apply what it returns; the entity after, the message."""
    entity_id = row.id
    descriptor = service.descriptor(row.domain, row.entity_type)
    declared = descriptor.action(action) if descriptor else None
    if declared is None:
        names = ", ".join(a.name for a in descriptor.actions) if descriptor else ""
        raise ActionNotDeclaredError(
            f"{row.entity_type} has no action {action!r}" + (f" (it has: {names})" if names else "")
        )
    checked = check_args(declared.fields, args)
    entry = entries.require(row.entry_id)
    runtime = entries.runtime(entry.entry_id)
    if runtime is None or entry.state is not EntryState.LOADED:
        raise EntryNotLoadedError(f"entry {entry.entry_id} ({entry.domain}) is not loaded")
    current = await service.record(row)  # with its parent and device, so an answer keeps them
    # The runtime maps every failure: ValueError is a 400, a refused key asks for reauth (503).
    result = await runtime.call(
        ACTION,
        timeout=entries.deadlines.action,
        label=action,
        entity_type=row.entity_type,
        external_id=row.external_id,
        action=action,
        args=checked,
        current=current,
    )
    message = None
    after = row
    if isinstance(result, EntityStateActionResult):
        message = result.message
        if result.records:
            records = EntityStateSyncResult(records=result.records, full=False)
            outcome = await service.apply(row.entry_id, row.domain, records)
            # The apply already knows the stored row: no second read for the answer.
            after = next((c.new for c in outcome.changes if c.new and c.new.id == entity_id), row)
    return after, message
