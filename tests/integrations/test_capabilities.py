"""Capability contracts as an integration author meets them: providers, surfaces and agents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from hub.integrations.capabilities import (
    CAPABILITIES,
    PROVIDER_HOOKS,
    PROVIDER_PROTOCOLS,
    WEB_SEARCH,
    AgentDescriptor,
    ComputeHandle,
    ComputeProvider,
    ComputeSpec,
    IncomingMessage,
    ListenerControls,
    MessageAttachment,
    MessageListenerProvider,
    MessageReaderProvider,
    MessageSenderProvider,
    SurfaceDescriptor,
    WeatherProvider,
    WebFetchProvider,
    WebSearchProvider,
    WebSearchResult,
)
from hub.integrations.integration import Integration, SetupContext

# Small providers written the way an integration author would write them.


class TavilySearchProvider:
    name = "tavily"

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    async def search(self, query: str, max_results: int = 5) -> list[WebSearchResult]:
        hits = [
            WebSearchResult(title=f"{query} {n}", url=f"https://example.com/{n}", snippet="...")
            for n in range(10)
        ]
        return hits[:max_results]


class ReaderFetch:
    name = "reader"

    async def fetch(self, url: str) -> str:
        return f"text of {url}"


class OpenMeteo:
    name = "open-meteo"

    async def weather(self, latitude: float, longitude: float, hours: int) -> dict[str, Any]:
        return {"latitude": latitude, "longitude": longitude, "hourly": [20.0] * hours}


class ImapReader:
    async def list_messages(self, folder: str | None, limit: int) -> list[IncomingMessage]:
        received = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
        return [IncomingMessage(external_id="1", sender="Ada", received_at=received)][:limit]


class SmtpSender:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(
        self,
        to: str,
        subject: str,
        body: str,
        in_reply_to: str | None = None,
        cc: Sequence[str] = (),
        attachments: Sequence[MessageAttachment] = (),
    ) -> dict[str, Any]:
        self.sent.append({"to": to, "cc": list(cc), "files": [a.filename for a in attachments]})
        return {"message_id": f"<{len(self.sent)}@example.com>"}


class SignalListener:
    async def listen(self, controls: ListenerControls) -> None:
        while controls.should_run():
            await controls.sync_now()


class HetznerCompute:
    id = "hetzner"

    def __init__(self) -> None:
        self.running: set[str] = set()

    async def available(self) -> bool:
        return True

    async def spawn(self, spec: ComputeSpec) -> ComputeHandle:
        self.running.add(spec.name)
        return ComputeHandle(provider_id=self.id, handle=spec.name, details={"ip": "10.0.0.2"})

    async def stop(self, handle: ComputeHandle) -> None:
        self.running.discard(handle.handle)

    async def is_alive(self, handle: ComputeHandle) -> bool:
        return handle.handle in self.running


class Controls:
    """The hub's side of a listener: here, stop after three rounds."""

    def __init__(self) -> None:
        self.rounds = 0
        self.triggered = 0

    def should_run(self) -> bool:
        return self.rounds < 3

    def trigger(self) -> None:
        self.triggered += 1

    async def sync_now(self) -> None:
        self.rounds += 1


IMPLEMENTATIONS: list[tuple[type, Any, str]] = [
    (WebSearchProvider, TavilySearchProvider("key"), "search"),
    (WebFetchProvider, ReaderFetch(), "fetch"),
    (WeatherProvider, OpenMeteo(), "weather"),
    (MessageReaderProvider, ImapReader(), "list_messages"),
    (MessageSenderProvider, SmtpSender(), "send"),
    (MessageListenerProvider, SignalListener(), "listen"),
    (ComputeProvider, HetznerCompute(), "is_alive"),
    (ListenerControls, Controls(), "trigger"),
]


@pytest.mark.parametrize(("protocol", "provider", "method"), IMPLEMENTATIONS)
def test_a_class_with_the_protocols_members_is_a_provider(
    protocol: type, provider: Any, method: str
) -> None:
    assert isinstance(provider, protocol)


@pytest.mark.parametrize(("protocol", "provider", "method"), IMPLEMENTATIONS)
def test_a_class_missing_a_method_is_not_a_provider(
    protocol: type, provider: Any, method: str
) -> None:
    cls = type(provider)
    incomplete = type(f"Incomplete{cls.__name__}", (), dict(vars(cls)))
    delattr(incomplete, method)
    # No __init__ call needed: the protocol check reads the members off the class.
    assert not isinstance(object.__new__(incomplete), protocol)


def test_a_search_provider_without_a_name_is_not_a_provider() -> None:
    class Nameless:
        async def search(self, query: str, max_results: int) -> list[WebSearchResult]:
            return []

    assert not isinstance(Nameless(), WebSearchProvider)


async def test_providers_are_awaited_with_the_specifications_arguments() -> None:
    search: WebSearchProvider = TavilySearchProvider("key")
    hits = await search.search(query="boilers", max_results=3)
    assert [hit.url for hit in hits] == [f"https://example.com/{n}" for n in range(3)]
    assert hits[0].content is None
    assert hits[0].score is None
    fetch: WebFetchProvider = ReaderFetch()
    assert await fetch.fetch(url="https://example.com") == "text of https://example.com"
    weather: WeatherProvider = OpenMeteo()
    assert len((await weather.weather(latitude=52.5, longitude=13.4, hours=6))["hourly"]) == 6
    reader: MessageReaderProvider = ImapReader()
    assert (await reader.list_messages(folder=None, limit=10))[0].sender == "Ada"


async def test_a_sender_is_called_with_every_argument_by_keyword() -> None:
    sender = SmtpSender()
    provider: MessageSenderProvider = sender
    receipt = await provider.send(
        to="ada@example.com",
        subject="Re: boiler",
        body="Fixed.",
        in_reply_to="<1@example.com>",
        cc=["bob@example.com"],
        attachments=[MessageAttachment(filename="invoice.pdf", data=b"%PDF")],
    )
    assert receipt == {"message_id": "<1@example.com>"}
    assert sender.sent == [
        {"to": "ada@example.com", "cc": ["bob@example.com"], "files": ["invoice.pdf"]}
    ]


async def test_a_poll_drain_listener_runs_until_the_controls_say_stop() -> None:
    controls = Controls()
    listener: MessageListenerProvider = SignalListener()
    await listener.listen(controls)
    assert controls.rounds == 3


async def test_a_compute_provider_spawns_checks_and_stops_a_unit() -> None:
    compute: ComputeProvider = HetznerCompute()
    spec = ComputeSpec(name="sandbox-1", image="device-agent:1", env={"PA_TOKEN": "s3cret"})
    assert await compute.available()
    handle = await compute.spawn(spec)
    assert (handle.provider_id, handle.handle) == ("hetzner", "sandbox-1")
    assert await compute.is_alive(handle)
    await compute.stop(handle)
    assert not await compute.is_alive(handle)
    # A handle is stored to stop the unit after a restart, so it survives a JSON round trip.
    assert ComputeHandle.model_validate_json(handle.model_dump_json()) == handle


def test_a_compute_spec_keeps_its_credentials_out_of_repr() -> None:
    spec = ComputeSpec(name="sandbox-1", env={"PA_TOKEN": "s3cret"})
    assert "s3cret" not in repr(spec)
    assert "s3cret" not in str(spec)
    assert spec.env["PA_TOKEN"] == "s3cret"


def test_a_message_time_without_a_zone_is_taken_as_utc() -> None:
    naive = IncomingMessage(external_id="1", received_at=datetime(2025, 3, 1, 9, 30))
    assert naive.received_at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    cet = timezone(timedelta(hours=1))
    aware = IncomingMessage(
        external_id="2",
        sender="Ada",
        sender_address="ada@example.com",
        recipients=("me@example.com",),
        subject="Boiler",
        body="It is cold.",
        thread_id="t1",
        received_at=datetime(2025, 3, 1, 10, 30, tzinfo=cet),
        folder="INBOX",
        from_me=False,
    )
    assert aware.received_at == naive.received_at


# The table the assembler reads.


def test_every_capability_names_an_integration_hook_and_a_protocol() -> None:
    assert set(PROVIDER_HOOKS) == set(PROVIDER_PROTOCOLS) == set(CAPABILITIES)
    assert len(CAPABILITIES) == 7
    assert WEB_SEARCH in CAPABILITIES
    ctx = SetupContext(entry_id="e1", domain="demo")
    plain = Integration()
    for capability, hook in PROVIDER_HOOKS.items():
        assert hook == f"{capability}_provider"
        assert getattr(plain, hook)(ctx) is None  # the base class provides nothing


def test_an_integration_overriding_a_hook_offers_that_capability() -> None:
    class Tavily(Integration):
        def web_search_provider(self, ctx: SetupContext) -> WebSearchProvider | None:
            key = ctx.secrets.get("api_key")
            return TavilySearchProvider(key) if key else None

    ctx = SetupContext(entry_id="e1", domain="tavily", secrets={"api_key": "k"})
    provider = getattr(Tavily(), PROVIDER_HOOKS["web_search"])(ctx)
    assert isinstance(provider, PROVIDER_PROTOCOLS["web_search"])
    assert (
        getattr(Tavily(), PROVIDER_HOOKS["web_search"])(
            SetupContext(entry_id="e2", domain="tavily")
        )
        is None
    )


# Surfaces and agents


def _trading_surface_config() -> dict[str, Any]:
    return {
        "views": [
            {"type": "chat", "title": "Chat"},
            {
                "type": "cards",
                "title": "Chart",
                "cards": [{"type": "iframe", "url": "https://s.tradingview.com/widgetembed/"}],
            },
        ],
        "arrangement": {"type": "split", "ratio": [1, 2]},
    }


def test_tradingview_contributes_a_chat_beside_a_chart() -> None:
    surfaces = {
        "trading": SurfaceDescriptor(
            name="Trading",
            icon="candlestick_chart",
            description="Chat about markets beside a live chart.",
            config=_trading_surface_config(),
        )
    }
    trading = surfaces["trading"]
    assert trading.kind == "chat"
    assert trading.show_in_nav is True
    dumped = trading.model_dump(mode="json")
    assert dumped["kind"] == "chat"
    assert SurfaceDescriptor.model_validate(json.loads(json.dumps(dumped))) == trading


def test_a_surface_of_cards_only_is_a_dashboard() -> None:
    board = SurfaceDescriptor(
        name="Home", config={"views": [{"cards": [{"type": "entities", "entities": []}]}]}
    )
    assert board.kind == "dashboard"
    assert (board.icon, board.description) == (None, None)
    with pytest.raises(ValidationError, match="kind follows from the views"):
        SurfaceDescriptor.model_validate(board.model_dump() | {"kind": "chat"})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, 'config needs "views"'),
        ({"views": []}, 'config needs "views"'),
        ({"views": {"type": "chat"}}, 'config needs "views"'),
        ({"views": ["chat"]}, r"config\['views'\]\[0\] must be a dict"),
        (
            {"views": [{"title": "Empty"}]},
            r"config\['views'\]\[0\] needs a type \(e.g. chat\) or cards",
        ),
        ({"views": [{"type": ""}]}, r"\['type'\] must be a non-empty string"),
        ({"views": [{"type": "cards", "cards": {"type": "iframe"}}]}, "must be a list of cards"),
        (
            {"views": [{"cards": [{"url": "https://x"}]}]},
            r"\['cards'\]\[0\] must be a dict with a type",
        ),
        (
            {"views": [{"type": "chat", "since": datetime.now(UTC)}]},
            "is a datetime, not a JSON value",
        ),
    ],
)
def test_a_surface_config_that_the_web_ui_could_not_draw_is_refused(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SurfaceDescriptor(name="Broken", config=config)


def test_tradingview_contributes_a_markets_analyst_gated_to_its_surface() -> None:
    agents = {
        "analyst": AgentDescriptor(
            name="Markets Analyst",
            description="Reads the chart and the news, and explains the moves.",
            instructions="You are a careful markets analyst. Never give financial advice.",
            requires_surface="tradingview-trading",
        )
    }
    analyst = agents["analyst"]
    assert analyst.requires_surface == "tradingview-trading"
    assert analyst.tool_config == {}  # inherit every tool
    assert analyst.required_tools == ()
    gated = AgentDescriptor(
        name="Researcher",
        description="Looks things up.",
        instructions="Cite sources.",
        required_tools=("web_search", "web_fetch"),
        tool_config={"toolsets": ["web"]},
    )
    assert gated.required_tools == ("web_search", "web_fetch")
    json.dumps(gated.model_dump(mode="json"))


def test_a_misspelt_keyword_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(ValidationError, match="requires_surfaces"):
        AgentDescriptor(name="A", description="", instructions="", requires_surfaces="x")  # type: ignore[call-arg]
