"""Adding Open-Meteo: the home location or coordinates of its own, and every error the form shows."""

from __future__ import annotations

from typing import Any

from hub.api.state import CONFIG_ENTRIES
from tests.bundled.conftest import BundledHub

from .conftest import BERLIN, set_home


def fields(form: dict[str, Any]) -> list[str]:
    """The names of a form's fields, notes included."""
    return [field["name"] for field in form["data_schema"]]


async def test_without_a_home_the_form_says_so_and_takes_coordinates(hub: BundledHub) -> None:
    form = await hub.start_flow("open_meteo")
    assert form["type"] == "form"
    assert form["step_id"] == "coordinates"
    assert fields(form) == ["no_home", "latitude", "longitude", "name"]
    note = form["data_schema"][0]
    assert note["type"] == "note"
    assert "no home location yet" in note["label"]
    done = await hub.submit(form["flow_id"], {"latitude": 48.137, "longitude": 11.575})
    assert done["type"] == "create_entry", done
    assert done["title"] == "48.1370, 11.5750"
    entry = hub.app[CONFIG_ENTRIES].require(done["entry_id"])
    assert dict(entry.data) == {"location": "coordinates", "latitude": 48.137, "longitude": 11.575}


async def test_a_named_place_is_titled_by_its_name(hub: BundledHub) -> None:
    form = await hub.start_flow("open_meteo")
    user_input = {"latitude": "-33,87", "longitude": "151.21", "name": "  Sydney office "}
    done = await hub.submit(form["flow_id"], user_input)
    assert done["title"] == "Sydney office"
    entry = hub.app[CONFIG_ENTRIES].require(done["entry_id"])
    assert entry.data["latitude"] == -33.87
    assert entry.data["name"] == "Sydney office"


async def test_coordinates_out_of_range_are_field_errors(hub: BundledHub) -> None:
    form = await hub.start_flow("open_meteo")
    flow_id = form["flow_id"]
    form = await hub.submit(flow_id, {"latitude": 90.01, "longitude": -180.5, "name": "x" * 101})
    assert form["error_keys"] == {
        "latitude": "invalid_latitude",
        "longitude": "invalid_longitude",
        "name": "invalid_name",
    }
    assert form["errors"]["latitude"] == "Enter a latitude from -90 to 90."
    for bad in ("north", True, None, "inf", "nan"):
        form = await hub.submit(flow_id, {"latitude": bad, "longitude": 10})
        assert form["error_keys"] == {"latitude": "invalid_latitude"}, bad
    done = await hub.submit(flow_id, {"latitude": -90, "longitude": 180})
    assert done["type"] == "create_entry"


async def test_the_form_speaks_german(hub: BundledHub) -> None:
    form = await hub.start_flow("open_meteo", language="de")
    assert form["title"] == "Koordinaten"
    assert [field["label"] for field in form["data_schema"][1:3]] == ["Breitengrad", "Längengrad"]
    form = await hub.submit(form["flow_id"], {"latitude": 100, "longitude": 0})
    assert form["errors"]["latitude"] == "Gib einen Breitengrad von -90 bis 90 ein."


async def test_with_a_home_the_menu_offers_it_and_the_entry_follows_it(hub: BundledHub) -> None:
    await set_home(hub, BERLIN)
    menu = await hub.start_flow("open_meteo")
    assert menu["type"] == "menu"
    assert [option["id"] for option in menu["menu_options"]] == ["use_home", "coordinates"]
    assert "Flat in Berlin" in menu["description"]
    done = await hub.submit(menu["flow_id"], {"next_step_id": "use_home"})
    assert done["type"] == "create_entry", done
    assert done["title"] == "Flat in Berlin"
    entry = hub.app[CONFIG_ENTRIES].require(done["entry_id"])
    assert dict(entry.data) == {"location": "home"}, "the place is read at each sync, not copied"


async def test_with_a_home_other_coordinates_are_still_possible(hub: BundledHub) -> None:
    await set_home(hub, BERLIN)
    menu = await hub.start_flow("open_meteo")
    form = await hub.submit(menu["flow_id"], {"next_step_id": "coordinates"})
    assert form["step_id"] == "coordinates"
    assert fields(form) == ["latitude", "longitude", "name"], "no note: there is a home"
    done = await hub.submit(
        form["flow_id"], {"latitude": 40.4, "longitude": -3.7, "name": "Madrid"}
    )
    assert done["title"] == "Madrid"


async def test_a_home_cleared_while_choosing_is_a_form_error(hub: BundledHub) -> None:
    await set_home(hub, BERLIN)
    menu = await hub.start_flow("open_meteo")
    await set_home(hub, None)
    form = await hub.submit(menu["flow_id"], {"next_step_id": "use_home"})
    assert form["type"] == "form"
    assert form["step_id"] == "coordinates"
    assert form["error_keys"] == {"base": "no_home_location"}
    assert "no home location any more" in form["errors"]["base"]
    done = await hub.submit(form["flow_id"], {"latitude": 1.5, "longitude": 2.5})
    assert done["type"] == "create_entry"


async def test_a_member_adds_an_entry_of_their_own_using_the_home(hub: BundledHub) -> None:
    await set_home(hub, BERLIN)
    member = await hub.another_person("mia", "a long member passphrase")
    status, menu = await hub.post("/api/config-flows", {"domain": "open_meteo"}, headers=member)
    assert status == 200, menu
    assert menu["type"] == "menu"
    done = await hub.submit(menu["flow_id"], {"next_step_id": "use_home"}, headers=member)
    entry = hub.app[CONFIG_ENTRIES].require(done["entry_id"])
    assert entry.scope == "user"


async def test_an_entry_is_moved_to_the_home_by_reconfiguring_it(hub: BundledHub) -> None:
    form = await hub.start_flow("open_meteo")
    done = await hub.submit(form["flow_id"], {"latitude": 1.5, "longitude": 2.5, "name": "Away"})
    entry_id = done["entry_id"]
    await set_home(hub, BERLIN)
    status, menu = await hub.post(f"/api/config-entries/{entry_id}/reconfigure")
    assert status == 200, menu
    assert menu["type"] == "menu"
    done = await hub.submit(menu["flow_id"], {"next_step_id": "use_home"})
    assert done["type"] == "create_entry", done
    entry = hub.app[CONFIG_ENTRIES].require(entry_id)
    assert dict(entry.data) == {"location": "home"}
    assert len(hub.app[CONFIG_ENTRIES].entries("open_meteo")) == 1
