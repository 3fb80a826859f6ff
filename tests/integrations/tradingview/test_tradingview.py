"""TradingView through the real hub: the flow, the trading surface, the analyst and the card."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.agent.support import AgentHub, say, scripted_model

EMBED = "https://s.tradingview.com/widgetembed/"


async def add(hub: AgentHub, user_input: dict[str, Any], **start: Any) -> dict[str, Any]:
    """Start a TradingView flow and submit its form once."""
    form = await hub.start_flow("tradingview", **start)
    assert form["type"] == "form", form
    return await hub.submit(form["flow_id"], user_input)


async def listed(hub: AgentHub, what: str, **kw: Any) -> dict[str, dict[str, Any]]:
    status, answer = await hub.get(f"/api/{what}", **kw)
    assert status == 200, answer
    return {item["slug"]: item for item in answer[what]}


async def me(hub: AgentHub) -> str:
    status, person = await hub.get("/api/auth/current_user")
    assert status == 200, person
    return str(person["id"])


def chart_of(surface: dict[str, Any]) -> dict[str, Any]:
    """The one iframe card of the trading surface's cards view."""
    chat, cards = surface["config"]["views"]
    assert chat["type"] == "chat"
    [card] = cards["cards"]
    assert card["type"] == "iframe"
    return dict(card)


def query_of(url: str) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == EMBED
    return parse_qs(parts.query)


# The flow


async def test_the_form_offers_the_default_symbol_and_daily_bars(hub: AgentHub) -> None:
    form = await hub.start_flow("tradingview")
    fields = {field["name"]: field for field in form["data_schema"]}
    assert fields["symbol"]["default"] == "NASDAQ:AAPL"
    assert fields["symbol"]["label"] == "Symbol"
    assert fields["interval"]["default"] == "D"
    assert [o["value"] for o in fields["interval"]["options"]] == [
        "1", "5", "15", "60", "240", "D", "W", "M"
    ]  # fmt: skip
    german = await hub.start_flow("tradingview", language="de")
    labels = {f["name"]: f["label"] for f in german["data_schema"]}
    assert labels == {"symbol": "Symbol", "interval": "Kerzengröße"}


async def test_a_symbol_becomes_the_persons_own_entry_spelled_as_tradingview_does(
    hub: AgentHub,
) -> None:
    done = await add(hub, {"symbol": "  nyse:brk.b ", "interval": "W"})
    assert done["type"] == "create_entry", done
    status, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert status == 200, entry
    assert (entry["title"], entry["scope"], entry["state"]) == ("NYSE:BRK.B", "user", "loaded")


async def test_a_symbol_tradingview_could_not_name_is_a_field_error(hub: AgentHub) -> None:
    for bad in ("NASDAQ:AAPL; frame-src *", 'x" onload="', "A:B:C", "€URO", "x" * 80):
        answer = await add(hub, {"symbol": bad, "interval": "D"})
        assert answer["type"] == "form", (bad, answer)
        assert answer["error_keys"] == {"symbol": "invalid_symbol"}, bad
        assert answer["errors"]["symbol"].startswith("Enter a symbol"), answer
    empty = await add(hub, {"symbol": "", "interval": "D"})
    assert empty["error_keys"] == {"symbol": "required"}
    odd = await add(hub, {"symbol": "FX:EURUSD", "interval": "2h"})
    assert odd["error_keys"] == {"interval": "invalid_option"}
    assert odd["errors"] == {"interval": "Choose one of the bar sizes."}
    assert await listed(hub, "surfaces") == {}, "no entry, no surface"


async def test_a_second_entry_in_the_same_scope_is_refused(hub: AgentHub) -> None:
    await add(hub, {"symbol": "NASDAQ:AAPL", "interval": "D"})
    again = await hub.start_flow("tradingview")
    assert again["type"] == "abort"
    assert again["reason"] == "already_configured"
    household = await add(hub, {"symbol": "FX:EURUSD", "interval": "D"}, scope="global")
    assert household["type"] == "create_entry", "the household's own is another scope"


# The surface and the agent


async def test_the_entry_projects_a_chat_beside_its_chart_and_the_analyst_for_its_owner(
    hub: AgentHub,
) -> None:
    owner = await me(hub)
    done = await add(hub, {"symbol": "BINANCE:BTCUSDT", "interval": "60"})
    surfaces = await listed(hub, "surfaces")
    trading = surfaces[f"tradingview-trading-{owner}"]
    assert (trading["name"], trading["kind"], trading["icon"]) == (
        "Trading",
        "chat",
        "candlestick_chart",
    )
    assert (trading["owner"], trading["source_domain"], trading["read_only"]) == (
        owner,
        "tradingview",
        True,
    )
    assert trading["config"]["arrangement"] == {"type": "split", "views": [0, 1]}
    query = query_of(chart_of(trading)["url"])
    assert query["symbol"] == ["BINANCE:BTCUSDT"]
    assert query["interval"] == ["60"]
    agents = await listed(hub, "agents")
    analyst = agents[f"tradingview-analyst-{owner}"]
    assert (analyst["name"], analyst["requires_surface"], analyst["owner"]) == (
        "Markets Analyst",
        "tradingview-trading",
        owner,
    )

    # Another person sees neither.
    other = await hub.another_person("bob", "bob-passphrase-1")
    assert await listed(hub, "surfaces", headers=other) == {}
    assert await listed(hub, "agents", headers=other) == {}

    # Reconfigured, the chart follows; removed, both are withdrawn.
    status, flow = await hub.post(f"/api/config-entries/{done['entry_id']}/reconfigure")
    assert status == 200, flow
    assert flow["type"] == "form", flow
    changed = await hub.submit(flow["flow_id"], {"symbol": "FX:EURUSD", "interval": "D"})
    assert changed["type"] in ("create_entry", "abort"), changed
    trading = (await listed(hub, "surfaces"))[f"tradingview-trading-{owner}"]
    assert query_of(chart_of(trading)["url"])["symbol"] == ["FX:EURUSD"]
    resp = await hub.client.delete(f"/api/config-entries/{done['entry_id']}")
    assert resp.status == 200, await resp.text()
    assert await listed(hub, "surfaces") == {}
    assert await listed(hub, "agents") == {}


async def test_the_analyst_is_offered_only_in_the_trading_surface(hub: AgentHub) -> None:
    owner = await me(hub)
    await add(hub, {"symbol": "NASDAQ:AAPL", "interval": "D"})
    offered: list[str] = []

    def brain(messages: list[Any], info: Any) -> Any:
        tool = next((t for t in info.function_tools if t.name == "delegate_to"), None)
        offered.append(tool.description or "" if tool is not None else "")
        return say("ok")

    hub.service.model_factory = lambda endpoint: scripted_model(brain)
    await hub.chat(await hub.conversation(), "anything on markets?")
    await hub.chat(await hub.conversation(surface=f"tradingview-trading-{owner}"), "and here?")
    outside, inside = offered
    assert "Markets Analyst" not in outside
    assert f"tradingview-analyst-{owner}: Markets Analyst" in inside


# The card template


async def test_the_chart_card_is_in_the_card_catalog(hub: AgentHub) -> None:
    status, answer = await hub.get("/api/cards")
    assert status == 200, answer
    [card] = [c for c in answer["cards"] if c["domain"] == "tradingview"]
    assert (card["key"], card["name"], card["icon"]) == (
        "chart",
        "TradingView chart",
        "candlestick_chart",
    )
    assert card["card"]["type"] == "iframe"
    assert query_of(card["card"]["url"])["symbol"] == ["NASDAQ:AAPL"]
