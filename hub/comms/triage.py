"""Triage on arrival: each new message gets a contact, an importance and a one-line summary.

A background worker takes the inbox's ``pending`` messages, woken by ``inbox.message`` created
events and sweeping on start, so a crash or a dropped event misses nothing. Rules decide first
(``hub.comms.rules``); then, when a model is configured and the tier gate clears it for the
message's integration, a short structured run summarises (and, where the rules ask, proposes a
reply, which waits for a person like every draft). Triage never blocks ingestion; a failure is
recorded on the message, logged once, and the message still shows in the inbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from hub.comms.contacts import Contacts
from hub.comms.draft_model import TRIAGE
from hub.comms.drafts import Drafts
from hub.comms.inbox import EVENT_INBOX_MESSAGE, Inbox
from hub.comms.message import InboxMessage
from hub.comms.rules import HOUSEHOLD, RulesStore, TriageRules, decide, summary_line, wants_draft
from hub.core.background import Background
from hub.core.bus import EventBus
from hub.core.errors import HubError
from hub.core.redact import safe_text
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry, contribution_owner
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

BATCH: Final = 50


@dataclass(frozen=True, slots=True)
class TriageConfig:
    """How triage uses a model."""

    model_max_age: float = 3 * 86_400
    """Seconds: older messages (a first sync's backlog) are triaged by rules alone."""


class ModelVerdict(Protocol):
    """What a model made of a message."""

    importance: Literal["high", "normal", "low"]
    summary: str
    reply: str | None


class AskModel(Protocol):
    """Asks a model about one message of an entry; ``None`` when no model may see it (the tier
    gate) or none is configured. The agent provides it (``hub.agent.triage_model``)."""

    async def __call__(
        self,
        entry: ConfigEntry,
        *,
        sender: str,
        sender_address: str,
        subject: str,
        body: str,
        reply: bool,
    ) -> ModelVerdict | None: ...


class Triage:
    """The worker that triages pending inbox messages, one at a time."""

    def __init__(
        self,
        bus: EventBus,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        inbox: Inbox,
        contacts: Contacts,
        rules: RulesStore,
        drafts: Drafts,
        ask_model: AskModel | None,
        config: TriageConfig | None = None,
    ) -> None:
        self._bus = bus
        self._entries = entries
        self._registry = registry
        self._inbox = inbox
        self._contacts = contacts
        self._rules = rules
        self._drafts = drafts
        self._ask = ask_model
        self._config = config or TriageConfig()
        self._wake = asyncio.Event()
        self._skipped: set[int] = set()
        """Messages whose triage could not even be recorded: not retried until a restart."""
        self._background = Background()

    def start(self) -> None:
        """Start the worker; it sweeps what is pending first."""
        unlisten = self._bus.listen(EVENT_INBOX_MESSAGE, self._on_message)
        self._wake.set()
        task = asyncio.get_running_loop().create_task(self._work(), name="comms triage")
        self._background = Background(task, unlisten)

    async def stop(self) -> None:
        """Stop the worker (a message half-triaged stays pending and is done at the next start)."""
        await self._background.stop()

    def _on_message(self, event: Any) -> None:
        if event.data.get("change") == "created":
            self._wake.set()

    async def _work(self) -> None:
        await self._rules.load()
        while True:
            await self._wake.wait()
            self._wake.clear()  # before reading: a message arriving meanwhile wakes us again
            try:
                batch = await self._inbox.pending(BATCH + len(self._skipped))
            except Exception:  # the database refused: try again on the next message
                _LOGGER.exception("Reading the messages to triage failed")
                continue
            batch = [m for m in batch if m.entity_id not in self._skipped][:BATCH]
            for message in batch:
                await self._one(message)
            if batch:
                self._wake.set()  # there may be more

    async def _one(self, message: InboxMessage) -> None:
        try:
            await self.triage(message)
        except Exception as err:  # noqa: BLE001  # recorded on the message; the next one goes on
            _LOGGER.warning(
                "Triage of message %d (%s) failed: %s",
                message.entity_id,
                message.entry_id,
                safe_text(err) or type(err).__name__,
            )
            try:
                await self._inbox.set_triage(
                    message.entity_id,
                    importance=message.importance,
                    summary=summary_line(message.subject, message.body),
                    error=_reason(err),
                )
            except Exception:  # noqa: BLE001  # it is gone, or the disk refuses: do not loop
                self._skipped.add(message.entity_id)

    async def triage(self, message: InboxMessage) -> None:
        """Link, decide and record one message (and propose a reply where the rules ask)."""
        entry = self._entries.get(message.entry_id)
        if entry is None:  # its entry is being removed, and the message with it
            self._skipped.add(message.entity_id)
            return
        summary = summary_line(message.subject, message.body)
        if message.from_me:
            await self._inbox.set_triage(message.entity_id, importance=None, summary=summary)
            return
        contact_id, known = await self._link(entry, message)
        rules = self.rules_for(entry)
        importance, explicit = decide(
            rules,
            entry_id=entry.entry_id,
            subject=message.subject,
            body=message.body,
            contact_id=contact_id,
            known=known,
        )
        error = None
        verdict = None
        try:
            verdict = await self._ask_model(entry, message, rules)
        except Exception as err:  # noqa: BLE001  # the rules' answer stands; the reason is kept
            error = f"model: {_reason(err)}"
            _LOGGER.warning("Triage model for message %d failed: %s", message.entity_id, error)
        if verdict is not None:
            summary = summary_line(verdict.summary, "") or summary
            if not explicit:
                importance = verdict.importance
            if verdict.reply and wants_draft(rules, importance, known=known):
                await self._propose(message, verdict.reply)
        await self._inbox.set_triage(
            message.entity_id, importance=importance, summary=summary, error=error
        )

    def rules_for(self, entry: ConfigEntry) -> TriageRules:
        """The rules for an entry's messages: its person's, or the household's."""
        return self._rules.of(contribution_owner(entry) or HOUSEHOLD)

    async def _link(self, entry: ConfigEntry, message: InboxMessage) -> tuple[int | None, bool]:
        """The sender's contact and whether it was known before this message."""
        linked = await self._contacts.link(
            entry, message.domain, message.sender_address, message.sender
        )
        if linked is None:
            return None, False
        contact_id, created = linked
        if contact_id != message.contact_id:
            await self._inbox.set_contact(message.entity_id, contact_id)
        return contact_id, not created

    async def _propose(self, message: InboxMessage, reply: str) -> None:
        try:
            await self._drafts.create_reply(message.entity_id, reply, author=TRIAGE, person_id=None)
        except HubError as err:  # a channel that cannot send, an empty reply: no draft, no failure
            _LOGGER.info("No reply proposed for message %d: %s", message.entity_id, err)

    async def _ask_model(
        self, entry: ConfigEntry, message: InboxMessage, rules: TriageRules
    ) -> ModelVerdict | None:
        """The model's verdict, or ``None`` when no model may (or need) see this message."""
        if self._ask is None or _age(message) > self._config.model_max_age:
            return None
        return await self._ask(
            entry,
            sender=message.sender,
            sender_address=message.sender_address,
            subject=message.subject,
            body=message.body,
            reply=rules.draft_replies != "never",
        )


def _age(message: InboxMessage) -> float:
    try:
        return time.time() - datetime.fromisoformat(message.received_at).timestamp()
    except ValueError:
        return 0.0


def _reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    text = safe_text(err, limit=300)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
