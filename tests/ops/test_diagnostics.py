"""Diagnostics downloads: what a bug report needs, and not one of the secrets planted everywhere."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from pytest_aiohttp import AiohttpClient

from hub.api.diagnostics import DIAGNOSTICS
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.core.master_key import load_master_key
from hub.core.redact import REDACTED, redact
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.on_disk import install
from tests.integrations.on_disk.keeper import CONTACT, COOKIE, HEADER_TOKEN, SERIAL

PASSWORD = "hunter2-correct-horse"
API_TOKEN = "tok_live_8c1d2e3f4a5b"
EXTRA_SECRET_HEADER = "X-Auth-Token"


async def start(tmp_path: Path, aiohttp_client: AiohttpClient) -> HubClient:
    bundled = tmp_path / "integrations"
    install(bundled, "keeper")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return HubClient(client, app)


async def add_keeper(hub: HubClient, name: str, **extra: str) -> str:
    form = await hub.start_flow("keeper")
    done = await hub.submit(
        form["flow_id"], {"name": name, "password": PASSWORD, "api_token": API_TOKEN, **extra}
    )
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


async def download(resp: ClientResponse) -> tuple[str, dict[str, Any]]:
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
    assert resp.headers["Content-Type"].startswith("application/json")
    text = await resp.text()
    return text, json.loads(text)


def master_key_forms(config_dir: Path) -> list[str]:
    master = load_master_key(config_dir / ".storage", {})
    assert master is not None
    key = master.key
    return [key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()]


async def test_an_entry_download_shows_what_helps_and_none_of_the_secrets_planted_everywhere(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    master = master_key_forms(tmp_path / "config")
    # The master key planted as a plain note; the API token is plain entry data.
    entry_id = await add_keeper(hub, "porch", note=f"spare key {master[0]}")
    logging.getLogger("_hub_integrations.keeper").warning(
        "not inside the entry's code: this line is the hub's, not the entry's"
    )

    text, report = await download(
        await hub.client.get(f"/api/config-entries/{entry_id}/diagnostics")
    )

    planted = [PASSWORD, API_TOKEN, CONTACT, SERIAL, HEADER_TOKEN, COOKIE, *master]
    planted.append(base64.b64encode(f"porch:{PASSWORD}".encode()).decode())
    for secret in planted:
        assert secret not in text, f"{secret!r} leaked into the diagnostics"
    # What a bug report needs is there.
    assert report["hub"]["version"]
    assert report["hub"]["python"]
    assert report["entry"]["state"] == "loaded"
    assert report["entry"]["data"]["name"] == "porch"
    assert report["entry"]["data"]["api_token"] == REDACTED
    assert report["entry"]["encrypted_fields"] == ["password"]
    assert report["integration"]["version"] == "1.0.0"
    assert report["state_history"][-1]["state"] == "loaded"
    own = report["integration_diagnostics"]
    assert own["firmware"] == "4.2.1"
    assert own["serial_number"] == REDACTED, "named in the integration's redaction list"
    assert own["owner"] == f"Ada <{REDACTED}>"
    headers = own["last_request"]["headers"]
    assert headers["Accept"] == "application/json"
    assert headers["Authorization"] == headers[EXTRA_SECRET_HEADER] == REDACTED
    lines = report["log"]
    assert any("keeper signing in as porch" in line for line in lines), lines
    assert not any("this line is the hub's" in line for line in lines), "only the entry's lines"


async def test_a_failing_or_hanging_integration_hook_becomes_an_error_in_bounded_time(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    hub.app[DIAGNOSTICS].timeout = 0.3
    broken = await add_keeper(hub, "broken")
    stuck = await add_keeper(hub, "stuck")

    _, report = await download(await hub.client.get(f"/api/config-entries/{broken}/diagnostics"))
    assert report["integration_diagnostics"] == {
        "error": "RuntimeError: the diagnostics of keeper broke"
    }
    assert report["entry"]["state"] == "loaded", "a failing report changes nothing"
    _, report = await download(await hub.client.get(f"/api/config-entries/{stuck}/diagnostics"))
    assert report["integration_diagnostics"] == {"error": "timed out after 0.3 s"}


async def test_the_hub_download_is_for_admins_and_entry_ones_for_whoever_manages_the_entry(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    entry_id = await add_keeper(hub, "porch")
    bob = await hub.another_person("bob", "bob-password-1")

    text, report = await download(await hub.client.get("/api/diagnostics"))
    assert [e["entry_id"] for e in report["entries"]] == [entry_id]
    assert report["integrations"][0]["domain"] == "keeper"
    assert any("keeper signing in as porch" in line for line in report["log"])
    for secret in (PASSWORD, API_TOKEN, *master_key_forms(tmp_path / "config")):
        assert secret not in text

    status, body = await hub.get("/api/diagnostics", headers=bob)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await hub.get(f"/api/config-entries/{entry_id}/diagnostics", headers=bob)
    assert status == 403, "a household entry is the admins' to manage"
    status, body = await hub.get("/api/config-entries/nope/diagnostics")
    assert (status, body["error"]["code"]) == (404, "entry_not_found")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"password": "p"}, {"password": REDACTED}),
        (
            {"X-Api-Key": "k", "apiKey": "k", "client_secret": "s"},
            dict.fromkeys(("X-Api-Key", "apiKey", "client_secret"), REDACTED),
        ),
        ({"note": "write to bob@example.com"}, {"note": f"write to {REDACTED}"}),
        ({"serial": "1", "name": "n"}, {"serial": REDACTED, "name": "n"}),
        (
            {"nested": [{"session_cookie": "c", "count": 2}]},
            {"nested": [{"session_cookie": REDACTED, "count": 2}]},
        ),
        ({"token": None, "empty_token": ""}, {"token": None, "empty_token": ""}),
    ],
)
def test_redact_replaces_secret_values_by_key_name_list_and_e_mail(
    data: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert redact(data, keys=("serial",)) == expected


def test_redact_masks_known_values_wherever_they_are_and_keeps_everything_json() -> None:
    value = "a-very-private-value"
    data = {"text": f"it said {value}!", "when": Path("/tmp"), "deep": [[[[{"x": value}]]]]}
    assert redact(data, values=[value]) == {
        "text": f"it said {REDACTED}!",
        "when": "/tmp",
        "deep": [[[[{"x": REDACTED}]]]],
    }
