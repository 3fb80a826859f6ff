"""TradingView in a real browser: the wizard, then the trading surface's chat beside its chart.

There is no internet here, so TradingView's embed is answered by a route in the browser; the
hub's content security policy still decides whether the frame may load at all.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import RunningHub

CHART = (
    "https://s.tradingview.com/widgetembed/"
    "?symbol=NASDAQ%3AMSFT&interval=D&theme=light&style=1&locale=en"
)


def _errors(page: Any) -> list[str]:
    """Uncaught exceptions of the page from now on (a refused frame is expected, once)."""
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    return errors


async def test_the_trading_surface_shows_the_chat_beside_the_chart(
    page: Any, hub: RunningHub
) -> None:
    errors = _errors(page)
    embeds: list[str] = []

    async def tradingview(route: Any) -> None:
        embeds.append(route.request.url)
        await route.fulfill(content_type="text/html", body="<p>Chart of MSFT</p>")

    await page.route("https://s.tradingview.com/**", tradingview)
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name="Add TradingView", exact=True).click()
    wizard = page.get_by_role("dialog", name="Chart a symbol")
    symbol = wizard.get_by_label("Symbol")
    await expect(symbol).to_have_value("NASDAQ:AAPL")
    await symbol.fill("nasdaq:msft")
    await wizard.get_by_role("button", name="Submit").click()
    await expect(wizard).to_have_count(0)

    await page.get_by_role("link", name="Dashboards").click()
    await page.get_by_role("link", name="Trading", exact=True).click()
    chat = page.get_by_role("region", name="Markets Analyst")
    chart = page.get_by_role("tabpanel", name="Chart")
    await expect(chat.get_by_role("textbox", name="Message")).to_be_visible()
    # This page loaded before the entry existed: its policy refuses the new frame until a reload.
    reload = chart.get_by_role("button", name="Reload")
    await expect(chart.get_by_role("status")).to_contain_text("reload to show it")
    assert embeds == [], "the refused frame never reached TradingView"
    await reload.click()

    frame = chart.locator("iframe")
    await expect(frame).to_have_attribute("src", CHART)
    await expect(frame).to_have_attribute("title", "NASDAQ:MSFT")
    await expect(
        page.frame_locator(".dashboards__iframe-box iframe").get_by_text("Chart of MSFT")
    ).to_be_visible()
    assert embeds == [CHART]
    chat_box, chart_box = await chat.bounding_box(), await chart.bounding_box()
    assert chat_box["x"] + chat_box["width"] <= chart_box["x"], "side by side, chat first"
    assert errors == []
