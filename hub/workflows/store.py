"""Every workflow, in ``.storage/workflows``: ``{"workflows": [Workflow JSON]}``.

An http step's header values (an ``Authorization`` token, an API key) are stored encrypted with
the keyring, each under its workflow and its step's path: ``{"sealed": "<token>"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from pydantic import ValidationError

from hub.core.committed import Committed
from hub.core.crypto import Keyring
from hub.core.errors import CryptoError
from hub.core.storage import StorageManager
from hub.workflows.lazy import WORKFLOWS_KEY
from hub.workflows.model import Workflow

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1

SEALED: Final = "sealed"

Workflows = Mapping[str, Workflow]


class WorkflowStore:
    """The stored workflows by id; each change is on disk before memory serves it."""

    def __init__(self, storage: StorageManager, keyring: Keyring) -> None:
        self._keyring = keyring
        self._sealed: dict[tuple[str, int, float], dict[str, Any]] = {}
        """Each stored workflow's JSON as written, header values encrypted, by its id, version
        and time of change: encrypting may write the keyring, so it happens before a save."""
        self._unreadable: tuple[dict[str, Any], ...] = ()
        """Stored workflows this hub cannot read (written by a newer one, or edited by hand):
        written back as they are, so a downgrade or a typo loses nothing."""
        self._items = Committed[Workflows](
            storage.store(WORKFLOWS_KEY, STORAGE_VERSION), {}, self._encode
        )

    async def load(self) -> None:
        """Read the stored workflows."""
        data = await self._items.store.load()
        if data is None:
            return
        loaded: dict[str, Workflow] = {}
        unreadable: list[dict[str, Any]] = []
        for raw in data.get("workflows", []):
            try:
                workflow = Workflow.model_validate(self._opened(raw))
            except CryptoError as err:
                _LOGGER.error(
                    "Workflow %s in .storage/%s has a header the keyring cannot decrypt and stays"
                    " off: %s",
                    raw.get("id"),
                    WORKFLOWS_KEY,
                    err,
                )
                unreadable.append(raw)
                continue
            except ValidationError as err:
                _LOGGER.error(
                    "Workflow %s in .storage/%s cannot be read and stays off: %s",
                    raw.get("id") if isinstance(raw, dict) else "?",
                    WORKFLOWS_KEY,
                    err.errors()[0]["msg"] if err.errors() else err,
                )
                if isinstance(raw, dict):
                    unreadable.append(raw)
                continue
            loaded[workflow.id] = workflow
            self._sealed[_key(workflow)] = raw
        self._unreadable = tuple(unreadable)
        self._items.reset(loaded)

    @property
    def workflows(self) -> Workflows:
        """Every workflow by id, as on disk."""
        return self._items.value

    def get(self, workflow_id: str) -> Workflow | None:
        """One workflow, or None."""
        return self._items.value.get(workflow_id)

    async def put(self, workflow: Workflow) -> None:
        """Add or replace ``workflow`` on disk, then in memory."""
        await self._seal(workflow)
        await self._items.change(lambda items: {**items, workflow.id: workflow})
        self._forget_sealed()

    async def remove(self, workflow_id: str) -> None:
        """Remove one workflow (nothing when it is gone already), and its headers' key."""
        await self._items.change(
            lambda items: {key: value for key, value in items.items() if key != workflow_id}
        )
        self._forget_sealed()
        await self._keyring.forget_owner(_owner(workflow_id))

    async def change(self, change: Callable[[Workflows], Workflows]) -> Workflows:
        """Apply ``change`` to every workflow at once (several in one write)."""
        after = change(self._items.value)
        for workflow in after.values():
            await self._seal(workflow)
        result = await self._items.change(lambda _items: after)
        self._forget_sealed()
        return result

    async def _seal(self, workflow: Workflow) -> None:
        key = _key(workflow)
        if key in self._sealed:
            return
        raw = workflow.model_dump(mode="json", by_alias=True)
        for path, step in _http_steps(raw.get("actions", []), "actions"):
            headers = step.get("headers") or {}
            for name, value in headers.items():
                token = await self._keyring.encrypt(
                    _owner(workflow.id), f"{path}.headers.{name}", value
                )
                headers[name] = {SEALED: token}
        self._sealed[key] = raw

    def _opened(self, raw: Any) -> Any:
        """A stored workflow's JSON with its header values decrypted."""
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return raw
        opened = json_copy(raw)
        for path, step in _http_steps(opened.get("actions", []), "actions"):
            headers = step.get("headers")
            if not isinstance(headers, dict):
                continue
            for name, value in headers.items():
                if isinstance(value, dict) and isinstance(value.get(SEALED), str):
                    field = f"{path}.headers.{name}"
                    headers[name] = self._keyring.decrypt(_owner(raw["id"]), field, value[SEALED])
        return opened

    def _forget_sealed(self) -> None:
        """Keep only what the workflows in memory are written as."""
        wanted = {_key(workflow) for workflow in self._items.value.values()}
        for key in [key for key in self._sealed if key not in wanted]:
            del self._sealed[key]

    def _encode(self, items: Workflows) -> dict[str, Any]:
        stored = [self._sealed[_key(workflow)] for workflow in items.values()]
        return {"workflows": [*stored, *self._unreadable]}


def _key(workflow: Workflow) -> tuple[str, int, float]:
    return workflow.id, workflow.version, workflow.updated_at


def _owner(workflow_id: str) -> str:
    """The keyring owner of a workflow's header values."""
    return f"workflow:{workflow_id}"


def _http_steps(actions: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every http step of an action list, nested ``choose`` branches included, with its path."""
    if not isinstance(actions, list):
        return
    for index, step in enumerate(actions):
        if not isinstance(step, dict):
            continue
        here = f"{path}[{index}]"
        if step.get("type") == "http":
            yield here, step
        elif step.get("type") == "choose":
            for number, choice in enumerate(step.get("choices") or []):
                if isinstance(choice, dict):
                    yield from _http_steps(
                        choice.get("actions"), f"{here}.choices[{number}].actions"
                    )
            yield from _http_steps(step.get("default"), f"{here}.default")


def json_copy(value: Any) -> Any:
    """A deep copy of plain JSON (dicts and lists are copied, the rest is shared)."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value
