"""Comms benchmark: a real ``hub run``, a real Dovecot and aiosmtpd, the bundled ``email`` integration.

Run: ``python -m tests.bench.comms [--backlog 10000] [--deliveries 30] [--listeners 20] [--json FILE]``.

- ``backlog_ingest_s``: a mailbox already holding ``--backlog`` messages is added; seconds until the
  inbox shows every one of them. Meanwhile ``/api/health`` is asked every 50 ms:
  ``backlog_health_p99_ms`` / ``backlog_health_max_ms`` say whether the hub kept answering.
- ``mail_to_inbox_p50_ms`` / ``_p90_ms``: a message APPENDed to the mailbox (as mail delivery does,
  waking the hub's IMAP IDLE) until its ``inbox.message`` event reaches a websocket subscriber.
- ``rss_per_idle_listener_kb``: the hub's resident memory grown by ``--listeners`` more mailboxes
  (an IDLE connection and a reader each) once they are all idle, per mailbox.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.report import report
from tests.bench.startup import free_port, rss_mb, start_hub, stop_hub
from tests.support.dovecot import DovecotServer, Options, running_dovecot
from tests.support.smtp import SmtpServer, running_smtp


def mail(n: int, subject: str = "Backlog") -> bytes:
    """A small plain-text message."""
    message = EmailMessage()
    message["From"] = f"Sender {n} <sender{n % 50}@example.org>"
    message["To"] = "alice@example.org"
    message["Subject"] = f"{subject} {n}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="bench.example")
    message.set_content(f"Message number {n}.\nIt says very little, on purpose.\n")
    return bytes(message)


def flow_input(dovecot: DovecotServer, smtp: SmtpServer, user: str) -> dict[str, Any]:
    """The email flow's answers for ``user`` on these servers (plain text: both are on loopback)."""
    imap = dovecot.settings(user)
    out = smtp.settings(user)
    return {
        "imap_host": imap.host,
        "imap_port": imap.port,
        "imap_security": "none",
        "imap_username": user,
        "imap_password": imap.password,
        "smtp_host": out.host,
        "smtp_port": out.port,
        "smtp_security": "none",
        "smtp_username": user,
        "smtp_password": out.password,
        "from_address": f"{user}@example.org",
    }


class Hub:
    """A signed-in HTTP session with a running hub."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session

    async def add_mailbox(self, answers: dict[str, Any]) -> str:
        async with self.session.post(
            f"{self.base}/api/config-flows", json={"domain": "email"}
        ) as r:
            step = await r.json()
        flow = f"{self.base}/api/config-flows/{step['flow_id']}"
        async with self.session.post(flow, json={"user_input": answers}) as r:
            done = await r.json()
        if "entry_id" not in done:
            raise RuntimeError(f"the email flow did not create an entry: {done}")
        return str(done["entry_id"])

    async def unread(self) -> int:
        async with self.session.get(f"{self.base}/api/inbox?limit=1") as r:
            return int((await r.json())["counts"]["unread"])

    async def listeners(self) -> list[str]:
        async with self.session.get(f"{self.base}/api/config-entries") as r:
            entries = (await r.json())["entries"]
        return [str((e.get("listener") or {}).get("state")) for e in entries]


async def backlog(hub: Hub, dovecot: DovecotServer, smtp: SmtpServer, count: int) -> dict[str, Any]:
    """Fill alice's mailbox, add it, and time the inbox taking it all in."""
    for start in range(0, count, 1000):
        await dovecot.deliver_many([mail(n) for n in range(start, min(count, start + 1000))])
    health: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            began = time.perf_counter()
            async with hub.session.get(f"{hub.base}/api/health") as r:
                await r.read()
            health.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(0.05)

    prober = asyncio.create_task(probe())
    began = time.perf_counter()
    await hub.add_mailbox(flow_input(dovecot, smtp, "alice"))
    while await hub.unread() < count:  # noqa: ASYNC110  # polling another process
        await asyncio.sleep(0.1)
    took = time.perf_counter() - began
    done.set()
    await prober
    health.sort()
    return {
        "backlog_messages": {"value": count, "unit": "messages"},
        "backlog_ingest_s": {"value": round(took, 2), "unit": "s", "target": 20},
        "backlog_health_p99_ms": {
            "value": round(health[int(len(health) * 0.99)], 1),
            "unit": "ms",
        },
        "backlog_health_max_ms": {"value": round(health[-1], 1), "unit": "ms"},
    }


async def latency(hub: Hub, dovecot: DovecotServer, token: str, deliveries: int) -> dict[str, Any]:
    """Deliver one message at a time; time each until its event reaches a websocket client."""
    times: list[float] = []
    async with hub.session.ws_connect(f"{hub.base}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        await ws.receive_json()
        await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "inbox.message"})
        await ws.receive_json()
        for n in range(deliveries):
            began = time.perf_counter()
            await dovecot.deliver(mail(n, subject="Live"))
            while True:
                message = await ws.receive_json(timeout=30)
                if (
                    message.get("type") == "event"
                    and message["event"]["data"]["change"] == "created"
                ):
                    break
            times.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(0.2)
    times.sort()
    return {
        "mail_to_inbox_p50_ms": {
            "value": round(statistics.median(times), 1),
            "unit": "ms",
            "target": 1000,
        },
        "mail_to_inbox_p90_ms": {"value": round(times[int(len(times) * 0.9)], 1), "unit": "ms"},
    }


async def listeners(
    hub: Hub, dovecot: DovecotServer, smtp: SmtpServer, pid: int, count: int
) -> dict[str, Any]:
    """Add ``count`` empty mailboxes; the resident memory each adds once all of them idle."""
    await asyncio.sleep(2)
    before = rss_mb(pid)
    for _ in range(count):
        await hub.add_mailbox(flow_input(dovecot, smtp, "bob"))
    async with asyncio.timeout(120):
        while (await hub.listeners()).count("running") < count + 1:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    await asyncio.sleep(5)
    after = rss_mb(pid)
    return {
        "idle_listeners": {"value": count, "unit": "listeners"},
        "rss_per_idle_listener_kb": {
            "value": round((after - before) * 1024 / count, 1),
            "unit": "KB",
            "target": 1024,
        },
    }


async def run(backlog_size: int, deliveries: int, listener_count: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    options = Options(connections_per_user=2 * listener_count + 10)
    async with running_dovecot(options) as dovecot, running_smtp() as smtp:
        with tempfile.TemporaryDirectory(prefix="hub-bench-comms-") as tmp:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
            env["HUB__LOGGER__DEFAULT"] = "error"
            env["HUB__INTEGRATIONS__MAX_ENTRIES_PER_PERSON"] = str(listener_count + 10)
            proc, _ = await asyncio.to_thread(start_hub, Path(tmp) / "config", port, env)
            try:
                base = f"http://127.0.0.1:{port}"
                async with aiohttp.ClientSession() as session:
                    owner = {"username": "bench", "password": "bench-password-1"}
                    async with session.post(f"{base}/api/onboarding", json=owner) as r:
                        token = str((await r.json())["access_token"])
                    session.headers["Authorization"] = f"Bearer {token}"
                    hub = Hub(base, session)
                    figures.update(await backlog(hub, dovecot, smtp, backlog_size))
                    figures.update(await latency(hub, dovecot, token, deliveries))
                    figures.update(await listeners(hub, dovecot, smtp, proc.pid, listener_count))
            finally:
                await asyncio.to_thread(stop_hub, proc)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the three measurements and report them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=30)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    report(asyncio.run(run(args.backlog, args.deliveries, args.listeners)), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
