"""A German person reads the hub's refusals in German, as the hub wrote them for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import expect

from tests.browser.conftest import RunningHub

HUB_DE = Path(__file__).resolve().parents[2] / "hub" / "translations" / "de.json"


async def _refusal(hub: RunningHub, entity_id: int) -> tuple[int, dict[str, Any]]:
    """The same action as the page sends, over REST as the owner: its status and ``error``."""
    headers = {"Authorization": f"Bearer {hub.tokens['access_token']}"}
    body = {"action": "turn_on", "args": {}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{hub.url}/api/entities/{entity_id}/action", json=body, headers=headers
        ) as resp,
    ):
        return resp.status, (await resp.json())["error"]


async def test_a_german_person_sees_a_refused_action_in_german(hub: RunningHub, page: Any) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    flow = await hub.api("POST", "/api/config-flows", {"domain": "helpers"})
    entry = await hub.api(
        "POST",
        f"/api/config-flows/{flow['flow_id']}",
        {"user_input": {"name": "Lampe", "kind": "toggle"}},
    )
    [lamp] = (await hub.api("GET", f"/api/entities?entry_id={entry['entry_id']}"))["entities"]
    await page.reload()
    switch = page.get_by_role("switch", name="Lampe", exact=True)
    await expect(switch).to_have_attribute("aria-checked", "false")

    # The entry is switched off behind the page's back: the hub refuses the action.
    await hub.api("POST", f"/api/config-entries/{entry['entry_id']}/disable")
    status, error = await _refusal(hub, lamp["id"])
    assert 400 <= status < 600, error
    german = json.loads(HUB_DE.read_text("utf-8"))["errors"]
    assert error["key"].removeprefix("errors.") in german, error
    expected = german[error["key"].removeprefix("errors.")]
    for name, value in error["params"].items():
        expected = expected.replace("{" + name + "}", str(value))
    assert error["message"] == expected, error

    await switch.click()
    alert = page.get_by_role("alert").filter(has_text=error["message"])
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text("Lampe")
