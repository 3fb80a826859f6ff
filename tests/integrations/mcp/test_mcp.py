"""The MCP integration through a real hub: an SDK-built Streamable HTTP server and
``mcp-server-time`` over stdio as peers, the fake OpenAI server as the model."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.mcp_http import ADD_DESCRIPTION, RUG_DESCRIPTION
from tests.integrations.mcp.support import (
    ENV_SERVER,
    TIME_SERVER,
    TOKEN,
    add_http,
    add_stdio,
    entry,
    fake_mcp,
    run,
    switch,
    sync,
)
from tests.integrations.searxng.support import (
    SearchHub,
    StartSearchHub,
    allow_model_requests,
    start_search_hub,
)

__all__ = ["allow_model_requests", "start_search_hub"]  # fixtures, used by name


@pytest.fixture
async def hub(start_search_hub: StartSearchHub) -> SearchHub:
    """A started hub with the bundled integrations, the owner (an admin) signed in."""
    return await start_search_hub()


def files_under(root: Path) -> dict[Path, bytes]:
    """Every file below ``root`` with its bytes."""
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def tool_result(events: list[dict[str, Any]], tool: str) -> str:
    """What a tool call of the run answered, as the chat shows it."""
    results = [e for e in events if e["kind"] == "tool_result" and e.get("tool") == tool]
    assert results, [e["kind"] for e in events]
    return str(results[-1].get("content"))


# The flow


async def test_an_http_server_becomes_an_entry_with_its_tools_pinned_and_the_token_kept_secret(
    hub: SearchHub, tmp_path: Path
) -> None:
    async with fake_mcp("--token", TOKEN) as url:
        first = await hub.start_flow("mcp", scope="global")
        fields = [f["name"] for f in first["data_schema"]]
        assert fields[0] == "transport", "the transport is chosen first"
        assert {o["value"] for o in first["data_schema"][0]["options"]} == {"http", "stdio"}
        done = await hub.submit(
            first["flow_id"], {"transport": "http", "url": url, "token": TOKEN, "prefix": "fake"}
        )
        assert done["type"] == "create_entry", done
        shown = await entry(hub, done["entry_id"])
        assert shown["state"] == "loaded"
        assert shown["secret_fields"] == ["token"]
        pins = shown["data"]["tool_pins"]
        assert set(pins) == {"add", "echo", "big", "slow", "crash"}
        assert pins["add"]["description"] == ADD_DESCRIPTION
        assert len(pins["add"]["fingerprint"]) == 64

        checked = await sync(hub, done["entry_id"])
        assert checked["health"]["status"] == "ok", checked["health"]
        await hub.client.close()
    for path, content in files_under(tmp_path).items():
        assert TOKEN.encode() not in content, f"{path} holds the token"


@pytest.mark.parametrize(
    ("form", "key"),
    [
        ({"token": "wrong"}, "auth_failed"),
        ({"token": TOKEN, "url": "{base}/nothing"}, "not_an_mcp_server"),
        ({"url": "http://127.0.0.1:9/mcp"}, "cannot_connect"),
        ({"url": "ftp://example.com/mcp"}, "invalid_url"),
    ],
)
async def test_a_server_that_cannot_be_used_is_a_form_error(
    hub: SearchHub, form: dict[str, Any], key: str
) -> None:
    async with fake_mcp("--token", TOKEN) as url:
        base = url.removesuffix("/mcp")
        given = {"url": url} | {k: str(v).replace("{base}", base) for k, v in form.items()}
        answer = await add_http(hub, **given)
    assert answer["type"] == "form", answer
    assert key in answer["error_keys"].values(), answer["error_keys"]
    assert all(answer["errors"].values()), "each key has its sentence"


@pytest.mark.parametrize(("mode", "key"), [("garbage", "not_an_mcp_server"), ("hang", "timeout")])
async def test_a_server_answering_garbage_or_nothing_is_a_form_error_in_bounded_time(
    hub: SearchHub, mode: str, key: str
) -> None:
    async with fake_mcp() as url:
        await switch(url, mode)
        answer = await add_http(hub, url=url)
    assert answer["type"] == "form", answer
    assert answer["error_keys"] == {"base": key}


async def test_stdio_is_for_admins_adding_a_household_server(hub: SearchHub) -> None:
    member = await hub.another_person("kim", "a long passphrase for kim")
    status, form = await hub.post("/api/config-flows", {"domain": "mcp"}, headers=member)
    assert status == 200, form
    status, answer = await hub.post(
        f"/api/config-flows/{form['flow_id']}",
        {"user_input": {"transport": "stdio", "command": str(TIME_SERVER)}},
        headers=member,
    )
    assert status == 200, answer
    assert answer["error_keys"] == {"command": "stdio_admin_only"}

    missing = await add_stdio(hub, "no-such-mcp-program --flag")
    assert missing["error_keys"] == {"command": "command_not_found"}
    unclosed = await add_stdio(hub, f"{TIME_SERVER} 'unclosed")
    assert unclosed["error_keys"] == {"command": "invalid_command"}


# Runs


async def test_mcp_server_time_over_stdio_answers_the_agent_under_its_prefix(
    hub: SearchHub,
) -> None:
    done = await add_stdio(hub, f"{TIME_SERVER} --local-timezone UTC")
    assert done["type"] == "create_entry", done
    assert done["title"] == "mcp-server-time"
    assert (await entry(hub, done["entry_id"]))["data"]["prefix"] == "mcp_server_time"

    tool = "mcp_server_time_get_current_time"
    events, offered = await run(hub, (tool, {"timezone": "Europe/Berlin"}))
    assert tool in offered
    assert "Europe/Berlin" in tool_result(events, tool)
    # An MCP tool acts (its server's word on that is not trusted): the person was asked, and the
    # card named the server's entry although the tool was known only once the server listed it.
    asked = next(e for e in events if e["kind"] == "approval_request")
    assert (asked["tool"], asked["read_only"]) == (tool, False)
    assert (asked["integration"], asked["entry_id"]) == ("mcp", done["entry_id"])
    call = next(e for e in events if e["kind"] == "tool_call")
    assert (call["integration"], call["entry_id"]) == ("mcp", done["entry_id"])
    checked = await sync(hub, done["entry_id"])
    assert checked["health"]["status"] == "ok", checked["health"]


async def test_a_stdio_server_sees_none_of_the_hubs_environment(
    hub: SearchHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_MASTER_KEY_CANARY", "sekrit-canary-value")
    done = await add_stdio(hub, f"{sys.executable} {ENV_SERVER}")
    assert done["type"] == "create_entry", done
    prefix = (await entry(hub, done["entry_id"]))["data"]["prefix"]
    tool = f"{prefix}_environment"
    events, offered = await run(hub, (tool, {}))
    assert tool in offered
    reported = json.loads(tool_result(events, tool))
    assert set(reported["env"]) <= {"PATH", "HOME", "LANG", "LC_CTYPE"}, reported["env"]
    assert "sekrit-canary-value" not in json.dumps(reported)
    assert reported["env"]["HOME"] != os.environ.get("HOME")
    assert reported["cwd"] == reported["env"]["HOME"], "started in its private directory"


async def test_an_mcp_entry_in_the_run_takes_high_privilege_tools_away(hub: SearchHub) -> None:
    _, before = await run(hub)
    assert "control_entity" in before, before
    async with fake_mcp() as url:
        done = await add_http(hub, url=url, prefix="fake")
        assert done["type"] == "create_entry", done
        _, offered = await run(hub)
    assert "fake_add" in offered
    assert "control_entity" not in offered, "the untrusted gate engaged"


async def test_a_rug_pull_is_withheld_until_a_person_accepts_the_change(hub: SearchHub) -> None:
    async with fake_mcp() as url:
        done = await add_http(hub, url=url, prefix="fake")
        entry_id = done["entry_id"]
        _, offered = await run(hub)
        assert "fake_add" in offered

        await switch(url, "rug")
        _, offered = await run(hub)
        assert "fake_add" not in offered, "a changed tool is withheld"
        assert "fake_exfiltrate" not in offered, "a new tool is withheld"
        assert "fake_echo" in offered, "unchanged tools stay"
        shown = await entry(hub, entry_id)
        assert shown["tool_review"] == 2, "the entries page says there is something to review"

        status, review = await hub.get(f"/api/config-entries/{entry_id}/tool-review")
        assert status == 200, review
        changes = {c["name"]: c for c in review["changes"]}
        assert changes["add"]["kind"] == "changed"
        assert changes["add"]["old"]["description"] == ADD_DESCRIPTION
        assert changes["add"]["new"]["description"] == RUG_DESCRIPTION
        assert changes["exfiltrate"]["kind"] == "added"
        assert changes["exfiltrate"]["old"] is None

        checked = await sync(hub, entry_id)
        assert checked["health"]["status"] == "degraded", checked["health"]
        assert "2" in checked["health"]["detail"]

        status, after = await hub.post(
            f"/api/config-entries/{entry_id}/tool-review", {"accept": ["add"]}
        )
        assert status == 200, after
        assert [c["name"] for c in after["changes"]] == ["exfiltrate"]
        stored = (await entry(hub, entry_id))["data"]["tool_pins"]["add"]
        assert stored["description"] == RUG_DESCRIPTION, "the accepted definition is pinned"
        _, offered = await run(hub)
        assert "fake_add" in offered
        assert "fake_exfiltrate" not in offered


async def test_the_review_refuses_bad_input_and_other_peoples_entries(hub: SearchHub) -> None:
    async with fake_mcp() as url:
        done = await add_http(hub, url=url)
        path = f"/api/config-entries/{done['entry_id']}/tool-review"
        status, answer = await hub.post(path, {"accept": "add"})
        assert status == 400, answer
        member = await hub.another_person("kim", "a long passphrase for kim")
        status, answer = await hub.post(path, {"accept": ["add"]}, headers=member)
        assert status in (403, 404), answer
        status, answer = await hub.get("/api/config-entries/nope/tool-review")
        assert status == 404, answer


# Bad answers during runs


async def test_a_ten_megabyte_result_reaches_the_model_cut_with_a_note(hub: SearchHub) -> None:
    async with fake_mcp() as url:
        await add_http(hub, url=url, prefix="fake")
        events, _ = await run(hub, ("fake_big", {}))
    [told] = hub.model.tool_results(-1)
    assert len(told) < 101_000
    assert "[cut: the MCP server answered" in told
    assert events[-1]["status"] == "completed", events[-1]


async def test_a_server_crashing_mid_call_is_a_failed_tool_result_and_an_error_health(
    hub: SearchHub,
) -> None:
    async with fake_mcp() as url:
        done = await add_http(hub, url=url, prefix="fake")
        events, _ = await run(hub, ("fake_crash", {}))
        assert events[-1]["status"] == "completed", events[-1]
        [told] = hub.model.tool_results(-1)
        assert told, "the model reads that the call failed"
        checked = await sync(hub, done["entry_id"])
    assert checked["health"]["status"] == "error", checked["health"]
    assert checked["health"]["key"] == "health.cannot_connect"


async def test_a_server_that_stops_answering_costs_the_run_its_tools_not_the_run(
    hub: SearchHub,
) -> None:
    async with fake_mcp() as url:
        done = await add_http(hub, url=url, prefix="fake")
        await switch(url, "hang")
        events, offered = await run(hub)
        assert events[-1]["status"] == "completed", events[-1]
        assert not [name for name in offered if name.startswith("fake_")]
        checked = await sync(hub, done["entry_id"])
    assert checked["health"]["status"] == "error", checked["health"]
    assert checked["health"]["key"] == "health.timeout"


async def test_five_thousand_tools_are_bounded_and_the_entry_says_so(hub: SearchHub) -> None:
    async with fake_mcp("--tools", "5000") as url:
        done = await add_http(hub, url=url, prefix="many")
        assert done["type"] == "create_entry", done
        _, offered = await run(hub)
        assert len([name for name in offered if name.startswith("many_")]) == 128
        checked = await sync(hub, done["entry_id"])
    assert checked["health"]["status"] == "degraded", checked["health"]
    assert checked["health"]["key"] == "health.too_many_tools"
    assert "5000" in checked["health"]["detail"]
