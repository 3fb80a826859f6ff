"""Reads new mail for the inbox over one IMAP connection, oldest first, each message once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from hub.integrations.capabilities import IncomingMessage

from .imap import ImapClient, ImapConnectionError, Mailbox
from .imap_wire import Value, imap_date, parse_internaldate
from .mime import parse_message
from .tls import ServerSettings

_LOGGER = logging.getLogger(__name__)

INBOX: Final = "INBOX"
CHUNK: Final = 50
"""UIDs per FETCH: few round trips for a backlog, bounded memory per answer."""
MAX_MESSAGE: Final = 25 * 1024 * 1024
"""A message larger than this is read as its header and the start of its body only."""
PARTIAL_BODY: Final = 256 * 1024
"""Bytes of a large message's body fetched: its text part comes first in practice."""
MAX_HEADER: Final = 256 * 1024
FETCH_BYTES: Final = 32 * 1024 * 1024
"""Bytes of whole messages asked for in one FETCH, so one answer stays small in memory."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a folder's reading stands: the next UID to read, under one UIDVALIDITY."""

    uidvalidity: int
    next_uid: int


class EmailReader:
    """A ``MessageReaderProvider`` for one IMAP account."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        history_days: int = 30,
        own_addresses: Iterable[str] = (),
        timeout: float = 30.0,
        max_message: int = MAX_MESSAGE,
        budget: float = 20.0,
    ) -> None:
        self._settings = settings
        self._history_days = history_days
        self._own = frozenset(address.lower() for address in own_addresses if address)
        self._timeout = timeout
        self._max_message = max_message
        # Under the hub's 30 s provider deadline: past it, a call returns what it has.
        self._budget = budget
        self._client: ImapClient | None = None
        self._cursors: dict[str, Cursor] = {}
        self._lock = asyncio.Lock()

    async def list_messages(self, folder: str | None, limit: int) -> list[IncomingMessage]:
        """Up to ``limit`` messages not returned before, oldest first."""
        folder = folder or INBOX
        if limit <= 0:
            return []
        async with self._lock:
            for attempt in (1, 2):
                reused = self._client is not None
                try:
                    return await self._list(folder, limit)
                except ImapConnectionError:
                    # A connection that died while unused shows only now: one fresh attempt.
                    await self._drop()
                    if attempt == 2 or not reused:
                        raise
                except BaseException:
                    # Cancelled or refused mid-command: the connection's state is unknown.
                    await self._drop()
                    raise
            raise AssertionError("unreachable")

    async def aclose(self) -> None:
        """Log out and close the connection."""
        async with self._lock:
            client, self._client = self._client, None
            if client is not None:
                await client.logout()

    async def _list(self, folder: str, limit: int) -> list[IncomingMessage]:
        client = await self._connected()
        mailbox = await client.select(folder, readonly=True)
        uids = (await self._new_uids(client, mailbox))[:limit]
        deadline = asyncio.get_running_loop().time() + self._budget
        messages: list[IncomingMessage] = []
        cursor: Cursor | None = None
        for start in range(0, len(uids), CHUNK):
            chunk = uids[start : start + CHUNK]
            messages.extend(await self._fetch(client, mailbox, chunk))
            cursor = Cursor(mailbox.uidvalidity, chunk[-1] + 1)
            if asyncio.get_running_loop().time() > deadline:
                break  # a short batch: the rest comes with the next pull
        # Moved only now: a call cancelled half-way has handed nothing over.
        if cursor is not None:
            self._cursors[folder] = cursor
        return messages

    async def _new_uids(self, client: ImapClient, mailbox: Mailbox) -> list[int]:
        cursor = self._cursors.get(mailbox.name)
        if cursor is not None and cursor.uidvalidity == mailbox.uidvalidity:
            if mailbox.uidnext is not None and mailbox.uidnext <= cursor.next_uid:
                return []
            # "n:*" always matches the last message, even below n: filter.
            found = await client.uid_search(f"UID {cursor.next_uid}:*")
            return [uid for uid in found if uid >= cursor.next_uid]
        if cursor is not None:
            _LOGGER.info("UIDVALIDITY of %s changed: reading it again", mailbox.name)
        since = datetime.now(UTC) - timedelta(days=self._history_days)
        found = await client.uid_search(f"SINCE {imap_date(since)}")
        if not found:
            # Start after what is there now, so older mail never arrives later.
            next_uid = mailbox.uidnext or max(await client.uid_search("ALL"), default=0) + 1
            self._cursors[mailbox.name] = Cursor(mailbox.uidvalidity, next_uid)
        return found

    async def _fetch(
        self, client: ImapClient, mailbox: Mailbox, uids: Sequence[int]
    ) -> list[IncomingMessage]:
        sizes = await client.uid_fetch(uids, "UID RFC822.SIZE INTERNALDATE")
        small = [uid for uid in uids if _size(sizes.get(uid, {})) <= self._max_message]
        large = sorted(set(uids) - set(small))
        bodies: dict[int, bytes] = {}
        for group in _groups(small, sizes):
            for uid, items in (await client.uid_fetch(group, "UID BODY.PEEK[]")).items():
                bodies[uid] = _bytes(items.get("BODY[]"))
        if large:
            partial = await client.uid_fetch(
                large,
                f"UID BODY.PEEK[HEADER]<0.{MAX_HEADER}> BODY.PEEK[TEXT]<0.{PARTIAL_BODY}>",
            )
            for uid, items in partial.items():
                bodies[uid] = _bytes(items.get("BODY[HEADER]<0>")) + _bytes(
                    items.get("BODY[TEXT]<0>")
                )
        dates = {uid: _internaldate(items) for uid, items in sizes.items()}
        return await asyncio.to_thread(self._parse, mailbox, uids, bodies, dates)

    def _parse(
        self,
        mailbox: Mailbox,
        uids: Sequence[int],
        bodies: dict[int, bytes],
        dates: dict[int, datetime | None],
    ) -> list[IncomingMessage]:
        parsed: list[IncomingMessage] = []
        for uid in uids:
            if uid not in bodies:
                continue  # expunged between SEARCH and FETCH
            try:
                parsed.append(
                    parse_message(
                        bodies[uid],
                        uid=uid,
                        uidvalidity=mailbox.uidvalidity,
                        folder=mailbox.name,
                        own_addresses=self._own,
                        internal_date=dates.get(uid),
                    )
                )
            except Exception:  # one unreadable message must not stop the rest
                _LOGGER.exception("Could not read message %s in %s", uid, mailbox.name)
        return parsed

    async def _connected(self) -> ImapClient:
        if self._client is not None and self._client.connected:
            return self._client
        await self._drop()
        client = ImapClient(self._settings, timeout=self._timeout)
        try:
            await client.connect()
            await client.login()
        except BaseException:
            await client.close()
            raise
        self._client = client
        return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def _groups(uids: Sequence[int], sizes: dict[int, dict[str, Value]]) -> list[list[int]]:
    """``uids`` in runs whose messages add up to at most ``FETCH_BYTES`` (or one message)."""
    groups: list[list[int]] = []
    total = 0
    for uid in uids:
        size = _size(sizes.get(uid, {}))
        if not groups or total + size > FETCH_BYTES:
            groups.append([])
            total = 0
        groups[-1].append(uid)
        total += size
    return groups


def _size(items: dict[str, Value]) -> int:
    value = items.get("RFC822.SIZE")
    return int(value) if isinstance(value, bytes) and value.isdigit() else 0


def _bytes(value: Value) -> bytes:
    return value if isinstance(value, bytes) else b""


def _internaldate(items: dict[str, Value]) -> datetime | None:
    value = items.get("INTERNALDATE")
    return (
        parse_internaldate(value.decode("ascii", "replace")) if isinstance(value, bytes) else None
    )
