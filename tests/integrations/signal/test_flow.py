"""The Signal flow through the real hub: number → QR code → linked, and every way it can go wrong."""

from __future__ import annotations

import base64
from typing import Any

from tests.bundled.conftest import BundledHub, translations
from tests.fakes.signal import FakeSignal

from .conftest import NUMBER, Bridge, link


async def start(hub: BundledHub, **body: str) -> str:
    form = await hub.start_flow("signal", **body)
    assert [f["name"] for f in form["data_schema"]] == ["number", "base_url"]
    return str(form["flow_id"])


def png(step: dict[str, Any]) -> bytes:
    [note] = step["data_schema"]
    assert note["type"] == "note"
    image: str = note["image"]
    assert image.startswith("data:image/png;base64,")
    return base64.b64decode(image.removeprefix("data:image/png;base64,"))


async def test_a_number_is_linked_by_scanning_the_code(hub: BundledHub, bridge: Bridge) -> None:
    flow_id = await start(hub)
    step = await hub.submit(flow_id, {"number": "+49 151 12345678", "base_url": bridge.url})
    assert step["step_id"] == "link"
    assert png(step).startswith(b"\x89PNG\r\n\x1a\n")
    assert step["data_schema"][0]["label"].startswith("Scan this code in Signal")
    assert bridge.fake.scan(NUMBER)
    done = await hub.submit(flow_id, {})
    assert done["type"] == "create_entry", done
    assert done["title"] == NUMBER
    _, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert entry["data"] == {"number": NUMBER, "base_url": bridge.url}
    assert entry["state"] == "loaded"


async def test_not_scanned_yet_shows_a_fresh_code_and_says_so(
    hub: BundledHub, bridge: Bridge
) -> None:
    flow_id = await start(hub)
    first = await hub.submit(flow_id, {"number": NUMBER, "base_url": bridge.url})
    waiting = await hub.submit(flow_id, {})
    assert waiting["step_id"] == "link"
    assert waiting["error_keys"] == {"base": "not_linked"}
    assert waiting["errors"] == {"base": "The hub is not linked to this number yet."}
    assert png(waiting) != png(first)  # a fresh code each time
    assert bridge.fake.qr_requests == 2


async def test_an_expired_code_cannot_link_and_the_next_one_can(
    hub: BundledHub, bridge: Bridge
) -> None:
    flow_id = await start(hub)
    await hub.submit(flow_id, {"number": NUMBER, "base_url": bridge.url})
    bridge.fake.expire_codes()
    assert not bridge.fake.scan(NUMBER)  # the phone says the code expired
    retry = await hub.submit(flow_id, {})
    assert retry["error_keys"] == {"base": "not_linked"}
    assert "expired" in retry["data_schema"][0]["label"]
    assert bridge.fake.scan(NUMBER)  # the fresh code works
    done = await hub.submit(flow_id, {})
    assert done["type"] == "create_entry", done


async def test_a_number_already_linked_on_the_bridge_is_added_at_once(
    hub: BundledHub, bridge: Bridge
) -> None:
    bridge.fake.accounts.append(NUMBER)
    flow_id = await start(hub)
    done = await hub.submit(flow_id, {"number": NUMBER, "base_url": bridge.url})
    assert done["type"] == "create_entry", done
    assert bridge.fake.qr_requests == 0  # no code to scan


async def test_bad_numbers_and_addresses_are_form_errors(hub: BundledHub, bridge: Bridge) -> None:
    flow_id = await start(hub)
    for number in ("0151 1234", "", "+49abc", "+"):
        answer = await hub.submit(flow_id, {"number": number, "base_url": bridge.url})
        assert answer["error_keys"] == {"number": "invalid_number"}, number
    answer = await hub.submit(flow_id, {"number": NUMBER, "base_url": "ftp://bridge"})
    assert answer["error_keys"] == {"base_url": "invalid_url"}
    assert answer["errors"]["base_url"].startswith("Enter the bridge's address")
    assert bridge.fake.requests == []


async def test_a_bridge_that_is_down_or_answers_garbage_is_unreachable(
    hub: BundledHub, bridge: Bridge
) -> None:
    flow_id = await start(hub)
    unused = "http://127.0.0.1:9"  # nothing listens on the discard port
    for fault in ("refused", "down", "garbage"):
        bridge.fake.down = fault == "down"
        bridge.fake.garbage = fault == "garbage"
        url = unused if fault == "refused" else bridge.url
        answer = await hub.submit(flow_id, {"number": NUMBER, "base_url": url})
        assert answer["step_id"] == "user", fault
        assert answer["error_keys"] == {"base": "unreachable"}, fault
        assert "did not answer" in answer["errors"]["base"]


async def test_a_bridge_lost_while_linking_says_so_and_recovers(
    hub: BundledHub, bridge: Bridge
) -> None:
    flow_id = await start(hub)
    await hub.submit(flow_id, {"number": NUMBER, "base_url": bridge.url})
    bridge.fake.down = True
    lost = await hub.submit(flow_id, {})
    assert lost["step_id"] == "link"
    assert lost["error_keys"] == {"base": "unreachable"}
    assert lost["data_schema"][0]["image"] is None
    bridge.fake.down = False
    again = await hub.submit(flow_id, {})
    assert again["error_keys"] == {"base": "not_linked"}
    assert bridge.fake.scan(NUMBER)
    assert (await hub.submit(flow_id, {}))["type"] == "create_entry"


async def test_the_flow_speaks_german(hub: BundledHub, bridge: Bridge) -> None:
    form = await hub.start_flow("signal", language="de")
    labels = [f["label"] for f in form["data_schema"]]
    assert labels == ["Telefonnummer", "Adresse der Brücke"]
    step = await hub.submit(
        form["flow_id"],
        {"number": NUMBER, "base_url": bridge.url},
        headers={"Accept-Language": "de"},
    )
    assert step["data_schema"][0]["label"].startswith("Scanne diesen Code")


async def test_two_numbers_make_two_entries(hub: BundledHub, bridge: Bridge) -> None:
    first = await link(hub, bridge, NUMBER)
    second = await link(hub, bridge, "+4915199999999")
    assert first != second


def test_every_english_key_has_a_german_one() -> None:
    from tests.bundled.conftest import flat_keys

    assert flat_keys(translations("signal", "de")) == flat_keys(translations("signal", "en"))


def test_the_fake_serves_a_real_png() -> None:
    from tests.fakes.signal import qr_png

    data = qr_png("token")
    assert data.startswith(b"\x89PNG")
    assert len(data) > 100
    assert FakeSignal().qr_requests == 0
