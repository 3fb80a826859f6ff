"""Open-Meteo's entities after syncs against the fake, a moved home, and a service that fails."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from hub.api.state import CONFIG_ENTRIES
from integrations.open_meteo.client import BASE_URL_ENV
from tests.bundled.conftest import BundledHub
from tests.fakes.open_meteo import FakeOpenMeteo

from .conftest import BERLIN, set_home

MUNICH: dict[str, Any] = {**BERLIN, "latitude": 48.137, "longitude": 11.575, "name": "Munich"}


async def add_coordinates(hub: BundledHub, latitude: float, longitude: float, name: str) -> str:
    """An entry with coordinates of its own, made through the flow."""
    form = await hub.start_flow("open_meteo")
    if form["type"] == "menu":
        form = await hub.submit(form["flow_id"], {"next_step_id": "coordinates"})
    user_input = {"latitude": latitude, "longitude": longitude, "name": name}
    done = await hub.submit(form["flow_id"], user_input)
    return str(done["entry_id"])


async def add_home(hub: BundledHub) -> str:
    """An entry that follows the home location."""
    menu = await hub.start_flow("open_meteo")
    done = await hub.submit(menu["flow_id"], {"next_step_id": "use_home"})
    return str(done["entry_id"])


async def sync(hub: BundledHub, entry_id: str) -> dict[str, Any]:
    """``POST /api/config-entries/{id}/sync``: what the sync recorded."""
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    return dict(body["sync"])


async def health(hub: BundledHub, entry_id: str, **kw: Any) -> dict[str, Any]:
    """The entry's health as a person sees it."""
    status, body = await hub.get(f"/api/config-entries/{entry_id}", **kw)
    assert status == 200, body
    return dict(body["health"])


async def by_type(hub: BundledHub, entry_id: str) -> dict[str, dict[str, Any]]:
    """The entry's entities by their type."""
    return {e["entity_type"]: e for e in await hub.entities(entry_id=entry_id)}


async def test_a_sync_makes_six_entities_with_units_and_classes(
    hub: BundledHub, fake: FakeOpenMeteo
) -> None:
    entry_id = await add_coordinates(hub, 48.137, 11.575, "Munich")
    record = await sync(hub, entry_id)
    assert "error" not in record, record
    entities = await by_type(hub, entry_id)
    assert set(entities) == {
        "temperature",
        "humidity",
        "wind_speed",
        "precipitation",
        "condition",
        "forecast",
    }
    temperature = entities["temperature"]
    assert temperature["state"] == fake.temperature_at(48.137, 11.575)
    assert (temperature["unit"], temperature["device_class"], temperature["state_class"]) == (
        "°C",
        "temperature",
        "measurement",
    )
    assert temperature["attributes"]["apparent_temperature"] == round(temperature["state"] - 2.5, 1)
    assert (entities["humidity"]["state"], entities["humidity"]["unit"]) == (71, "%")
    assert (entities["wind_speed"]["state"], entities["wind_speed"]["unit"]) == (12.3, "km/h")
    assert entities["wind_speed"]["attributes"]["wind_direction"] == 240
    assert entities["precipitation"]["unit"] == "mm"
    condition = entities["condition"]
    assert condition["state"] == "partly_cloudy"
    assert condition["attributes"]["weather_code"] == 2
    forecast = entities["forecast"]
    hours = forecast["attributes"]["hours"]
    assert len(hours) == 24
    assert forecast["state"] == max(hour["temperature"] for hour in hours)
    assert forecast["attributes"]["low"] == min(hour["temperature"] for hour in hours)
    assert forecast["attributes"]["condition"] == "rain_slight", "the worst of the day"
    assert hours[2]["condition"] == "rain_slight"
    [query] = fake.requests[-1:]
    assert query["timezone"] == "auto"
    assert query["forecast_hours"] == "24"
    assert "weather_code" in query["current"].split(",")


async def test_the_words_come_in_german(hub: BundledHub) -> None:
    entry_id = await add_coordinates(hub, 48.137, 11.575, "München")
    await sync(hub, entry_id)
    status, body = await hub.get("/api/entity-types", headers={"Accept-Language": "de"})
    assert status == 200, body
    types = {t["key"]: t for t in body["types"] if t["domain"] == "open_meteo"}
    assert types["condition"]["name"] == "Wetterlage"
    assert types["condition"]["states"]["partly_cloudy"] == "Teilweise bewölkt"
    assert types["condition"]["states"]["thunderstorm"] == "Gewitter"
    assert types["temperature"]["unit"] == "°C"
    assert (await health(hub, entry_id, headers={"Accept-Language": "de"}))["detail"] == (
        "Die Vorhersage für München ist aktuell."
    )


async def test_a_moved_home_reaches_the_entry_at_its_next_sync(
    hub: BundledHub, fake: FakeOpenMeteo
) -> None:
    await set_home(hub, BERLIN)
    entry_id = await add_home(hub)
    await sync(hub, entry_id)
    query = fake.requests[-1]
    assert (query["latitude"], query["longitude"]) == ("52.5200", "13.4050")
    assert (query["timezone"], query["elevation"]) == ("Europe/Berlin", "34")
    before = (await by_type(hub, entry_id))["temperature"]["state"]
    assert before == fake.temperature_at(52.52, 13.405)

    await set_home(hub, MUNICH)
    record = await sync(hub, entry_id)
    assert "error" not in record, record
    query = fake.requests[-1]
    assert (query["latitude"], query["longitude"]) == ("48.1370", "11.5750")
    entities = await by_type(hub, entry_id)
    assert entities["temperature"]["state"] == fake.temperature_at(48.137, 11.575) != before
    assert entities["condition"]["attributes"]["latitude"] == 48.14
    assert (await health(hub, entry_id))["detail"] == "Forecast for Munich is up to date."


async def test_a_cleared_home_is_said_and_the_entities_stay(
    hub: BundledHub, fake: FakeOpenMeteo
) -> None:
    await set_home(hub, BERLIN)
    entry_id = await add_home(hub)
    await sync(hub, entry_id)
    asked = len(fake.requests)
    await set_home(hub, None)
    record = await sync(hub, entry_id)
    assert "no home location" in record["skipped"]
    state = await health(hub, entry_id)
    assert state["status"] == "error"
    assert state["detail"] == "No home location is set: an admin sets it in Settings → Home."
    assert len(fake.requests) == asked, "nothing is asked without a place"
    assert len(await hub.entities(entry_id=entry_id)) == 6
    assert hub.app[CONFIG_ENTRIES].require(entry_id).state.value == "loaded"


@pytest.mark.parametrize(
    ("mode", "key", "words"),
    [
        ("down", "health.unreachable", "Open-Meteo cannot be reached"),
        ("rate_limited", "health.rate_limited", "limiting requests"),
        ("garbage", "health.odd_answer", "other than a JSON object"),
        ("bad_shape", "health.odd_answer", "does not match its times"),
    ],
)
async def test_a_failing_service_is_said_and_nothing_breaks(
    hub: BundledHub, fake: FakeOpenMeteo, mode: str, key: str, words: str
) -> None:
    entry_id = await add_coordinates(hub, 50.0, 8.0, "Frankfurt")
    await sync(hub, entry_id)
    good = await by_type(hub, entry_id)
    fake.mode = mode  # type: ignore[assignment]
    asked = len(fake.requests)
    record = await sync(hub, entry_id)
    assert record["error"], record
    assert len(fake.requests) == asked + 1, "one request a cycle, even when it fails"
    state = await health(hub, entry_id)
    assert state["status"] == "degraded"
    assert state["key"] == key
    assert words in state["detail"]
    assert await by_type(hub, entry_id) == good, "the last good values stay"
    fake.mode = "ok"
    record = await sync(hub, entry_id)
    assert "error" not in record, record
    assert (await health(hub, entry_id))["status"] == "ok"


async def test_nothing_listening_is_unreachable(
    hub: BundledHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(BASE_URL_ENV, f"http://127.0.0.1:{port}")
    entry_id = await add_coordinates(hub, 50.0, 8.0, "Frankfurt")
    record = await sync(hub, entry_id)
    assert "cannot reach Open-Meteo" in record["error"]
    assert (await health(hub, entry_id))["key"] == "health.unreachable"
