"""Drafts: replies and messages that wait for a person; approving one is the only way to a sender.

A draft moves ``draft`` → ``sending`` → ``sent`` | ``failed``. ``sending`` is committed by one
conditional UPDATE before the sender is called, so a double click, a retry or two browsers approving
at once reach the channel once. A hub that stopped while a draft was ``sending`` cannot know whether
it went out: on start such a draft becomes ``failed`` and *interrupted*, and only an approval that
says ``confirm_resend`` sends it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from hub.comms.draft_model import (
    COLUMNS,
    EVENT_INBOX_DRAFT,
    INTERRUPTED,
    Draft,
    DraftChanges,
    DraftConflictError,
    DraftEventData,
    DraftInvalidError,
    DraftNotFoundError,
    ResendUnconfirmedError,
    check_content,
    reply_subject,
)
from hub.comms.inbox import Inbox
from hub.comms.message import MessageNotFoundError
from hub.core.bus import EventBus
from hub.core.database import Database
from hub.core.errors import ForbiddenError, IntegrationError, NotFoundError, Param
from hub.integrations.capabilities import MESSAGE_SENDER, MessageSenderProvider
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import (
    ConfigEntry,
    EntryNotFoundError,
    may_manage,
    visible_entries,
    visible_to,
)
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import provider_hook

_LOGGER = logging.getLogger(__name__)


class Drafts:
    """Create, list, edit, discard and approve drafts; the one caller of ``MessageSenderProvider.send``."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        inbox: Inbox,
    ) -> None:
        self._db = database
        self._bus = bus
        self._entries = entries
        self._registry = registry
        self._inbox = inbox

    async def recover(self) -> int:
        """On start: drafts left ``sending`` by a stopped hub become interrupted failures; how many."""
        now = _now_ms()
        count = await self._write(
            "UPDATE comms_drafts SET state = 'failed', error = ?, result = ?, updated_ms = ? "
            "WHERE state = 'sending'",
            (INTERRUPTED, json.dumps({"failure": _interrupted()}), now),
        )
        if count:
            _LOGGER.warning(
                "%d draft(s) were being sent when the hub stopped; they wait for a person to "
                "confirm sending them again",
                count,
            )
        return count

    async def forget_entry(self, entry: ConfigEntry) -> None:
        """Drop a removed entry's drafts: they could never be sent again."""
        await self._write("DELETE FROM comms_drafts WHERE entry_id = ?", (entry.entry_id,))

    # Reading

    async def get(self, draft_id: str, person_id: str | None) -> Draft:
        """A draft the person may see (``None``: the hub itself), else ``DraftNotFoundError``."""
        rows = await self._db.conn.execute_fetchall(
            f"SELECT {COLUMNS} FROM comms_drafts WHERE id = ?",
            (draft_id,),
        )
        found = list(rows)
        if not found:
            raise _not_found(draft_id)
        draft = Draft.from_row(found[0])
        if person_id is not None:
            entry = self._entries.get(draft.entry_id)
            if entry is None or not visible_to(entry, person_id):
                raise _not_found(draft_id)
        return draft

    async def find(
        self,
        person_id: str,
        *,
        state: str | None = None,
        entry_id: str | None = None,
        thread_key: str | None = None,
        limit: int = 200,
    ) -> list[Draft]:
        """The drafts of entries the person may see, newest first."""
        visible = [e.entry_id for e in visible_entries(self._entries.entries(), person_id)]
        if entry_id is not None:
            visible = [e for e in visible if e == entry_id]
        if not visible:
            return []
        where = [f"entry_id IN ({','.join('?' * len(visible))})"]
        params: list[Any] = list(visible)
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if thread_key is not None:
            where.append("thread_key = ?")
            params.append(thread_key)
        rows = await self._db.conn.execute_fetchall(
            f"SELECT {COLUMNS} FROM comms_drafts WHERE {' AND '.join(where)} "
            "ORDER BY created_ms DESC, id LIMIT ?",
            (*params, limit),
        )
        return [Draft.from_row(row) for row in rows]

    def view(self, draft: Draft, person_id: str, *, is_admin: bool) -> dict[str, Any]:
        """The draft's JSON for this person (``may_approve``: the one rule ``approve`` checks)."""
        entry = self._entries.get(draft.entry_id)
        return draft.public(
            domain=entry.domain if entry else None,
            may_approve=entry is not None and may_manage(entry, person_id, is_admin=is_admin),
        )

    # Creating

    async def create_reply(
        self,
        message_id: int,
        body: str,
        *,
        author: str,
        person_id: str | None,
        subject: str | None = None,
        to: str | None = None,
        cc: Sequence[str] = (),
    ) -> Draft:
        """A reply to an inbox message: to its sender, ``Re:`` its subject, in its thread.

        ``person_id`` ``None``: the hub itself (triage, an agent run that checked its scope).
        """
        message = await self._inbox.get(message_id)
        seen = self._entries.get(message.entry_id)
        if person_id is not None and (seen is None or not visible_to(seen, person_id)):
            raise _message_not_found(message_id)
        entry = self._entry(message.entry_id, person_id)
        return await self._insert(
            entry,
            in_reply_to=message.entity_id,
            thread_key=message.thread_key,
            to=message.sender_address if to is None else to,
            cc=cc,
            subject=reply_subject(message.subject) if subject is None else subject,
            body=body,
            author=author,
        )

    async def create_message(
        self,
        entry_id: str,
        to: str,
        subject: str,
        body: str,
        *,
        author: str,
        person_id: str | None,
        cc: Sequence[str] = (),
    ) -> Draft:
        """A new message on one channel (an entry), not in reply to anything."""
        entry = self._entry(entry_id, person_id)
        return await self._insert(
            entry,
            in_reply_to=None,
            thread_key=None,
            to=to,
            cc=cc,
            subject=subject,
            body=body,
            author=author,
        )

    # What the agent's tools call (``hub.agent.comms_tools.Drafting``)

    async def draft_reply(
        self, message_id: int, body: str, *, author: str, entry_ids: frozenset[str]
    ) -> Draft:
        """A reply by a run that may see only ``entry_ids``; any other message is not found."""
        message = await self._inbox.get(message_id)
        if message.entry_id not in entry_ids:
            raise _message_not_found(message_id)
        return await self.create_reply(message_id, body, author=author, person_id=None)

    async def draft_message(
        self,
        entry_id: str,
        to: str,
        subject: str,
        body: str,
        *,
        author: str,
        entry_ids: frozenset[str],
    ) -> Draft:
        """A new message by a run that may use only ``entry_ids``."""
        if entry_id not in entry_ids:
            raise _entry_not_found(entry_id)
        return await self.create_message(entry_id, to, subject, body, author=author, person_id=None)

    # Changing

    async def edit(self, draft_id: str, person_id: str, changes: DraftChanges) -> Draft:
        """Change a draft that is not being sent or sent; an interrupted one stays interrupted."""
        draft = await self.get(draft_id, person_id)
        to, cc, subject, body = check_content(
            draft.to if changes.to is None else changes.to,
            draft.cc if changes.cc is None else changes.cc,
            draft.subject if changes.subject is None else changes.subject,
            draft.body if changes.body is None else changes.body,
        )
        now = _now_ms()
        changed = await self._write(
            "UPDATE comms_drafts SET recipient = ?, cc = ?, subject = ?, body = ?, updated_ms = ? "
            "WHERE id = ? AND state IN ('draft', 'failed')",
            (to, json.dumps(cc), subject, body, now, draft_id),
        )
        if not changed:
            raise _busy(await self.get(draft_id, None), "errors.draft_not_editable")
        updated = replace(draft, to=to, cc=cc, subject=subject, body=body, updated_ms=now)
        self._announce(updated)
        return updated

    async def discard(self, draft_id: str, person_id: str) -> None:
        """Delete a draft; never one that is being sent."""
        draft = await self.get(draft_id, person_id)
        if not await self._write(
            "DELETE FROM comms_drafts WHERE id = ? AND state != 'sending'", (draft_id,)
        ):
            raise _busy(draft, "errors.draft_discard_sending")
        self._announce(draft, state="discarded")

    async def approve(
        self, draft_id: str, person_id: str, *, is_admin: bool, confirm_resend: bool = False
    ) -> Draft:
        """Send the draft through its entry's sender, once; the draft as it ends (sent or failed).

        Only the entry's owner, or an admin for a household entry, may approve.
        """
        draft = await self.get(draft_id, person_id)
        entry = self._entries.get(draft.entry_id)
        if entry is None or not may_manage(entry, person_id, is_admin=is_admin):
            raise ForbiddenError(
                "only the channel's owner (an admin for a household channel) may send this draft",
                key="errors.draft_approve_forbidden",
            )
        sending = await self._claim(draft, person_id, confirm_resend=confirm_resend)
        self._announce(sending)
        try:
            outcome = await self._send(entry, sending)
        except BaseException:
            # Stopped mid-call, or the hub's own failure: the channel may have taken it. Told as
            # a restart would tell it, so only a confirmed approval sends it again.
            await asyncio.shield(self._finish(sending, failure=_interrupted()))
            raise
        return await self._finish(sending, **outcome)

    # Internals

    def _entry(self, entry_id: str, person_id: str | None) -> ConfigEntry:
        """The channel a draft goes out on: visible to the person, and able to send."""
        entry = self._entries.get(entry_id)
        if entry is None or (person_id is not None and not visible_to(entry, person_id)):
            raise _entry_not_found(entry_id)
        loaded = self._registry.get(entry.domain)
        if loaded is None or MESSAGE_SENDER not in loaded.manifest.provides:
            raise DraftInvalidError(
                f"{entry.title} cannot send messages",
                key="errors.draft_no_sender",
                channel=entry.title,
            )
        return entry

    async def _insert(
        self,
        entry: ConfigEntry,
        *,
        in_reply_to: int | None,
        thread_key: str | None,
        to: str,
        cc: Iterable[str],
        subject: str,
        body: str,
        author: str,
    ) -> Draft:
        to, cc_list, subject, body = check_content(to, cc, subject, body)
        now = _now_ms()
        draft = Draft(
            id=secrets.token_hex(8),
            entry_id=entry.entry_id,
            in_reply_to=in_reply_to,
            thread_key=thread_key,
            to=to,
            cc=cc_list,
            subject=subject,
            body=body,
            state="draft",
            author=author,
            approved_by=None,
            error=None,
            result=None,
            created_ms=now,
            updated_ms=now,
            sent_ms=None,
        )
        await self._write(
            f"INSERT INTO comms_drafts ({COLUMNS}) VALUES ({','.join('?' * 16)})", draft.to_row()
        )
        self._announce(draft)
        return draft

    async def _claim(self, draft: Draft, person_id: str, *, confirm_resend: bool) -> Draft:
        """``draft|failed`` → ``sending`` in one statement; a second approval finds 0 rows."""
        now = _now_ms()
        claimed = await self._write(
            "UPDATE comms_drafts SET state = 'sending', approved_by = ?, error = NULL, "
            "result = NULL, updated_ms = ? WHERE id = ? AND state IN ('draft', 'failed') "
            "AND (? OR error IS NULL OR error != ?)",
            (person_id, now, draft.id, confirm_resend, INTERRUPTED),
        )
        if claimed:
            claim = replace(draft, state="sending", approved_by=person_id, updated_ms=now)
            return replace(claim, error=None, result=None)
        current = await self.get(draft.id, None)
        if current.interrupted:
            raise ResendUnconfirmedError(
                "the last send was interrupted and may have gone out; confirm to send it again",
                key="errors.draft_resend_unconfirmed",
            )
        raise _busy(current, None)

    async def _send(self, entry: ConfigEntry, draft: Draft) -> dict[str, Any]:
        """Call the entry's sender; ``_finish``'s keyword arguments for the outcome."""
        runtime = self._entries.runtime(entry.entry_id)
        if runtime is None or not runtime.loaded:
            return {"failure": _unavailable(entry, "not loaded")}
        in_reply_to = None
        if draft.in_reply_to is not None:
            try:
                in_reply_to = (await self._inbox.get(draft.in_reply_to)).external_id
            except NotFoundError:
                in_reply_to = None  # the original is gone: the reply goes out unthreaded
        try:
            sender = runtime.call_sync(
                provider_hook("message_sender_provider", MessageSenderProvider)
            )
            if sender is None:
                return {"failure": _unavailable(entry, "no sender")}
            result = await runtime.call(
                provider_hook("send", object),
                timeout=runtime.deadlines.provider,
                target=sender.send,
                label="message_sender provider",
                to=draft.to,
                subject=draft.subject,
                body=draft.body,
                in_reply_to=in_reply_to,
                cc=list(draft.cc),
                attachments=[],
            )
        except IntegrationError as err:  # the runtime logged it once
            return {"failure": _failure(err.reason, err.translation_key, **err.params)}
        return {"sent": result if isinstance(result, dict) else {}}

    async def _finish(
        self,
        draft: Draft,
        *,
        sent: dict[str, Any] | None = None,
        failure: dict[str, Any] | None = None,
    ) -> Draft:
        now = _now_ms()
        if failure is None:
            state, error, result, sent_ms = "sent", None, {"sent": _json_safe(sent or {})}, now
        else:
            state, error, result, sent_ms = "failed", failure["reason"], {"failure": failure}, None
        await self._write(
            "UPDATE comms_drafts SET state = ?, error = ?, result = ?, updated_ms = ?, sent_ms = ? "
            "WHERE id = ? AND state = 'sending'",
            (state, error, json.dumps(result), now, sent_ms, draft.id),
        )
        finished = replace(
            draft, state=state, error=error, result=result, updated_ms=now, sent_ms=sent_ms
        )
        self._announce(finished)
        return finished

    def _announce(self, draft: Draft, *, state: str | None = None) -> None:
        self._bus.fire(
            EVENT_INBOX_DRAFT,
            DraftEventData(
                entry_id=draft.entry_id,
                draft_id=draft.id,
                thread_key=draft.thread_key,
                state=state or draft.state,
            ),
        )

    async def _write(self, sql: str, params: Sequence[Any]) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, params).rowcount

        return await self._db.run(write)


def _failure(reason: str, key: str, **params: Param) -> dict[str, Any]:
    return {"reason": reason, "key": key, "params": params}


def _unavailable(entry: ConfigEntry, reason: str) -> dict[str, Any]:
    return _failure(reason, "errors.draft_channel_unavailable", channel=entry.title)


def _interrupted() -> dict[str, Any]:
    return _failure(INTERRUPTED, "errors.draft_interrupted")


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """What a channel returned, as JSON (anything odd as text): it is stored on the draft."""
    return dict(json.loads(json.dumps(value, default=str)))


def _busy(draft: Draft, key: str | None) -> DraftConflictError:
    key = key or (
        "errors.draft_already_sent" if draft.state == "sent" else "errors.draft_already_sending"
    )
    return DraftConflictError(f"the draft is {draft.state}", key=key, state=draft.state)


def _not_found(draft_id: str) -> DraftNotFoundError:
    return DraftNotFoundError(f"no draft {draft_id!r}")


def _entry_not_found(entry_id: str) -> NotFoundError:
    return EntryNotFoundError(f"no config entry {entry_id!r}")


def _message_not_found(message_id: int) -> NotFoundError:
    return MessageNotFoundError(f"no message {message_id}")


def _now_ms() -> int:
    return int(time.time() * 1000)
