"""A personal-by-default integration (a mailbox) in the catalog: yours, or the household's on request."""

from __future__ import annotations

import json

from playwright.async_api import Page, Request, expect

from tests.browser.conftest import RunningHub


def starts_a_flow(request: Request) -> bool:
    """The request that starts a config flow."""
    return request.method == "POST" and request.url.endswith("/api/config-flows")


async def test_an_admin_adds_a_mailbox_as_their_own_or_for_the_household(
    page: Page, hub: RunningHub
) -> None:
    await page.goto(hub.url + "/#/integrations")
    card = page.get_by_role("article", name="Email")
    await expect(card).to_be_visible()

    async with page.expect_request(starts_a_flow) as started:
        await card.get_by_role("button", name="Add Email", exact=True).click()
    assert json.loads((await started.value).post_data or "{}")["scope"] == "user"
    wizard = page.get_by_role("dialog", name="Add a mailbox")
    await expect(wizard.get_by_label("IMAP server")).to_be_visible()
    await wizard.get_by_role("button", name="Cancel").click()
    await expect(wizard).to_have_count(0)

    async with page.expect_request(starts_a_flow) as started:
        await card.get_by_role("button", name="Add Email for the household").click()
    assert json.loads((await started.value).post_data or "{}")["scope"] == "global"
    await expect(page.get_by_role("dialog", name="Add a mailbox")).to_be_visible()


async def test_an_integration_without_a_default_offers_one_add(page: Page, hub: RunningHub) -> None:
    await page.goto(hub.url + "/#/integrations")
    card = page.get_by_role("article", name="Helpers")
    async with page.expect_request(starts_a_flow) as started:
        await card.get_by_role("button", name="Add Helpers").click()
    assert json.loads((await started.value).post_data or "{}")["scope"] == "global"
    await expect(card.get_by_role("button", name="Add Helpers for the household")).to_have_count(0)
