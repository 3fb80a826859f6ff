"""The email integration in a real hub: a mailbox on Dovecot, replies through aiosmtpd."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

import pytest

from hub.integrations.integration import ConfigEntryAuthFailed, SetupContext
from integrations.email import INTEGRATION
from tests.bundled.conftest import BundledHub
from tests.support.dovecot import DovecotServer
from tests.support.smtp import SmtpServer

ALICE = "alice-pass-1"
FROM = "alice@example.org"
WAIT = 20.0
"""How long a mail may take to show up; it usually takes well under a second."""

Servers = tuple[DovecotServer, SmtpServer]


async def add_mailbox(hub: BundledHub, servers: Servers) -> str:
    """Alice's mailbox over TLS with the pasted CA, through the flow; the entry's id."""
    imap, smtp = servers
    return await hub.create_entry(
        "email",
        {
            "imap_host": "127.0.0.1",
            "imap_port": imap.tls_port,
            "imap_security": "tls",
            "imap_username": "alice",
            "imap_password": ALICE,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.tls_port,
            "smtp_security": "tls",
            "from_address": FROM,
            "ca_certificate": imap.ca_pem,
        },
    )


def mail(subject: str, body: str, message_id: str) -> bytes:
    """A mail from Bob to Alice."""
    message = EmailMessage()
    message["From"] = "Bob Builder <bob@example.net>"
    message["To"] = FROM
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    message["Date"] = "Fri, 04 Dec 2026 09:30:00 +0000"
    message.set_content(body)
    return message.as_bytes()


async def entry_state(hub: BundledHub, entry_id: str) -> str:
    """The entry's state as the entries page shows it."""
    status, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert status == 200, entry
    return str(entry["state"])


async def until_state(hub: BundledHub, entry_id: str, state: str) -> None:
    """Wait (bounded) until the entry reaches ``state``."""
    async with asyncio.timeout(WAIT):
        while await entry_state(hub, entry_id) != state:  # noqa: ASYNC110  # polled over REST
            await asyncio.sleep(0.05)


async def until_messages(hub: BundledHub, entry_id: str, count: int) -> list[dict[str, Any]]:
    """Wait (bounded) until the entry holds ``count`` email messages; them."""
    async with asyncio.timeout(WAIT):
        while True:
            found = await hub.entities(entry_id=entry_id, entity_type="email_message")
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)


# What the hub knows of the integration


async def test_a_mailbox_is_a_personal_regulated_channel_that_reads_sends_and_listens(
    servers: Servers, hub: BundledHub
) -> None:
    status, catalog = await hub.get("/api/integrations")
    assert status == 200, catalog
    [item] = [item for item in catalog["integrations"] if item["domain"] == "email"]
    assert item["default_scope"] == "user"
    assert item["single_instance"] is False
    assert item["icon"] == "/integration-icons/email.svg"
    assert item["manifest"]["required_tier"] == 1  # regulated
    assert set(item["manifest"]["provides"]) == {
        "message_reader",
        "message_sender",
        "message_listener",
    }
    entry_id = await add_mailbox(hub, servers)
    assert await entry_state(hub, entry_id) == "loaded"
    # The scheduled pull asks the mailbox's health first, so the entries page shows it.
    async with asyncio.timeout(WAIT):
        while True:
            _, entry = await hub.get(f"/api/config-entries/{entry_id}")
            if entry.get("health") and entry.get("listener", {}).get("state") == "running":
                break
            await asyncio.sleep(0.05)
    assert entry["health"]["status"] == "ok"
    assert entry["health"]["detail"] == "Signed in as alice"  # in the person's language
    status, types = await hub.get("/api/entity-types", params={"language": "de"})
    assert status == 200, types
    assert "E-Mail" in str(types)


async def test_health_is_a_login_a_refused_one_asks_for_reauth(servers: Servers) -> None:
    imap, smtp = servers
    data = {
        "imap_host": "127.0.0.1",
        "imap_port": imap.port,
        "imap_security": "starttls",
        "imap_username": "alice",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "starttls",
        "from_address": FROM,
        "ca_certificate": imap.ca_pem,
    }

    def context(password: str) -> SetupContext:
        return SetupContext(
            entry_id="e1", domain="email", data=data, secrets={"imap_password": password}
        )

    health = await INTEGRATION.async_health(context(ALICE))
    assert (health.status, health.key, dict(health.params)) == (
        "ok",
        "health.signed_in_as",
        {"name": "alice"},
    )
    with pytest.raises(ConfigEntryAuthFailed):
        await INTEGRATION.async_health(context("wrong"))
    await imap.stop()
    health = await INTEGRATION.async_health(context(ALICE))
    assert (health.status, health.key) == ("degraded", "health.unreachable")


# Reading


async def test_a_delivered_mail_becomes_a_searchable_email_message(
    servers: Servers, hub: BundledHub
) -> None:
    imap, _ = servers
    entry_id = await add_mailbox(hub, servers)
    await imap.deliver(mail("Boiler service", "The plumber comes on Tuesday.", "m1@example.net"))
    [message] = await until_messages(hub, entry_id, 1)
    assert message["external_id"] == "m1@example.net"
    assert message["name"] == "Boiler service"
    attributes = message["attributes"]
    assert attributes["sender_address"] == "bob@example.net"
    assert attributes["from_me"] is False
    assert "plumber comes on Tuesday" in attributes["body"]
    status, found = await hub.get("/api/entities/search", params={"q": "plumber"})
    assert status == 200, found
    assert message["id"] in [hit["entity"]["id"] for hit in found["results"]]


# Sending


async def test_an_approved_reply_goes_out_once_threaded_under_the_original(
    servers: Servers, hub: BundledHub
) -> None:
    imap, smtp = servers
    entry_id = await add_mailbox(hub, servers)
    await imap.deliver(mail("Dinner?", "Friday at eight?", "dinner.1@example.net"))
    [message] = await until_messages(hub, entry_id, 1)
    status, draft = await hub.post(
        "/api/drafts", {"in_reply_to": message["id"], "body": "Friday works."}
    )
    assert status == 201, draft
    assert smtp.messages == []  # a draft waits for a person
    status, sent = await hub.post(f"/api/drafts/{draft['id']}/approve", {})
    assert status == 200, sent
    assert sent["state"] == "sent", sent
    status, again = await hub.post(f"/api/drafts/{draft['id']}/approve", {})
    assert status in (200, 409), again
    [received] = smtp.messages
    assert received.rcpt_tos == ("bob@example.net",)
    assert received.message["From"] == FROM
    assert received.message["In-Reply-To"] == "<dinner.1@example.net>"
    assert received.message["References"] == "<dinner.1@example.net>"


# When the server says no


async def test_a_password_changed_on_the_server_asks_for_reauth_and_a_new_one_reconnects(
    servers: Servers, hub: BundledHub
) -> None:
    imap, smtp = servers
    entry_id = await add_mailbox(hub, servers)
    status, _ = await hub.post(f"/api/config-entries/{entry_id}/disable")
    assert status == 200
    # A restart makes Dovecot read its password file afresh; the SMTP server changes too.
    await imap.stop()
    imap.users["alice"] = smtp.recorder.users["alice"] = "alice-new-password"
    lines = [f"{user}:{{PLAIN}}{password}\n" for user, password in imap.users.items()]
    (imap.root / "passwd").write_text("".join(lines))
    await imap.start()
    status, _ = await hub.post(f"/api/config-entries/{entry_id}/enable")
    assert status == 200
    await until_state(hub, entry_id, "reauth_required")
    status, reauth = await hub.post(f"/api/config-entries/{entry_id}/reauth", {})
    assert status == 200, reauth
    done = await hub.submit(reauth["flow_id"], {"imap_password": "alice-new-password"})
    assert done["type"] == "create_entry", done
    await until_state(hub, entry_id, "loaded")


async def test_a_server_that_is_down_is_retried_rather_than_failed(
    servers: Servers, hub: BundledHub
) -> None:
    imap, _ = servers
    entry_id = await add_mailbox(hub, servers)
    status, _ = await hub.post(f"/api/config-entries/{entry_id}/disable")
    assert status == 200
    await imap.stop()
    status, _ = await hub.post(f"/api/config-entries/{entry_id}/enable")
    assert status == 200
    await until_state(hub, entry_id, "setup_retry")
    status, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert ALICE not in str(entry)
