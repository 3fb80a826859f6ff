"""Entities: the live state integrations produce, stored in SQLite and kept in sync."""
