"""Contacts: who a sender is, per owner: a name and addresses on each channel (an integration's domain).

A contact belongs to a person (senders to their own accounts) or to the household (senders to a
household account, ``owner`` ``None``). Triage links each sender the first time it appears, named
from the display name, and reuses the contact after; people rename, edit and merge them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NotRequired, TypedDict

from hub.core.bus import EventBus, EventType
from hub.core.database import Database
from hub.core.errors import (
    CONTACT_CONFLICT,
    CONTACT_NOT_FOUND,
    BadRequestError,
    HubError,
    NotFoundError,
)
from hub.entities.listing import iso_millis
from hub.integrations.entry import ConfigEntry, contribution_owner

HOUSEHOLD_KEY: Final = ""
"""``owner_key`` of the household's addresses (``owner`` is NULL; a key cannot be)."""
MAX_NAME: Final = 200
MAX_ADDRESS: Final = 320
MAX_ADDRESSES: Final = 50


class ContactEventData(TypedDict):
    """``inbox.contact``: a contact was made, changed, merged or deleted."""

    contact_id: int
    change: str
    person_id: NotRequired[str]


EVENT_INBOX_CONTACT: Final = EventType[ContactEventData]("inbox.contact")


class ContactNotFoundError(NotFoundError):
    """No contact with that id, or not one the caller may see."""

    code = CONTACT_NOT_FOUND


class ContactConflictError(HubError):
    """The change would give an address to two contacts, or merge what cannot be merged."""

    code = CONTACT_CONFLICT
    http_status = 409


@dataclass(frozen=True, slots=True)
class Address:
    """One way to reach a contact: a channel (the integration's domain) and an address on it."""

    channel: str
    address: str


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact as stored."""

    id: int
    owner: str | None
    name: str
    addresses: tuple[Address, ...]
    created_ms: int
    updated_ms: int

    def public(self, *, may_manage: bool) -> dict[str, Any]:
        """What a client sees."""
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "addresses": [{"channel": a.channel, "address": a.address} for a in self.addresses],
            "created_at": iso_millis(self.created_ms / 1000),
            "updated_at": iso_millis(self.updated_ms / 1000),
            "may_manage": may_manage,
        }


def normalise(channel: str, address: str) -> str:
    """An address as contacts compare it: trimmed; an e-mail address lower-cased."""
    address = " ".join(address.split())
    return address.casefold() if channel == "email" or "@" in address else address


def owner_of(entry: ConfigEntry) -> str | None:
    """Whose contacts an entry's senders become: its person's, or the household's."""
    return contribution_owner(entry)


def check_address(channel: str, address: str) -> Address:
    """One address as stored, or what is wrong with it."""
    channel, value = channel.strip(), normalise(channel.strip(), address)
    if not channel or not value or len(value) > MAX_ADDRESS or len(channel) > MAX_NAME:
        raise BadRequestError(
            f"addresses: each needs a channel and an address of at most {MAX_ADDRESS} characters",
            key="errors.contact_address_invalid",
            limit=MAX_ADDRESS,
        )
    return Address(channel, value)


def check_name(name: str) -> str:
    """A contact's name, trimmed; empty or overlong is refused."""
    name = " ".join(name.split())[:MAX_NAME]
    if not name:
        raise BadRequestError("name: must not be empty", key="errors.contact_name_empty")
    return name


class Contacts:
    """Link senders, and list, create, edit, merge and delete contacts."""

    def __init__(self, database: Database, bus: EventBus) -> None:
        self._db = database
        self._bus = bus

    async def link(
        self, entry: ConfigEntry, channel: str, address: str, display_name: str
    ) -> tuple[int, bool] | None:
        """The contact of a sender (made the first time it appears) and whether it is new.

        ``None`` for a sender without an address (nothing to recognise them by next time).
        """
        value = normalise(channel, address)
        if not value or len(value) > MAX_ADDRESS:
            return None
        owner = owner_of(entry)
        name = " ".join(display_name.split())[:MAX_NAME] or value
        now = _now_ms()

        def link(conn: sqlite3.Connection) -> tuple[int, bool]:
            found = conn.execute(
                "SELECT contact_id FROM comms_contact_addresses "
                "WHERE owner_key = ? AND channel = ? AND address = ?",
                (owner or HOUSEHOLD_KEY, channel, value),
            ).fetchone()
            if found is not None:
                return int(found[0]), False
            # One round trip on the database's thread: no other link can slip in between.
            conn.execute("BEGIN IMMEDIATE")
            try:
                contact_id = _insert_contact(conn, owner, name, now)
                conn.execute(
                    "INSERT INTO comms_contact_addresses (contact_id, owner_key, channel, address) "
                    "VALUES (?, ?, ?, ?)",
                    (contact_id, owner or HOUSEHOLD_KEY, channel, value),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a full disk can end it before we do
                    conn.execute("ROLLBACK")
                raise
            return contact_id, True

        contact_id, created = await self._db.run(link)
        if created:
            self._announce(contact_id, owner, "created")
        return contact_id, created

    # Reading

    async def of_person(self, person_id: str) -> list[Contact]:
        """The person's own contacts and the household's, by name."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT id, owner, name, created_ms, updated_ms FROM comms_contacts "
            "WHERE owner = ? OR owner IS NULL ORDER BY name COLLATE NOCASE, id",
            (person_id,),
        )
        return await self._with_addresses(rows)

    async def get(self, contact_id: int, person_id: str | None) -> Contact:
        """A contact the person may see (their own or the household's; ``None``: the hub)."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT id, owner, name, created_ms, updated_ms FROM comms_contacts WHERE id = ?",
            (contact_id,),
        )
        found = await self._with_addresses(list(rows))
        if not found or (person_id is not None and found[0].owner not in (None, person_id)):
            raise ContactNotFoundError(f"no contact {contact_id}")
        return found[0]

    @staticmethod
    def may_manage(contact: Contact, person_id: str, *, is_admin: bool) -> bool:
        """A person's own contacts are theirs to change; the household's are the admins'."""
        return contact.owner == person_id or (contact.owner is None and is_admin)

    # Changing

    async def create(
        self, person_id: str | None, name: str, addresses: Iterable[Address]
    ) -> Contact:
        """A contact of ``person_id`` (``None``: the household's) with these addresses."""
        name = check_name(name)
        wanted = _unique(check_address(a.channel, a.address) for a in addresses)
        now = _now_ms()

        def create(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                contact_id = _insert_contact(conn, person_id, name, now)
                _add_addresses(conn, contact_id, person_id, wanted)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a full disk can end it before we do
                    conn.execute("ROLLBACK")
                raise
            return contact_id

        contact_id = await self._db.run(create)
        self._announce(contact_id, person_id, "created")
        return await self.get(contact_id, None)

    async def edit(
        self,
        contact: Contact,
        *,
        name: str | None = None,
        addresses: Iterable[Address] | None = None,
    ) -> Contact:
        """Rename a contact, or give it this set of addresses (others it had are dropped)."""
        new_name = check_name(name) if name is not None else contact.name
        wanted = (
            None
            if addresses is None
            else _unique(check_address(a.channel, a.address) for a in addresses)
        )
        now = _now_ms()

        def edit(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "UPDATE comms_contacts SET name = ?, updated_ms = ? WHERE id = ?",
                    (new_name, now, contact.id),
                )
                if wanted is not None:
                    conn.execute(
                        "DELETE FROM comms_contact_addresses WHERE contact_id = ?", (contact.id,)
                    )
                    _add_addresses(conn, contact.id, contact.owner, wanted)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a full disk can end it before we do
                    conn.execute("ROLLBACK")
                raise

        await self._db.run(edit)
        self._announce(contact.id, contact.owner, "updated")
        return await self.get(contact.id, None)

    async def merge(self, keep: Contact, other: Contact) -> Contact:
        """Move ``other``'s addresses and messages to ``keep`` and delete ``other``."""
        if keep.id == other.id:
            raise ContactConflictError(
                "a contact cannot be merged with itself", key="errors.contact_merge_self"
            )
        if keep.owner != other.owner:
            raise ContactConflictError(
                "only contacts of the same owner can be merged", key="errors.contact_merge_owner"
            )
        now = _now_ms()

        def merge(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # One owner: an address is unique among its contacts, so none collides here.
                conn.execute(
                    "UPDATE comms_contact_addresses SET contact_id = ? WHERE contact_id = ?",
                    (keep.id, other.id),
                )
                conn.execute(
                    "UPDATE comms_messages SET contact_id = ? WHERE contact_id = ?",
                    (keep.id, other.id),
                )
                conn.execute("DELETE FROM comms_contacts WHERE id = ?", (other.id,))
                conn.execute(
                    "UPDATE comms_contacts SET updated_ms = ? WHERE id = ?", (now, keep.id)
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a full disk can end it before we do
                    conn.execute("ROLLBACK")
                raise

        await self._db.run(merge)
        self._announce(other.id, other.owner, "merged")
        self._announce(keep.id, keep.owner, "updated")
        return await self.get(keep.id, None)

    async def delete(self, contact: Contact) -> None:
        """Delete a contact; its messages stay, unlinked, and its senders get a new one next time."""

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM comms_contacts WHERE id = ?", (contact.id,))

        await self._db.run(delete)
        self._announce(contact.id, contact.owner, "deleted")

    async def forget_person(self, person_id: str) -> None:
        """Drop a removed person's contacts."""

        def forget(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM comms_contacts WHERE owner = ?", (person_id,))

        await self._db.run(forget)

    # Internals

    async def _with_addresses(self, rows: Iterable[Sequence[Any]]) -> list[Contact]:
        rows = list(rows)
        if not rows:
            return []
        ids = [row[0] for row in rows]
        found: dict[int, list[Address]] = {contact_id: [] for contact_id in ids}
        marks = ",".join("?" * len(ids))
        for contact_id, channel, address in await self._db.conn.execute_fetchall(
            "SELECT contact_id, channel, address FROM comms_contact_addresses "
            f"WHERE contact_id IN ({marks}) ORDER BY channel, address",
            ids,
        ):
            found[contact_id].append(Address(channel, address))
        return [
            Contact(row[0], row[1], row[2], tuple(found[row[0]]), row[3], row[4]) for row in rows
        ]

    def _announce(self, contact_id: int, owner: str | None, change: str) -> None:
        data = ContactEventData(contact_id=contact_id, change=change)
        if owner is not None:
            data["person_id"] = owner
        self._bus.fire(EVENT_INBOX_CONTACT, data)


def _add_addresses(
    conn: sqlite3.Connection, contact_id: int, owner: str | None, addresses: Sequence[Address]
) -> None:
    for address in addresses:
        taken = conn.execute(
            "SELECT contact_id FROM comms_contact_addresses "
            "WHERE owner_key = ? AND channel = ? AND address = ?",
            (owner or HOUSEHOLD_KEY, address.channel, address.address),
        ).fetchone()
        if taken is not None and taken[0] != contact_id:
            raise ContactConflictError(
                f"{address.address} belongs to another contact",
                key="errors.contact_address_taken",
                address=address.address,
            )
        conn.execute(
            "INSERT OR IGNORE INTO comms_contact_addresses "
            "(contact_id, owner_key, channel, address) VALUES (?, ?, ?, ?)",
            (contact_id, owner or HOUSEHOLD_KEY, address.channel, address.address),
        )


def _unique(addresses: Iterable[Address]) -> list[Address]:
    found = list(dict.fromkeys(addresses))
    if len(found) > MAX_ADDRESSES:
        raise BadRequestError(
            f"addresses: at most {MAX_ADDRESSES}",
            key="errors.contact_too_many_addresses",
            limit=MAX_ADDRESSES,
        )
    return found


def _insert_contact(conn: sqlite3.Connection, owner: str | None, name: str, now: int) -> int:
    """A new contact's row; its id."""
    cursor = conn.execute(
        "INSERT INTO comms_contacts (owner, name, created_ms, updated_ms) VALUES (?, ?, ?, ?)",
        (owner, name, now, now),
    )
    return int(cursor.lastrowid or 0)


def _now_ms() -> int:
    return int(time.time() * 1000)
