"""The hub as an MCP server: the official ``mcp`` SDK's client against ``/api/mcp`` of a real hub."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub

JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def long_lived(hub: AgentHub, headers: dict[str, str] | None = None) -> str:
    """A long-lived token of the signed-in person (or of whoever ``headers`` sign in)."""
    status, answer = await hub.post("/api/auth/tokens", {"name": "mcp"}, headers=headers)
    assert status == 200, answer
    return str(answer["token"])


@asynccontextmanager
async def mcp_client(hub: AgentHub, token: str) -> AsyncIterator[Any]:
    """An initialized SDK ``ClientSession`` on the hub's ``/api/mcp`` with ``token``."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    url = str(hub.client.make_url("/api/mcp"))
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def tool_names(session: Any) -> set[str]:
    return {tool.name for tool in (await session.list_tools()).tools}


def text_of(result: Any) -> str:
    return "".join(part.text for part in result.content if part.type == "text")


async def rpc(
    hub: AgentHub, message: Any, session_id: str | None = None, **headers: str
) -> tuple[int, Any, Any]:
    """POST one raw message; the status, the decoded body (``None`` if empty) and the headers."""
    sent = dict(JSON, **headers)
    if session_id is not None:
        sent["Mcp-Session-Id"] = session_id
    raw = message if isinstance(message, bytes) else json.dumps(message).encode()
    resp = await hub.client.post("/api/mcp", data=raw, headers=sent)
    text = await resp.text()
    return resp.status, json.loads(text) if text else None, resp.headers


async def raw_session(hub: AgentHub) -> str:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t"},
        },
    }
    status, body, headers = await rpc(hub, init)
    assert status == 200, body
    assert body["result"]["protocolVersion"] == "2025-06-18"
    return str(headers["Mcp-Session-Id"])


async def test_a_client_lists_and_calls_the_persons_tools(
    no_lingering_tasks: None, hub: AgentHub, caplog: pytest.LogCaptureFixture
) -> None:
    await hub.add("lamps")
    await hub.add("notes")
    token = await long_lived(hub)
    caplog.set_level(logging.INFO, logger="hub.agent.audit")
    async with mcp_client(hub, token) as session:
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert {"search_entities", "read_entity", "control_entity", "note_add"} <= set(listed)
        assert listed["search_entities"].annotations.read_only_hint is True
        assert listed["control_entity"].annotations.read_only_hint is False
        assert "entity_id" in listed["read_entity"].input_schema["properties"]
        assert "Full-text search" in (listed["search_entities"].description or "")

        found = await session.call_tool("search_entities", {"query": "kitchen"})
        assert found.is_error is False
        matches = json.loads(text_of(found))
        assert [(m["name"], m["domain"]) for m in matches] == [("Kitchen ceiling", "lamps")]

        read = await session.call_tool("read_entity", {"entity_id": matches[0]["id"]})
        detail = json.loads(text_of(read))
        assert (detail["name"], detail["state"]) == ("Kitchen ceiling", "off")
    audit = [r.getMessage() for r in caplog.records if r.name == "hub.agent.audit"]
    assert any(
        "channel=mcp" in line and "tool=search_entities" in line and "integration=hub" in line
        for line in audit
    ), audit


async def test_acting_tools_ask_and_an_approval_grants_one_call(hub: AgentHub) -> None:
    await hub.add("lamps")
    _, listed = await hub.get("/api/entities", params={"domain": "lamps"})
    kitchen = next(e["id"] for e in listed["entities"] if e["name"] == "Kitchen ceiling")
    call = {"entity_id": kitchen, "action": "turn_on"}
    async with mcp_client(hub, await long_lived(hub)) as session:
        asked = await session.call_tool("control_entity", call)
        assert asked.is_error is True
        assert "Approval pending" in text_of(asked)
        retried = await session.call_tool("control_entity", call)  # a client that keeps asking
        assert "Approval pending" in text_of(retried)

        status, pending = await hub.get("/api/approvals/pending")
        assert status == 200, pending
        [approval] = pending["pending"]  # one request for the person, however often it was tried
        assert (approval["tool"], approval["channel"]) == ("control_entity", "mcp")
        assert approval["args"]["entity_id"] == kitchen
        _, entity = await hub.get(f"/api/entities/{kitchen}")
        assert entity["state"] == "off"  # nothing happened while it waits

        status, decided = await hub.post(f"/api/approvals/{approval['id']}", {"answer": "once"})
        assert status == 200, decided
        done = await session.call_tool("control_entity", call)
        assert done.is_error is False, text_of(done)
        assert json.loads(text_of(done))["message"] == "Kitchen ceiling is on"

        again = await session.call_tool("control_entity", call)  # "once" is spent
        assert again.is_error is True
        assert "Approval pending" in text_of(again)


async def test_rules_always_and_never_apply_to_mcp_clients(hub: AgentHub) -> None:
    await hub.add("lamps")
    _, listed = await hub.get("/api/entities", params={"domain": "lamps"})
    lamp = listed["entities"][0]["id"]
    resp = await hub.client.put("/api/approvals/rules/control_entity", json={"rule": "always"})
    assert resp.status == 200, await resp.text()
    async with mcp_client(hub, await long_lived(hub)) as session:
        done = await session.call_tool("control_entity", {"entity_id": lamp, "action": "turn_on"})
        assert done.is_error is False, text_of(done)

        resp = await hub.client.put("/api/approvals/rules/control_entity", json={"rule": "never"})
        assert resp.status == 200, await resp.text()
        assert "control_entity" not in await tool_names(session)
        from mcp.shared.exceptions import MCPError

        with pytest.raises(MCPError) as refused:
            await session.call_tool("control_entity", {"entity_id": lamp, "action": "turn_off"})
        assert refused.value.code == -32602
    _, entity = await hub.get(f"/api/entities/{lamp}")
    assert entity["state"] == "on"


async def test_internal_tools_stay_in_until_an_admin_raises_the_tier(hub: AgentHub) -> None:
    await hub.add("vault")  # required_tier: internal
    status, settings = await hub.get("/api/mcp/settings")
    assert (status, settings["tier"], settings["enabled"]) == (200, "unregulated", True)
    token = await long_lived(hub)
    async with mcp_client(hub, token) as session:
        assert "vault_read" not in await tool_names(session)
        from mcp.shared.exceptions import MCPError

        with pytest.raises(MCPError):
            await session.call_tool("vault_read", {})

    resp = await hub.client.put("/api/mcp/settings", json={"tier": "internal"})
    assert resp.status == 200
    assert (await resp.json())["tier"] == "internal"
    await hub.client.put("/api/approvals/rules/vault_read", json={"rule": "always"})
    async with mcp_client(hub, token) as session:
        assert "vault_read" in await tool_names(session)
        read = await session.call_tool("vault_read", {})
        assert text_of(read) == "the safe code is 1234"


async def test_the_setting_survives_a_restart_and_only_admins_change_it(
    start_agent_hub: StartAgentHub,
) -> None:
    hub = await start_agent_hub()
    member = await hub.another_person("kim", "kim's long passphrase")
    resp = await hub.client.put("/api/mcp/settings", json={"tier": "internal"}, headers=member)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"
    assert (await hub.client.get("/api/mcp/settings", headers=member)).status == 403
    resp = await hub.client.put("/api/mcp/settings", json={"tier": "secret"})
    assert resp.status == 400
    resp = await hub.client.put("/api/mcp/settings", json={"tier": "regulated", "enabled": False})
    assert resp.status == 200
    await hub.client.close()

    hub = await start_agent_hub()
    _, settings = await hub.get("/api/mcp/settings")
    assert (settings["tier"], settings["enabled"]) == ("regulated", False)
    status, body, _ = await rpc(hub, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert (status, body["error"]["code"]) == (403, "mcp_disabled")


async def test_an_untrusted_entry_takes_acting_hub_tools_away(hub: AgentHub) -> None:
    await hub.add("lamps")
    token = await long_lived(hub)
    async with mcp_client(hub, token) as session:
        assert "control_entity" in await tool_names(session)
    await hub.add("proxy")  # trust_tier: untrusted
    async with mcp_client(hub, token) as session:
        names = await tool_names(session)
        assert "proxy_query" in names
        assert "control_entity" not in names
        assert "search_entities" in names


async def test_no_token_or_a_bad_one_is_refused(hub: AgentHub) -> None:
    for auth in ("", "Bearer nonsense"):
        resp = await hub.client.post(
            "/api/mcp", data=b"{}", headers={**JSON, "Authorization": auth}
        )
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"]["code"] == "unauthorized"
    from mcp.shared.exceptions import MCPError

    with pytest.raises(ExceptionGroup) as refused:  # the SDK client, refused at initialize
        async with mcp_client(hub, "not-a-token"):
            pass
    assert refused.group_contains(MCPError)


async def test_the_transport_rules(hub: AgentHub) -> None:
    session_id = await raw_session(hub)
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    status, body, _ = await rpc(hub, ping, session_id)
    assert (status, body) == (200, {"jsonrpc": "2.0", "id": 2, "result": {}})
    status, body, _ = await rpc(
        hub, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session_id
    )
    assert (status, body) == (202, None)
    status, body, _ = await rpc(hub, ping)  # no session
    assert status == 400
    assert body["error"]["code"] == -32600
    status, body, _ = await rpc(hub, ping, "not-a-session")
    assert status == 404
    status, body, _ = await rpc(hub, ping, session_id, **{"MCP-Protocol-Version": "1999-01-01"})
    assert status == 400
    status, body, _ = await rpc(hub, ping, session_id, Origin="http://evil.example")
    assert status == 403
    assert body["error"]["code"] == "origin_not_allowed"
    unknown = {"jsonrpc": "2.0", "id": 3, "method": "resources/list"}
    status, body, _ = await rpc(hub, unknown, session_id)
    assert body["error"]["code"] == -32601

    resp = await hub.client.get("/api/mcp", headers={"Mcp-Session-Id": session_id})
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]

    member = await hub.another_person("kim", "kim's long passphrase")
    resp = await hub.client.post(
        "/api/mcp", data=json.dumps(ping), headers={**JSON, **member, "Mcp-Session-Id": session_id}
    )
    assert resp.status == 404  # another person's session is nobody's

    resp = await hub.client.delete("/api/mcp", headers={"Mcp-Session-Id": session_id})
    assert resp.status == 204
    status, _, _ = await rpc(hub, ping, session_id)
    assert status == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", -32700),
        (b"{", -32700),
        (b"\xff\xfe", -32700),
        (b"[" * 5000, -32700),
        (b'"\\ud800"', -32700),
        (b"null", -32600),
        (b"17", -32600),
        (b"[]", -32600),
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', -32600),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}', -32600),
        (b'{"jsonrpc": "2.0", "id": true, "method": "ping"}', -32600),
        (b'{"jsonrpc": "2.0", "id": {}, "method": "ping"}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 7}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": []}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "initialize"}', -32602),
    ],
)
async def test_garbage_gets_a_json_rpc_error_never_a_500(
    hub: AgentHub, body: bytes, code: int
) -> None:
    status, answer, _ = await rpc(hub, body)
    assert 200 <= status < 500
    assert answer["error"]["code"] == code, answer


async def test_bad_calls_are_invalid_params(hub: AgentHub) -> None:
    session_id = await raw_session(hub)
    params: Any
    for params in (
        [],
        {"name": 5},
        {"name": "search_entities", "arguments": "kitchen"},
        {"name": "search_entities", "arguments": {"query": 5, "limit": "many"}},
        {"name": "no_such_tool", "arguments": {}},
    ):
        message = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params}
        status, answer, _ = await rpc(hub, message, session_id)
        assert status == 200
        assert answer["error"]["code"] == -32602, (params, answer)
    message = {"jsonrpc": "2.0", "id": 9, "method": "tools/call"}
    status, answer, _ = await rpc(hub, message, session_id)
    assert answer["error"]["code"] == -32602
    resp = await hub.client.post(
        "/api/mcp",
        data=io.BytesIO(b"x" * (1024 * 1024 + 1)),
        headers={**JSON, "Mcp-Session-Id": session_id},
    )
    assert resp.status == 413
    resp = await hub.client.post(
        "/api/mcp", data=b"{}", headers={"Content-Type": "text/plain", "Mcp-Session-Id": session_id}
    )
    assert resp.status == 415


async def test_a_failing_tool_is_an_error_result_and_big_results_are_bounded(
    hub: AgentHub,
) -> None:
    await hub.add("notes")
    for tool in ("note_fail", "note_add", "note_list"):
        await hub.client.put(f"/api/approvals/rules/{tool}", json={"rule": "always"})
    async with mcp_client(hub, await long_lived(hub)) as session:
        failed = await session.call_tool("note_fail", {"reason": "no paper"})
        assert failed.is_error is True
        assert "cannot do that: no paper" in text_of(failed)
        for _ in range(3):
            await session.call_tool("note_add", {"text": "x" * 40_000})
        listed = await session.call_tool("note_list", {})
        assert listed.is_error is False
        assert len(text_of(listed)) < 101_000
        assert "[truncated:" in text_of(listed)


async def test_the_sdks_high_level_client_falls_back_to_the_handshake(hub: AgentHub) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    await hub.add("lamps")
    token = await long_lived(hub)
    url = str(hub.client.make_url("/api/mcp"))
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,  # mode "auto"
    ):
        found = await client.call_tool("search_entities", {"query": "reading"})
        assert [m["name"] for m in json.loads(text_of(found))] == ["Reading lamp"]
