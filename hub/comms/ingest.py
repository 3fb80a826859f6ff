"""Message ingestion: a reader's messages become ``<type>`` message entities through the apply path.

Upsert-only (a message the channel no longer lists is never deleted here), deduplicated by the
record's identity (``entity_type``, ``external_id``). A pull asks the reader again while a batch
comes back full and brings something new, so a backlog drains batch by batch. Pulls of one entry
never overlap: a trigger during a pull runs one more pull after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from hub.config import CommsConfig, SchedulerConfig
from hub.core.disk import DiskFaultError
from hub.core.errors import IntegrationError
from hub.core.scheduler import Scheduler
from hub.entities.service import EntityService
from hub.entities.sync import entry_health
from hub.integrations.capabilities import (
    MESSAGE_READER,
    PROVIDER_HOOKS,
    IncomingMessage,
    MessageReaderProvider,
)
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entities import EntityStateRecord, EntityStateSyncResult
from hub.integrations.entry import ConfigEntry, EntryState
from hub.integrations.features import features
from hub.integrations.integration import HealthResult, Integration
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import HEALTH, EntryRuntime, provider_hook

_LOGGER = logging.getLogger(__name__)

JOB_PREFIX: Final = "comms:"
MAX_BODY_CHARS: Final = 64 * 1024
"""A message body past this is cut: the inbox shows text, not archives."""
NAME_CHARS: Final = 200
MAX_ATTACHMENTS: Final = 100
"""Attachments listed per message at most (their names and sizes; the bytes are never kept)."""
READER_HOOK: Final = provider_hook(PROVIDER_HOOKS[MESSAGE_READER], MessageReaderProvider)
LIST_HOOK: Final = provider_hook("list_messages", object)
ACK_HOOK: Final = provider_hook("acknowledge", object)


def comms_entity_types(registry: IntegrationRegistry) -> dict[str, tuple[str, ...]]:
    """Each imported integration's ``message=True`` entity types: derived, never a list of domains.

    Integrations are imported when an entry of theirs is set up, so the set grows as they are.
    """
    loaded, _, _ = registry.resolved()
    found: dict[str, tuple[str, ...]] = {}
    for item in loaded:
        keys = message_types(item.integration)
        if keys:
            found[item.domain] = keys
    return found


def message_types(integration: Integration) -> tuple[str, ...]:
    """The integration's message types, sorted (the first takes a reader's messages)."""
    try:
        declared = integration.entity_types()
    except Exception:  # noqa: BLE001  # a broken declaration offers no messages; the registry logs it
        return ()
    return tuple(sorted(key for key, descriptor in declared.items() if descriptor.message))


def reads(integration: Integration) -> bool:
    """Whether the integration offers a reader and a type to put messages in."""
    return features(integration).messages


def job_name(entry_id: str) -> str:
    """The scheduler job of an entry's backstop pull; it names the entry, never a secret."""
    return f"{JOB_PREFIX}{entry_id}"


def to_record(message: IncomingMessage, entity_type: str) -> EntityStateRecord:
    """A channel-neutral message as the entity the inbox is made of."""
    body = message.body if len(message.body) <= MAX_BODY_CHARS else message.body[:MAX_BODY_CHARS]
    name = message.subject.strip() or _first_line(body) or message.sender or message.sender_address
    return EntityStateRecord(
        entity_type=entity_type,
        external_id=message.external_id,
        name=name[:NAME_CHARS] or message.external_id,
        attributes={
            "sender": message.sender,
            "sender_address": message.sender_address,
            "recipients": list(message.recipients),
            "subject": message.subject,
            "body": body,
            "thread_id": message.thread_id,
            "received_at": message.received_at.astimezone(UTC).isoformat(),
            "folder": message.folder,
            "from_me": message.from_me,
            **(
                {"attachments": [a.model_dump() for a in message.attachments[:MAX_ATTACHMENTS]]}
                if message.attachments
                else {}
            ),
        },
    )


class Ingest:
    """Pulls each reading entry's messages: on a schedule, on a listener's trigger, or at once."""

    def __init__(
        self,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        service: EntityService,
        scheduler: Scheduler,
        scheduling: SchedulerConfig,
        config: CommsConfig,
    ) -> None:
        self._entries = entries
        self._registry = registry
        self._service = service
        self._scheduler = scheduler
        self._scheduling = scheduling
        self._config = config
        self._running: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._again: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.after_apply: Callable[[], Awaitable[Any]] | None = None
        """Awaited after a batch is stored, so a pull returns with its messages in the inbox."""

    # Entry hooks (attached by ``hub.comms.service``)

    async def after_setup(self, entry: ConfigEntry, integration: Integration) -> None:
        """Schedule the entry's backstop pull (run at once) when its integration reads messages."""
        if not reads(integration):
            return
        entry_id = entry.entry_id

        async def run() -> None:
            # The scheduled pull also asks the entry's health (listener triggers do not: they
            # come with every message), so a message account shows whether it can sign in.
            if await self._healthy(entry_id):
                await self.pull(entry_id)

        seconds = entry.sync_interval or getattr(
            self._scheduling.sync_intervals, integration.manifest.iot_class
        )
        self._scheduler.add_interval_job(
            job_name(entry_id),
            run,
            seconds=seconds,
            jitter=self._scheduling.jitter_seconds or None,
            timeout=self._scheduling.job_timeout_seconds * 10,
            run_immediately=True,
        )

    async def _healthy(self, entry_id: str) -> bool:
        """Ask the entry's health and note it; False when it is an error (the pull is skipped)."""
        runtime = self._entries.runtime(entry_id)
        if runtime is None:
            return False
        try:
            health = await runtime.call(HEALTH, timeout=self._scheduling.job_timeout_seconds)
        except IntegrationError as err:  # the runtime logged it (and asked for reauth if refused)
            self._entries.note(entry_id, last_sync={"at": _iso(time.time()), "error": err.reason})
            return False
        if health is None:
            return True
        self._entries.note(entry_id, health=entry_health(health))
        return bool(health.status != HealthResult.ERROR)

    async def before_unload(self, entry: ConfigEntry) -> None:
        """Stop pulling the entry; a pull in flight is cancelled with the job."""
        timer = self._timers.pop(entry.entry_id, None)
        if timer is not None:
            timer.cancel()
        self._again.discard(entry.entry_id)
        self._scheduler.remove_job(job_name(entry.entry_id))
        task = self._running.get(entry.entry_id)
        if task is not None and not task.done():
            task.cancel()

    async def stop(self) -> None:
        """Cancel pending triggers and wait for what they started."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # Pulling

    def pulls(self, entry_id: str) -> bool:
        """Whether the entry's messages are pulled (it is set up and its integration reads)."""
        return self._scheduler.has_job(job_name(entry_id))

    def trigger(self, entry_id: str) -> None:
        """Pull soon: calls within the debounce make one pull; one during a pull makes one more."""
        if entry_id in self._timers:
            return
        loop = asyncio.get_running_loop()
        self._timers[entry_id] = loop.call_later(
            self._config.trigger_debounce_seconds, self._fire, entry_id
        )

    def _fire(self, entry_id: str) -> None:
        self._timers.pop(entry_id, None)
        task = asyncio.get_running_loop().create_task(
            self._quiet_pull(entry_id), name=f"comms pull {entry_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quiet_pull(self, entry_id: str) -> None:
        try:
            await self.pull(entry_id)
        except asyncio.CancelledError:
            raise
        except (
            Exception
        ):  # the record on the entry says what failed; never lost, pulled again later
            _LOGGER.exception("Pulling messages of %s failed", entry_id)

    async def pull(self, entry_id: str) -> dict[str, Any]:
        """Pull the entry's new messages now and return the record of the pull.

        A pull already running is waited for, and then one more runs, so whatever arrived while
        it ran is pulled too.
        """
        running = self._running.get(entry_id)
        if running is not None and not running.done():
            self._again.add(entry_id)  # the running pull pulls once more before it ends
            return await asyncio.shield(running)
        task = asyncio.get_running_loop().create_task(
            self._pull_loop(entry_id), name=f"comms pull {entry_id}"
        )
        self._running[entry_id] = task
        task.add_done_callback(lambda done: self._forget(entry_id, done))
        return await asyncio.shield(task)

    def _forget(self, entry_id: str, task: asyncio.Task[dict[str, Any]]) -> None:
        if self._running.get(entry_id) is task:
            del self._running[entry_id]

    async def _pull_loop(self, entry_id: str) -> dict[str, Any]:
        record = await self._pull_once(entry_id)
        while entry_id in self._again:
            self._again.discard(entry_id)
            record = await self._pull_once(entry_id)
        return record

    async def _pull_once(self, entry_id: str) -> dict[str, Any]:
        entry = self._entries.get(entry_id)
        loaded = self._registry.get(entry.domain) if entry is not None else None
        runtime = self._entries.runtime(entry_id)
        if (
            entry is None
            or loaded is None
            or runtime is None
            or entry.state is not EntryState.LOADED
        ):
            return {"skipped": "not loaded"}
        types = message_types(loaded.integration)
        if not types:
            return {"skipped": "no message type"}
        started, clock = time.time(), time.perf_counter()
        record: dict[str, Any] = {"at": _iso(started), "created": 0, "updated": 0, "unchanged": 0}
        batch_size = self._config.ingest_batch
        try:
            reader = runtime.call_sync(READER_HOOK)
            if reader is None:
                return {"skipped": "no reader"}
            for _ in range(self._config.ingest_max_batches):
                messages = await runtime.call(
                    LIST_HOOK,
                    timeout=runtime.deadlines.provider,
                    target=reader.list_messages,
                    label="message reader",
                    folder=None,
                    limit=batch_size,
                )
                records = _records(messages, types[0], entry)
                if not records:
                    if messages:  # every one refused (and logged): the reader may forget them
                        await _acknowledge(runtime, reader)
                    break
                outcome = await self._service.apply(
                    entry_id,
                    entry.domain,
                    EntityStateSyncResult(records=tuple(records), full=False),
                )
                # Stored: a reader whose reads drain its service may now forget the batch.
                await _acknowledge(runtime, reader)
                if outcome.created and self.after_apply is not None:
                    await self.after_apply()
                for key, count in outcome.counts().items():
                    if count:
                        record[key] = record.get(key, 0) + count
                if len(messages) < batch_size or not (outcome.created or outcome.updated):
                    break
        except IntegrationError as err:  # the runtime logged it (and asked for reauth if refused)
            record["error"] = err.reason
        except DiskFaultError as err:  # the hub's disk; the database logged it
            record["error"] = err.message
        record["duration_ms"] = round((time.perf_counter() - clock) * 1000, 1)
        self._entries.note(entry_id, last_sync=record)
        return record


async def _acknowledge(runtime: EntryRuntime, reader: Any) -> None:
    """Tell a reader that offers ``acknowledge()`` that what it last returned is stored."""
    acknowledge = getattr(reader, "acknowledge", None)
    if callable(acknowledge):
        await runtime.call(
            ACK_HOOK,
            timeout=runtime.deadlines.provider,
            target=acknowledge,
            label="message reader",
        )


def _records(messages: Any, entity_type: str, entry: ConfigEntry) -> list[EntityStateRecord]:
    """The reader's answer as records; anything that is not a message is logged and left out."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        _LOGGER.error(
            "The message reader of %s (%s) returned %s, not a list of messages",
            entry.entry_id,
            entry.domain,
            type(messages).__name__,
        )
        return []
    records = []
    for message in messages:
        if isinstance(message, IncomingMessage):
            records.append(to_record(message, entity_type))
        elif isinstance(message, Mapping):
            try:
                records.append(to_record(IncomingMessage.model_validate(message), entity_type))
            except ValueError as err:
                _LOGGER.error(
                    "A message from %s (%s) is not valid: %s", entry.entry_id, entry.domain, err
                )
        else:
            _LOGGER.error(
                "The message reader of %s (%s) returned a %s among its messages",
                entry.entry_id,
                entry.domain,
                type(message).__name__,
            )
    return records


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
