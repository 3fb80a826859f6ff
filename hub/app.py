"""The aiohttp application: the one place that wires every service, in order, and unwinds them in reverse."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final

from aiohttp import web

from hub.agent.approvals import APPROVAL_MIGRATIONS, Approvals
from hub.agent.conversations import Conversations
from hub.agent.governance import effective_required_tier
from hub.agent.lazy import LazyChat
from hub.agent.mcp_settings import McpSettings
from hub.agent.preferences import Preferences
from hub.agent.schema import AGENT_MIGRATIONS
from hub.agent.triage_model import TriageModel
from hub.api import agent as agent_api
from hub.api import approvals as approvals_api
from hub.api import auth as auth_api
from hub.api import backups as backups_api
from hub.api import config_entries as config_entries_api
from hub.api import config_flows as config_flows_api
from hub.api import contacts as contacts_api
from hub.api import diagnostics as diagnostics_api
from hub.api import drafts as drafts_api
from hub.api import entities as entities_api
from hub.api import entity_types as entity_types_api
from hub.api import history as history_api
from hub.api import home as home_api
from hub.api import inbox as inbox_api
from hub.api import integrations as integrations_api
from hub.api import languages as languages_api
from hub.api import mcp as mcp_api
from hub.api import memory as memory_api
from hub.api import models as models_api
from hub.api import notifications as notifications_api
from hub.api import repairs as repairs_api
from hub.api import skills as skills_api
from hub.api import static as static_api
from hub.api import surfaces as surfaces_api
from hub.api import tool_review as tool_review_api
from hub.api import triage_rules as triage_rules_api
from hub.api import webhooks as webhooks_api
from hub.api import websocket as websocket_api
from hub.api import workflows as workflows_api
from hub.api.access import EVENT_AUDIENCE, EventAudience
from hub.api.auth import auth_middleware
from hub.api.body_timeout import body_timeout
from hub.api.errors import error_middleware
from hub.api.health import health
from hub.api.history import EVENT_LOG, HISTORY
from hub.api.state import (
    AGENTS,
    APPROVALS,
    AUTH,
    BUS,
    CATALOG,
    CHAT,
    COMMS,
    CONFIG,
    CONFIG_DIR,
    CONFIG_ENTRIES,
    DATABASE,
    ENTITIES,
    FLOW_MANAGER,
    HOME,
    KEYRING,
    MEMORY,
    NOTIFICATIONS,
    PEOPLE,
    PREFERENCES,
    REGISTRY,
    SCHEDULER,
    STARTED_AT,
    STOPPING,
    STORAGE,
    SURFACES,
    SYNC,
    TIMELINE,
    TRANSLATIONS,
)
from hub.auth.removal import PersonRemoval
from hub.auth.service import AuthService
from hub.comms.schema import COMMS_MIGRATIONS
from hub.comms.service import Comms
from hub.config import HubConfig
from hub.core.bus import EVENT_HUB_STOPPING, EventBus
from hub.core.crypto import Keyring
from hub.core.database import CORE_MIGRATIONS, DATABASE_FILE, Database
from hub.core.errors import NotFoundError
from hub.core.notifications import NOTIFICATION_MIGRATIONS, Notifications
from hub.core.scheduler import Scheduler
from hub.core.storage import StorageManager
from hub.core.timeline import Timeline
from hub.entities.event_log import EventLog
from hub.entities.history import History
from hub.entities.schema import COMPACT_MIGRATIONS, ENTITY_MIGRATIONS, EVENT_LOG_MIGRATIONS
from hub.entities.service import EntityService
from hub.entities.sync import SyncManager
from hub.entities.webhook_deliveries import DELIVERY_BODY_MIGRATIONS, DELIVERY_MIGRATIONS
from hub.entities.webhook_replays import REPLAY_MIGRATIONS
from hub.integrations.agents import Agents
from hub.integrations.catalog import IntegrationCatalog
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import audience as entry_audience
from hub.integrations.flow_manager import FlowManager
from hub.integrations.flow_store import FlowStore
from hub.integrations.loader import Discovery, scan
from hub.integrations.location import HomeSetting
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.surfaces import Surfaces
from hub.integrations.translations import HUB_TRANSLATIONS, Translations
from hub.memory.schema import MEMORY_MIGRATIONS
from hub.memory.service import Memory
from hub.memory.skills import Skills
from hub.ops.backup_service import Backups
from hub.ops.diagnostics import Diagnostics
from hub.ops.repair_watchers import RepairWatchers
from hub.ops.repairs import Repairs
from hub.workflows.lazy import WORKFLOWS_KEY, LazyWorkflows
from hub.workflows.runs import RUN_MIGRATIONS

if TYPE_CHECKING:
    from hub.agent.chat import ChatService
    from hub.workflows.service import WorkflowService

_LOGGER = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]

DATABASE_MIGRATIONS: Final[tuple[str, ...]] = (
    *CORE_MIGRATIONS,
    *ENTITY_MIGRATIONS,
    *AGENT_MIGRATIONS,
    *EVENT_LOG_MIGRATIONS,
    *REPLAY_MIGRATIONS,
    *COMPACT_MIGRATIONS,
    *COMMS_MIGRATIONS,
    *APPROVAL_MIGRATIONS,
    *DELIVERY_MIGRATIONS,
    *NOTIFICATION_MIGRATIONS,
    *RUN_MIGRATIONS,
    *MEMORY_MIGRATIONS,
    *DELIVERY_BODY_MIGRATIONS,
)
"""Every schema migration of ``hub.db``, in order: its length is this hub's schema version."""


def create_app(
    config_dir: Path,
    config: HubConfig,
    *,
    env: Mapping[str, str],
    timeline: Timeline | None = None,
) -> web.Application:
    """Build the application; services open on start-up and close on cleanup, in reverse order."""
    app = web.Application(
        middlewares=[
            body_timeout(config.http.body_timeout_seconds),
            error_middleware,
            auth_middleware,
        ]
    )
    app[CONFIG_DIR] = config_dir
    app[CONFIG] = config
    app[TIMELINE] = timeline or Timeline()
    app[STARTED_AT] = time.monotonic()
    app[STOPPING] = asyncio.Event()
    app[STORAGE] = StorageManager(config_dir)
    app[KEYRING] = Keyring(app[STORAGE], env)
    app[AUTH] = AuthService(app[STORAGE])
    app[DATABASE] = Database(config_dir / DATABASE_FILE, DATABASE_MIGRATIONS)
    app[BUS] = EventBus()
    app[NOTIFICATIONS] = Notifications(app[DATABASE], app[BUS])
    app[SCHEDULER] = Scheduler(default_timeout=config.scheduler.job_timeout_seconds)
    app[REGISTRY] = IntegrationRegistry()
    app[CATALOG] = IntegrationCatalog(app[STORAGE])
    app[TRANSLATIONS] = Translations()
    app[ENTITIES] = EntityService(app[DATABASE], app[BUS], app[REGISTRY])
    app[HISTORY] = History(app[DATABASE], config.history)
    app[HISTORY].schedule(app[SCHEDULER])
    app[CONFIG_ENTRIES] = ConfigEntries(
        app[STORAGE],
        app[KEYRING],
        app[REGISTRY],
        app[BUS],
        max_per_person=config.integrations.max_entries_per_person,
    )
    app[HOME] = HomeSetting(app[STORAGE])
    app[CONFIG_ENTRIES].home_source = app[HOME].get
    app[EVENT_AUDIENCE] = EventAudience(app[CONFIG_ENTRIES])
    app[CONFIG_ENTRIES].on_remove.append(app[EVENT_AUDIENCE].remember)
    app[EVENT_LOG] = EventLog(
        app[DATABASE],
        app[BUS],
        size=config.history.event_log_size,
        audience=app[EVENT_AUDIENCE],
    )
    app[FLOW_MANAGER] = FlowManager(
        app[REGISTRY],
        app[CATALOG],
        app[CONFIG_ENTRIES],
        FlowStore(
            config.integrations.flow_ttl_seconds,
            max_per_person=config.integrations.max_flows_per_person,
        ),
    )
    app[SYNC] = SyncManager(
        app[CONFIG_ENTRIES],
        app[ENTITIES],
        app[SCHEDULER],
        app[REGISTRY],
        app[BUS],
        config.scheduler,
    )
    app[SYNC].attach()
    app[CHAT] = LazyChat(lambda: _build_chat(app, env))
    app[COMMS] = Comms(
        app[DATABASE],
        app[BUS],
        app[STORAGE],
        app[CONFIG_ENTRIES],
        app[REGISTRY],
        app[ENTITIES],
        app[SCHEDULER],
        config,
        TriageModel(app[CHAT], app[REGISTRY], app[STORAGE], config.models).ask,
    )
    app[COMMS].attach()
    app[SURFACES] = Surfaces(app[STORAGE])
    entries = app[CONFIG_ENTRIES]
    entries.after_setup.append(app[SURFACES].project)
    entries.on_remove.append(lambda entry: app[SURFACES].withdraw(entry, entries.entries()))
    app[AGENTS] = Agents(app[STORAGE])
    entries.after_setup.append(app[AGENTS].project)
    entries.on_remove.append(lambda entry: app[AGENTS].withdraw(entry, entries.entries()))
    app[skills_api.SKILLS] = Skills(app[STORAGE])
    entries.after_setup.append(app[skills_api.SKILLS].project)
    entries.on_remove.append(
        lambda entry: app[skills_api.SKILLS].withdraw(entry, entries.entries())
    )
    # Built now (no I/O) so removing a person can drop their preferences without the agent.
    app[PREFERENCES] = Preferences(
        app[STORAGE], is_admin=lambda person_id: _is_admin(app, person_id)
    )
    app[APPROVALS] = Approvals(
        app[STORAGE], app[DATABASE], app[BUS], timeout=config.agent.approval_timeout_seconds
    )
    app[mcp_api.MCP_SETTINGS] = McpSettings(app[STORAGE])
    app[mcp_api.MCP_SERVER] = mcp_api.server(app, approvals=lambda: app[APPROVALS])
    app[MEMORY] = Memory(
        app[DATABASE],
        app[ENTITIES],
        entries,
        app[REGISTRY],
        app[CATALOG],
        is_admin=lambda person_id: _is_admin(app, person_id),
        tier_rule=effective_required_tier,
    )
    app[PEOPLE] = PersonRemoval(app[AUTH], entries)
    app[PEOPLE].forget.extend(
        [
            app[SURFACES].forget_person,
            app[AGENTS].forget_person,
            app[skills_api.SKILLS].forget_person,
            app[COMMS].contacts.forget_person,
            app[COMMS].rules.forget_person,
            app[mcp_api.MCP_SERVER].forget_person,
            app[APPROVALS].forget_person,
            app[NOTIFICATIONS].forget_person,
            app[MEMORY].forget_person,
            lambda pid: _forget(app, pid),
        ]
    )
    app[workflows_api.WORKFLOWS] = LazyWorkflows(
        partial(_workflows, app), app[STORAGE].path_of(WORKFLOWS_KEY)
    )
    app[repairs_api.REPAIRS] = _repairs(app)
    app[diagnostics_api.DIAGNOSTICS] = Diagnostics(
        bus=app[BUS],
        entries=app[CONFIG_ENTRIES],
        registry=app[REGISTRY],
        catalog=app[CATALOG],
        keyring=app[KEYRING],
        repairs=app[repairs_api.REPAIRS],
        config=config,
        config_dir=config_dir,
        disks={"storage": app[STORAGE].health, "database": app[DATABASE].health},
    )
    app[backups_api.BACKUPS] = Backups(config_dir, config.backups, app[STORAGE], app[DATABASE], env)
    app[backups_api.BACKUPS].repairs = app[repairs_api.REPAIRS]
    app[backups_api.BACKUPS].schedule(app[SCHEDULER])
    app[backups_api.RESTART] = backups_api.RestartRequest(
        enabled=env.get(backups_api.NO_RESTART_ENV) != "1"
    )
    app[PEOPLE].forget.append(app[workflows_api.WORKFLOWS].forget_person)

    app.cleanup_ctx.extend(
        [
            _phase("storage", _storage),
            _phase("keyring", _keyring),
            _phase("home", home_api.home_context),
            _phase("auth", _auth),
            _phase("database", _database),
            _phase("bus", _bus),
            _phase("event_log", _event_log),
            _phase("entities", _entities),
            _phase("comms", _comms),
            _phase("integrations", _integrations),
            _phase("entries", _entries),
            _phase("memory", _memory),
            _phase("scheduler", _scheduler),
            _phase("agent", _agent),
            # After the agent: on shutdown runs stop before the chat service their steps use.
            _phase("workflows", _workflows_context),
        ]
    )
    app.on_shutdown.append(_announce_shutdown)
    app.router.add_get("/api/health", health)
    auth_api.register(app)
    integrations_api.register(app)
    config_flows_api.register(app)
    config_entries_api.register(app)
    tool_review_api.register(app)
    entities_api.register(app)
    entity_types_api.register(app)
    webhooks_api.register(app)
    history_api.register(app)
    inbox_api.register(app)
    triage_rules_api.register(app)
    home_api.register(app)
    drafts_api.register(app)
    contacts_api.register(app)
    surfaces_api.register(app)
    models_api.register(app)
    agent_api.register(app)
    mcp_api.register(app)
    approvals_api.register(app)
    notifications_api.register(app)
    repairs_api.register(app)
    diagnostics_api.register(app)
    backups_api.register(app)
    memory_api.register(app)
    skills_api.register(app)
    workflows_api.register(app)
    languages_api.register(app)
    websocket_api.register(app)
    static_api.register(app)  # last: every API route is matched first
    return app


def _phase(name: str, context: CleanupContext) -> CleanupContext:
    """Time a cleanup context's start-up half as a phase of the start-up timeline."""

    async def timed(app: web.Application) -> AsyncIterator[None]:
        with app[TIMELINE].phase(name):
            steps = context(app)
            await anext(steps)
        try:
            yield
        finally:
            await anext(steps, None)

    timed.__name__ = f"{name}_context"
    return timed


async def _storage(app: web.Application) -> AsyncIterator[None]:
    storage = app[STORAGE]
    await asyncio.to_thread(storage.prepare)
    yield
    await storage.flush()


async def _keyring(app: web.Application) -> AsyncIterator[None]:
    await app[KEYRING].open()
    yield


async def _auth(app: web.Application) -> AsyncIterator[None]:
    await app[AUTH].load()
    yield


async def _database(app: web.Application) -> AsyncIterator[None]:
    database = app[DATABASE]
    await database.open()
    yield
    await database.close()


async def _bus(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[BUS].close()


async def _event_log(app: web.Application) -> AsyncIterator[None]:
    event_log = app[EVENT_LOG]
    event_log.start()
    yield
    await event_log.stop()


async def _entities(app: web.Application) -> AsyncIterator[None]:
    service = app[ENTITIES]
    service.start()
    yield
    await service.stop()


async def _comms(app: web.Application) -> AsyncIterator[None]:
    comms = app[COMMS]
    await comms.start()
    yield
    await comms.stop()


async def _integrations(app: web.Application) -> AsyncIterator[None]:
    settings = app[CONFIG].integrations
    catalog = app[CATALOG]
    await catalog.load()
    if settings.enabled:
        # Only manifests are read here: an integration's code is imported when an entry of it is
        # set up or something asks for it (``IntegrationRegistry``). Reading files blocks; keep it
        # off the event loop.
        discovery = await asyncio.to_thread(
            scan,
            settings.bundled_dir,
            settings.external_dirs,
            allow_external=settings.allow_external,
        )
        app[REGISTRY].replace(discovery)
        await catalog.sync(app[REGISTRY])
        domains = app[REGISTRY].candidates()
        await asyncio.to_thread(app[TRANSLATIONS].load, HUB_TRANSLATIONS, domains)
    else:
        _LOGGER.warning("Integrations are disabled (integrations.enabled: false)")
        app[REGISTRY].replace(Discovery())
    yield


async def _entries(app: web.Application) -> AsyncIterator[None]:
    entries = app[CONFIG_ENTRIES]
    await app[SURFACES].load()
    await app[AGENTS].load()
    await app[skills_api.SKILLS].load()
    await app[APPROVALS].load()  # before any run: the approval gate reads the rules at once
    await entries.load()
    await app[REGISTRY].load({entry.domain for entry in entries.entries()})  # off the loop
    await app[repairs_api.REPAIRS].load()
    app[repairs_api.REPAIR_WATCHERS].start()  # before setup: its failures raise repairs
    app[diagnostics_api.DIAGNOSTICS].start()  # and are in the entries' diagnostics
    await entries.setup_all()
    yield
    await entries.unload_all()
    app[diagnostics_api.DIAGNOSTICS].stop()
    app[repairs_api.REPAIR_WATCHERS].stop()


async def _memory(app: web.Application) -> AsyncIterator[None]:
    # After entries: their integrations are imported, so the sweep knows every world_kind type.
    await app[MEMORY].start()
    yield
    await app[MEMORY].stop()


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    scheduler = app[SCHEDULER]
    scheduler.start()
    yield
    await scheduler.stop()


async def _agent(app: web.Application) -> AsyncIterator[None]:
    yield
    chat = app[CHAT].built
    if chat is not None:
        await chat.stop()
        await chat.models.close()


async def _workflows_context(app: web.Application) -> AsyncIterator[None]:
    # After entries are set up and the scheduler runs: schedules arm, triggers see live entities.
    # Built now only when workflows are stored; otherwise on the first use of workflows.
    workflows = app[workflows_api.WORKFLOWS]
    await workflows.start()
    yield
    await workflows.stop()


async def _workflows(app: web.Application) -> WorkflowService:
    """The workflow service with its engine, wired to the hub's services, loaded and started."""
    from hub.workflows.engine import Engine
    from hub.workflows.runs import RunLog
    from hub.workflows.service import WorkflowService
    from hub.workflows.store import WorkflowStore
    from hub.workflows.validate import HubLookups, Validator

    config = app[CONFIG]
    runs = RunLog(app[DATABASE], config.workflows)

    async def on_looped(workflow_id: str) -> None:
        await service.on_looped(workflow_id)

    engine = Engine(
        bus=app[BUS],
        scheduler=app[SCHEDULER],
        entities=app[ENTITIES],
        entries=app[CONFIG_ENTRIES],
        registry=app[REGISTRY],
        runs=runs,
        notifications=app[NOTIFICATIONS],
        chat=app[CHAT],
        conversations_factory=lambda: Conversations(app[DATABASE]),
        preferences=app[PREFERENCES],
        home=app[HOME],
        auth=app[AUTH],
        audience=app[EVENT_AUDIENCE],
        config=config.workflows,
        on_looped=on_looped,
        inbox=app[COMMS].inbox,
        translations=app[TRANSLATIONS],
        webhook_body=lambda entry, delivery: app[webhooks_api.WEBHOOKS].body(entry, delivery),
    )
    lookups = HubLookups(
        entities=app[ENTITIES],
        entries=app[CONFIG_ENTRIES],
        registry=app[REGISTRY],
        people=app[AUTH],
        home=app[HOME],
        chat=app[CHAT],
    )
    service = WorkflowService(
        store=WorkflowStore(app[STORAGE], app[KEYRING]),
        validator=Validator(lookups),
        engine=engine,
        runs=runs,
        bus=app[BUS],
        config=config.workflows,
        admins=lambda: [p.person_id for p in app[AUTH].people() if p.is_admin and not p.removing],
    )
    await service.load()
    await service.start()
    return service


def _repairs(app: web.Application) -> Repairs:
    """The repairs, seen by whoever sees their entry, and what raises and clears them."""
    repairs = Repairs(app[BUS], app[STORAGE])
    entries = app[CONFIG_ENTRIES]

    def whose(entry_id: str) -> str | None:
        entry = entries.get(entry_id)
        return None if entry is None else entry_audience(entry)

    repairs.entry_audience = whose
    app[repairs_api.REPAIR_WATCHERS] = RepairWatchers(
        repairs,
        bus=app[BUS],
        entries=entries,
        registry=app[REGISTRY],
        catalog=app[CATALOG],
        listeners=app[COMMS].listeners,
        disks=(app[STORAGE].health, app[DATABASE].health),
        config_dir=app[CONFIG_DIR],
    )
    return repairs


def _is_admin(app: web.Application, person_id: str) -> bool:
    """Whether the person exists and is an admin now (a removed one is not)."""
    try:
        return app[AUTH].person(person_id).is_admin
    except NotFoundError:
        return False


async def _build_chat(app: web.Application, env: Mapping[str, str]) -> ChatService:
    """The agent, wired on a person's first chat, models or picker call rather than at start-up."""
    from hub.agent.assembler import ToolsetAssembler
    from hub.agent.chat import ChatService
    from hub.agent.hub_tools import HubServices
    from hub.agent.models import ModelRegistry
    from hub.agent.sandbox.service import SandboxService

    config, entries = app[CONFIG], app[CONFIG_ENTRIES]
    assembler = ToolsetAssembler(
        entries,
        app[REGISTRY],
        app[CATALOG],
        app[AGENTS],
        HubServices(
            app[ENTITIES],
            app[HISTORY],
            entries,
            app[REGISTRY],
            app[COMMS].drafts,
            SandboxService(config.sandbox),
            skills=app[skills_api.SKILLS],
            memory=app[MEMORY],
        ),
        app[APPROVALS],
    )
    models = ModelRegistry(
        app[STORAGE],
        app[KEYRING],
        config.models,
        env,
        request_timeout=config.agent.request_timeout_seconds,
    )
    chat = ChatService(
        Conversations(app[DATABASE]),
        models,
        assembler,
        app[PREFERENCES],
        app[SURFACES],
        config.agent,
        app[APPROVALS],
    )
    await models.load()
    await chat.preferences.load()
    return chat


async def _forget(app: web.Application, person_id: str) -> None:
    """Drop a removed person's conversations and agent preferences, without building the agent."""
    await Conversations(app[DATABASE]).delete_of_person(person_id)
    if app[CHAT].built is None:  # else the agent read them already
        await app[PREFERENCES].load()
    await app[PREFERENCES].forget(person_id)


async def _announce_shutdown(app: web.Application) -> None:
    app[STOPPING].set()
    app[BUS].fire(EVENT_HUB_STOPPING, {})
