"""The ``Integration`` base class, the ``SetupContext`` each hook receives, and ``HealthResult``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, NoReturn

if TYPE_CHECKING:
    from hub.integrations.capabilities import (
        AgentDescriptor,
        ComputeProvider,
        MessageListenerProvider,
        MessageReaderProvider,
        MessageSenderProvider,
        SkillDescriptor,
        SurfaceDescriptor,
        WeatherProvider,
        WebFetchProvider,
        WebSearchProvider,
    )
    from hub.integrations.config_flow import ConfigFlow
    from hub.integrations.entities import (
        EntityStateActionResult,
        EntityStateRecord,
        EntityStateSyncResult,
        EntityStateTypeDescriptor,
        EntityStateWriter,
        EventEmitter,
        EventTypeDescriptor,
        RelationTypeDescriptor,
    )
    from hub.integrations.location import HomeLocation
    from hub.integrations.manifest import IntegrationManifest
    from hub.integrations.tool_review import ToolPins
    from hub.integrations.webhooks import WebhookDelivery, WebhookVerification

HealthStatus = Literal["ok", "degraded", "error"]
_HEALTH_STATUSES: Final = ("ok", "degraded", "error")


class ConfigEntryError(Exception):
    """Raise from ``async_setup_entry`` when the entry cannot work until a person changes something."""


class ConfigEntryNotReady(Exception):
    """Raise from ``async_setup_entry`` when the service is unreachable for now: the hub retries."""


class ConfigEntryAuthFailed(Exception):
    """Raise when the service refuses the stored credentials: the hub asks the person to reauthenticate."""


class WebhookPayloadError(Exception):
    """Raise from ``async_handle_webhook`` for a body it cannot use; the sender gets a 400 with the text."""


class SecretValues(Mapping[str, str]):
    """An entry's decrypted secrets: read-only, and never revealed by repr, copy or pickling."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        names = ", ".join(sorted(self._values))
        return f"<secrets: {names or 'none'}>"

    def __copy__(self) -> SecretValues:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretValues:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("secrets are never pickled or serialized; they live in memory only")


class RuntimeSlot:
    """What an entry keeps while it is set up: the integration's ``runtime_data`` and unload callbacks."""

    __slots__ = ("data", "on_unload")

    def __init__(self) -> None:
        self.data: Any = None
        self.on_unload: list[Callable[[], Any]] = []


@dataclass(slots=True, kw_only=True)
class SetupContext:
    """Everything a per-entry hook needs; ``secrets`` are decrypted, in memory only, never shown.

    One context serves every hook from setup to unload, so ``runtime_data`` (set it in
    ``async_setup_entry``, as Home Assistant's ``entry.runtime_data``) is there for the others.
    """

    entry_id: str
    domain: str
    scope: str = "global"
    owner_sub: str | None = None
    org_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=SecretValues, repr=False)
    version: int = 1
    writer: EntityStateWriter | None = field(default=None, repr=False, compare=False)
    """Push entities of this entry (the hub's apply path); set while the entry is set up."""
    events: EventEmitter | None = field(default=None, repr=False, compare=False)
    """Fire this integration's declared custom events."""
    slot: RuntimeSlot = field(default_factory=RuntimeSlot, repr=False, compare=False)
    """The entry's mutable part while it is set up; every other field is frozen."""
    home_source: Callable[[], HomeLocation | None] = field(
        default=lambda: None, repr=False, compare=False
    )
    """Where ``home_location`` reads the hub's home location (a hub addition to the specification)."""

    def __post_init__(self) -> None:
        if not isinstance(self.secrets, SecretValues):
            object.__setattr__(self, "secrets", SecretValues(self.secrets))

    def __setattr__(self, name: str, value: Any) -> None:
        # Frozen but for ``runtime_data``: a frozen dataclass would refuse that property's setter.
        if name != "runtime_data" and hasattr(self, name):
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    @property
    def runtime_data(self) -> Any:
        """Whatever the integration keeps for this entry while it is set up (a client, a cache)."""
        return self.slot.data

    @runtime_data.setter
    def runtime_data(self, value: Any) -> None:
        self.slot.data = value

    def async_on_unload(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` (plain or async) when the entry is unloaded, in reverse order."""
        self.slot.on_unload.append(callback)

    def home_location(self) -> HomeLocation | None:
        """The hub's home location as it is now; ``None`` until an admin sets it."""
        return self.home_source()

    @property
    def owner(self) -> str | None:
        """The owning person of a user-scoped entry; ``None`` for a global one."""
        return self.owner_sub

    def describe(self) -> dict[str, Any]:
        """A JSON-serializable view for logs and job arguments: everything except the secrets."""
        return {
            "entry_id": self.entry_id,
            "domain": self.domain,
            "scope": self.scope,
            "owner_sub": self.owner_sub,
            "version": self.version,
            "secret_fields": sorted(self.secrets),
        }


@dataclass(frozen=True, slots=True)
class HealthResult:
    """An entry's live-connection health: ``ok``, ``degraded`` or ``error``, with a short detail.

    ``key`` names the detail's sentence in the integration's translation files (``health.<name>``,
    placeholders filled from ``params``), so a person reads it in their language; ``detail`` is the
    English text the log and the sync record keep, and what a client sees when the key has no text.
    """

    OK: ClassVar[HealthStatus] = "ok"
    DEGRADED: ClassVar[HealthStatus] = "degraded"
    ERROR: ClassVar[HealthStatus] = "error"

    status: HealthStatus
    detail: str = ""
    key: str | None = None
    params: Mapping[str, str | int | float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in _HEALTH_STATUSES:
            raise ValueError(f"health status must be one of {', '.join(_HEALTH_STATUSES)}")


class Integration:
    """Base class of every integration's module-level ``INTEGRATION``; override only what you use.

    The loader injects ``manifest`` and ``config_flow_cls`` before any hook runs. Every hook has a
    default that contributes nothing, so an integration is an X provider only if it overrides X.
    """

    manifest: IntegrationManifest
    config_flow_cls: type[ConfigFlow] | None = None

    @property
    def domain(self) -> str:
        """The integration's domain, from its manifest."""
        return self.manifest.domain

    # Lifecycle

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Set up one config entry and return the pydantic-ai toolsets it contributes."""
        return []

    async def async_unload_entry(self, ctx: SetupContext) -> None:
        """Release what ``async_setup_entry`` acquired for this entry."""

    async def async_migrate_entry(
        self, ctx: SetupContext, from_version: int
    ) -> dict[str, Any] | None:
        """Return the entry's data migrated from ``from_version``, or ``None`` to keep it as is."""
        return None

    # Entities

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """The entity types this integration produces, by key."""
        return {}

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult | None:
        """Pull the entry's entities; ``None`` means this integration does not pull."""
        return None

    async def async_initial_entities(self, ctx: SetupContext) -> list[EntityStateRecord]:
        """Entities to create once, when the entry is first configured (state the hub owns)."""
        return []

    async def async_call_action(
        self,
        ctx: SetupContext,
        *,
        entity_type: str,
        external_id: str,
        action: str,
        args: dict[str, Any],
        current: EntityStateRecord | None,
    ) -> EntityStateActionResult | None:
        """Run a declared action on an entity; the result's records go through the apply path."""
        return None

    async def async_handle_webhook(
        self, ctx: SetupContext, payload: Any
    ) -> EntityStateSyncResult | None:
        """Handle a pushed webhook; return records to apply, or ``None`` to acknowledge only."""
        return None

    def webhook_verification(self, ctx: SetupContext) -> WebhookVerification | None:
        """How the entry's deliveries are signed; ``None`` keeps the hub's per-entry signing setting."""
        return None

    async def async_handle_webhook_delivery(
        self, ctx: SetupContext, delivery: WebhookDelivery
    ) -> EntityStateSyncResult | None:
        """Handle one verified, deduplicated delivery (headers too); defaults to the body alone."""
        return await self.async_handle_webhook(ctx, delivery.payload)

    async def async_preview_webhook(
        self, ctx: SetupContext, delivery: WebhookDelivery, options: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """What unsaved ``options`` would make of ``delivery``: ``{"entities": [...], "event": ...}``.

        Applies nothing. Raise ``WebhookPayloadError`` naming the expression the body defeats.
        """
        raise NotImplementedError

    diagnostics_redact: tuple[str, ...] = ()
    """Keys whose values a diagnostics download replaces with ``**REDACTED**``, besides the hub's
    own (secret fields; names saying password, token, secret, key, …; e-mail addresses)."""

    async def async_get_diagnostics(self, ctx: SetupContext) -> Mapping[str, Any] | None:
        """What a bug report about this entry should show; the hub redacts it before anyone sees it."""
        return None

    async def async_health(self, ctx: SetupContext) -> HealthResult | None:
        """Report the entry's live-connection health; ``None`` when there is no connection."""
        return None

    def tool_pins(self, ctx: SetupContext) -> ToolPins | None:
        """The entry's pinned tool definitions, when its tools wait for review once they change.

        A hub addition: ``hub.integrations.tool_review`` explains it; ``None`` for tools the
        integration writes itself.
        """
        return None

    def event_types(self) -> dict[str, EventTypeDescriptor]:
        """Custom bus events this integration emits, by event type."""
        return {}

    def relation_types(self) -> dict[str, RelationTypeDescriptor]:
        """World-memory predicates (``domain:predicate``) this integration registers."""
        return {}

    # Contributions

    def agents(self) -> dict[str, AgentDescriptor]:
        """Delegatable sub-agent personas, by key."""
        return {}

    def skills(self) -> dict[str, SkillDescriptor]:
        """Skills the agent may load on demand (``use_skill``), by key."""
        return {}

    def surfaces(self) -> dict[str, SurfaceDescriptor]:
        """Chat-mode or dashboard surfaces, by key."""
        return {}

    def entry_surfaces(self, ctx: SetupContext) -> dict[str, SurfaceDescriptor]:
        """The surfaces projected for one entry: ``surfaces()`` unless its settings shape them.

        A hub addition: ``surfaces()`` cannot see the entry, so a layout that follows an entry's
        settings (TradingView's symbol) overrides this. ``ctx`` carries no secrets: a surface is
        stored and shown in plain text.
        """
        return self.surfaces()

    # Capability providers

    def web_search_provider(self, ctx: SetupContext) -> WebSearchProvider | None:
        """Back the generic web-search capability for this entry."""
        return None

    def web_fetch_provider(self, ctx: SetupContext) -> WebFetchProvider | None:
        """Back the generic web-fetch capability for this entry."""
        return None

    def weather_provider(self, ctx: SetupContext) -> WeatherProvider | None:
        """Back the generic weather capability for this entry."""
        return None

    def message_reader_provider(self, ctx: SetupContext) -> MessageReaderProvider | None:
        """Read this entry's inbound messages for the unified inbox."""
        return None

    def message_sender_provider(self, ctx: SetupContext) -> MessageSenderProvider | None:
        """Send messages for this entry; reached only through human approval."""
        return None

    def message_listener_provider(self, ctx: SetupContext) -> MessageListenerProvider | None:
        """Listen for this entry's messages in real time."""
        return None

    def compute_provider(self, ctx: SetupContext) -> ComputeProvider | None:
        """Back the on-demand compute sandbox for this entry."""
        return None
