"""The email config flow through a real hub, against real Dovecot and aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.bench.startup import free_port
from tests.bundled.conftest import BundledHub
from tests.support.dovecot import DovecotServer
from tests.support.smtp import SmtpServer

ALICE = "alice-pass-1"
FROM = "alice@example.org"


def form(
    imap: DovecotServer, smtp: SmtpServer, *, security: str = "tls", ca: bool = True, **changes: Any
) -> dict[str, Any]:
    """A complete submission for alice's mailbox (TLS on both servers by default)."""
    tls = security == "tls"
    values: dict[str, Any] = {
        "imap_host": "127.0.0.1",
        "imap_port": imap.tls_port if tls else imap.port,
        "imap_security": security,
        "imap_username": "alice",
        "imap_password": ALICE,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.tls_port if tls else smtp.port,
        "smtp_security": security,
        "smtp_username": "",
        "smtp_password": "",
        "from_address": FROM,
        "ca_certificate": imap.ca_pem if ca else "",
        "allow_unencrypted": False,
        "history_days": 30,
    }
    return values | changes


async def submit(hub: BundledHub, user_input: dict[str, Any], **start: Any) -> dict[str, Any]:
    """Start an email flow and submit ``user_input`` once."""
    first = await hub.start_flow("email", **start)
    assert first["type"] == "form", first
    return await hub.submit(first["flow_id"], user_input)


# Success


async def test_a_mailbox_over_tls_with_the_pasted_ca_becomes_the_persons_own_entry(
    servers: tuple[DovecotServer, SmtpServer],
    hub: BundledHub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    imap, smtp = servers
    done = await submit(hub, form(imap, smtp))
    assert done["type"] == "create_entry", done
    status, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert status == 200, entry
    assert entry["title"] == FROM
    # An admin who gave no scope still adds a mailbox as their own (default_scope: user).
    assert entry["scope"] == "user"
    stored = b"".join(
        path.read_bytes() for path in (tmp_path / "config").rglob("*") if path.is_file()
    )
    assert ALICE.encode() not in stored
    assert FROM.encode() in stored
    assert ALICE not in caplog.text


async def test_starttls_on_both_servers_works_too(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    done = await submit(hub, form(imap, smtp, security="starttls"))
    assert done["type"] == "create_entry", done


async def test_plain_text_on_loopback_needs_no_permission(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    done = await submit(hub, form(imap, smtp, security="none", ca=False))
    assert done["type"] == "create_entry", done


async def test_an_admin_may_still_add_a_household_mailbox(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    done = await submit(hub, form(imap, smtp), scope="global")
    assert done["type"] == "create_entry", done
    status, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert (status, entry["scope"]) == (200, "global")


# What the person is told


async def test_a_wrong_imap_password_is_auth_failed(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    answer = await submit(hub, form(imap, smtp, imap_password="not-her-password"))
    assert answer["type"] == "form"
    assert answer["error_keys"] == {"base": "auth_failed"}
    assert "not-her-password" not in str(answer)


async def test_a_wrong_smtp_password_is_smtp_auth_failed(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    answer = await submit(hub, form(imap, smtp, smtp_password="not-her-smtp-password"))
    assert answer["error_keys"] == {"base": "smtp_auth_failed"}
    assert smtp.messages == []


async def test_closed_ports_tell_which_server_did_not_answer(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    no_imap = await submit(hub, form(imap, smtp, imap_port=free_port()))
    assert no_imap["error_keys"] == {"base": "cannot_connect"}
    no_smtp = await submit(hub, form(imap, smtp, smtp_port=free_port()))
    assert no_smtp["error_keys"] == {"base": "smtp_cannot_connect"}


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_a_certificate_from_an_unknown_ca_is_refused_without_the_pasted_ca(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub, security: str
) -> None:
    imap, smtp = servers
    answer = await submit(hub, form(imap, smtp, security=security, ca=False))
    assert answer["error_keys"] == {"base": "certificate_invalid"}


async def test_a_bad_ca_is_a_field_error(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    for pasted in ("my CA", garbage):
        answer = await submit(hub, form(imap, smtp, ca_certificate=pasted))
        assert answer["error_keys"] == {"ca_certificate": "invalid_ca"}


async def test_plain_text_to_another_machine_is_refused_before_connecting(
    hub: BundledHub,
) -> None:
    values = {
        "imap_host": "mail.example.org",
        "imap_port": 143,
        "imap_security": "none",
        "imap_username": "alice",
        "imap_password": ALICE,
        "smtp_host": "mail.example.org",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "from_address": FROM,
    }
    answer = await submit(hub, values)
    assert answer["error_keys"] == {"imap_security": "unencrypted_not_allowed"}
    assert "Allow unencrypted connections" in answer["errors"]["imap_security"]
    both = await submit(hub, values | {"smtp_security": "none"})
    assert both["error_keys"] == {
        "imap_security": "unencrypted_not_allowed",
        "smtp_security": "unencrypted_not_allowed",
    }


async def test_field_checks_name_the_field(hub: BundledHub) -> None:
    answer = await submit(
        hub,
        {
            "imap_host": "127.0.0.1",
            "imap_port": 70000,
            "imap_username": "alice",
            "imap_password": ALICE,
            "smtp_host": "127.0.0.1",
            "from_address": "alice at home",
            "history_days": -1,
        },
    )
    assert answer["error_keys"] == {
        "imap_port": "invalid_port",
        "from_address": "invalid_address",
        "history_days": "invalid_history_days",
    }


async def test_the_form_is_in_german_too(hub: BundledHub) -> None:
    first = await hub.start_flow("email", language="de")
    labels = {field["name"]: field["label"] for field in first["data_schema"]}
    assert labels["imap_password"] == "IMAP-Passwort"
    assert labels["allow_unencrypted"] == "Unverschlüsselte Verbindungen erlauben"
    [security] = [field for field in first["data_schema"] if field["name"] == "imap_security"]
    assert [option["label"] for option in security["options"]][-1] == "Keine (unverschlüsselt)"


# Editing an entry


async def test_reauth_asks_for_the_passwords_only_and_checks_them(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    done = await submit(hub, form(imap, smtp))
    entry_id = done["entry_id"]
    status, reauth = await hub.post(f"/api/config-entries/{entry_id}/reauth", {})
    assert status == 200, reauth
    assert reauth["step_id"] == "reauth"
    assert [field["name"] for field in reauth["data_schema"]] == ["imap_password", "smtp_password"]
    wrong = await hub.submit(reauth["flow_id"], {"imap_password": "guess"})
    assert wrong["error_keys"] == {"base": "auth_failed"}
    right = await hub.submit(reauth["flow_id"], {"imap_password": ALICE, "smtp_password": ""})
    assert right["type"] == "create_entry", right
    assert right["entry_id"] == entry_id


async def test_reconfigure_keeps_the_stored_passwords(
    servers: tuple[DovecotServer, SmtpServer], hub: BundledHub
) -> None:
    imap, smtp = servers
    done = await submit(hub, form(imap, smtp))
    entry_id = done["entry_id"]
    status, edit = await hub.post(f"/api/config-entries/{entry_id}/reconfigure", {})
    assert status == 200, edit
    assert edit["step_id"] == "reconfigure"
    changed = {"from_address": "alice@example.net", "history_days": 7}
    saved = await hub.submit(edit["flow_id"], changed)
    assert saved["type"] == "create_entry", saved
    status, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["title"] == "alice@example.net"
    assert entry["data"]["history_days"] == 7


@pytest.mark.parametrize(
    ("host", "errors"),
    [
        ("a" * 300, {"imap_host": "invalid_host"}),
        ("bad host name", {"imap_host": "invalid_host"}),
        ("[::1", {"imap_host": "invalid_host"}),
        ("ünïcode.invalid", {"base": "cannot_connect"}),
        ("-x-.invalid", {"base": "cannot_connect"}),
    ],
)
async def test_a_host_that_cannot_be_reached_is_told_without_a_traceback(
    hub: BundledHub, host: str, errors: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    answer = await submit(
        hub,
        {
            "imap_host": host,
            "imap_port": 993,
            "imap_username": "alice",
            "imap_password": ALICE,
            "smtp_host": "127.0.0.1",
            "from_address": FROM,
        },
    )
    assert answer["error_keys"] == errors
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
