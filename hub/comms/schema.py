"""The comms tables in ``hub.db``: one row of inbox state per message entity, contacts, drafts."""

from __future__ import annotations

from typing import Final

COMMS_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE comms_messages (
        entity_id INTEGER PRIMARY KEY REFERENCES entities (id) ON DELETE CASCADE,
        entry_id TEXT NOT NULL,
        thread_key TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        sender_address TEXT NOT NULL,
        contact_id INTEGER REFERENCES comms_contacts (id) ON DELETE SET NULL,
        importance TEXT,
        summary TEXT,
        triage TEXT NOT NULL DEFAULT 'pending',
        triage_error TEXT,
        read INTEGER NOT NULL DEFAULT 0,
        archived INTEGER NOT NULL DEFAULT 0,
        from_me INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX comms_messages_by_time ON comms_messages (received_ms DESC);
    CREATE INDEX comms_messages_by_thread ON comms_messages (thread_key, received_ms);
    CREATE INDEX comms_messages_by_contact ON comms_messages (contact_id)
        WHERE contact_id IS NOT NULL;
    CREATE INDEX comms_messages_pending ON comms_messages (triage) WHERE triage = 'pending';
    CREATE TABLE comms_contacts (
        id INTEGER PRIMARY KEY,
        owner TEXT,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE comms_contact_addresses (
        contact_id INTEGER NOT NULL REFERENCES comms_contacts (id) ON DELETE CASCADE,
        owner_key TEXT NOT NULL,
        channel TEXT NOT NULL,
        address TEXT NOT NULL,
        PRIMARY KEY (owner_key, channel, address)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX comms_contact_addresses_by_contact ON comms_contact_addresses (contact_id);
    CREATE TABLE comms_drafts (
        id TEXT PRIMARY KEY,
        entry_id TEXT NOT NULL,
        in_reply_to INTEGER REFERENCES entities (id) ON DELETE SET NULL,
        thread_key TEXT,
        recipient TEXT NOT NULL,
        cc TEXT NOT NULL DEFAULT '[]',
        subject TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'draft',
        author TEXT NOT NULL,
        approved_by TEXT,
        error TEXT,
        result TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        sent_ms INTEGER
    ) STRICT;
    CREATE INDEX comms_drafts_by_thread ON comms_drafts (thread_key) WHERE thread_key IS NOT NULL;
    CREATE INDEX comms_drafts_by_entry ON comms_drafts (entry_id, state);
    """,
)
"""Appended after every other tuple (released databases carry those); never edit a released one.

- ``comms_messages``: the inbox's state of one message entity (the entity holds what the channel
  said; this row holds what the person and triage made of it). ``thread_key`` is
  ``<entry_id>:<thread_id or external_id>``. ``triage`` is ``pending``, ``done`` or ``failed``.
- ``comms_contacts`` / ``comms_contact_addresses``: a contact is a person's (``owner``) or the
  household's (``owner`` NULL, ``owner_key`` ``""``); an address belongs to one contact per owner.
- ``comms_drafts``: ``state`` is ``draft``, ``sending``, ``sent`` or ``failed``; ``sending`` is
  written before the sender is called, so nothing is ever sent twice.
"""
