"""A real ``python -m hub run`` process for robustness tests, with fakes served on 127.0.0.1.

Everything a test receives from the hub can be recorded (HTTP status lines, headers and bodies,
websocket frames), so a test can scan it afterwards; the process's stdout and stderr go to a file.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.bench.startup import free_port

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class Received:
    """One thing the hub sent a test: where it came from, its bytes, which secrets it may hold."""

    where: str
    data: bytes
    may_hold: frozenset[str] = frozenset()


@dataclass(slots=True)
class Recorder:
    """Everything received from the hub, in order."""

    items: list[Received] = field(default_factory=list)

    def add(self, where: str, data: bytes, may_hold: frozenset[str] = frozenset()) -> None:
        """Remember ``data``."""
        self.items.append(Received(where, data, may_hold))


@dataclass(slots=True)
class HubProcess:
    """A running hub: its URL, process, config directory and log file."""

    url: str
    proc: asyncio.subprocess.Process
    config_dir: Path
    log_path: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text("utf-8", errors="replace")


def external_integration(root: Path, domain: str, manifest: str, init: str) -> Path:
    """Write an integration folder under ``root``; the directory to list in ``external_dirs``."""
    folder = root / domain
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(manifest)
    (folder / "__init__.py").write_text(init)
    return root


@asynccontextmanager
async def hub_process(
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    configuration: str | None = None,
    log_name: str = "hub.log",
    file_limit: tuple[int, int] | None = None,
) -> AsyncIterator[HubProcess]:
    """``python -m hub run`` on ``tmp_path/config`` and a free loopback port; always stopped."""
    # The environment is the test's without any HUB* variable, plus ``env``. ``configuration``
    # becomes configuration.yaml before the first start; a second start on the same tmp_path
    # reuses the config directory (another ``log_name`` keeps the first log). ``file_limit`` is the
    # process's (soft, hard) RLIMIT_NOFILE.
    config_dir = tmp_path / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    if configuration is not None:
        (config_dir / "configuration.yaml").write_text(configuration)
    log_path = tmp_path / log_name
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
    environment.update(env or {})
    command = [sys.executable, "-m", "hub", "run", "--config", str(config_dir)]
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *command,
            *("--host", "127.0.0.1", "--port", str(port)),
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if file_limit is None else partial(_limit_files, file_limit),
        )
    hub = HubProcess(f"http://127.0.0.1:{port}", proc, config_dir, log_path)
    try:
        await _wait_until_healthy(hub)
        yield hub
    finally:
        await stop(hub)


def _limit_files(limit: tuple[int, int]) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, limit)


async def _wait_until_healthy(hub: HubProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            assert hub.proc.returncode is None, f"the hub exited:\n{hub.log_text()}"
            assert time.monotonic() < deadline, f"the hub did not start:\n{hub.log_text()}"
            try:
                async with session.get(hub.url + "/api/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


async def stop(hub: HubProcess) -> int:
    """SIGTERM, then SIGKILL after ``STOP_TIMEOUT``; the exit code. Safe to call twice."""
    proc = hub.proc
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await proc.wait()
        except TimeoutError:
            proc.kill()
    return await proc.wait()


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port (a real socket the hub process can reach); its URL."""
    runner = web.AppRunner(app, shutdown_timeout=1, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


OWNER: dict[str, str] = {"username": "owner", "password": "a long passphrase 1"}


async def add_webhook(session: aiohttp.ClientSession, base: str) -> tuple[str, dict[str, str]]:
    """Onboard ``OWNER`` and add a webhook entry: its URL with the token, and the owner's headers."""
    async with session.post(f"{base}/api/onboarding", json=OWNER) as resp:
        headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
    async with session.post(
        f"{base}/api/config-flows", json={"domain": "webhook"}, headers=headers
    ) as resp:
        flow = (await resp.json())["flow_id"]
    async with session.post(
        f"{base}/api/config-flows/{flow}", json={"user_input": {"name": "s"}}, headers=headers
    ) as resp:
        entry_id = (await resp.json())["entry_id"]
    async with session.get(
        f"{base}/api/config-entries/{entry_id}/webhook", headers=headers
    ) as resp:
        return base + str((await resp.json())["path"]), headers


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class Api:
    """The hub's REST API as one signed-in person; every answer is recorded when a recorder is given."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, recorder: Recorder | None = None
    ) -> None:
        self.session = session
        self.url = url
        self.recorder = recorder
        self.token = ""

    async def onboard(self, username: str, password: str) -> None:
        """Create the owner and sign in with the token it answers."""
        tokens = await self.call(
            "POST", "/api/onboarding", {"username": username, "password": password}
        )
        self.token = str(tokens["access_token"])

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int | None = 200,
        may_hold: frozenset[str] = frozenset(),
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Any:
        """Send a request; the decoded JSON answer (or text), asserting ``status`` unless ``None``."""
        sent = dict(headers or {})
        if self.token and not path.startswith("/webhooks/"):
            sent.setdefault("Authorization", f"Bearer {self.token}")
        json_body = body if data is None else None
        async with self.session.request(
            method, self.url + path, json=json_body, data=data, headers=sent
        ) as resp:
            raw = await resp.read()
            self.record(f"{method} {path.split('?')[0]}", resp, raw, may_hold)
            assert status is None or resp.status == status, (resp.status, raw[:2000])
            if not raw:
                return None
            try:
                return json.loads(raw)
            except ValueError:
                return raw.decode("utf-8", errors="replace")

    def record(
        self,
        where: str,
        resp: aiohttp.ClientResponse,
        raw: bytes,
        may_hold: frozenset[str] = frozenset(),
    ) -> None:
        """Keep a response's status line, headers and body."""
        if self.recorder is None:
            return
        head = f"HTTP {resp.status} {resp.reason}\r\n".encode() + b"".join(
            name + b": " + value + b"\r\n" for name, value in resp.raw_headers
        )
        self.recorder.add(f"{where} (headers)", head, may_hold)
        self.recorder.add(where, raw, may_hold)


class Socket:
    """One signed-in ``/api/websocket`` connection; every frame it receives is recorded."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, recorder: Recorder | None) -> None:
        self.ws = ws
        self.recorder = recorder
        self.next_id = 0

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, url: str, token: str, recorder: Recorder | None = None
    ) -> Socket:
        """Connect and sign in."""
        ws = await session.ws_connect(url.replace("http", "ws", 1) + "/api/websocket")
        sock = cls(ws, recorder)
        assert (await sock.receive())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await sock.receive())["type"] == "auth_ok"
        return sock

    async def send(self, kind: str, **fields: Any) -> int:
        """Send a numbered command; its id."""
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "type": kind, **fields})
        return self.next_id

    async def receive(self, seconds: float = 30.0) -> dict[str, Any]:
        """The next message within ``seconds``, decoded (a close or an error fails the test)."""
        msg = await self.ws.receive(timeout=seconds)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        if self.recorder is not None:
            self.recorder.add("websocket frame", str(msg.data).encode())
        decoded: dict[str, Any] = json.loads(msg.data)
        return decoded

    async def until(
        self, done: Callable[[dict[str, Any]], bool], seconds: float = 30.0
    ) -> list[dict[str, Any]]:
        """Every message up to and including the first for which ``done`` is true (within ``seconds``)."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(seconds):
            while True:
                message = await self.receive(seconds)
                seen.append(message)
                if done(message):
                    return seen

    async def close(self) -> None:
        """Close the socket."""
        await self.ws.close()
