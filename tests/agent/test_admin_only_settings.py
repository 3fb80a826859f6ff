"""Settings that would hand out the hub's reach or its secrets: admins only, or configuration.yaml only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub

MODEL = {"name": "ui", "base_url": "http://127.0.0.1:9/v1", "model": "m"}


async def patch(hub: AgentHub, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
    """PATCH ``body`` as JSON; the status and the decoded answer."""
    resp = await hub.client.patch(path, json=body, **kw)
    return resp.status, await resp.json()


async def test_a_member_may_not_open_the_lan_to_web_fetch(hub: AgentHub) -> None:
    member = await hub.another_person("bob", "bob-password-1")
    status, answer = await patch(
        hub, "/api/agent/preferences", {"allow_local_fetch": True}, headers=member
    )
    assert status == 403, answer
    assert answer["error"]["code"] == "local_fetch_admin_only"
    assert "allow_local_fetch" in answer["error"]["message"]
    status, answer = await hub.get("/api/agent/preferences", headers=member)
    assert (status, answer) == (200, {"allow_local_fetch": False})
    status, answer = await patch(
        hub, "/api/agent/preferences", {"allow_local_fetch": False}, headers=member
    )
    assert (status, answer) == (200, {"allow_local_fetch": False}), "switching it off is fine"
    status, answer = await patch(hub, "/api/agent/preferences", {"allow_local_fetch": True})
    assert (status, answer) == (200, {"allow_local_fetch": True}), "an admin may"


async def test_a_member_keeps_no_lan_access_saved_before_the_rule(
    start_agent_hub: StartAgentHub,
) -> None:
    hub = await start_agent_hub()
    await hub.another_person("bob", "bob-password-1")
    [bob] = [p for p in (await hub.get("/api/people"))[1]["people"] if p["username"] == "bob"]
    stored = hub.config_dir / ".storage" / "core.agent_preferences"
    await hub.client.close()
    # Saved by a hub from before the rule, when a member could still switch it on.
    people = {bob["id"]: {"allow_local_fetch": True}}
    envelope = {"version": 1, "key": stored.name, "data": {"people": people}}
    stored.write_text(json.dumps(envelope))
    hub = await start_agent_hub()
    _, token = await hub.post("/api/auth/login", {"username": "bob", "password": "bob-password-1"})
    member = {"Authorization": f"Bearer {token['access_token']}"}
    status, answer = await hub.get("/api/agent/preferences", headers=member)
    assert (status, answer) == (200, {"allow_local_fetch": False})


@pytest.mark.parametrize(
    "body",
    [
        {**MODEL, "api_key_env": "HUB_MASTER_KEY"},
        {**MODEL, "api_key_env": None},
    ],
)
async def test_a_ui_model_cannot_name_an_environment_variable(
    hub: AgentHub, body: dict[str, Any]
) -> None:
    status, answer = await hub.post("/api/models", body)
    assert status == 400, answer
    assert answer["error"]["message"].startswith("api_key_env:")
    assert "ui" not in [m["name"] for m in (await hub.get("/api/models"))[1]["models"]]


async def test_a_ui_model_cannot_be_changed_to_read_an_environment_variable(
    hub: AgentHub,
) -> None:
    status, answer = await hub.post("/api/models", MODEL)
    assert status == 201, answer
    status, answer = await patch(hub, "/api/models/ui", {"api_key_env": "HUB_MASTER_KEY"})
    assert status == 400, answer
    assert answer["error"]["message"].startswith("api_key_env:")
    [model] = [m for m in (await hub.get("/api/models"))[1]["models"] if m["name"] == "ui"]
    assert model["api_key_env"] is None


async def test_a_stored_ui_model_with_an_environment_variable_never_reads_it(
    start_agent_hub: StartAgentHub,
) -> None:
    hub = await start_agent_hub(env={"HUB_TEST_SECRET": "a-secret-of-the-hub"})
    status, answer = await hub.post("/api/models", MODEL)
    assert status == 201, answer
    stored = hub.config_dir / ".storage" / "core.models"
    await hub.client.close()
    envelope = json.loads(stored.read_text())
    envelope["data"]["models"][0]["api_key_env"] = "HUB_TEST_SECRET"  # written by an older hub
    stored.write_text(json.dumps(envelope))
    hub = await start_agent_hub(env={"HUB_TEST_SECRET": "a-secret-of-the-hub"})
    models = hub.service.models
    endpoint = models.get("ui")
    assert endpoint.api_key_env is None
    assert models.api_key(endpoint) is None
