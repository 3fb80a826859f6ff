"""Web UI benchmark: the entities page of a real ``hub run`` with 1,000 entities, in Chromium.

Run: ``python -m tests.bench.ui [--entities 1000] [--rate 50] [--seconds 5] [--json FILE]``. The hub
starts on a fresh config directory with a small external integration whose entry creates the
entities at once (readings, switches and levels, most of them on devices of ten) and whose webhook
changes them. The benchmark measures, in a fresh browser profile (cold cache):

- the bytes of HTML, JS and CSS the first load fetches, uncompressed and as sent (gzip, target
  40 KB; the UI's JSON apart);
- the time from navigation to the frame after the 1,000th entity row is in the page (target 1 s);
- then ``--rate`` changes a second through the webhook for ``--seconds``, while the page records
  the time between animation frames: the longest frame (target: none over 50 ms). Half the
  changes land on the rows in view. Beside it: the longest frame of the same page left idle
  for as long (what the machine's own load costs), and the longest animation-frame callback
  (the page's own work for a frame), so a busy machine is told apart from a slow page.

Chromium is Debian's (``HUB_CHROMIUM``, default ``/usr/bin/chromium``), driven by Playwright.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from typing import Any

import aiohttp
from playwright.async_api import Page, async_playwright

from tests.bench.hub_process import hub_process
from tests.bench.report import Figures, report

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
OWNER = {"username": "bench", "password": "bench-password-1"}
DOMAIN = "bench_ui"

INIT = """
import os

from hub.integrations.entities import (
    DeviceInfo,
    EntityStateActionDescriptor,
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor

COUNT = int(os.environ["BENCH_UI_ENTITIES"])
READING = EntityStateTypeDescriptor(
    key="reading", name="Reading", state_class="measurement", unit="°C"
)
SWITCH = EntityStateTypeDescriptor(
    key="switch",
    name="Switch",
    actions=(
        EntityStateActionDescriptor(name="toggle", label="Toggle"),
        EntityStateActionDescriptor(name="turn_on", label="Turn on"),
        EntityStateActionDescriptor(name="turn_off", label="Turn off"),
    ),
)
LEVEL = EntityStateTypeDescriptor(
    key="level",
    name="Level",
    actions=(
        EntityStateActionDescriptor(
            name="set_value",
            label="Set value",
            fields=(FieldDescriptor(name="value", label="Value", type="number"),),
        ),
    ),
)


def kind(n):
    return ("switch", "switch", "level")[n % 10 - 7] if n % 10 >= 7 else "reading"


def record(n, value):
    entity_type = kind(n)
    if entity_type == "switch":
        state, attributes = ("on" if value % 2 else "off"), {}
    elif entity_type == "level":
        state, attributes = int(value) % 101, {"min": 0, "max": 100, "step": 1}
    else:
        state, attributes = round(15 + value % 1000 / 100, 2), {}
    # Nine in ten entities belong to a device of ten; the rest to none.
    device = None if n % 100 >= 90 else DeviceInfo(identifier=f"d{n // 10}", name=f"Box {n // 10}")
    return EntityStateRecord(
        entity_type=entity_type,
        external_id=f"e{n}",
        name=f"{entity_type.title()} {n:04d}",
        state=state,
        attributes=attributes,
        device=device,
    )


class Bench(Integration):
    def entity_types(self):
        return {"reading": READING, "switch": SWITCH, "level": LEVEL}

    async def async_initial_entities(self, ctx):
        return [record(n, n) for n in range(COUNT)]

    async def async_handle_webhook(self, ctx, payload):
        records = tuple(record(change["n"], change["v"]) for change in payload["changes"])
        return EntityStateSyncResult(records=records, full=False)


INTEGRATION = Bench()
"""

WATCH_ROWS = """
(() => {
  // Installed before the page's own scripts: note when the wanted number of rows is first in
  // the document, and when the frame after that one starts (the rows have been painted).
  const wanted = %d;
  const check = () => {
    if (document.querySelectorAll("tr[data-entity-id]").length >= wanted) {
      window.__rowsInDom = performance.now();
      requestAnimationFrame(() => { window.__rowsPainted = performance.now(); });
    } else {
      requestAnimationFrame(check);
    }
  };
  requestAnimationFrame(check);
  // How long each animation-frame callback (the page's batched DOM writes) runs.
  const raf = window.requestAnimationFrame.bind(window);
  window.__work = [];
  window.requestAnimationFrame = (callback) => raf((now) => {
    const started = performance.now();
    try {
      callback(now);
    } finally {
      window.__work.push(performance.now() - started);
    }
  });
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
  }).observe({ type: "longtask", buffered: true });
})();
"""

RECORD_FRAMES = """
() => {
  // The time between animation frames: what a person sees as smooth or stuttering.
  const run = (window.__frameRun = (window.__frameRun || 0) + 1);
  window.__frames = [];
  window.__work = [];
  window.__longTasks = [];
  let last = performance.now();
  const tick = (now) => {
    if (window.__frameRun !== run) return;
    window.__frames.push(now - last);
    last = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
"""

STOP_FRAMES = """
() => {
  window.__frameRun += 1;
  return { frames: window.__frames.slice(1), work: window.__work, longTasks: window.__longTasks };
}
"""

SIZES = """
() => {
  // Bytes by kind, from the browser's own resource timing (same-origin: exposed): uncompressed,
  // and as they came over the wire (gzip) for the HTML, JS and CSS together.
  const sizes = { html: 0, js: 0, css: 0, json: 0, other: 0, wire: 0 };
  const [navigation] = performance.getEntriesByType("navigation");
  sizes.html += navigation.decodedBodySize;
  sizes.wire += navigation.encodedBodySize;
  for (const entry of performance.getEntriesByType("resource")) {
    const path = new URL(entry.name).pathname;
    const kind = path.endsWith(".js") ? "js" : path.endsWith(".css") ? "css"
      : path.endsWith(".json") ? "json" : "other";
    sizes[kind] += entry.decodedBodySize;
    if (kind === "js" || kind === "css") sizes.wire += entry.encodedBodySize;
  }
  return sizes;
}
"""


async def prepare(base: str, count: int) -> tuple[dict[str, Any], str]:
    """Onboard, add the bench entry (its entities come with it); the tokens and the webhook URL."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/onboarding", json=OWNER) as resp:
            tokens = dict(await resp.json())
        session.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        async with session.post(f"{base}/api/config-flows", json={"domain": DOMAIN}) as resp:
            entry_id = (await resp.json())["entry_id"]
        async with session.get(f"{base}/api/config-entries/{entry_id}/webhook") as resp:
            path = str((await resp.json())["path"])
        async with session.get(f"{base}/api/entities", params={"limit": "10000"}) as resp:
            stored = len((await resp.json())["entities"])
    if stored != count:
        raise RuntimeError(f"the bench entry made {stored} entities, not {count}")
    return tokens, base + path


async def first_load(page: Page, base: str, count: int) -> Figures:
    """Open the entities page in a cold profile; bytes by kind and the time to the last row."""
    await page.add_init_script(WATCH_ROWS % count)
    await page.goto(base + "/#/entities")
    await page.wait_for_function("() => window.__rowsPainted !== undefined", timeout=60_000)
    await page.wait_for_load_state("networkidle")
    sizes = await page.evaluate(SIZES)
    timings = await page.evaluate(
        "() => [window.__rowsInDom, window.__rowsPainted, window.__longTasks, window.__work]"
    )
    in_dom, painted, long_tasks, work = timings
    return {
        "ui.first_load_bytes": {
            "value": sizes["html"] + sizes["js"] + sizes["css"],
            "unit": "bytes",
            "html": sizes["html"],
            "js": sizes["js"],
            "css": sizes["css"],
            "note": "HTML+JS+CSS of the first load, uncompressed",
        },
        "ui.first_load_compressed_bytes": {
            "value": sizes["wire"],
            "unit": "bytes",
            "target": 40 * 1024,
            "note": "HTML+JS+CSS of the first load as sent (gzip)",
        },
        "ui.first_load_json_bytes": {
            "value": sizes["json"],
            "unit": "bytes",
            "note": "the UI's strings (the entities come over the websocket)",
        },
        "ui.rows_in_dom": {"value": round(in_dom), "unit": "ms", "rows": count},
        "ui.rows_rendered": {
            "value": round(painted),
            "unit": "ms",
            "target": 1000,
            "rows": count,
            "note": "navigation start to the frame after the last row is in the page",
        },
        "ui.load_longest_frame_work": {
            "value": round(max(work, default=0.0), 1),
            "unit": "ms",
            "note": "the longest animation-frame callback while loading (building the rows)",
        },
        "ui.load_longest_task": {"value": round(max(long_tasks, default=0.0)), "unit": "ms"},
    }


async def idle(page: Page, seconds: float) -> Figures:
    """Frame times with nothing changing: what this machine's load alone costs."""
    await page.evaluate(RECORD_FRAMES)
    await asyncio.sleep(seconds)
    frames = (await page.evaluate(STOP_FRAMES))["frames"]
    return {
        "ui.idle_frame_longest": {
            "value": round(max(frames, default=0.0), 1),
            "unit": "ms",
            "note": "the same page with no changes, for comparison",
        }
    }


async def changes(
    page: Page, webhook: str, count: int, rate: float, seconds: float
) -> tuple[Figures, dict[int, int]]:
    """Push ``rate`` changes a second while the page records its frame times."""
    chooser = random.Random(1)
    await page.evaluate(RECORD_FRAMES)
    sent = 0
    late = 0
    last: dict[int, int] = {}
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while (elapsed := time.perf_counter() - started) < seconds:
            due = sent / rate
            if due > elapsed:
                await asyncio.sleep(due - elapsed)
            elif elapsed - due > 1 / rate:
                late += 1
            # Half the changes land on the rows at the top of the page, the rest anywhere.
            n = chooser.randrange(min(40, count)) if sent % 2 else chooser.randrange(count)
            value = 1000 + sent
            async with session.post(webhook, json={"changes": [{"n": n, "v": value}]}) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"webhook answered {resp.status}: {await resp.text()}")
            last[n] = value
            sent += 1
    recorded = await page.evaluate(STOP_FRAMES)
    frames = sorted(recorded["frames"])
    figures: Figures = {
        "ui.changes_sent": {
            "value": sent,
            "unit": "changes",
            "rate": rate,
            "seconds": seconds,
            "late": late,
        },
        "ui.frames": {"value": len(frames), "unit": "frames"},
        "ui.frame_p50": {"value": round(statistics.median(frames), 1), "unit": "ms"},
        "ui.frame_p99": {"value": round(frames[int(len(frames) * 0.99)], 1), "unit": "ms"},
        "ui.frame_longest": {"value": round(frames[-1], 1), "unit": "ms", "target": 50},
        "ui.frame_work_longest": {
            "value": round(max(recorded["work"], default=0.0), 1),
            "unit": "ms",
            "note": "the longest animation-frame callback (the page applying changes)",
        },
        "ui.changes_longest_task": {
            "value": round(max(recorded["longTasks"], default=0.0)),
            "unit": "ms",
        },
    }
    return figures, last


async def measure(
    base: str, tokens: dict[str, Any], webhook: str, args: argparse.Namespace
) -> Figures:
    """Drive Chromium against the hub at ``base``."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            session = json.dumps({k: tokens[k] for k in ("access_token", "refresh_token")})
            await context.add_init_script(
                f"localStorage.setItem('hub.session', {json.dumps(session)});"
            )
            page = await context.new_page()
            figures = await first_load(page, base, args.entities)
            # Let the controls (built once each type's actions are known) settle first.
            await page.wait_for_function(
                "() => document.querySelectorAll('[role=switch]').length > 0", timeout=30_000
            )
            figures.update(await idle(page, args.seconds))
            more, last = await changes(page, webhook, args.entities, args.rate, args.seconds)
            figures.update(more)
            figures["ui.changes_caught_up"] = await caught_up(page, base, tokens, last)
            if args.screenshot:
                await page.screenshot(path=args.screenshot)
        finally:
            await browser.close()
    return figures


async def caught_up(
    page: Page, base: str, tokens: dict[str, Any], last: dict[int, int]
) -> dict[str, Any]:
    """How long after the changes stopped the page showed every changed entity's newest state."""
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{base}/api/entities", params={"limit": "10000"}) as resp,
    ):
        entities = (await resp.json())["entities"]
    by_external = {entity["external_id"]: entity for entity in entities}
    wanted = {str(by_external[f"e{n}"]["id"]): by_external[f"e{n}"]["last_changed"] for n in last}
    started = time.perf_counter()
    await page.wait_for_function(
        """(wanted) => Object.entries(wanted).every(([id, changed]) => {
          const time = document.querySelector(`tr[data-entity-id="${id}"] time`);
          return time && time.getAttribute("datetime") === changed;
        })""",
        arg=wanted,
        timeout=30_000,
    )
    return {
        "value": round((time.perf_counter() - started) * 1000),
        "unit": "ms",
        "entities": len(wanted),
        "note": "from the end of the changes until every changed row showed its newest state",
    }


def run(args: argparse.Namespace) -> Figures:
    """Start the hub, measure, stop it; returns the figures."""
    env = {
        "HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000",
        "HUB__HTTP__WEBHOOK_BURST": "1000000",
        "BENCH_UI_ENTITIES": str(args.entities),
    }
    with hub_process(DOMAIN, INIT, env) as base:
        tokens, webhook = asyncio.run(prepare(base, args.entities))
        return asyncio.run(measure(base, tokens, webhook, args))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="changes a second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--screenshot", metavar="PNG", help="save the page after the changes")
    args = parser.parse_args(argv)
    report(run(args), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
