"""OpenProject: projects and work packages as entities, overdue events, and tools for the agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import date
from typing import Any, Final

from hub.integrations.capabilities import SkillDescriptor
from hub.integrations.entities import (
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
)
from hub.integrations.integration import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    HealthResult,
    Integration,
    SetupContext,
    WebhookPayloadError,
)
from hub.integrations.toolsets import deferred

from .client import (
    OpenProjectAuthError,
    OpenProjectClient,
    OpenProjectConnectionError,
    OpenProjectError,
)
from .config_flow import OpenProjectConfigFlow
from .entities import (
    ENTITY_TYPES,
    OVERDUE_EVENT,
    PROJECT,
    PROJECT_TYPE,
    WORK_PACKAGE,
    WORK_PACKAGE_TYPE,
    WP_OVERDUE,
    OverdueTracker,
    project_record,
    work_package_record,
)
from .skills import WEEKLY_REVIEW, WEEKLY_REVIEW_KEY
from .tools import build_toolset

MAX_PROJECTS: Final = 1_000
MAX_WORK_PACKAGES: Final = 10_000
"""A sync holds at most this many; past it the sync only upserts, so nothing is wrongly deleted."""
EVERY_STATUS: Final = ()


class OpenProjectIntegration(Integration):
    """Polls each entry's OpenProject instance; one HTTP session per loaded entry."""

    config_flow_cls = OpenProjectConfigFlow

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        """``today`` decides when a due date has passed (the hub's local date)."""
        self._today = today
        self._clients: dict[str, OpenProjectClient] = {}
        self._overdue: dict[str, OverdueTracker] = {}

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """``project`` (a world project) and ``work_package`` (a searchable world task)."""
        return {PROJECT_TYPE: PROJECT, WORK_PACKAGE_TYPE: WORK_PACKAGE}

    def event_types(self) -> dict[str, EventTypeDescriptor]:
        """``openproject.wp_overdue``: an open work package's due date has passed."""
        return {WP_OVERDUE: OVERDUE_EVENT}

    def skills(self) -> dict[str, SkillDescriptor]:
        """A weekly review of the person's work packages, read by the agent when it is asked for one."""
        return {WEEKLY_REVIEW_KEY: WEEKLY_REVIEW}

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Sign in once (a server that does not answer is retried), then the toolset, built on use."""
        if not ctx.secrets.get("api_key"):
            raise ConfigEntryAuthFailed("no API key is stored for this entry")
        client = self._clients.get(ctx.entry_id) or _new_client(ctx)
        try:
            await client.me()
        except OpenProjectAuthError:
            await client.close()
            raise ConfigEntryAuthFailed("OpenProject refused the API key") from None
        except OpenProjectError as err:
            # Expected while the server is down (or behind a proxy's error page): the hub
            # retries the setup with a backoff.
            await client.close()
            raise ConfigEntryNotReady(str(err)) from None
        self._clients[ctx.entry_id] = client
        toolset_id = f"openproject_{ctx.entry_id}"
        return [deferred(lambda: build_toolset(client, toolset_id=toolset_id), label="openproject")]

    async def async_unload_entry(self, ctx: SetupContext) -> None:
        """Close the entry's HTTP session; its toolset fails cleanly if still used."""
        client = self._clients.pop(ctx.entry_id, None)
        if client is not None:
            await client.close()

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult:
        """Every project and work package (open and closed); a refused key asks for reauth.

        Fires ``openproject.wp_overdue`` for each open work package whose due date has passed:
        once per (work package, due date) while the hub runs, so at least once across restarts.
        """
        return await self._poll(ctx)

    async def async_handle_webhook(self, ctx: SetupContext, payload: Any) -> EntityStateSyncResult:
        """OpenProject's ``{"action": "work_package:updated", ...}``: ignore the details, re-poll."""
        if not isinstance(payload, Mapping):
            raise WebhookPayloadError(
                'body: must be a JSON object, as OpenProject sends ({"action": ..., ...})'
            )
        return await self._poll(ctx)

    async def async_health(self, ctx: SetupContext) -> HealthResult:
        """OK when the key works, degraded when OpenProject is out of reach; a refused key asks for reauth."""
        try:
            async with self._client(ctx) as client:
                user = await client.me()
        except OpenProjectAuthError:
            # Not just an error health: the hub then asks the person for a new key (reauth).
            raise ConfigEntryAuthFailed("OpenProject refused the API key") from None
        except OpenProjectConnectionError:
            return HealthResult(
                HealthResult.DEGRADED, "OpenProject is unreachable", key="health.unreachable"
            )
        except OpenProjectError as err:
            problem = str(err)[:200]
            return HealthResult(
                HealthResult.DEGRADED,
                f"OpenProject answered oddly: {problem}",
                key="health.odd_answer",
                params={"problem": problem},
            )
        return HealthResult(
            HealthResult.OK,
            f"signed in as {user.name}",
            key="health.signed_in_as",
            params={"name": user.name},
        )

    async def _poll(self, ctx: SetupContext) -> EntityStateSyncResult:
        async with self._client(ctx) as client:
            return await self._read(ctx, client)

    async def _read(self, ctx: SetupContext, client: OpenProjectClient) -> EntityStateSyncResult:
        try:
            projects = await client.projects(limit=MAX_PROJECTS)
            work_packages = await client.work_packages(
                filters=EVERY_STATUS, limit=MAX_WORK_PACKAGES
            )
            # Read afresh each poll: an admin may have renamed a status or made it a closed one.
            statuses = await client.statuses(refresh=True)
        except OpenProjectAuthError as err:
            raise ConfigEntryAuthFailed(str(err)) from None
        except OpenProjectConnectionError as err:
            raise ConfigEntryNotReady(str(err)) from None  # one line in the log, no traceback
        complete = not (projects.truncated or work_packages.truncated)
        records = [
            project_record(project, client.project_url(project.identifier))
            for project in projects.items
        ]
        records += [
            work_package_record(wp, statuses, client.work_package_url(wp.id))
            for wp in work_packages.items
        ]
        tracker = self._overdue.setdefault(ctx.entry_id, OverdueTracker())
        overdue = tracker.newly_overdue(
            work_packages.items, statuses, self._today(), complete=complete
        )
        if ctx.events is not None:
            for work_package_id, due_date in overdue:
                ctx.events.emit(
                    WP_OVERDUE,
                    {"work_package_id": str(work_package_id), "due_date": due_date.isoformat()},
                )
        return EntityStateSyncResult(
            records=tuple(records), full=complete, entity_types=ENTITY_TYPES
        )

    @asynccontextmanager
    async def _client(self, ctx: SetupContext) -> AsyncIterator[OpenProjectClient]:
        """The loaded entry's client, or one for this call only when the entry is not set up."""
        client = self._clients.get(ctx.entry_id)
        if client is not None:
            yield client
            return
        async with _new_client(ctx) as temporary:
            yield temporary


def _new_client(ctx: SetupContext) -> OpenProjectClient:
    return OpenProjectClient(str(ctx.data.get("base_url") or ""), ctx.secrets.get("api_key") or "")


INTEGRATION = OpenProjectIntegration()
