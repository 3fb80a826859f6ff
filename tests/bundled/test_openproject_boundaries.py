"""OpenProject in a real hub at its edges: an echoed key stays hidden, search stays per person."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from aiohttp import encode_basic_auth
from pytest_aiohttp import AiohttpServer

from hub.core.logs import RedactionFilter
from tests.bundled.conftest import BundledHub
from tests.fakes.openproject import API_KEY, FakeOpenProject

BASIC = encode_basic_auth("apikey", API_KEY).partition(" ")[2]
"""The key's wire form: what an upstream echoing the ``Authorization`` header shows."""


async def serve(fake: FakeOpenProject, aiohttp_server: AiohttpServer) -> str:
    """The fake instance's URL."""
    server = await aiohttp_server(fake.app())
    return str(server.make_url("/")).rstrip("/")


async def add_entry(hub: BundledHub, url: str, headers: dict[str, str] | None = None) -> str:
    """An OpenProject entry made through the flow, by the owner or by the person of ``headers``."""
    kw = {"headers": headers} if headers else {}
    status, form = await hub.post("/api/config-flows", {"domain": "openproject"}, **kw)
    assert status == 200, form
    done = await hub.submit(form["flow_id"], {"base_url": url, "api_key": API_KEY}, **kw)
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


async def sync(hub: BundledHub, entry_id: str, headers: dict[str, str] | None = None) -> None:
    """``POST /api/config-entries/{id}/sync``."""
    kw = {"headers": headers} if headers else {}
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync", **kw)
    assert status == 200, body


async def test_an_upstream_echoing_the_authorization_header_never_shows_the_key(
    hub: BundledHub,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeOpenProject()
    fake.add_project("household", "Household")
    entry_id = await add_entry(hub, await serve(fake, aiohttp_server))
    await sync(hub, entry_id)
    fake.echo_status = 500  # from now on every answer quotes "Authorization: Basic <key's base64>"
    caplog.set_level(logging.DEBUG)
    await sync(hub, entry_id)

    status, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert status == 200
    assert "Authorization: Basic ***" in entry["health"]["detail"], entry["health"]
    assert "Basic ***" in entry["last_sync"]["error"], entry["last_sync"]
    bob = await hub.another_person(
        "bob", "bob-password-1"
    )  # a household entry: every member reads the same view
    for headers in ({}, bob):
        status, listed = await hub.get("/api/config-entries", headers=headers or None)
        assert status == 200
        assert BASIC not in json.dumps(listed)
        assert API_KEY not in json.dumps(listed)
    written = RedactionFilter()  # what the hub's log handler writes
    assert any("Sync of" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        written.filter(record)
        line = f"{record.getMessage()} {record.exc_text or ''}"
        assert BASIC not in line
        assert API_KEY not in line
    await hub.client.close()  # flushes storage and closes the database
    for path in (tmp_path / "config").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert BASIC.encode() not in content, f"{path} holds the key's wire form"
            assert API_KEY.encode() not in content, f"{path} holds the API key"


async def test_search_finds_a_persons_own_match_among_many_of_someone_elses(
    hub: BundledHub, aiohttp_server: AiohttpServer
) -> None:
    mine, theirs = FakeOpenProject(), FakeOpenProject()
    mine.add_work_package(mine.add_project("home", "Home"), "Fix the boiler")
    site = theirs.add_project("flat", "Flat")
    for number in range(60):  # better matches than the owner's, and more than any limit
        theirs.add_work_package(site, "Boiler", description=f"boiler boiler {number}")
    bob = await hub.another_person("bob", "bob-password-1")
    bobs = await add_entry(hub, await serve(theirs, aiohttp_server), bob)
    await sync(hub, bobs, bob)
    status, answer = await hub.post("/api/config-flows", {"domain": "openproject", "scope": "user"})
    assert status == 200, answer
    done = await hub.submit(
        answer["flow_id"], {"base_url": await serve(mine, aiohttp_server), "api_key": API_KEY}
    )
    owners = str(done["entry_id"])
    await sync(hub, owners)

    status, found = await hub.get("/api/entities/search", params={"q": "boiler", "limit": "5"})
    assert status == 200, found
    names = [result["entity"]["name"] for result in found["results"]]
    assert names == ["Fix the boiler"], "the owner's one match, and nothing of Bob's"
    assert {result["entity"]["entry_id"] for result in found["results"]} == {owners}
    status, found = await hub.get(
        "/api/entities/search", params={"q": "boiler", "limit": "5"}, headers=bob
    )
    assert status == 200, found
    assert len(found["results"]) == 5
    assert {result["entity"]["entry_id"] for result in found["results"]} == {bobs}
