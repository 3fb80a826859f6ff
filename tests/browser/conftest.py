"""Browser tests: a real ``hub run`` on 127.0.0.1 and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.bench.startup import free_port, health_ok
from tests.fakes.openai_server import FakeOpenAI

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HAVE_CHROMIUM = bool(shutil.which(CHROMIUM)) or Path(CHROMIUM).exists()
OWNER = {"username": "owner", "password": "owner-password-1"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RunningHub:
    """A hub process and its owner's tokens."""

    url: str
    tokens: dict[str, Any]
    config_dir: Path

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the REST API as the owner; the decoded answer (asserting a 2xx)."""
        headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, json=body, headers=headers) as resp,
        ):
            data = await resp.json()
            assert resp.status < 300, data
            return data


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's outcome on the test, so fixtures can screenshot a failure."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@contextmanager
def _hub_process(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
    env["HUB__LOGGER__DEFAULT"] = "warning"
    with (tmp_path / "hub.log").open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub",
                "run",
                "--config",
                str(tmp_path / "config"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not health_ok(port):
                assert proc.poll() is None, (tmp_path / "hub.log").read_text()
                assert time.monotonic() < deadline, "the hub did not start"
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def fresh_hub(tmp_path: Path) -> Iterator[str]:
    """A hub nobody has onboarded yet; its URL."""
    with _hub_process(tmp_path) as url:
        yield url


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    """A fresh hub with the bundled integrations, onboarded."""
    with _hub_process(tmp_path) as url:
        request = urllib.request.Request(
            f"{url}/api/onboarding",
            data=json.dumps(OWNER).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            tokens = json.loads(resp.read())
        yield RunningHub(url, tokens, tmp_path / "config")


async def _signed_in_page(browser: Any, hub: RunningHub) -> Any:
    context = await browser.new_context()
    session = json.dumps({k: hub.tokens[k] for k in ("access_token", "refresh_token")})
    # Sandboxed iframes (dashboard cards) have no storage: only the page itself signs in.
    await context.add_init_script(
        f"try {{ localStorage.setItem('hub.session', {json.dumps(session)}); }} catch (e) {{}}"
    )
    page = await context.new_page()
    await page.goto(hub.url + "/#/entities")
    return page


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium through Playwright (no browser download)."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any, hub: RunningHub, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A page signed in as the owner; saved as a screenshot when the test fails."""
    page = await _signed_in_page(browser, hub)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


@pytest.fixture
async def second_page(browser: Any, hub: RunningHub) -> Any:
    """Another browser context signed in as the owner (a second device)."""
    return await _signed_in_page(browser, hub)


@dataclass
class FakeModelServer:
    """A fake OpenAI-compatible model served on 127.0.0.1 for the hub process, and its base URL."""

    fake: FakeOpenAI
    url: str


FAKE_API_KEY = "sk-fake-browser-secret-0123456789"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeModelServer]:
    """``tests/fakes/openai_server.FakeOpenAI`` on a real port (the hub runs in its own process);
    it insists on ``FAKE_API_KEY``."""
    fake = FakeOpenAI(api_key=FAKE_API_KEY)
    runner = web.AppRunner(fake.app(), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield FakeModelServer(fake, f"http://127.0.0.1:{port}/v1")
    finally:
        await runner.cleanup()


@asynccontextmanager
async def served_hub(
    tmp_path: Path, bundled: Path | None = None
) -> AsyncIterator[tuple[str, dict[str, Any], web.Application]]:
    """An onboarded hub served from the test's own loop, so a test can reach its services
    in-process (raise a repair, send a notification): its URL, the owner's tokens, the app.
    ``bundled`` is its integrations folder (an empty one by default)."""
    from hub.app import create_app
    from hub.config import HubConfig, IntegrationsConfig

    if bundled is None:
        bundled = tmp_path / "integrations"
        bundled.mkdir(exist_ok=True)
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/api/onboarding", json=OWNER) as resp,
        ):
            assert resp.status == 200, await resp.text()
            tokens = await resp.json()
        yield url, tokens, app
    finally:
        await runner.cleanup()
