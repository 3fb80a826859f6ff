"""The http step against a real server on 127.0.0.1: allowed only while the owner lets fetches reach
local addresses (web fetch's SSRF guard), JSON in and out, credentials masked in the trace, an error
status failing the step, a big answer cut, a redirect answered but not followed, and a timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from hub.config import WorkflowsConfig
from tests.agent.conftest import start_agent_hub  # noqa: F401  # the fixture, for this module
from tests.workflows.actions_hub import Bench, StartHub, bench, workflow

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

TOKEN = "s3cr3t-bearer-value"


class Remote:
    """A small web service the steps call; it remembers what reached it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/broken", self.broken)
        app.router.add_get("/big", self.big)
        app.router.add_get("/moved", self.moved)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/text", self.text)
        return app

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.seen.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        return web.json_response({"received": body, "ok": True})

    async def broken(self, request: web.Request) -> web.Response:
        self.seen.append({"path": request.path})
        return web.json_response({"error": "database down"}, status=500)

    async def big(self, request: web.Request) -> web.Response:
        return web.json_response({"blob": "x" * 5_000})

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.Response(text="late")

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="plain words")


@pytest.fixture
async def remote(aiohttp_server: AiohttpServer) -> tuple[Remote, str]:
    """The service and its base address."""
    service = Remote()
    server = await aiohttp_server(service.app())
    return service, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def hub(start_agent_hub: StartHub, tmp_path: Path) -> Bench:  # noqa: F811
    config = WorkflowsConfig(http_timeout_seconds=1, http_max_response_kib=1)
    return await bench(start_agent_hub, tmp_path, workflows=config)


async def allow_local(bench: Bench, allowed: bool = True) -> None:
    resp = await bench.hub.client.patch(
        "/api/agent/preferences", json={"allow_local_fetch": allowed}
    )
    assert resp.status == 200, await resp.text()


def call(url: str, **fields: Any) -> dict[str, Any]:
    return {"type": "http", "url": url, **fields}


async def test_a_request_to_the_lan_is_sent_when_the_owner_allows_local_addresses(
    hub: Bench, remote: tuple[Remote, str]
) -> None:
    service, base = remote
    await allow_local(hub)
    flow = workflow(
        hub.owner,
        call(
            base + "/echo?room={{ trigger.data.room }}&api_key=k3y-in-the-query",
            headers={"Authorization": f"Bearer {TOKEN}", "X-Room": "hall"},
            body={"level": 40},
        ),
    )
    run, failed = await hub.perform(flow, {"data": {"room": "hall"}})
    assert failed is None, failed
    [arrived] = service.seen
    assert arrived["method"] == "POST"
    assert arrived["path"] == "/echo?room=hall&api_key=k3y-in-the-query"
    assert arrived["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert arrived["body"] == {"level": 40}
    step = run.steps[0]
    assert step["result"] == {
        "status": 200,
        "headers": {"content-type": "application/json; charset=utf-8"},
        "body": {"received": {"level": 40}, "ok": True},
        "truncated": False,
    }
    # The trace keeps the request, never its credentials.
    assert step["input"]["method"] == "POST"
    assert step["input"]["url"] == base + "/echo?room=hall&api_key=***"
    assert step["input"]["headers"] == {"Authorization": "***", "X-Room": "hall"}
    assert step["input"]["body"] == {"level": 40}
    assert TOKEN not in repr(run.steps)
    assert "k3y-in-the-query" not in repr(run.steps)


async def test_a_request_to_the_lan_is_refused_while_local_addresses_are_not_allowed(
    hub: Bench, remote: tuple[Remote, str]
) -> None:
    service, base = remote
    run, failed = await hub.perform(workflow(hub.owner, call(base + "/echo?token=abcdef")))
    assert failed is not None
    assert failed.code == "fetch_refused"
    assert "loopback" in failed.message
    assert "abcdef" not in failed.message
    assert run.steps[0]["status"] == "failed"
    assert service.seen == []


async def test_an_address_that_is_not_http_is_refused(hub: Bench) -> None:
    for url in ("file:///etc/passwd", "http://user:pw@127.0.0.1/", "{{ trigger.nothing }}"):
        _, failed = await hub.perform(workflow(hub.owner, call(url)))
        assert failed is not None
        assert failed.code == "fetch_refused", (url, failed)


async def test_an_error_status_fails_the_step_with_the_answer_kept(
    hub: Bench, remote: tuple[Remote, str]
) -> None:
    _, base = remote
    await allow_local(hub)
    run, failed = await hub.perform(workflow(hub.owner, call(base + "/broken", method="GET")))
    assert failed is not None
    assert failed.code == "http_status"
    assert "HTTP 500" in failed.message
    step = run.steps[0]
    assert step["status"] == "failed"
    assert step["result"]["status"] == 500
    assert step["result"]["body"] == {"error": "database down"}


async def test_a_big_answer_is_cut_at_the_limit(hub: Bench, remote: tuple[Remote, str]) -> None:
    _, base = remote
    await allow_local(hub)
    run, failed = await hub.perform(workflow(hub.owner, call(base + "/big", method="GET")))
    assert failed is None
    result = run.steps[0]["result"]
    assert result["truncated"] is True
    assert isinstance(result["body"], str)  # cut JSON is kept as text
    assert len(result["body"]) == 1024
    assert result["body"].startswith('{"blob": "xxx')


async def test_a_text_answer_is_kept_as_text(hub: Bench, remote: tuple[Remote, str]) -> None:
    _, base = remote
    await allow_local(hub)
    run, _ = await hub.perform(workflow(hub.owner, call(base + "/text", method="GET")))
    assert run.steps[0]["result"]["body"] == "plain words"
    assert run.steps[0]["result"]["headers"] == {"content-type": "text/plain; charset=utf-8"}


async def test_a_redirect_is_answered_but_not_followed(
    hub: Bench, remote: tuple[Remote, str]
) -> None:
    service, base = remote
    await allow_local(hub)
    run, failed = await hub.perform(workflow(hub.owner, call(base + "/moved", method="GET")))
    assert failed is None
    result = run.steps[0]["result"]
    assert result["status"] == 302
    assert result["headers"]["location"] == "/echo"
    assert service.seen == []


async def test_a_slow_answer_times_out(hub: Bench, remote: tuple[Remote, str]) -> None:
    service, base = remote
    await allow_local(hub)
    try:
        run, failed = await hub.perform(workflow(hub.owner, call(base + "/slow", method="GET")))
    finally:
        service.release.set()
    assert failed is not None
    assert failed.code == "fetch_failed"
    assert "took longer than 1 s" in failed.message
    assert run.steps[0]["status"] == "failed"


async def test_nothing_listening_fails_the_step(hub: Bench) -> None:
    await allow_local(hub)
    _, failed = await hub.perform(workflow(hub.owner, call("http://127.0.0.1:9/nothing")))
    assert failed is not None
    assert failed.code == "fetch_failed"
