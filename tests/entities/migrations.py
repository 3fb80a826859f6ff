"""Every migration of ``hub.db`` in the order the app applies them, for tests that open one alone."""

from __future__ import annotations

from typing import Final

from hub.agent.schema import AGENT_MIGRATIONS
from hub.core.database import CORE_MIGRATIONS
from hub.entities.schema import COMPACT_MIGRATIONS, ENTITY_MIGRATIONS, EVENT_LOG_MIGRATIONS
from hub.entities.webhook_replays import REPLAY_MIGRATIONS

HUB_MIGRATIONS: Final = (
    *CORE_MIGRATIONS,
    *ENTITY_MIGRATIONS,
    *AGENT_MIGRATIONS,
    *EVENT_LOG_MIGRATIONS,
    *REPLAY_MIGRATIONS,
    *COMPACT_MIGRATIONS,
)
