"""Backups in real Chromium over a real ``hub run``: Settings → Backups makes the emergency kit (its
recovery key shown once), creates a backup that is listed with its size, downloads it and deletes it;
a new hub's first page restores that download: a wrong passphrase is refused in the page's language
with nothing changed, the recovery key brings the whole hub back."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from hub.integrations.translations import fill
from tests.browser.conftest import ARTIFACTS, OWNER, RunningHub, _hub_process

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1280, "height": 800}
KEY = re.compile(r"^[A-Z2-7]{4}(?:-[A-Z2-7]{4})+$")


def hub_text(language: str, key: str, **params: Any) -> str:
    """The hub's own sentence for ``key`` (``errors.backup_passphrase_wrong``), filled."""
    node: Any = json.loads((ROOT / "hub" / "translations" / f"{language}.json").read_text("utf-8"))
    for part in key.split("."):
        node = node[part]
    return fill(str(node), params)


def size_text(size: int) -> str:
    """What the page shows for ``size`` bytes in English (components/backup-settings.js)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            shown = f"{value:,.1f}".removesuffix(".0") if value < 10 else f"{value:,.0f}"
            return f"{shown} {unit}"
    return f"{size:,} B"


@pytest.fixture
async def page(
    browser: Any, hub: RunningHub, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    """The owner's page; downloads allowed; kept as a screenshot when the test fails."""
    ctx = await browser.new_context(viewport=DESKTOP, accept_downloads=True)
    session = json.dumps({k: hub.tokens[k] for k in ("access_token", "refresh_token")})
    await ctx.add_init_script(f"localStorage.setItem('hub.session', {json.dumps(session)});")
    opened: Page = await ctx.new_page()
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        await opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    await ctx.close()


async def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    """``GET url``: the decoded answer (asserting a 200)."""
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def verify(archive: Path, recovery_key: str) -> tuple[int, str]:
    """``hub backup verify`` with the recovery key: its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        "backup",
        "verify",
        str(archive),
        "--recovery-key",
        recovery_key,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def made_in_settings(page: Page, hub: RunningHub, tmp_path: Path) -> tuple[Path, str]:
    """The emergency kit and one backup made and downloaded in Settings: the file and the key."""
    await page.goto(hub.url + "/#/settings/backups")
    section = page.locator("#settings-backups-section")
    await expect(section.get_by_role("heading", name="Backups", exact=True)).to_be_visible()
    await expect(section).to_contain_text("No backups yet.")
    await expect(section).to_contain_text("Automatic backups start once a recovery key")

    # The emergency kit: the key is shown once, with a clear warning and a copy button.
    await section.get_by_role("button", name="Make a recovery key").click()
    kit = page.get_by_role("dialog", name="Your recovery key")
    await expect(kit).to_contain_text("Print or save this now")
    await expect(kit.get_by_role("button", name="Copy")).to_be_visible()
    await expect(kit.get_by_role("button", name="Print")).to_be_visible()
    key = (await kit.locator("#recovery-key").inner_text()).strip()
    assert KEY.match(key), key
    await kit.get_by_role("button", name="I have saved it").click()
    await expect(kit).to_be_hidden()
    await expect(section.get_by_role("button", name="Make a new recovery key")).to_be_visible()
    await expect(section).to_contain_text(
        "Automatic backups every 24 hours; the newest 7 are kept."
    )

    # Never again: not after closing, not after a reload, not in the API.
    for _ in range(2):
        assert key not in await page.content()
        await page.reload()
        await expect(section.get_by_role("button", name="Make a new recovery key")).to_be_visible()
    assert key not in json.dumps(await hub.api("GET", "/api/backups"))

    await section.get_by_role("button", name="Create backup now").click()
    row = section.locator("tbody tr")
    await expect(row).to_have_count(1)
    [stored] = (await hub.api("GET", "/api/backups"))["backups"]
    assert not stored["include_history"]
    await expect(row).to_contain_text(stored["name"])
    await expect(row).to_contain_text(size_text(stored["size"]))
    await expect(row).to_contain_text("left out")

    async with page.expect_download() as downloading:
        await row.get_by_role("button", name=f"Download {stored['name']}").click()
    download = await downloading.value
    assert download.suggested_filename == stored["name"]
    saved = tmp_path / stored["name"]
    await download.save_as(saved)
    assert saved.stat().st_size == stored["size"]
    assert saved.read_bytes().startswith(b"HUBBACKUP")
    return saved, key


async def test_a_backup_made_in_settings_is_listed_downloaded_and_deleted(
    page: Page, hub: RunningHub, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    saved, key = await made_in_settings(page, hub, tmp_path)

    # The key shown once is the one that opens the downloaded backup.
    code, out = await verify(saved, key)
    assert code == 0, out

    section = page.locator("#settings-backups-section")
    await section.get_by_role("button", name=f"Delete {saved.name}").click()
    confirm = page.get_by_role("dialog", name=f"Delete the backup {saved.name}?")
    await confirm.get_by_role("button", name="Delete").click()
    await expect(section).to_contain_text("No backups yet.")
    assert (await hub.api("GET", "/api/backups"))["backups"] == []
    assert errors == []


async def test_the_first_page_restores_a_backup_and_refuses_a_wrong_passphrase(
    browser: Any, page: Page, hub: RunningHub, tmp_path: Path
) -> None:
    token = await hub.api("POST", "/api/auth/tokens", {"name": "Kitchen tablet"})
    saved, key = await made_in_settings(page, hub, tmp_path)

    second = tmp_path / "second"
    second.mkdir()
    with _hub_process(second) as url:
        ctx = await browser.new_context(viewport=DESKTOP, locale="de-DE")
        fresh = await ctx.new_page()
        try:
            await fresh.goto(url + "/")
            await expect(fresh.get_by_role("heading", name="Willkommen")).to_be_visible()
            await fresh.get_by_role("button", name="Aus einer Sicherung wiederherstellen").click()
            form = fresh.locator("form.ops__restore")
            await expect(
                form.get_by_role("heading", name="Aus einer Sicherung wiederherstellen")
            ).to_be_visible()
            await form.get_by_label("Sicherungsdatei").set_input_files(str(saved))
            await form.get_by_label("Passphrase", exact=True).last.fill("not the passphrase")
            await form.get_by_role("button", name="Wiederherstellen").click()
            alert = form.get_by_role("alert")
            await expect(alert).to_have_text(hub_text("de", "errors.backup_passphrase_wrong"))
            assert (await get_json(url + "/api/onboarding"))["open"] is True  # nothing changed

            # The recovery key opens it: the hub restarts with the restored directory.
            await form.get_by_role("radio", name="Wiederherstellungsschlüssel").check()
            await form.get_by_label("Wiederherstellungsschlüssel (XXXX-XXXX-…)").fill(key)
            await form.get_by_role("button", name="Wiederherstellen").click()
            await expect(fresh.get_by_role("status")).to_contain_text("startet jetzt damit neu")
            await expect(fresh.get_by_role("heading", name="Anmelden")).to_be_visible(
                timeout=60_000
            )
            await fresh.get_by_label("Benutzername").fill(OWNER["username"])
            await fresh.get_by_label("Passwort").fill(OWNER["password"])
            await fresh.get_by_role("button", name="Anmelden").click()
            # The owner of the backed-up hub signed in: their long-lived token is back too.
            await fresh.goto(url + "/#/settings/tokens")
            await expect(
                fresh.get_by_role("cell", name="Kitchen tablet", exact=True)
            ).to_be_visible()
            headers = {"Authorization": f"Bearer {token['token']}"}
            me = await get_json(url + "/api/auth/current_user", headers)
            assert me["username"] == OWNER["username"]
        finally:
            await ctx.close()
