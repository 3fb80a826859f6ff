"""The world memory's tables in ``hub.db``: nodes with aliases, facts, relations, entity links."""

from __future__ import annotations

from typing import Final

MEMORY_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE memory_nodes (
        id INTEGER PRIMARY KEY,
        owner TEXT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        required_tier INTEGER NOT NULL DEFAULT 0,
        created_by TEXT,
        named_by_person INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX memory_nodes_by_name ON memory_nodes (ifnull(owner, ''), name_key, kind);
    CREATE TABLE memory_aliases (
        node_id INTEGER NOT NULL REFERENCES memory_nodes (id) ON DELETE CASCADE,
        alias TEXT NOT NULL,
        alias_key TEXT NOT NULL,
        PRIMARY KEY (node_id, alias)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX memory_aliases_by_key ON memory_aliases (alias_key);
    CREATE TABLE memory_facts (
        id INTEGER PRIMARY KEY,
        node_id INTEGER NOT NULL REFERENCES memory_nodes (id) ON DELETE CASCADE,
        owner TEXT,
        text TEXT NOT NULL,
        source TEXT NOT NULL,
        source_ref TEXT,
        required_tier INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        created_by TEXT
    ) STRICT;
    CREATE INDEX memory_facts_by_node ON memory_facts (node_id);
    CREATE INDEX memory_facts_by_owner ON memory_facts (owner);
    CREATE TABLE memory_relations (
        id INTEGER PRIMARY KEY,
        owner TEXT,
        subject_id INTEGER NOT NULL REFERENCES memory_nodes (id) ON DELETE CASCADE,
        predicate TEXT NOT NULL,
        object_id INTEGER NOT NULL REFERENCES memory_nodes (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        source_ref TEXT,
        required_tier INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        created_by TEXT,
        UNIQUE (subject_id, predicate, object_id)
    ) STRICT;
    CREATE INDEX memory_relations_by_object ON memory_relations (object_id, predicate);
    CREATE INDEX memory_relations_by_owner ON memory_relations (owner);
    CREATE TABLE memory_links (
        entity_id INTEGER PRIMARY KEY REFERENCES entities (id) ON DELETE CASCADE,
        node_id INTEGER NOT NULL REFERENCES memory_nodes (id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX memory_links_by_node ON memory_links (node_id);
    CREATE VIRTUAL TABLE memory_search USING fts5 (
        name, body, tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
    # A relation is one person's statement (or the household's): two people may state the same.
    """
    CREATE TABLE memory_relations_owned (
        id INTEGER PRIMARY KEY,
        owner TEXT,
        subject_id INTEGER NOT NULL REFERENCES memory_nodes (id) ON DELETE CASCADE,
        predicate TEXT NOT NULL,
        object_id INTEGER NOT NULL REFERENCES memory_nodes (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        source_ref TEXT,
        required_tier INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        created_by TEXT
    ) STRICT;
    INSERT INTO memory_relations_owned SELECT id, owner, subject_id, predicate, object_id, source,
        source_ref, required_tier, created_at, created_by FROM memory_relations;
    DROP TABLE memory_relations;
    ALTER TABLE memory_relations_owned RENAME TO memory_relations;
    CREATE UNIQUE INDEX memory_relations_by_statement
        ON memory_relations (subject_id, predicate, object_id, ifnull(owner, ''));
    CREATE INDEX memory_relations_by_object ON memory_relations (object_id, predicate);
    CREATE INDEX memory_relations_by_owner ON memory_relations (owner);
    """,
)
"""Appended after every other tuple (released databases carry those); never edit a released one.

- ``owner``: a person id (theirs alone) or NULL (the household's); ``created_by`` who made a row,
  so a member may change the household rows they made.
- ``name_key`` / ``alias_key``: the case-folded name, so a node is found whatever the case; a name
  is unique per owner and kind. The one index on ``(ifnull(owner, ''), name_key, kind)`` serves
  finding a name within an owner and everything of an owner (its queries say ``ifnull``).
  ``named_by_person``: a person renamed the node, so renaming its
  linked entity no longer does.
- ``memory_relations``: a statement is its owner's, unique per ``(subject, predicate, object,
  owner)``: two people may state the same relation, each their own (the second migration).
- ``memory_search``: one row per node (rowid ``2 * node id``: its name and aliases in ``name``) and
  per fact (rowid ``2 * fact id + 1``: its text in ``body``), so a query can look at names alone;
  written in the same transactions as the rows they index.
"""
