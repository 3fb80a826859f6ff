"""The Inbox page in real Chromium over a real hub whose ``courier`` channel the test drives."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from hub.api.state import COMMS, DATABASE, REGISTRY
from tests.browser.conftest import ARTIFACTS, served_hub
from tests.browser.test_every_page import COLLECT, SETTLE, SHOTS, problems
from tests.comms.conftest import write_courier

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
MEMBER = {"username": "member", "password": "member-password-1"}
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
# What the tests deliver: a person's mail, shown as written in any language.
TYPED = (
    "Ada Lovelace",
    "Grace Hopper",
    "Lunch on Friday?",
    "Shall we meet at noon?",
    "Engine notes",
    "The notes are attached.",
    "Re: Lunch on Friday?",
    "Courier",
    "Noon suits me.",
    "ada@example.org",
    "grace@example.org",
    "owner",
)


@dataclass
class InboxHub:
    """A hub served on 127.0.0.1 from this test's loop, its owner's tokens and the courier entry."""

    url: str
    tokens: dict[str, Any]
    app: web.Application
    entry_id: str = ""

    @property
    def channel(self) -> Any:
        """The courier's channel: ``deliver(...)`` a message, ``sent`` what it sent."""
        loaded = self.app[REGISTRY].get("courier")
        assert loaded is not None
        return loaded.integration.channel  # type: ignore[attr-defined]

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the REST API as the owner: the status and the decoded answer."""
        headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, json=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the REST API as the owner; the answer (asserting a 2xx)."""
        status, answer = await self.call(method, path, body)
        assert status < 300, answer
        return answer

    async def threads(self, **query: str) -> list[dict[str, Any]]:
        """The inbox's threads as the API lists them."""
        text = "&".join(f"{k}={v}" for k, v in query.items())
        return list((await self.api("GET", f"/api/inbox?{text}"))["threads"])


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    async with asyncio.timeout(seconds):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.05)


@pytest.fixture
async def inbox_hub(tmp_path: Path) -> AsyncIterator[InboxHub]:
    """A hub with the courier integration (and an entry of it), onboarded."""
    bundled = tmp_path / "integrations"
    write_courier(bundled)
    async with served_hub(tmp_path, bundled) as (url, tokens, app):
        hub = InboxHub(url, tokens, app)
        created = await hub.api("POST", "/api/config-flows", {"domain": "courier"})
        assert created["type"] == "create_entry", created
        hub.entry_id = created["entry_id"]
        yield hub


@pytest.fixture
async def pages(request: pytest.FixtureRequest) -> AsyncIterator[list[Page]]:
    """The pages a test opens; each kept as a screenshot when the test fails."""
    opened: list[Page] = []
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for number, page in enumerate(opened):
            if not page.is_closed():
                shot = ARTIFACTS / f"{request.node.name}-{number}.png"
                await page.screenshot(path=str(shot), full_page=True)


async def open_inbox(
    browser: Any, hub: InboxHub, pages: list[Page], path: str = "inbox", **context: Any
) -> Page:
    """A new browser context signed in as the owner, on ``#/<path>``."""
    ctx = await browser.new_context(viewport=context.pop("viewport", DESKTOP), **context)
    session = json.dumps({k: hub.tokens[k] for k in ("access_token", "refresh_token")})
    await ctx.add_init_script(f"localStorage.setItem('hub.session', {json.dumps(session)});")
    page: Page = await ctx.new_page()
    pages.append(page)
    await page.goto(f"{hub.url}/#/{path}")
    return page


async def deliver(hub: InboxHub, external_id: str, **fields: Any) -> None:
    """A message arrives on the channel and reaches the inbox."""
    hub.channel.deliver(external_id, **fields)

    async def arrived() -> bool:
        listed = await hub.threads(limit="200") + await hub.threads(archived="1", limit="200")
        return sum(int(t["count"]) for t in listed) >= len(hub.channel.messages)

    await eventually(arrived)


async def seed(hub: InboxHub) -> None:
    """Two threads: Ada's lunch (older) and Grace's engine notes (newer)."""
    await deliver(
        hub,
        "lunch-1",
        subject="Lunch on Friday?",
        body="Shall we meet at noon?",
        sender="Ada Lovelace",
        sender_address="ada@example.org",
        received_at=START,
    )
    await deliver(
        hub,
        "engine-1",
        subject="Engine notes",
        body="The notes are attached.",
        sender="Grace Hopper",
        sender_address="grace@example.org",
        received_at=START + timedelta(hours=1),
        attachments=[
            {"filename": "engine-notes.pdf", "content_type": "application/pdf", "size": 250_000}
        ],
    )


def thread_links(page: Page, name: str = "Conversations") -> Any:
    """The inbox list's threads (the list is named ``name`` in the page's language)."""
    return page.get_by_role("list", name=name).get_by_role("link")


async def test_threads_list_newest_first_arrive_live_open_read_and_archive(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    await seed(hub)
    page = await open_inbox(browser, hub, pages)
    await expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    links = thread_links(page)
    await expect(links).to_have_count(2)
    await expect(links.nth(0)).to_contain_text("Engine notes")
    await expect(links.nth(0)).to_contain_text("Grace Hopper")
    await expect(links.nth(0)).to_contain_text("Courier")  # the channel: the entry's title
    await expect(links.nth(1)).to_contain_text("Lunch on Friday?")
    await expect(page.get_by_text("2 unread · 0 important")).to_be_visible()

    # A reply to Ada's lunch arrives while the page is open: her thread moves up, unreloaded.
    hub.channel.deliver(
        "lunch-2",
        subject="Re: Lunch on Friday?",
        body="Noon suits me.",
        sender="Ada Lovelace",
        sender_address="ada@example.org",
        thread_id="lunch-1",
        received_at=START + timedelta(hours=2),
    )
    await expect(links.nth(0)).to_contain_text("Noon suits me.")
    await expect(links.nth(0)).to_contain_text("2 messages")
    await expect(page.get_by_text("3 unread · 0 important")).to_be_visible()

    # The channel filter offers the message accounts by title.
    await page.get_by_label("Channel").select_option(label="Courier")
    await expect(links).to_have_count(2)

    # Opening it shows both messages, oldest first, and marks them read.
    await links.nth(0).click()
    thread = page.get_by_role("article", name="Lunch on Friday?")
    await expect(thread).to_be_visible()
    messages = thread.get_by_role("list", name="Messages").get_by_role("listitem")
    await expect(messages).to_have_count(2)
    await expect(messages.nth(0)).to_contain_text("Shall we meet at noon?")
    await expect(messages.nth(1)).to_contain_text("Noon suits me.")
    await expect(page.get_by_text("1 unread · 0 important")).to_be_visible()
    (lunch,) = [t for t in await hub.threads() if t["count"] == 2]
    assert lunch["unread"] == 0
    assert "#/inbox/t/" in page.url

    # Archived: gone from the list, found under Archived.
    await thread.get_by_role("button", name="Archive").click()
    await expect(links).to_have_count(1)
    await expect(links.nth(0)).to_contain_text("Engine notes")
    assert [t["subject"] for t in await hub.threads()] == ["Engine notes"]
    await page.get_by_label("Archived").check()
    await expect(links).to_have_count(1)
    await expect(links.nth(0)).to_contain_text("Lunch on Friday?")

    # What Grace attached is named with its size; the file itself is never kept.
    await page.get_by_label("Archived").uncheck()
    await links.nth(0).click()
    engine = page.get_by_role("article", name="Engine notes")
    await expect(engine).to_contain_text("Attached: engine-notes.pdf (244 KB)")


async def test_a_reply_waits_as_a_draft_until_approved_then_sends_once(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    await seed(hub)
    page = await open_inbox(browser, hub, pages)
    await thread_links(page).filter(has_text="Lunch on Friday?").click()
    thread = page.get_by_role("article", name="Lunch on Friday?")
    await expect(thread.get_by_text("Nothing is sent until you approve it.").first).to_be_visible()
    await thread.get_by_label("Reply to Ada Lovelace").fill("Friday at noon works for me.")
    await thread.get_by_role("button", name="Save as draft").click()

    draft = thread.get_by_role("article", name="Re: Lunch on Friday?")
    await expect(draft).to_contain_text("Draft, not sent")
    await expect(draft).to_contain_text("ada@example.org")
    assert hub.channel.sent == []  # saved, not sent

    # Edited before it goes: the change is what is sent.
    await draft.get_by_role("button", name="Edit").click()
    await draft.get_by_label("Message").fill("Friday at noon works. See you!")
    await draft.get_by_role("button", name="Save").click()
    await expect(draft).to_contain_text("Friday at noon works. See you!")

    approve = draft.get_by_role("button", name="Approve and send")
    await approve.dblclick()  # a double click still sends once
    await expect(draft).to_contain_text("Sent")
    await expect(draft.get_by_role("button", name="Approve and send")).to_have_count(0)
    assert len(hub.channel.sent) == 1, hub.channel.sent
    assert hub.channel.sent[0]["to"] == "ada@example.org"
    assert hub.channel.sent[0]["body"] == "Friday at noon works. See you!"


async def test_an_interrupted_send_goes_again_only_when_the_person_confirms(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    await seed(hub)
    (lunch,) = [t for t in await hub.threads() if t["subject"] == "Lunch on Friday?"]
    body = {"in_reply_to": lunch["last"]["id"], "body": "Noon it is."}
    draft = await hub.api("POST", "/api/drafts", body)

    # The hub stopped while it was sending this draft: on the next start it is an interrupted failure.
    def sending(conn: sqlite3.Connection) -> int:
        query = "UPDATE comms_drafts SET state = 'sending' WHERE id = ?"
        return conn.execute(query, (draft["id"],)).rowcount

    assert await hub.app[DATABASE].run(sending) == 1
    assert await hub.app[COMMS].drafts.recover() == 1

    page = await open_inbox(browser, hub, pages)
    await thread_links(page).filter(has_text="Lunch on Friday?").click()
    card = page.get_by_role("article", name="Re: Lunch on Friday?")
    await expect(card).to_contain_text("Not sent")
    await expect(card).to_contain_text("the message may have gone out")
    again = card.get_by_role("button", name="Try sending again")
    await again.click()
    dialog = page.get_by_role("dialog", name="Send again anyway?")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)
    assert hub.channel.sent == []  # not without the person's yes
    await again.click()
    await page.get_by_role("dialog").get_by_role("button", name="Send again anyway").click()
    await expect(card).to_contain_text("Sent")
    assert [sent["body"] for sent in hub.channel.sent] == ["Noon it is."]


async def test_a_discarded_draft_is_gone_and_never_sent(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    await seed(hub)
    page = await open_inbox(browser, hub, pages)
    await thread_links(page).filter(has_text="Engine notes").click()
    thread = page.get_by_role("article", name="Engine notes")
    await thread.get_by_label("Reply to Grace Hopper").fill("Thanks!")
    await thread.get_by_role("button", name="Save as draft").click()
    draft = thread.get_by_role("article", name="Re: Engine notes")
    await draft.get_by_role("button", name="Discard").click()
    await page.get_by_role("dialog").get_by_role("button", name="Discard").click()
    await expect(draft).to_have_count(0)
    assert (await hub.api("GET", "/api/drafts"))["drafts"] == []
    assert hub.channel.sent == []


async def test_a_member_sees_a_household_draft_but_may_not_send_it(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    await seed(hub)
    (lunch,) = [t for t in await hub.threads() if t["subject"] == "Lunch on Friday?"]
    await hub.api("POST", "/api/drafts", {"in_reply_to": lunch["last"]["id"], "body": "Noon."})
    await hub.api("POST", "/api/people", {**MEMBER, "is_admin": False})
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{hub.url}/api/auth/login", json=MEMBER) as resp,
    ):
        assert resp.status == 200, await resp.text()
        member = InboxHub(hub.url, await resp.json(), hub.app, hub.entry_id)
    page = await open_inbox(browser, member, pages)
    await thread_links(page).filter(has_text="Lunch on Friday?").click()
    draft = page.get_by_role("article", name="Re: Lunch on Friday?")
    await expect(draft).to_contain_text("Only the channel's owner")
    await expect(draft.get_by_role("button", name="Approve and send")).to_have_count(0)
    assert hub.channel.sent == []


async def test_older_conversations_load_on_request(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    for n in range(52):
        hub.channel.deliver(f"n{n}", subject=f"Note {n}", received_at=START + timedelta(minutes=n))
    await deliver(hub, "n52", subject="Note 52", received_at=START + timedelta(minutes=52))
    page = await open_inbox(browser, hub, pages)
    links = thread_links(page)
    await expect(links).to_have_count(50)
    await expect(links.first).to_contain_text("Note 52")
    await page.get_by_role("button", name="Show older conversations").click()
    await expect(links).to_have_count(53)
    await expect(links.last).to_contain_text("Note 0")
    await expect(page.get_by_role("button", name="Show older conversations")).to_be_hidden()


async def test_on_a_phone_the_list_and_the_thread_take_turns(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    await seed(hub)
    page = await open_inbox(browser, hub, pages, viewport=PHONE, has_touch=True)
    links = thread_links(page)
    await expect(links).to_have_count(2)
    await links.filter(has_text="Engine notes").tap()
    thread = page.get_by_role("article", name="Engine notes")
    await expect(thread).to_be_visible()
    await expect(thread).to_contain_text("The notes are attached.")
    await expect(links.first).to_be_hidden()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await thread.get_by_role("button", name="Inbox").tap()
    await expect(links.first).to_be_visible()
    await expect(thread).to_be_hidden()
    # The browser's back button too: thread → list.
    await links.filter(has_text="Lunch on Friday?").tap()
    await expect(page.get_by_role("article", name="Lunch on Friday?")).to_be_visible()
    await page.go_back()
    await expect(links.first).to_be_visible()


async def test_contacts_are_renamed_and_merged_from_the_inbox(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    email = [{"channel": "email", "address": "ada@example.org"}]
    await hub.api("POST", "/api/contacts", {"name": "Ada", "addresses": email})
    other = [{"channel": "email", "address": "ada@work.example"}]
    await hub.api("POST", "/api/contacts", {"name": "A. Lovelace", "addresses": other})
    page = await open_inbox(browser, hub, pages)
    await page.get_by_role("link", name="Contacts").click()
    await expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()

    await page.get_by_role("button", name="Edit Ada", exact=True).click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Name").fill("Ada Lovelace")
    await dialog.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name="Ada Lovelace", level=2)).to_be_visible()

    await page.get_by_role("button", name="Merge another contact into Ada Lovelace").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Contact to merge").select_option(label="A. Lovelace")
    await dialog.get_by_role("button", name="Merge", exact=True).click()
    await expect(page.get_by_role("heading", name="A. Lovelace")).to_have_count(0)
    card = page.get_by_role("article", name="Ada Lovelace")
    await expect(card).to_contain_text("ada@example.org")
    await expect(card).to_contain_text("ada@work.example")
    (contact,) = (await hub.api("GET", "/api/contacts"))["contacts"]
    assert contact["name"] == "Ada Lovelace"


async def test_a_keyword_rule_set_on_the_page_marks_new_mail_important(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    page = await open_inbox(browser, hub, pages, path="inbox/rules")
    # The courier entry is the household's: its mail follows the household's rules.
    await page.get_by_label("Rules for").select_option(label="The household's channels")
    # Choosing the scope loads its rules into the form: typing before they arrive is overwritten.
    await page.wait_for_load_state("networkidle")
    await page.get_by_label("Words that make a message important").fill("boiler\nleak")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Triage rules saved.")).to_be_visible()
    saved = await hub.api("GET", "/api/inbox/rules?scope=household")
    assert saved["rules"]["keywords"]["high"] == ["boiler", "leak"]

    await page.get_by_role("link", name="← Inbox").click()
    await seed(hub)
    await deliver(hub, "boiler-1", subject="The boiler", body="It is dripping.", sender="Ada")
    item = thread_links(page).filter(has_text="The boiler")
    await expect(item).to_contain_text("Important")
    await expect(page.get_by_text("3 unread · 1 important")).to_be_visible()
    await page.get_by_label("Importance").select_option(label="Important")
    await expect(thread_links(page)).to_have_count(1)


async def test_the_inbox_in_german_shows_no_english(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await seed(hub)
    (lunch,) = [t for t in await hub.threads() if t["subject"] == "Lunch on Friday?"]
    await hub.api(
        "POST", "/api/drafts", {"in_reply_to": lunch["last"]["id"], "body": "Noon suits me."}
    )
    found: list[str] = []
    for size in (DESKTOP, PHONE):
        page = await open_inbox(browser, hub, pages, viewport=size, locale="de-DE")
        await expect(page.get_by_role("heading", name="Posteingang", level=1)).to_be_visible()
        await check_german(page, f"{size['width']}-inbox-courier", found)
        await thread_links(page, "Unterhaltungen").filter(has_text="Lunch on Friday?").click()
        thread = page.get_by_role("article", name="Lunch on Friday?", exact=True)
        await expect(thread).to_be_visible()
        await check_german(page, f"{size['width']}-inbox-courier-thread", found)
        for view in ("contacts", "rules"):
            await page.goto(f"{hub.url}/#/inbox/{view}")
            await check_german(page, f"{size['width']}-inbox-courier-{view}", found)
        await page.context.close()
    assert found == [], "\n".join(found)


async def check_german(page: Page, name: str, found: list[str]) -> None:
    """What the page shows, in German only (the delivered mail aside); kept as a screenshot."""
    await page.evaluate(SETTLE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"de-{name}.png"), full_page=True)
    items = await page.evaluate(COLLECT)
    for item in items:
        for typed in TYPED:
            item["text"] = item["text"].replace(typed, " ")
    found += problems(items, name, "de")


def test_the_german_check_sees_english() -> None:
    shown = [{"kind": "text", "text": "Save as draft", "where": "button"}]
    assert problems(shown, "inbox", "de") != []


async def test_the_entries_page_shows_a_listener_that_lost_its_connection(
    browser: Any, inbox_hub: InboxHub, pages: list[Page]
) -> None:
    hub = inbox_hub

    async def listener_state() -> str:
        entry = await hub.api("GET", f"/api/config-entries/{hub.entry_id}")
        return str((entry.get("listener") or {}).get("state"))

    await eventually(lambda: _is(listener_state, "running"))
    hub.channel.mode = "crash"
    hub.channel.arrived.set()  # wakes it: it finds its server gone
    await eventually(lambda: _is(listener_state, "backing_off"))
    page = await open_inbox(browser, hub, pages, path="entries")
    card = page.locator(f'[data-entry="{hub.entry_id}"]')
    await expect(card).to_contain_text("Connection lost, waiting to reconnect")
    await expect(card.locator(".badge")).to_have_text("Limited")


async def _is(read: Callable[[], Awaitable[str]], wanted: str) -> bool:
    return await read() == wanted
