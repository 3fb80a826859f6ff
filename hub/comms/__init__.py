"""Comms: messages from every channel in one inbox, triaged on arrival, replies that wait for a person.

``ingest`` pulls readers into ``<type>`` message entities (upsert-only), ``listeners`` supervises each
entry's real-time listener, ``inbox`` keeps the person's view of those messages (read, archived,
importance), ``triage`` marks them as they arrive, ``contacts`` links senders to people, and
``drafts`` holds replies until a person approves one: the only path to a sender.
"""
