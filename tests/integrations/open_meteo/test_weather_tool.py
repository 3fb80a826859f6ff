"""The agent's generic ``weather`` tool, resolved to an Open-Meteo entry, against both fakes."""

from __future__ import annotations

import pytest

from tests.fakes.open_meteo import FakeOpenMeteo
from tests.integrations.searxng.support import (
    SearchHub,
    StartSearchHub,
    allow_model_requests,
    parsed,
    start_search_hub,
)

__all__ = ["allow_model_requests", "start_search_hub"]  # fixtures, used by name

TOKYO = {"latitude": 35.68, "longitude": 139.69}


@pytest.fixture
async def agent_hub(meteo_url: str, start_search_hub: StartSearchHub) -> SearchHub:
    """A hub whose model is the fake OpenAI server, with Open-Meteo pointed at its fake."""
    return await start_search_hub()


async def add_entry(hub: SearchHub) -> str:
    """An Open-Meteo entry for the household, with coordinates of its own."""
    return await hub.add(
        "open_meteo", {"latitude": 52.52, "longitude": 13.405, "name": "Berlin"}, scope="global"
    )


async def test_the_weather_tool_answers_from_open_meteo(
    agent_hub: SearchHub, fake: FakeOpenMeteo
) -> None:
    await add_entry(agent_hub)
    events, answer = await agent_hub.run_tool("weather", hours=6, **TOKYO)
    assert events[-1]["kind"] == "done"
    forecast = parsed(answer)
    assert forecast["provider"] == "Open-Meteo"
    assert forecast["current"]["temperature"] == fake.temperature_at(35.68, 139.69)
    assert forecast["current"]["description"] == "Partly cloudy"
    assert forecast["units"]["wind_speed"] == "km/h"
    assert len(forecast["hourly"]) == 6
    assert forecast["hourly"][2]["description"] == "Slight rain"
    query = fake.requests[-1]
    assert (query["latitude"], query["longitude"], query["forecast_hours"]) == (
        "35.6800",
        "139.6900",
        "6",
    )
    assert query["timezone"] == "auto", "the place's own time zone, not the home's"


async def test_without_an_entry_no_weather_tool_is_offered(agent_hub: SearchHub) -> None:
    await agent_hub.run_tool("web_fetch", url="http://127.0.0.1:9/")
    assert "weather" not in agent_hub.model.tool_names(0)


async def test_a_rate_limited_service_is_a_tool_error_the_agent_reads(
    agent_hub: SearchHub, fake: FakeOpenMeteo
) -> None:
    await add_entry(agent_hub)
    fake.mode = "rate_limited"
    events, answer = await agent_hub.run_tool("weather", hours=3, **TOKYO)
    assert events[-1]["kind"] == "done"
    error = parsed(answer)["error"]
    assert "Open-Meteo is limiting requests: Minutely API request limit exceeded" in error
