"""Capability contracts: provider protocols, the values they exchange, surface, agent and skill descriptors.

A provider is duck-typed: an integration returns any object with the right members from the
matching hook (``web_search_provider``, ...), and ``isinstance(obj, WebSearchProvider)`` holds.
Every provider method that talks to the network or a machine is a coroutine; the hub awaits it.
``isinstance`` checks that members exist, not that they are coroutines or take these arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal, Protocol, get_args, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from hub.integrations.entities import Text, check_json

Capability = Literal[
    "web_search",
    "web_fetch",
    "weather",
    "compute",
    "message_reader",
    "message_sender",
    "message_listener",
]
"""A key an integration lists under ``provides`` in its manifest."""

CAPABILITIES: Final[tuple[Capability, ...]] = get_args(Capability)

WEB_SEARCH: Final = "web_search"
WEB_FETCH: Final = "web_fetch"
WEATHER: Final = "weather"
COMPUTE: Final = "compute"
MESSAGE_READER: Final = "message_reader"
MESSAGE_SENDER: Final = "message_sender"
MESSAGE_LISTENER: Final = "message_listener"

SurfaceKind = Literal["chat", "dashboard"]


class _Contract(BaseModel):
    # extra="forbid": a misspelt keyword fails loudly instead of silently dropping data.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# Values exchanged with providers


class WebSearchResult(_Contract):
    """One search hit: ``snippet`` is the provider's summary, ``content`` the page text when it has it."""

    title: str
    url: Text
    snippet: str = ""
    content: str | None = None
    score: float | None = None


class AttachmentInfo(_Contract):
    """What an inbound message carried beside its text: its name, type and size, never its bytes."""

    filename: str = ""
    content_type: str = "application/octet-stream"
    size: int = Field(default=0, ge=0)
    """Bytes, as the channel reported or as far as the reader could tell."""


class IncomingMessage(_Contract):
    """A channel-neutral inbound message (mail, chat, SMS) as a reader provider returns it.

    ``received_at`` is always timezone-aware: a naive time is taken to be UTC, because the inbox
    sorts messages from every channel on one clock. ``attachments`` (a hub addition to the
    specification's fields, optional) lists what came with the message, as metadata only.
    """

    external_id: Text
    sender: str = ""
    sender_address: str = ""
    recipients: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    thread_id: str | None = None
    received_at: datetime
    folder: str | None = None
    from_me: bool = False
    attachments: tuple[AttachmentInfo, ...] = ()

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class MessageAttachment(_Contract):
    """A file sent with a message: its name, media type and bytes."""

    filename: Text
    content_type: Text = "application/octet-stream"
    data: bytes = Field(repr=False)


class ComputeSpec(_Contract):
    """What a compute provider should start: a unit that runs the device agent.

    ``env`` carries the agent's ``PA_*`` variables, its credentials among them: it is left out of
    ``repr`` so a logged spec does not leak them, and it must never be logged or stored.
    """

    name: Text
    image: str | None = None
    env: dict[str, str] = Field(default_factory=dict, repr=False)
    size: str | None = None
    region: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class ComputeHandle(_Contract):
    """What a compute provider started: its provider ``provider_id`` and the ``handle`` it knows it by.

    A handle is stored so that a unit can be stopped after a restart, hence plain JSON only.
    """

    provider_id: Text
    handle: Text
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("details", mode="before")
    @classmethod
    def _json_details(cls, value: Any) -> Any:
        return check_json(value, "details") if isinstance(value, Mapping) else value


# Provider protocols. Members are declared without defaults so that an implementation with or
# without its own defaults both satisfy them; the hub always passes every argument by keyword.


@runtime_checkable
class WebSearchProvider(Protocol):
    """Backs the generic web-search tool."""

    @property
    def name(self) -> str:
        """The provider's name, shown with its results."""
        ...

    async def search(self, query: str, max_results: int) -> list[WebSearchResult]:
        """Search the web for ``query`` and return at most ``max_results`` hits."""
        ...


@runtime_checkable
class WebFetchProvider(Protocol):
    """Backs the generic web-fetch tool."""

    @property
    def name(self) -> str:
        """The provider's name."""
        ...

    async def fetch(self, url: str) -> str:
        """Return the readable text of the page at ``url``."""
        ...


@runtime_checkable
class WeatherProvider(Protocol):
    """Backs the generic weather tool."""

    @property
    def name(self) -> str:
        """The provider's name."""
        ...

    async def weather(self, latitude: float, longitude: float, hours: int) -> dict[str, Any]:
        """Return the forecast for the next ``hours`` hours at a place, as JSON."""
        ...


@runtime_checkable
class MessageReaderProvider(Protocol):
    """Reads an account's messages for the unified inbox.

    The hub asks again while a call returns ``limit`` messages. A reader whose reads consume its
    service's queue (a bridge's receive) may also offer ``async acknowledge()``, a hub addition:
    the hub calls it once the batch the last ``list_messages`` returned is stored, so the reader
    forgets a batch only then, and offers it again after a failed store.
    """

    async def list_messages(self, folder: str | None, limit: int) -> list[IncomingMessage]:
        """Return up to ``limit`` recent messages from ``folder`` (``None``: the channel's inbox)."""
        ...


@runtime_checkable
class MessageSenderProvider(Protocol):
    """Sends a message; the hub reaches it only after a person approved the draft.

    ``to`` is one recipient (an address, a number); more go in ``cc``. A channel without
    subjects ignores ``subject``.
    """

    async def send(
        self,
        to: str,
        subject: str,
        body: str,
        in_reply_to: str | None,
        cc: Sequence[str],
        attachments: Sequence[MessageAttachment],
    ) -> dict[str, Any]:
        """Send the message and return what the channel reported (e.g. the new message's id)."""
        ...


@runtime_checkable
class ListenerControls(Protocol):
    """What the hub hands a listener: when to stop, and how to ask for a sync."""

    def should_run(self) -> bool:
        """False once the listener must return (the entry was unloaded or the hub is stopping)."""
        ...

    def trigger(self) -> None:
        """Ask for a debounced re-pull soon; cheap to call on every sign of activity."""
        ...

    async def sync_now(self) -> None:
        """Pull now and wait for it: for channels whose every read drains the queue."""
        ...


@runtime_checkable
class MessageListenerProvider(Protocol):
    """Watches an account in real time (IMAP IDLE, long-poll, a timer)."""

    async def listen(self, controls: ListenerControls) -> None:
        """Loop until ``controls.should_run()`` is false, triggering syncs on activity."""
        ...


@runtime_checkable
class ComputeProvider(Protocol):
    """Starts and stops on-demand compute units that run the device agent."""

    @property
    def id(self) -> str:
        """The provider's id, recorded in every ``ComputeHandle`` it returns."""
        ...

    async def available(self) -> bool:
        """Whether the provider can start a unit now (credentials valid, quota left)."""
        ...

    async def spawn(self, spec: ComputeSpec) -> ComputeHandle:
        """Start a unit as ``spec`` describes."""
        ...

    async def stop(self, handle: ComputeHandle) -> None:
        """Stop the unit; stopping one already gone is not an error."""
        ...

    async def is_alive(self, handle: ComputeHandle) -> bool:
        """Whether the unit is still running."""
        ...


PROVIDER_HOOKS: Final[Mapping[Capability, str]] = MappingProxyType(
    {capability: f"{capability}_provider" for capability in CAPABILITIES}
)
"""The ``Integration`` method that returns each capability's provider."""

PROVIDER_PROTOCOLS: Final[Mapping[Capability, type]] = MappingProxyType(
    {
        "web_search": WebSearchProvider,
        "web_fetch": WebFetchProvider,
        "weather": WeatherProvider,
        "compute": ComputeProvider,
        "message_reader": MessageReaderProvider,
        "message_sender": MessageSenderProvider,
        "message_listener": MessageListenerProvider,
    }
)
"""The protocol each capability's provider satisfies, so the hub can refuse a wrong object."""


# Contributions


class SurfaceDescriptor(_Contract):
    """A contributed chat mode or dashboard: a Lovelace-style ``config`` of ``views``.

    Each view is a dict with a ``type`` (``"chat"``, ``"cards"``, ...) or a list of ``cards``,
    each card a dict with a ``type``. ``kind`` follows from the views: any chat view makes a chat mode.
    """

    name: Text
    config: dict[str, Any]
    icon: str | None = None
    description: str | None = None
    show_in_nav: bool = True

    @model_validator(mode="before")
    @classmethod
    def _derived_kind(cls, data: Any) -> Any:
        # A dumped surface carries kind; accept it back, so a dump round-trips, when it agrees.
        if isinstance(data, dict) and "kind" in data:
            data = dict(data)
            claimed = data.pop("kind")
            config = data.get("config")
            if isinstance(config, Mapping) and claimed != _kind_of(config):
                raise ValueError(f"kind follows from the views ({_kind_of(config)!r} here)")
        return data

    @field_validator("config", mode="before")
    @classmethod
    def _lovelace(cls, config: Any) -> Any:
        if not isinstance(config, Mapping):
            return config  # pydantic reports "not a dict" in its own words
        # Stored as JSON and rendered by the web UI, so anything else would fail far from here.
        config = check_json(config, "config")
        views = config.get("views")
        if not isinstance(views, list) or not views:
            raise ValueError('config needs "views": a non-empty list of views')
        for index, view in enumerate(views):
            where = f"config['views'][{index}]"
            if not isinstance(view, dict):
                raise ValueError(f"{where} must be a dict, not {type(view).__name__}")
            kind = view.get("type")
            if kind is not None and (not isinstance(kind, str) or not kind):
                raise ValueError(f"{where}['type'] must be a non-empty string")
            cards = view.get("cards")
            if kind is None and cards is None:
                raise ValueError(f"{where} needs a type (e.g. chat) or cards")
            if cards is not None:
                _check_cards(cards, f"{where}['cards']")
        return config

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented idiom
    @property
    def kind(self) -> SurfaceKind:
        """``"chat"`` when a view is a chat view, else ``"dashboard"``."""
        return _kind_of(self.config)


def _kind_of(config: Mapping[str, Any]) -> SurfaceKind:
    views = config.get("views")
    if isinstance(views, list) and any(
        isinstance(view, dict) and view.get("type") == "chat" for view in views
    ):
        return "chat"
    return "dashboard"


def _check_cards(cards: Any, where: str) -> None:
    if not isinstance(cards, list):
        raise ValueError(f"{where} must be a list of cards")
    for index, card in enumerate(cards):
        if not isinstance(card, dict) or not isinstance(card.get("type"), str) or not card["type"]:
            raise ValueError(f"{where}[{index}] must be a dict with a type (e.g. iframe)")


class AgentDescriptor(_Contract):
    """A delegatable sub-agent persona an integration contributes."""

    name: Text
    description: str
    instructions: str
    tool_config: dict[str, Any] = Field(default_factory=dict)
    """An overlay onto the parent run's config; empty inherits every tool."""
    required_tools: tuple[str, ...] = ()
    """Capability keys that must be available for the agent to be offered."""
    requires_surface: str | None = None
    """The surface slug (``<domain>-<key>``) the agent is limited to; ``None`` for any."""

    @field_validator("tool_config", mode="before")
    @classmethod
    def _json_tool_config(cls, value: Any) -> Any:
        return check_json(value, "tool_config") if isinstance(value, Mapping) else value


MAX_SKILL_DESCRIPTION: Final = 500
MAX_SKILL_INSTRUCTIONS: Final = 20_000


class SkillDescriptor(_Contract):
    """A skill an integration contributes: what the agent reads only when it decides to use it."""

    name: Text
    description: str = Field(max_length=MAX_SKILL_DESCRIPTION)
    """One line the agent sees in every run the skill is offered in."""
    instructions: str = Field(max_length=MAX_SKILL_INSTRUCTIONS)
    """Markdown the agent reads through ``use_skill``, never before."""
    required_tools: tuple[str, ...] = ()
    """Tool names or capability keys that must be in a run for the skill to be offered."""
