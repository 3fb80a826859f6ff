"""End to end through a real hub: Dovecot → IDLE → the inbox → triage → the agent's draft →
approval → one mail at aiosmtpd; and a mail server that goes away and comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from hub.api.state import CHAT
from hub.app import create_app
from hub.config import CommsConfig, HubConfig, ModelConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub
from tests.fakes.openai_server import FakeOpenAI
from tests.integrations.email.conftest import Servers
from tests.integrations.email.test_integration import WAIT, add_mailbox, mail


@pytest.fixture
def allow_requests() -> Iterator[None]:
    """Model requests reach only the fake server on 127.0.0.1."""
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, True
    yield
    models.ALLOW_MODEL_REQUESTS = before


async def start(
    tmp_path: Path, aiohttp_client: AiohttpClient, config: HubConfig
) -> tuple[BundledHub, Any]:
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return BundledHub(client), app


async def poll(hub: BundledHub, path: str, done: Any) -> Any:
    """GET ``path`` until ``done(answer)`` holds (bounded); the answer."""
    async with asyncio.timeout(WAIT):
        while True:
            status, answer = await hub.get(path)
            assert status == 200, answer
            if done(answer):
                return answer
            await asyncio.sleep(0.05)


def listening(entry: dict[str, Any]) -> bool:
    return bool((entry.get("listener") or {}).get("state") == "running")


@pytest.mark.usefixtures("allow_requests")
async def test_a_mail_is_triaged_drafted_by_the_agent_and_approved_into_exactly_one_reply(
    servers: Servers,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
) -> None:
    imap, smtp = servers
    fake = FakeOpenAI()
    model_server = await aiohttp_server(fake.app())
    # Mail is regulated data: only a model of that tier or above may read it.
    model = ModelConfig(
        name="local", base_url=str(model_server.make_url("/v1")), model="m", tier="internal"
    )
    hub, app = await start(tmp_path, aiohttp_client, HubConfig(models=(model,)))
    entry_id = await add_mailbox(hub, servers)
    await poll(hub, f"/api/config-entries/{entry_id}", listening)

    # Triage asks the model first: its verdict is queued before the mail arrives.
    fake.reply_tool_call(
        "final_result", {"importance": "high", "summary": "Bob asks when he may fix the roof"}
    )
    await imap.deliver(mail("Roof", "Can I come on Tuesday?", "roof-1@example.net"))
    inbox = await poll(
        hub,
        "/api/inbox",
        lambda body: body["threads"] and body["threads"][0]["last"]["triage"] == "done",
    )
    (thread,) = inbox["threads"]
    assert thread["subject"] == "Roof"
    assert thread["importance"] == "high"
    assert thread["last"]["summary"] == "Bob asks when he may fix the roof"
    assert thread["last"]["sender_address"] == "bob@example.net"
    message_id = thread["last"]["id"]

    # The agent drafts a reply; it sends nothing.
    asked = len(fake.requests)
    fake.reply_tool_call("draft_reply", {"message_id": message_id, "body": "Tuesday works."})
    fake.reply_text("I drafted a reply for you to approve.")
    status, me = await hub.get("/api/auth/current_user")
    status, conversation = await hub.post("/api/conversations", {})
    assert status == 201, conversation
    chat = await app[CHAT].get()
    finished = asyncio.Event()
    await chat.start(
        me["id"],
        conversation["id"],
        "Tell Bob Tuesday is fine",
        lambda event: finished.set() if event["kind"] == "done" else None,
    )
    async with asyncio.timeout(WAIT):
        await finished.wait()
    assert "draft_reply" in fake.tool_names(asked)
    assert smtp.messages == []
    status, thread_view = await hub.get("/api/inbox/thread", params={"key": thread["thread_key"]})
    (draft,) = thread_view["drafts"]
    assert (draft["author"], draft["state"], draft["may_approve"]) == ("agent", "draft", True)

    # Two approvals at once (a double click): one mail, threaded under Bob's.
    approve = f"/api/drafts/{draft['id']}/approve"
    answers = await asyncio.gather(hub.post(approve, {}), hub.post(approve, {}))
    assert sorted(status for status, _ in answers) == [200, 409]
    (sent,) = smtp.messages
    reply = sent.message
    assert reply["To"] == "bob@example.net"
    assert reply["Subject"] == "Re: Roof"
    assert reply["In-Reply-To"] == "<roof-1@example.net>"
    assert "<roof-1@example.net>" in reply["References"]
    assert "Tuesday works." in reply.get_content()
    status, again = await hub.post(approve, {})
    assert status == 409, again
    assert len(smtp.messages) == 1


async def test_a_mail_server_that_goes_away_and_comes_back_misses_nothing_and_repeats_nothing(
    servers: Servers, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    imap, _ = servers
    comms = CommsConfig(listener_backoff_seconds=0.2, listener_backoff_max_seconds=1.0)
    hub, _ = await start(tmp_path, aiohttp_client, HubConfig(comms=comms))
    entry_id = await add_mailbox(hub, servers)
    await poll(hub, f"/api/config-entries/{entry_id}", listening)
    await imap.deliver(mail("Before", "Sent while all was well.", "before@example.net"))
    await poll(hub, "/api/inbox", lambda body: len(body["threads"]) == 1)

    await imap.stop()
    entry = await poll(
        hub,
        f"/api/config-entries/{entry_id}",
        lambda entry: (entry.get("listener") or {}).get("state") == "backing_off",
    )
    assert entry["listener"]["last_error"]
    # Mail keeps arriving while IMAP is down (the MTA writes into the maildir).
    new = imap.root / "mail" / "alice" / "Maildir" / "new"
    raw = mail("During", "Sent while the server was down.", "during@example.net")
    await asyncio.to_thread((new / f"{int(time.time())}.hubtest.local").write_bytes, raw)
    await imap.start()

    inbox = await poll(hub, "/api/inbox", lambda body: len(body["threads"]) == 2)
    assert {t["subject"] for t in inbox["threads"]} == {"Before", "During"}
    await poll(hub, f"/api/config-entries/{entry_id}", listening)
    messages = await hub.entities(entry_id=entry_id, entity_type="email_message")
    assert sorted(m["external_id"] for m in messages) == [
        "before@example.net",
        "during@example.net",
    ]
