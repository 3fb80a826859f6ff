"""The bundled OpenProject integration's weekly review skill, in a real hub against a fake
OpenProject on 127.0.0.1: projected with the entry, off until a person switches it on, naming
only tools the entry offers, and offered only to runs whose model may use those tools."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from hub.agent.assembler import RunScope, tool_names
from hub.api.state import CHAT, CONFIG_ENTRIES
from hub.app import create_app
from hub.config import HubConfig
from hub.integrations.manifest import Tier
from hub.integrations.toolsets import resolve_toolset
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub
from tests.fakes.openproject import API_KEY, FakeOpenProject
from tests.memory.skills_support import patch

WEEKLY = "openproject-weekly_review"


@pytest.fixture
async def hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> BundledHub:
    """A hub with the bundled integrations from the repository."""
    client = await aiohttp_client(create_app(tmp_path / "config", HubConfig(), env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return BundledHub(client)


@pytest.fixture
async def op_url(aiohttp_server: AiohttpServer) -> str:
    """A fake OpenProject with one project."""
    fake = FakeOpenProject()
    fake.add_project("household", "Household")
    return str((await aiohttp_server(fake.app())).make_url("/")).rstrip("/")


async def test_the_weekly_review_comes_with_an_entry_and_names_its_tools(
    hub: BundledHub, op_url: str
) -> None:
    entry_id = await hub.create_entry("openproject", {"base_url": op_url, "api_key": API_KEY})
    status, body = await hub.get("/api/skills")
    assert status == 200, body
    [weekly] = [s for s in body["skills"] if s["id"] == WEEKLY]
    assert (weekly["name"], weekly["source"], weekly["enabled"]) == (
        "Weekly project review",
        "openproject",
        False,
    )
    assert weekly["context_text"].startswith("# Skill: Weekly project review\n\n")

    [returned] = hub.app[CONFIG_ENTRIES].toolsets(entry_id)
    offered = set(tool_names(resolve_toolset(returned)))
    named = set(re.findall(r"`(openproject_\w+)`", weekly["instructions"]))
    assert named == {
        "openproject_list_projects",
        "openproject_my_work_packages",
        "openproject_create_work_package",
    }
    assert named <= offered
    assert set(weekly["required_tools"]) <= offered

    await patch(hub, WEEKLY, {"enabled": True})
    chat = await hub.app[CHAT].get()
    _, me = await hub.get("/api/auth/current_user")
    internal = chat.assembler.assemble(RunScope(person_id=me["id"], tier=Tier.INTERNAL))
    assert [s.listing_text for s in internal.skills] == [weekly["listing_text"]]
    assert "use_skill" in internal.attribution
    # A hosted model is refused OpenProject's tools, so the skill that needs them is not offered.
    hosted = chat.assembler.assemble(RunScope(person_id=me["id"], tier=Tier.UNREGULATED))
    assert hosted.skills == []
    assert "use_skill" not in hosted.attribution
