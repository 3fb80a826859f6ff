"""The SearXNG integration through a real hub, against the fake SearXNG on 127.0.0.1."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from tests.fakes.searxng import FakeSearxng
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
def fake() -> FakeSearxng:
    """An instance with JSON output allowed and three documents."""
    return FakeSearxng()


@pytest.fixture
async def searxng_url(fake: FakeSearxng, aiohttp_server: AiohttpServer) -> str:
    """The fake instance's address."""
    return await serve(fake.app(), aiohttp_server)


@pytest.fixture
async def hub(start_search_hub: StartSearchHub) -> SearchHub:
    """A started hub, the owner signed in."""
    return await start_search_hub()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def submit(hub: SearchHub, url: str, **start: Any) -> dict[str, Any]:
    """Start a SearXNG flow and submit ``url`` once."""
    form = await hub.start_flow("searxng", **start)
    assert form["type"] == "form", form
    return await hub.submit(form["flow_id"], {"base_url": url})


# The flow


async def test_an_instance_with_json_becomes_an_entry_after_one_search(
    hub: SearchHub, fake: FakeSearxng, searxng_url: str
) -> None:
    form = await hub.start_flow("searxng")
    assert [(f["name"], f["label"]) for f in form["data_schema"]] == [("base_url", "SearXNG URL")]
    assert "formats: [html, json]" in form["description"], "the form says what JSON needs"
    done = await hub.submit(form["flow_id"], {"base_url": f" {searxng_url}/search/ "})
    assert done["type"] == "create_entry", done
    assert done["title"] == searxng_url, "blanks and a pasted /search are dropped"
    assert fake.queries == ["searxng"], "the check is one search"
    _, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert (entry["data"], entry["state"]) == ({"base_url": searxng_url}, "loaded")

    status, listed = await hub.get("/api/integrations")
    assert status == 200
    [searxng] = [i for i in listed["integrations"] if i["domain"] == "searxng"]
    assert searxng["manifest"]["provides"] == ["web_search"]
    assert searxng["icon"] == "/integration-icons/searxng.svg"


async def test_json_turned_off_is_explained_with_the_setting_that_turns_it_on(
    hub: SearchHub, fake: FakeSearxng, searxng_url: str
) -> None:
    fake.formats = ["html"]  # SearXNG's own default
    refused = await submit(hub, searxng_url)
    assert refused["type"] == "form"
    assert refused["error_keys"] == {"base": "json_disabled"}
    assert "HTTP 403" in refused["errors"]["base"]
    assert "formats: [html, json]" in refused["errors"]["base"]
    german = await submit(hub, searxng_url, language="de")
    assert german["errors"]["base"].startswith("Diese SearXNG-Instanz verweigert JSON-Ausgabe")
    assert "formats: [html, json]" in german["errors"]["base"]


@pytest.mark.parametrize(
    ("answer", "key", "words"),
    [
        (web.Response(status=429, text="Too Many Requests"), "rate_limited", "HTTP 429"),
        (web.Response(status=401, text="Unauthorized"), "auth_required", "password"),
        (web.Response(text="<!doctype html><h1>Welcome to nginx!</h1>"), "not_searxng", "SearXNG"),
        (web.json_response({"status": "ok"}), "not_searxng", "does not answer like SearXNG"),
        (web.Response(status=404, text="Not Found"), "not_searxng", "SearXNG"),
        (web.Response(status=503, text="down"), "cannot_connect", "Nothing answered"),
    ],
)
async def test_each_server_that_cannot_serve_searches_has_its_own_error(
    hub: SearchHub, aiohttp_server: AiohttpServer, answer: web.Response, key: str, words: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return answer

    app = web.Application()
    app.router.add_get("/search", handler)
    refused = await submit(hub, await serve(app, aiohttp_server))
    assert refused["error_keys"] == {"base": key}
    assert words in refused["errors"]["base"]


async def test_the_limiter_of_the_fake_instance_is_rate_limited(
    hub: SearchHub, fake: FakeSearxng, searxng_url: str
) -> None:
    fake.limited = True
    refused = await submit(hub, searxng_url)
    assert refused["error_keys"] == {"base": "rate_limited"}
    assert refused["errors"]["base"].startswith("This SearXNG is limiting requests")


async def test_an_address_without_a_scheme_or_a_server_is_refused_on_the_form(
    hub: SearchHub,
) -> None:
    assert (await submit(hub, "searxng.lan"))["error_keys"] == {"base_url": "invalid_url"}
    assert (await submit(hub, ""))["error_keys"] == {"base_url": "required"}
    nothing = await submit(hub, f"http://127.0.0.1:{closed_port()}")
    assert nothing["error_keys"] == {"base": "cannot_connect"}
    assert nothing["errors"]["base"] == "Nothing answered at this address."
    for garbled in ("http://[::1", "http://host:port", "http://"):
        assert (await submit(hub, garbled))["error_keys"] == {"base_url": "invalid_url"}


# The provider, through an agent run


async def test_the_agent_searches_through_searxng(
    hub: SearchHub, fake: FakeSearxng, searxng_url: str
) -> None:
    await hub.add("searxng", {"base_url": searxng_url}, scope="global")
    events, answer = await hub.run_tool("web_search", query="raspberry pi", max_results=1)
    assert fake.queries[-1] == "raspberry pi"
    assert parsed(answer) == [
        {
            "title": "Raspberry Pi 5 review",
            "url": "https://example.org/pi5-review",
            "snippet": "The Raspberry Pi 5 doubles the speed of its predecessor.",
            "score": 2.0,
        }
    ]
    assert [e["kind"] for e in events if e["kind"] in ("tool_call", "tool_result")] == [
        "tool_call",
        "tool_result",
    ]
    assert events[-1]["status"] == "completed", events[-1]


async def test_a_search_the_instance_refuses_is_a_sentence_for_the_agent(
    hub: SearchHub, fake: FakeSearxng, searxng_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await hub.add("searxng", {"base_url": searxng_url}, scope="global")
    fake.formats = ["html"]  # an admin turned JSON off after the entry was added
    events, answer = await hub.run_tool("web_search", query="sourdough")
    assert "refuses JSON output" in answer
    assert "formats" in answer, "the agent can tell the person what to change"
    assert events[-1]["status"] == "completed", "the run goes on"
    assert "Traceback" not in caplog.text
