"""Config flows over HTTP, as the web UI drives them, against fake services on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import pytest

from hub.api.state import CATALOG, CONFIG_ENTRIES, FLOW_MANAGER
from tests.api.conftest import StartHub
from tests.integrations.spec_examples import NUMBER, OPENPROJECT_KEY, PNG


def files_under(directory: Path) -> dict[Path, bytes]:
    """Every file's bytes, for scanning after the hub has stopped."""
    return {path: path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


async def test_openproject_flow_invalid_url_auth_failed_then_success(start_hub: StartHub) -> None:
    hub = await start_hub()
    form = await hub.start("openproject")
    assert form["type"] == "form"
    assert form["step_id"] == "user"
    labels = {f["name"]: f["label"] for f in form["data_schema"]}
    assert labels == {"base_url": "OpenProject URL", "api_key": "API key"}
    api_key = next(f for f in form["data_schema"] if f["name"] == "api_key")
    assert api_key["is_secret"] is True
    flow_id = form["flow_id"]

    bad_url = await hub.submit(flow_id, {"base_url": "openproject.lan", "api_key": "x"})
    assert bad_url["errors"] == {"base_url": "Enter a URL starting with http:// or https://"}
    assert bad_url["error_keys"] == {"base_url": "invalid_url"}

    wrong_key = await hub.submit(flow_id, {"base_url": hub.openproject_url, "api_key": "nope"})
    assert wrong_key["error_keys"] == {"base": "auth_failed"}
    assert wrong_key["errors"]["base"].startswith("Authentication failed")

    done = await hub.submit(
        flow_id, {"base_url": f" {hub.openproject_url}/ ", "api_key": OPENPROJECT_KEY}
    )
    assert done["type"] == "create_entry"
    assert done["title"] == hub.openproject_url
    assert "data" not in done
    status, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert status == 200
    assert entry["data"] == {"base_url": hub.openproject_url}
    assert entry["secret_fields"] == ["api_key"]
    assert entry["state"] == "loaded"
    assert OPENPROJECT_KEY not in str(entry)

    status, gone = await hub.post(f"/api/config-flows/{flow_id}", {"user_input": {}})
    assert status == 404
    assert gone["error"]["code"] == "flow_not_found"


async def test_forms_speak_the_requested_language_with_english_and_raw_key_fallbacks(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    german = await hub.start("openproject", language="de")
    labels = {f["name"]: f for f in german["data_schema"]}
    assert labels["base_url"]["label"] == "OpenProject-Adresse"
    assert labels["base_url"]["description"] == "Your OpenProject instance URL (without /api)."
    assert german["language"] == "de"

    missing = await hub.submit(german["flow_id"], {"base_url": "", "api_key": ""})
    assert missing["error_keys"] == {"base_url": "required", "api_key": "required"}
    assert missing["errors"]["base_url"] != "error.required", "the hub ships common keys"

    by_header = await hub.client.post(
        "/api/config-flows",
        json={"domain": "openproject"},
        headers={"Accept-Language": "fr-CH, de;q=0.8, en;q=0.5"},
    )
    body = await by_header.json()
    assert body["language"] == "de"

    vault = await hub.start("vault")
    raw = {f["name"]: f["label"] for f in vault["data_schema"]}
    assert raw["name"] == "field.name.label", "no translation anywhere: the raw key"


async def test_signal_links_a_device_with_a_qr_code_over_two_steps(start_hub: StartHub) -> None:
    hub = await start_hub()
    form = await hub.start("signal")
    assert [f["name"] for f in form["data_schema"]] == ["number", "base_url"]
    flow_id = form["flow_id"]

    invalid = await hub.submit(flow_id, {"number": "0151 1234", "base_url": hub.signal_url})
    assert invalid["error_keys"] == {"number": "invalid_number"}

    link = await hub.submit(flow_id, {"number": NUMBER, "base_url": hub.signal_url})
    assert link["step_id"] == "link"
    [qr] = link["data_schema"]
    assert qr["type"] == "note"
    assert qr["image"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert qr["label"].startswith("Scan this code in Signal")

    waiting = await hub.submit(flow_id, {})
    assert waiting["step_id"] == "link"
    assert waiting["errors"] == {"base": "The device is not linked yet."}

    hub.signal.accounts.append(NUMBER)
    done = await hub.submit(flow_id, {})
    assert done["type"] == "create_entry"
    assert done["title"] == NUMBER
    _, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert entry["data"] == {"number": NUMBER, "base_url": hub.signal_url}


async def test_reconfigure_keeps_an_omitted_secret_clears_an_empty_one_replaces_a_new_one(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    form = await hub.start("vault")
    created = await hub.submit(
        form["flow_id"], {"name": "home", "token": "tok-original-1", "pin": "pin-123456789"}
    )
    entry_id = created["entry_id"]
    manager = hub.app[CONFIG_ENTRIES]

    def stored() -> dict[str, str]:
        return manager.secrets_of(manager.require(entry_id))

    assert stored() == {"token": "tok-original-1", "pin": "pin-123456789"}

    status, edit = await hub.post(f"/api/config-entries/{entry_id}/reconfigure", {})
    assert status == 200
    fields = {f["name"]: f for f in edit["data_schema"]}
    assert fields["name"]["default"] == "home", "non-secret config is pre-filled"
    assert "default" not in fields["token"]
    assert fields["token"]["has_value"] is True
    assert "masked" not in fields["token"], "a secret field is never echoed"
    assert fields["pin"]["masked"] == "••••6789", "a password shows its last four"
    assert "pin-123456789" not in str(edit)
    assert "tok-original-1" not in str(edit)

    kept = await hub.submit(edit["flow_id"], {"name": "home-renamed", "mode": "fast"})
    assert kept["type"] == "create_entry"
    assert kept["entry_id"] == entry_id
    assert stored() == {"token": "tok-original-1", "pin": "pin-123456789"}
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["title"] == "home-renamed"
    assert entry["data"]["mode"] == "fast"

    _, edit = await hub.post(f"/api/config-entries/{entry_id}/reconfigure", {})
    await hub.submit(edit["flow_id"], {"name": "home", "token": "", "pin": "new-pin-0000"})
    assert stored() == {"pin": "new-pin-0000"}, "empty clears, non-empty replaces"
    _, entries_list = await hub.get("/api/config-entries?domain=vault")
    assert [e["entry_id"] for e in entries_list["entries"]] == [entry_id], "updated in place"


async def test_reconfigure_of_a_vanished_entry_aborts_with_entry_not_found(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    created = await hub.submit((await hub.start("vault"))["flow_id"], {"name": "gone"})
    _, edit = await hub.post(f"/api/config-entries/{created['entry_id']}/reconfigure", {})
    deleted = await hub.client.delete(f"/api/config-entries/{created['entry_id']}")
    assert deleted.status == 200
    done = await hub.submit(edit["flow_id"], {"name": "gone"})
    assert done["type"] == "abort"
    assert done["reason"] == "entry_not_found"
    status, missing = await hub.post(f"/api/config-entries/{created['entry_id']}/reconfigure", {})
    assert status == 404
    assert missing["error"]["code"] == "entry_not_found"


async def test_zero_step_and_single_instance(start_hub: StartHub) -> None:
    hub = await start_hub()
    first = await hub.start("lamp")
    assert first["type"] == "create_entry"
    assert first["title"] == "Lamp"
    again = await hub.start("lamp")
    assert again["type"] == "abort"
    assert again["reason"] == "already_configured"
    assert again["description"] != "abort.already_configured"


async def test_validation_timeout_and_a_raising_validate_show_connection_failed(
    start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await start_hub()
    flow_id = (await hub.start("vault"))["flow_id"]
    slow = await hub.submit(flow_id, {"name": "slow"})
    assert slow["error_keys"] == {"base": "connection_failed"}
    boom = await hub.submit(flow_id, {"name": "explode", "token": "tok-in-message"})
    assert boom["error_keys"] == {"base": "connection_failed"}
    assert "tok-in-message" not in str(boom)
    assert "tok-in-message" not in caplog.text
    assert "timed out" in caplog.text


async def test_a_step_that_raises_shows_the_form_again_with_a_correlation_id(
    start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await start_hub()
    form = await hub.start("bomb")
    with caplog.at_level(logging.ERROR):
        failed = await hub.submit(form["flow_id"], {"answer": "boom"})
    assert failed["type"] == "form"
    assert failed["step_id"] == "user"
    assert failed["error_keys"] == {"base": "unknown"}
    correlation_id = failed["correlation_id"]
    assert f"correlation id {correlation_id}" in caplog.text
    assert "boom-with-private-detail" not in caplog.text, "the exception's message is withheld"

    confirm = await hub.submit(form["flow_id"], {"answer": "fine"})
    assert confirm["step_id"] == "confirm"
    done = await hub.submit(form["flow_id"], {})
    _, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert entry["data"] == {"account": "acct-42"}, "a derived value stashed by a step persists"


async def test_an_expired_flow_answers_flow_not_found(start_hub: StartHub) -> None:
    hub = await start_hub()
    hub.app[FLOW_MANAGER].store.ttl_seconds = 0.05  # integrations.flow_ttl_seconds, shortened
    form = await hub.start("vault")
    await asyncio.sleep(0.1)
    status, body = await hub.post(f"/api/config-flows/{form['flow_id']}", {"user_input": {}})
    assert (status, body["error"]["code"]) == (404, "flow_not_found")
    assert len(hub.app[FLOW_MANAGER].store) == 0, "an expired flow and its secrets are gone"


async def test_bad_requests_get_typed_errors(start_hub: StartHub) -> None:
    hub = await start_hub()
    resp = await hub.client.post(
        "/api/config-flows", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "bad_request"
    status, body = await hub.post("/api/config-flows", {"domain": "openproject", "scope": "org"})
    assert status == 400
    assert "scope" in body["error"]["message"]
    status, body = await hub.post("/api/config-flows", {"domain": "nothing_here"})
    assert (status, body["error"]["code"]) == (404, "integration_not_found")
    flow_id = (await hub.start("vault"))["flow_id"]
    status, body = await hub.post(f"/api/config-flows/{flow_id}", {"user_input": ["a"]})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    status, body = await hub.post(f"/api/config-flows/{flow_id}", {"user_input": {"nope": 1}})
    assert status == 400
    assert "nope" in body["error"]["message"]
    status, body = await hub.get("/api/config-entries/does-not-exist")
    assert (status, body["error"]["code"]) == (404, "entry_not_found")
    resp = await hub.client.delete(f"/api/config-flows/{flow_id}")
    assert resp.status == 200
    status, body = await hub.post(f"/api/config-flows/{flow_id}", {"user_input": {}})
    assert (status, body["error"]["code"]) == (404, "flow_not_found")


async def test_the_catalog_decides_who_may_start_a_flow(start_hub: StartHub) -> None:
    hub = await start_hub()
    catalog = hub.app[CATALOG]
    await catalog.set_admin("openproject", enabled=False)
    status, body = await hub.post("/api/config-flows", {"domain": "openproject"})
    assert (status, body["error"]["code"]) == (403, "integration_disabled")
    await catalog.set_admin("openproject", enabled=True, allowed_scopes=["user"])
    status, body = await hub.post("/api/config-flows", {"domain": "openproject"})
    assert (status, body["error"]["code"]) == (403, "scope_not_allowed")


async def test_a_known_secret_reaches_no_file_and_no_log_line(
    start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-hygiene-8f3a9c2d71"
    caplog.set_level(logging.DEBUG)
    hub = await start_hub()
    hub.openproject.key = secret
    flow_id = (await hub.start("openproject"))["flow_id"]
    await hub.submit(flow_id, {"base_url": hub.openproject_url, "api_key": "wrong-" + secret})
    done = await hub.submit(flow_id, {"base_url": hub.openproject_url, "api_key": secret})
    _, edit = await hub.post(f"/api/config-entries/{done['entry_id']}/reconfigure", {})
    await hub.submit(edit["flow_id"], {"base_url": hub.openproject_url})
    await hub.client.close()  # flushes storage and closes the database

    for path, content in files_under(hub.config_dir).items():
        assert secret.encode() not in content, f"{path} holds the secret"
    assert secret not in caplog.text
