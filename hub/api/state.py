"""Typed application state: one ``AppKey`` per service the HTTP layer reaches."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from aiohttp import web

from hub.agent.approvals import Approvals
from hub.agent.lazy import LazyChat
from hub.agent.preferences import Preferences
from hub.auth.removal import PersonRemoval
from hub.auth.service import AuthService
from hub.comms.service import Comms
from hub.config import HubConfig
from hub.core.bus import EventBus
from hub.core.crypto import Keyring
from hub.core.database import Database
from hub.core.notifications import Notifications
from hub.core.scheduler import Scheduler
from hub.core.storage import StorageManager
from hub.core.timeline import Timeline
from hub.entities.service import EntityService
from hub.entities.sync import SyncManager
from hub.integrations.agents import Agents
from hub.integrations.catalog import IntegrationCatalog
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.flow_manager import FlowManager
from hub.integrations.location import HomeSetting
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.surfaces import Surfaces
from hub.integrations.translations import Translations
from hub.memory.service import Memory

CONFIG_DIR: Final = web.AppKey("config_dir", Path)
CONFIG: Final = web.AppKey("config", HubConfig)
TIMELINE: Final = web.AppKey("timeline", Timeline)
STARTED_AT: Final = web.AppKey("started_at", float)
STOPPING: Final = web.AppKey("stopping", asyncio.Event)
STORAGE: Final = web.AppKey("storage", StorageManager)
KEYRING: Final = web.AppKey("keyring", Keyring)
HOME: Final = web.AppKey("home", HomeSetting)
DATABASE: Final = web.AppKey("database", Database)
BUS: Final = web.AppKey("bus", EventBus)
SCHEDULER: Final = web.AppKey("scheduler", Scheduler)
REGISTRY: Final = web.AppKey("registry", IntegrationRegistry)
CATALOG: Final = web.AppKey("catalog", IntegrationCatalog)
CONFIG_ENTRIES: Final = web.AppKey("config_entries", ConfigEntries)
COMMS: Final = web.AppKey("comms", Comms)
FLOW_MANAGER: Final = web.AppKey("flow_manager", FlowManager)
TRANSLATIONS: Final = web.AppKey("translations", Translations)
ENTITIES: Final = web.AppKey("entities", EntityService)
SYNC: Final = web.AppKey("sync", SyncManager)
AUTH: Final = web.AppKey("auth", AuthService)
SURFACES: Final = web.AppKey("surfaces", Surfaces)
AGENTS: Final = web.AppKey("agents", Agents)
CHAT: Final = web.AppKey("chat", LazyChat)
PEOPLE: Final = web.AppKey("people", PersonRemoval)
PREFERENCES: Final = web.AppKey("preferences", Preferences)
APPROVALS: Final = web.AppKey("approvals", Approvals)
NOTIFICATIONS: Final = web.AppKey("notifications", Notifications)
MEMORY: Final = web.AppKey("memory", Memory)
