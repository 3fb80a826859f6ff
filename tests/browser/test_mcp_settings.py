"""Settings → MCP clients in a real browser: an admin raises the clients' tier and switches them off."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import RunningHub


async def test_an_admin_sets_the_tier_and_switches_the_server_off(
    hub: RunningHub, page: Any
) -> None:
    await page.goto(hub.url + "/#/settings/mcp")
    form = page.get_by_role("form", name="MCP clients")
    await expect(page.locator("#mcp-state")).to_have_text("The MCP server is on.")
    await expect(page.locator("#mcp-endpoint")).to_have_text(hub.url + "/api/mcp")
    await expect(form.get_by_label("Data tier of MCP clients")).to_have_value("unregulated")

    await form.get_by_label("Data tier of MCP clients").select_option("internal")
    await form.get_by_label("Let MCP clients in").uncheck()
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("MCP settings saved")).to_be_visible()
    await expect(page.locator("#mcp-state")).to_have_text(
        "The MCP server is off: clients are refused."
    )
    settings = await hub.api("GET", "/api/mcp/settings")
    assert (settings["tier"], settings["enabled"]) == ("internal", False)

    await page.reload()
    form = page.get_by_role("form", name="MCP clients")
    await expect(form.get_by_label("Data tier of MCP clients")).to_have_value("internal")
    await expect(form.get_by_label("Let MCP clients in")).not_to_be_checked()


async def test_the_section_speaks_german(hub: RunningHub, page: Any) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.goto(hub.url + "/#/settings/mcp")
    await page.reload()
    form = page.get_by_role("form", name="MCP-Clients")
    await expect(form.get_by_label("Datenstufe der MCP-Clients")).to_be_visible()
    await expect(page.locator("#mcp-state")).to_have_text("Der MCP-Server ist an.")
