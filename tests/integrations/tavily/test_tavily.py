"""The Tavily integration through a real hub, against the fake Tavily on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from tests.fakes.searxng import FakeSearxng
from tests.fakes.tavily import API_KEY, FakeTavily
from tests.integrations.searxng.support import (
    SearchHub,
    StartSearchHub,
    allow_model_requests,
    parsed,
    serve,
    start_search_hub,
)

__all__ = ["allow_model_requests", "start_search_hub"]  # fixtures, used by name


@pytest.fixture
def fake() -> FakeTavily:
    """The service, accepting ``API_KEY``."""
    return FakeTavily()


@pytest.fixture
async def tavily_url(fake: FakeTavily, aiohttp_server: AiohttpServer) -> str:
    """The fake service's address."""
    return await serve(fake.app(), aiohttp_server)


@pytest.fixture
async def hub(start_search_hub: StartSearchHub) -> SearchHub:
    """A started hub, the owner signed in."""
    return await start_search_hub()


def form(url: str, key: str = API_KEY) -> dict[str, Any]:
    """A submission pointing the entry at ``url`` instead of Tavily's own address."""
    return {"api_key": key, "custom_endpoint": True, "api_url": url}


async def submit(hub: SearchHub, user_input: dict[str, Any], **start: Any) -> dict[str, Any]:
    """Start a Tavily flow and submit once."""
    first = await hub.start_flow("tavily", **start)
    assert first["type"] == "form", first
    return await hub.submit(first["flow_id"], user_input)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def files_under(root: Path) -> dict[Path, bytes]:
    """Every file below ``root`` with its bytes."""
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


# The flow


async def test_a_key_tavily_accepts_becomes_an_entry_and_is_kept_secret(
    hub: SearchHub,
    fake: FakeTavily,
    tavily_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await hub.start_flow("tavily")
    fields = {f["name"]: f for f in first["data_schema"]}
    assert fields["api_key"]["type"] == "secret"
    assert fields["custom_endpoint"]["default"] is False
    assert fields["api_url"]["show_when"] == {"custom_endpoint": [True]}, "hidden until ticked"
    assert fields["api_url"]["default"] == "https://api.tavily.com"

    done = await hub.submit(first["flow_id"], form(f"{tavily_url}/", key=f" {API_KEY} "))
    assert (done["type"], done["title"]) == ("create_entry", "Tavily"), done
    assert fake.requests == [
        (
            "/search",
            {
                "query": "tavily",
                "max_results": 1,
                "search_depth": "basic",
                "include_answer": False,
                "include_raw_content": False,
                "include_images": False,
            },
        )
    ], "the check is one basic search"
    _, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert entry["state"] == "loaded"
    assert entry["data"] == {"custom_endpoint": True, "api_url": tavily_url}
    assert entry["secret_fields"] == ["api_key"]

    _, listed = await hub.get("/api/integrations")
    [tavily] = [i for i in listed["integrations"] if i["domain"] == "tavily"]
    assert tavily["manifest"]["provides"] == ["web_search", "web_fetch"]
    assert API_KEY not in json.dumps(listed) + json.dumps(entry)
    assert API_KEY not in caplog.text
    await hub.client.close()  # flushes storage and closes the database
    for path, content in files_under(tmp_path).items():
        assert API_KEY.encode() not in content, f"{path} holds the key"


@pytest.mark.parametrize(
    ("status", "key", "words"),
    [
        (429, "rate_limited", "limiting requests"),
        (432, "plan_limit", "used up its credits"),
        (433, "paygo_limit", "pay-as-you-go limit"),
    ],
)
async def test_each_documented_refusal_has_its_own_error(
    hub: SearchHub, fake: FakeTavily, tavily_url: str, status: int, key: str, words: str
) -> None:
    fake.refuse_with = status
    refused = await submit(hub, form(tavily_url))
    assert refused["type"] == "form"
    assert refused["error_keys"] == {"base": key}
    assert words in refused["errors"]["base"]


async def test_a_wrong_key_and_bad_addresses_are_told_apart(
    hub: SearchHub, tavily_url: str, aiohttp_server: AiohttpServer
) -> None:
    wrong = await submit(hub, form(tavily_url, key="tvly-not-mine"), language="de")
    assert wrong["error_keys"] == {"base": "invalid_key"}
    assert wrong["errors"]["base"].startswith("Tavily hat diesen API-Schlüssel abgelehnt")
    assert "tvly-not-mine" not in json.dumps(wrong)

    nowhere = await submit(hub, form(f"http://127.0.0.1:{closed_port()}"))
    assert nowhere["error_keys"] == {"base": "cannot_connect"}
    assert (await submit(hub, form("api.tavily.com")))["error_keys"] == {"api_url": "invalid_url"}
    assert (await submit(hub, {"api_key": ""}))["error_keys"] == {"api_key": "required"}

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="<h1>Internal Server Error</h1>")

    app = web.Application()
    app.router.add_post("/search", broken)
    failed = await submit(hub, form(await serve(app, aiohttp_server)))
    assert failed["error_keys"] == {"base": "service_error"}


# The providers, through agent runs


async def test_the_agent_searches_and_reads_pages_through_tavily(
    hub: SearchHub, fake: FakeTavily, tavily_url: str
) -> None:
    await hub.add("tavily", form(tavily_url), scope="global")
    events, answer = await hub.run_tool("web_search", query="raspberry pi", max_results=3)
    assert parsed(answer) == [
        {
            "title": "Tavily's view of the Raspberry Pi 5",
            "url": "https://example.com/tavily/pi5",
            "snippet": "A summary written for agents: the Pi 5 runs a home hub comfortably.",
            "score": 0.9,
        }
    ]
    assert fake.requests[-1][1]["max_results"] == 3
    assert events[-1]["status"] == "completed"

    _, page = await hub.run_tool("web_fetch", url="https://example.com/article")
    assert "Read through Tavily's extract endpoint." in page
    assert fake.requests[-1] == (
        "/extract",
        {"urls": ["https://example.com/article"], "extract_depth": "basic", "format": "markdown"},
    )
    _, missing = await hub.run_tool("web_fetch", url="https://example.com/gone")
    assert "Tavily could not read https://example.com/gone" in missing
    _, refused = await hub.run_tool("web_fetch", url="file:///etc/passwd")
    assert "is not an http or https address" in refused
    assert fake.requests[-1][1]["urls"] == ["https://example.com/gone"], "never sent to Tavily"


async def test_limits_reach_the_agent_as_sentences_and_a_refused_key_asks_for_reauth(
    hub: SearchHub, fake: FakeTavily, tavily_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry_id = await hub.add("tavily", form(tavily_url), scope="global")
    fake.refuse_with = 432
    events, answer = await hub.run_tool("web_search", query="kombucha")
    assert "plan's credits are used up (HTTP 432)" in answer
    assert events[-1]["status"] == "completed", "the run goes on"
    fake.refuse_with = 433
    _, answer = await hub.run_tool("web_fetch", url="https://example.com/article")
    assert "pay-as-you-go limit" in answer
    fake.refuse_with = 429
    _, answer = await hub.run_tool("web_search", query="kombucha")
    assert "limiting requests (HTTP 429)" in answer

    fake.refuse_with = None
    fake.key = "tvly-rotated"  # the person revoked the key at Tavily
    _, answer = await hub.run_tool("web_search", query="kombucha")
    assert "tavily needs new credentials" in answer
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["state"] == "reauth_required", entry
    assert API_KEY not in caplog.text + json.dumps(entry)
    assert "Traceback" not in caplog.text

    # The person pastes the new key into the entry's reauth form; the address stays as it was.
    status, form_ = await hub.post(f"/api/config-entries/{entry_id}/reauth")
    assert status == 200, form_
    wrong = await hub.submit(form_["flow_id"], {"api_key": API_KEY})
    assert wrong["error_keys"] == {"base": "invalid_key"}
    done = await hub.submit(form_["flow_id"], {"api_key": "tvly-rotated"})
    assert done["type"] == "create_entry", done
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert (entry["state"], entry["data"]["api_url"]) == ("loaded", tavily_url)
    _, answer = await hub.run_tool("web_search", query="kombucha")
    assert parsed(answer)[0]["url"] == "https://example.com/tavily/kombucha"


# Which provider a run uses


async def test_the_persons_own_tavily_wins_over_the_household_searxng(
    hub: SearchHub, tavily_url: str, aiohttp_server: AiohttpServer
) -> None:
    searxng = FakeSearxng()
    searxng_url = await serve(searxng.app(), aiohttp_server)
    await hub.add("searxng", {"base_url": searxng_url}, scope="global")
    _, answer = await hub.run_tool("web_search", query="raspberry pi")
    assert parsed(answer)[0]["url"] == "https://example.org/pi5-review", "the household's"

    await hub.add("tavily", form(tavily_url), scope="user")
    searched = len(searxng.queries)
    _, answer = await hub.run_tool("web_search", query="raspberry pi")
    assert [hit["url"] for hit in parsed(answer)] == ["https://example.com/tavily/pi5"]
    assert len(searxng.queries) == searched, "the household's instance was not asked"


async def test_the_persons_own_searxng_wins_over_a_household_tavily_for_search_only(
    hub: SearchHub, fake: FakeTavily, tavily_url: str, aiohttp_server: AiohttpServer
) -> None:
    searxng = FakeSearxng()
    await hub.add("tavily", form(tavily_url), scope="global")
    await hub.add("searxng", {"base_url": await serve(searxng.app(), aiohttp_server)}, scope="user")
    _, answer = await hub.run_tool("web_search", query="raspberry pi")
    assert parsed(answer)[0]["url"] == "https://example.org/pi5-review"
    _, page = await hub.run_tool("web_fetch", url="https://example.com/article")
    assert "Read through Tavily's extract endpoint." in page, "fetch still comes from Tavily"
