"""Every page, in English and German, on a desktop and a phone: nothing shows "null", "undefined",
"NaN", "[object Object]" or a raw translation key, and a German page shows no English sentence the
hub wrote. Each page is kept as a screenshot in ``test-artifacts/pages/<lang>-<width>-<page>.png``."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web

from tests.browser.conftest import ARTIFACTS, OWNER, RunningHub, _hub_process
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openproject import API_KEY, FakeOpenProject

ROOT: Final = Path(__file__).resolve().parents[2]
SHOTS: Final = ARTIFACTS / "pages"
DESKTOP: Final = (1280, 800)
PHONE: Final = (390, 844)

# What the seeding types: a person's own names may be in any language on any page.
TYPED: Final = (
    "Porch light",
    "Boiler target",
    "Doorbell",
    "Garden sensors",
    "Garden temperature",
    "Living room",
    "Climate",
    "Plants",
    "Water them on Sunday.",
    "Greta Garbo",
    "greta",
    "owner",
    "Trip planning",
    "Plan a trip to the coast.",
    "Pack a raincoat.",
    "backup script",
    "fake-model",
    "fake",
    # What the seeded OpenProject holds: another system's data, shown as it is there.
    "Household",
    "household",
    "Fix the boiler",
    "Alice Admin",
    "Task",  # the work package's type there (the Memory page's kind "Task" is "Aufgabe" in German)
)
MODEL_REPLY: Final = "Pack a raincoat."

BROKEN: Final = re.compile(r"\b(?:null|undefined|NaN)\b|\[object Object\]")


# The wording the hub ships, to tell its sentences (and its raw keys) from a person's names.


def _flat(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def _tables(language: str) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """Each shipped file of ``language``: where it is, its flat table, its raw top level."""
    paths = [
        ROOT / "hub" / "translations" / f"{language}.json",
        *sorted((ROOT / "integrations").glob(f"*/translations/{language}.json")),
        *sorted((ROOT / "www" / "i18n" / language).glob("*.json")),
    ]
    found = []
    for path in paths:
        raw = json.loads(path.read_text("utf-8"))
        found.append((str(path.relative_to(ROOT)), dict(_flat(raw)), raw))
    return found


@dataclass
class Wording:
    """What a page may and may not show, read once from the translation files."""

    shipped: set[str] = field(default_factory=set)
    """Every shipped text in either language: deliberate wording (the webhook's help says null)."""
    namespaces: set[str] = field(default_factory=set)
    english_exact: dict[str, str] = field(default_factory=dict)
    """An English text whose German twin differs → the file it comes from."""
    english_patterns: list[tuple[re.Pattern[str], str, str, str]] = field(default_factory=list)
    """(the text as a pattern, its longest literal piece, the template, its file)."""
    english_phrases: list[tuple[str, str, str]] = field(default_factory=list)
    """(a literal piece of two or more words, the template, its file): never inside German text."""


PLACEHOLDER: Final = re.compile(r"\{\w+\}")
WORD: Final = re.compile(r"[A-Za-z]{2,}")


def _wording() -> Wording:
    english, german = _tables("en"), _tables("de")
    wording = Wording()
    german_texts: set[str] = set()
    for _, table, raw in english + german:
        wording.shipped.update(table.values())
        wording.namespaces.update(key for key, value in raw.items() if isinstance(value, dict))
    for _, table, _ in german:
        german_texts.update(table.values())
    twins = {where.replace("/de", "/en").replace("de.json", "en.json"): t for where, t, _ in german}
    for where, table, _ in english:
        twin = twins.get(where, {})
        for key, text in table.items():
            if key not in twin or twin[key] == text or text in german_texts:
                continue
            pieces = [p.strip(" .,:;!?()—–-…") for p in PLACEHOLDER.split(text)]
            if sum(len(w) for p in pieces for w in WORD.findall(p)) < 3:
                continue  # "{name}: {message}", "°C": nothing English in it
            if len(pieces) == 1:
                wording.english_exact[text] = where
            else:
                parts = (re.escape(p) for p in PLACEHOLDER.split(text))
                pattern = re.compile(".+?".join(parts).strip(), re.DOTALL)
                wording.english_patterns.append((pattern, max(pieces, key=len), text, where))
            for piece in pieces:
                if len(WORD.findall(piece)) >= 2 and piece not in german_texts:
                    wording.english_phrases.append((piece, text, where))
    return wording


WORDING: Final = _wording()
RAW_KEY: Final = re.compile(
    r"(?<![\w./-])(?:"
    + "|".join(sorted(map(re.escape, WORDING.namespaces), key=len, reverse=True))
    + r")\.[a-z0-9_]+(?:\.[a-z0-9_]+)*(?![\w/-])"
)


def _bounded(needle: str, text: str) -> bool:
    """``needle`` occurs in ``text`` as whole words."""
    start = text.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = text.find(needle, start + 1)
    return False


def _english_in(text: str) -> str | None:
    """The English template ``text`` shows (whole, or a phrase of it inside), with its file."""
    if text in WORDING.english_exact:
        return f"{text!r} ({WORDING.english_exact[text]})"
    for pattern, piece, template, where in WORDING.english_patterns:
        if piece in text and pattern.fullmatch(text):
            return f"{template!r} ({where})"
    for phrase, template, where in WORDING.english_phrases:
        if phrase in text and _bounded(phrase, text):
            return f"{template!r} ({where})"
    return None


def _deliberate(text: str) -> bool:
    """Shipped wording, whole or a long enough piece of it (a description cut short)."""
    if text in WORDING.shipped:
        return True
    piece = text.rstrip("…")
    return len(piece) >= 24 and any(piece in shipped for shipped in WORDING.shipped)


def problems(items: list[dict[str, str]], page: str, language: str) -> list[str]:
    """What is wrong with what one page shows, one line each."""
    found: list[str] = []
    for item in items:
        text, kind, where = item["text"], item["kind"], item["where"]
        label = f"{page}: {kind} {text!r} in <{where}>"
        if BROKEN.search(text) and not _deliberate(text):
            found.append(f"{label}: shows a missing value")
        if RAW_KEY.search(text) and not _deliberate(text):
            found.append(f"{label}: shows a raw translation key")
        if language == "de":
            own = text
            for name in TYPED:
                own = own.replace(name, " ")
            english = _english_in(own.strip())
            if english is not None:
                found.append(f"{label}: English on a German page, from {english}")
    return found


# What a page shows, as a person (or a screen reader) would meet it.

COLLECT: Final = """() => {
  const out = [];
  const shown = (el) => {
    if (!el || !el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const where = (el) => {
    const named = el.closest("[id], section, dialog, form, nav, header, li, tr");
    const tag = el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\\s+/)[0] : "");
    if (!named || named === el) return tag;
    return `${tag} in ${named.tagName.toLowerCase()}${named.id ? "#" + named.id : ""}`;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, " ").trim();
    const el = node.parentElement;
    if (!text || !el || el.closest("script, style, template, option")) continue;
    if (shown(el)) out.push({ kind: "text", text, where: where(el) });
  }
  const attrs = ["title", "placeholder", "aria-label", "alt", "aria-description"];
  for (const el of document.body.querySelectorAll(attrs.map((a) => `[${a}]`).join(","))) {
    if (!shown(el)) continue;
    for (const attr of attrs) {
      const text = (el.getAttribute(attr) || "").replace(/\\s+/g, " ").trim();
      if (text) out.push({ kind: attr, text, where: where(el) });
    }
  }
  for (const select of document.body.querySelectorAll("select")) {
    if (!shown(select)) continue;
    for (const option of select.options) {
      const text = option.text.replace(/\\s+/g, " ").trim();
      if (text) out.push({ kind: "option", text, where: where(select) });
    }
  }
  for (const input of document.body.querySelectorAll("input[type=submit], input[type=button]")) {
    const text = input.value.trim();
    if (shown(input) && text) out.push({ kind: "button", text, where: where(input) });
  }
  out.push({ kind: "title", text: document.title, where: "head" });
  return out;
}"""

# Settled: nothing busy, and no change to the page for 200 ms (or 5 s at most).
SETTLE: Final = """async () => {
  let changed = performance.now();
  const watch = new MutationObserver(() => { changed = performance.now(); });
  watch.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  const until = performance.now() + 5000;
  while (performance.now() < until) {
    await new Promise((done) => setTimeout(done, 50));
    const busy = document.querySelector('[aria-busy="true"]');
    if (!busy && performance.now() - changed > 200) break;
  }
  watch.disconnect();
}"""


# A hub with something on every page, started once for the module.


@dataclass
class Seeded:
    """The seeded hub, a fresh one nobody onboarded, and where the seeding put things."""

    hub: RunningHub
    fresh_url: str
    dashboard: str
    details: dict[str, int]
    """Entities whose detail view is visited: a number, a sensor, a work package, by page name."""


def _post(url: str, body: Any, token: str | None = None, method: str = "POST") -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=20) as resp:
        return json.loads(resp.read())


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


async def _seed(url: str, token: str) -> tuple[str, dict[str, int]]:
    """Helpers of each kind, the system monitor, a webhook with an entity, text tools, an
    OpenProject that went out of reach, a member, a model, a long-lived token, a dashboard with
    cards and a conversation with an answer."""
    headers = {"Authorization": f"Bearer {token}"}
    fake = FakeOpenAI(api_key="sk-crawl-0123456789")
    runner, port = await _serve(fake.app())
    openproject = FakeOpenProject()
    house = openproject.add_project("household", "Household")
    openproject.add_work_package(house, "Fix the boiler", assignee_id=1, percentage_done=40)
    op_runner: web.AppRunner | None
    op_runner, op_port = await _serve(openproject.app())
    try:
        async with aiohttp.ClientSession(url, headers=headers) as session:

            async def call(method: str, path: str, body: Any = None) -> Any:
                async with session.request(method, path, json=body) as resp:
                    answer = await resp.json()
                    assert resp.status < 300, (path, answer)
                    return answer

            async def flow(domain: str, user_input: dict[str, Any] | None = None) -> Any:
                step = await call("POST", "/api/config-flows", {"domain": domain})
                if user_input is not None and step.get("type") == "form":
                    step = await call(
                        "POST", f"/api/config-flows/{step['flow_id']}", {"user_input": user_input}
                    )
                return step

            await flow("helpers", {"name": "Porch light", "kind": "toggle"})
            number = {"name": "Boiler target", "kind": "number", "min": 30, "max": 70, "step": 1}
            await flow("helpers", {**number, "unit": "°C"})
            await flow("helpers", {"name": "Doorbell", "kind": "button"})
            await flow("system_monitor", {})
            await flow("text_tools", {})
            webhook = await flow("webhook", {"name": "Garden sensors"})
            where = await call("GET", f"/api/config-entries/{webhook['entry_id']}/webhook")
            reading = {"id": "garden_temp", "name": "Garden temperature", "state": 17.5}
            await call("POST", where["path"], {"entities": [reading]})
            op = {"base_url": f"http://127.0.0.1:{op_port}", "api_key": API_KEY}
            op_entry = await flow("openproject", op)
            await call("POST", f"/api/config-entries/{op_entry['entry_id']}/sync")
            await op_runner.cleanup()
            op_runner = None
            # Out of reach now: its health says so (in the person's language), the sync fails.
            async with session.post(f"/api/config-entries/{op_entry['entry_id']}/sync") as resp:
                await resp.read()
            person = {"username": "greta", "password": "greta-password-1", "is_admin": False}
            await call("POST", "/api/people", {**person, "display_name": "Greta Garbo"})
            await call("POST", "/api/auth/tokens", {"name": "backup script"})
            model = {
                "name": "fake",
                "base_url": f"http://127.0.0.1:{port}/v1",
                "model": "fake-model",
                "tier": "unregulated",
                "api_key": "sk-crawl-0123456789",
                "is_default": True,
            }
            await call("POST", "/api/models", model)
            # The system monitor's first sync runs in the background: wait for its sensors.
            deadline = asyncio.get_running_loop().time() + 20
            while True:
                listed = (await call("GET", "/api/entities", None))["entities"]
                by_type = {(e["domain"], e["entity_type"]): int(e["id"]) for e in listed}
                if ("system_monitor", "cpu_usage") in by_type:
                    break
                assert asyncio.get_running_loop().time() < deadline, "no system monitor sensors"
                await asyncio.sleep(0.1)
            sensors = [e["id"] for e in listed if e["domain"] == "system_monitor"][:3]
            details = {
                "entities-number": by_type["helpers", "number"],
                "entities-cpu-usage": by_type["system_monitor", "cpu_usage"],
                "entities-work-package": by_type["openproject", "work_package"],
            }
            cards = [
                {"type": "entities", "title": "Climate", "filter": {"domain": "helpers"}},
                {"type": "entities", "entities": sensors},
                {"type": "markdown", "content": "# Plants\n\nWater them on Sunday."},
            ]
            surface = await call(
                "POST",
                "/api/surfaces",
                {"name": "Living room", "config": {"views": [{"title": "Main", "cards": cards}]}},
            )
            conversation = await call("POST", "/api/conversations", {"title": "Trip planning"})
            fake.reply_text(MODEL_REPLY)
            async with session.ws_connect("/api/websocket") as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "auth_required"
                await ws.send_json({"type": "auth", "access_token": token})
                assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
                text = "Plan a trip to the coast."
                send = {"conversation_id": conversation["id"], "text": text}
                await ws.send_json({"id": 1, "type": "chat/send", **send})
                while True:
                    message = await ws.receive_json(timeout=20)
                    if message.get("type") == "result":
                        assert message["success"], message
                    if message.get("type") == "event" and message["event"]["kind"] == "done":
                        break
            return str(surface["slug"]), details
    finally:
        await runner.cleanup()
        if op_runner is not None:
            await op_runner.cleanup()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One seeded hub and one fresh hub for every page, language and size of this module."""
    with (
        _hub_process(tmp_path_factory.mktemp("seeded")) as url,
        _hub_process(tmp_path_factory.mktemp("fresh")) as fresh_url,
    ):
        tokens = _post(f"{url}/api/onboarding", OWNER)
        slug, details = asyncio.run(_seed(url, tokens["access_token"]))
        hub = RunningHub(url, tokens, tmp_path_factory.getbasetemp())
        yield Seeded(hub, fresh_url, slug, details)


# The crawl.


@dataclass
class Crawl:
    """One language at one size: what was visited and what was wrong."""

    language: str
    size: tuple[int, int]
    found: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    async def visit(self, page: Any, url: str, name: str) -> None:
        """Open ``url``, let it settle, keep its picture and check what it shows."""
        await page.goto(url)
        await self.look(page, name)

    async def look(self, page: Any, name: str) -> None:
        """Check the page as it is now, and keep its picture."""
        await page.evaluate(SETTLE)
        SHOTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
        shot = SHOTS / f"{self.language}-{self.size[0]}-{slug}.png"
        await page.screenshot(path=str(shot), full_page=True)
        if await page.evaluate("document.documentElement.lang") != self.language:
            self.found.append(f"{name}: <html lang> is not {self.language!r}")
        self.found += problems(await page.evaluate(COLLECT), name, self.language)
        self.visited.append(name)


async def _context(browser: Any, crawl: Crawl, tokens: dict[str, Any] | None) -> Any:
    locale = "de-DE" if crawl.language == "de" else "en-US"
    width, height = crawl.size
    context = await browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    if tokens is not None:
        session = json.dumps({k: tokens[k] for k in ("access_token", "refresh_token")})
        await context.add_init_script(
            f"try {{ localStorage.setItem('hub.session', {json.dumps(session)}); }} catch (e) {{}}"
        )
    return context


async def _sub_views(page: Any, route: str) -> list[str]:
    """The first few views a page links to below itself (a dashboard, a conversation, a section)."""
    hrefs: list[str] = await page.evaluate(
        """(route) => [...document.querySelectorAll(`#view a[href^="#/${route}/"]`)]
             .map((a) => a.getAttribute("href"))""",
        route,
    )
    # Every section of the settings; of a list of things (entities, chats), the first few.
    limit = 12 if route == "settings" else 3
    return list(dict.fromkeys(href.removeprefix("#/") for href in hrefs))[:limit]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("language", ["en", "de"])
async def test_every_page_reads_whole_in_the_persons_language(
    seeded: Seeded, browser: Any, language: str, size: tuple[int, int]
) -> None:
    hub = seeded.hub
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": language})
    crawl = Crawl(language, size)

    context = await _context(browser, crawl, hub.tokens)
    page = await context.new_page()
    await page.goto(hub.url + "/#/entities")
    await page.evaluate(SETTLE)
    hrefs: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll('#nav a[href^="#/"]')].map((a) => a.getAttribute("href"))"""
    )
    routes = list(dict.fromkeys(href.removeprefix("#/") for href in hrefs))
    assert {
        "entities",
        "dashboards",
        "integrations",
        "entries",
        "settings",
        "chat",
        "inbox",
    } <= set(routes)
    dashboard = f"dashboards/{seeded.dashboard}"
    # Sub-views by a name that stays the same from run to run (a conversation's id does not).
    extra = {
        dashboard: "dashboards-living-room",
        f"{dashboard}/edit": "dashboards-living-room-edit",
    }
    extra |= {f"entities/{entity_id}": name for name, entity_id in seeded.details.items()}
    for route in routes:
        await crawl.visit(page, f"{hub.url}/#/{route}", route)
        for number, sub in enumerate(await _sub_views(page, route), 1):
            extra.setdefault(sub, f"{route}-{number}")
        if route == "integrations":
            await _open_a_wizard(
                page, crawl, "Helfer" if language == "de" else "Helpers", "add-helper"
            )
            # Text Tools is set up already and can be set up once: at most a refusal to read.
            tools = "Textwerkzeuge" if language == "de" else "Text Tools"
            await _open_a_wizard(page, crawl, tools, "add-text-tools")
    for route, name in extra.items():
        await crawl.visit(page, f"{hub.url}/#/{route}", name)
    await context.close()

    # Signed out: the sign-in page, and a fresh hub's onboarding, in the browser's language.
    context = await _context(browser, crawl, None)
    page = await context.new_page()
    await crawl.visit(page, hub.url + "/", "sign-in")
    await crawl.visit(page, seeded.fresh_url + "/", "onboarding")
    await context.close()

    report = "\n".join(crawl.found)
    assert crawl.found == [], f"{len(crawl.found)} problems on {crawl.visited}:\n{report}"


async def _open_a_wizard(page: Any, crawl: Crawl, title: str, name: str) -> None:
    """The first step of adding ``title`` from the catalog, as its dialog shows it; then reloaded."""
    add = page.get_by_role("button", name=re.compile(rf"\b{re.escape(title)}\b"))
    if await add.count() == 0:
        return  # the catalog does not offer it (Text Tools, once set up): nothing to look at
    await add.first.click()
    await page.get_by_role("dialog").first.wait_for()
    await crawl.look(page, f"integrations-{name}")
    await page.reload()  # whatever the dialog left behind goes with it


def test_the_checks_catch_what_they_look_for() -> None:
    """The crawl's eyes, on made-up page content: each kind of problem, and what is fine."""

    def shown(*texts: str) -> list[dict[str, str]]:
        return [{"kind": "text", "text": text, "where": "p"} for text in texts]

    bad = shown("null", "Last sync: undefined", "NaN %", "[object Object]", "wizard.sync_now")
    assert len(problems(bad, "entries", "en")) == 5
    english = shown("Sync now", "Porch light has been added.", "Toggle", "Text Tools")
    assert len(problems(english, "entries", "de")) == 4
    fine = shown(
        "Jetzt abgleichen",
        "Porch light",
        "Porch light wurde hinzugefügt.",
        "configuration.yaml",
        "webhook.received",
        "CPU",
        "17,5 °C",
    )
    assert problems(fine, "entries", "de") == []
    # The webhook's own help names null as a value a state may take: that is wording, not a gap.
    [webhook_help] = [t for t in WORDING.shipped if t.startswith("Stellt eine URL bereit")]
    assert problems(shown(webhook_help), "integrations", "de") == []
