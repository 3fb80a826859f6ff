"""Integrations for agent tests, a started hub with a websocket, and scripted pydantic-ai models."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient

from hub.agent.chat import ChatService
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration

NOTES = '''
from hub.integrations.integration import Integration
from hub.integrations.toolsets import deferred

NOTES: list[str] = []


def build():
    from pydantic_ai.toolsets import FunctionToolset

    def note_add(text: str) -> str:
        """Remember a note."""
        NOTES.append(text)
        return f"noted ({len(NOTES)})"

    def note_list() -> list[str]:
        """Every note so far."""
        return list(NOTES)

    def note_fail(reason: str) -> str:
        """A tool that always raises."""
        raise ValueError(f"cannot do that: {reason}")

    def send_email(to: str, body: str) -> str:
        """Send an e-mail."""
        return f"sent to {to}"

    return FunctionToolset([note_add, note_list, note_fail, send_email])


class Notes(Integration):
    async def async_setup_entry(self, ctx):
        return [deferred(build)]


INTEGRATION = Notes()
'''

VAULT = '''
from hub.integrations.integration import Integration
from hub.integrations.toolsets import deferred


def build():
    from pydantic_ai.toolsets import FunctionToolset

    def vault_read() -> str:
        """Read the family vault."""
        return "the safe code is 1234"

    return FunctionToolset([vault_read])


class Vault(Integration):
    async def async_setup_entry(self, ctx):
        return [deferred(build)]


INTEGRATION = Vault()
'''

PROXY = '''
from hub.integrations.integration import Integration
from hub.integrations.toolsets import deferred


def build():
    from pydantic_ai.toolsets import FunctionToolset

    def proxy_query(query: str) -> str:
        """Ask an outside service (its answer may be attacker-influenced)."""
        return f"outside says: {query}"

    return FunctionToolset([proxy_query])


class Proxy(Integration):
    async def async_setup_entry(self, ctx):
        return [deferred(build)]


INTEGRATION = Proxy()
'''

BROKEN = """
from hub.integrations.integration import Integration
from hub.integrations.toolsets import deferred


def build():
    raise RuntimeError("this toolset is broken")


class Broken(Integration):
    async def async_setup_entry(self, ctx):
        return [deferred(build)]


INTEGRATION = Broken()
"""

SEARCH = """
from hub.integrations.capabilities import WebSearchResult
from hub.integrations.integration import Integration


class Provider:
    name = "{domain}"

    async def search(self, query, max_results):
        return [WebSearchResult(title="{domain}: " + query, url="https://example.org/{domain}")]


class Search(Integration):
    def web_search_provider(self, ctx):
        return Provider()


INTEGRATION = Search()
"""

WEATHER = """
from hub.integrations.integration import Integration


class Provider:
    name = "sky"

    async def weather(self, latitude, longitude, hours):
        return {"temperature": 21.5, "hours": hours}


class Sky(Integration):
    def weather_provider(self, ctx):
        return Provider()


INTEGRATION = Sky()
"""

ANALYST = """
from hub.integrations.capabilities import AgentDescriptor, SurfaceDescriptor
from hub.integrations.integration import Integration


class Analyst(Integration):
    def agents(self):
        return {
            "analyst": AgentDescriptor(
                name="Analyst",
                description="Reads notes and answers questions about them.",
                instructions="You are the analyst.",
                tool_config={"integrations": ["notes"], "exclude_tools": ["note_fail"]},
            ),
            "researcher": AgentDescriptor(
                name="Researcher",
                description="Searches the web.",
                instructions="You research.",
                required_tools=("web_search",),
            ),
            "trader": AgentDescriptor(
                name="Trader",
                description="Only on the desk.",
                instructions="You trade.",
                requires_surface="analyst-desk",
            ),
        }

    def surfaces(self):
        return {
            "desk": SurfaceDescriptor(
                name="Desk",
                config={"views": [{"type": "chat"}, {"cards": []}]},
            )
        }


INTEGRATION = Analyst()
"""


LAMPS = """
from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration

LIGHT = EntityStateTypeDescriptor(
    key="light",
    name="Light",
    rag=True,
    actions=(
        EntityStateActionDescriptor(name="turn_on", label="Turn on"),
        EntityStateActionDescriptor(name="turn_off", label="Turn off"),
    ),
)


class Lamps(Integration):
    def entity_types(self):
        return {"light": LIGHT}

    async def async_initial_entities(self, ctx):
        return [
            EntityStateRecord(
                entity_type="light",
                external_id=name.lower().replace(" ", "-"),
                name=name,
                state="off",
                attributes={"room": room},
            )
            for name, room in (("Kitchen ceiling", "kitchen"), ("Reading lamp", "study"))
        ]

    async def async_call_action(self, ctx, *, entity_type, external_id, action, args, current):
        state = "on" if action == "turn_on" else "off"
        updated = EntityStateRecord(
            entity_type=entity_type,
            external_id=external_id,
            name=current.name,
            state=state,
            attributes=current.attributes,
        )
        return EntityStateActionResult(records=(updated,), message=f"{current.name} is {state}")


INTEGRATION = Lamps()
"""


def write_integrations(root: Path) -> Path:
    """The agent tests' integrations, as folders the loader discovers."""
    make_integration(root, "notes", init=NOTES, single_instance=False)
    make_integration(root, "vault", init=VAULT, required_tier="internal")
    make_integration(root, "proxy", init=PROXY, trust_tier="untrusted")
    make_integration(root, "broken", init=BROKEN)
    for domain in ("alpha_search", "beta_search"):
        make_integration(
            root, domain, init=SEARCH.replace("{domain}", domain), provides=["web_search"]
        )
    make_integration(
        root,
        "aardvark_search",
        init=SEARCH.replace("{domain}", "aardvark_search"),
        provides=["web_search"],
        trust_tier="untrusted",
    )
    make_integration(root, "sky", init=WEATHER, provides=["weather"])
    make_integration(root, "analyst", init=ANALYST, single_instance=False)
    make_integration(root, "lamps", init=LAMPS)
    make_integration(root, "secret_lamps", init=LAMPS, required_tier="internal")
    return root


Brain = Callable[[list[Any], Any], Any]
"""A scripted model turn: the messages so far and the agent info in, a ``ModelResponse`` out."""


def scripted_model(brain: Brain) -> Any:
    """A pydantic-ai ``FunctionModel`` that answers with ``brain``, streamed or not."""
    from pydantic_ai.messages import TextPart, ToolCallPart
    from pydantic_ai.models.function import DeltaToolCall, FunctionModel

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        response = brain(messages, info)
        calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
        if calls:
            yield {
                i: DeltaToolCall(
                    name=c.tool_name,
                    json_args=json.dumps(c.args_as_dict()),
                    tool_call_id=c.tool_call_id,
                )
                for i, c in enumerate(calls)
            }
            return
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        for start in range(0, len(text), 5):
            yield text[start : start + 5]

    return FunctionModel(brain, stream_function=stream)


def call(tool: str, **args: Any) -> Any:
    """A model turn that calls one tool."""
    from pydantic_ai.messages import ModelResponse, ToolCallPart

    return ModelResponse(parts=[ToolCallPart(tool, args, tool_call_id=f"call-{tool}")])


def say(text: str) -> Any:
    """A model turn that answers with text."""
    from pydantic_ai.messages import ModelResponse, TextPart

    return ModelResponse(parts=[TextPart(text)])


def tool_returns(messages: Sequence[Any]) -> list[Any]:
    """Every tool return the model has been sent so far."""
    return [
        part
        for message in messages
        for part in getattr(message, "parts", [])
        if getattr(part, "part_kind", "") == "tool-return"
    ]


class AgentHub(HubClient):
    """A started hub with the agent's routes and a websocket."""

    def __init__(
        self,
        client: TestClient[web.Request, web.Application],
        token: str,
        config_dir: Path,
        chat: ChatService,
    ) -> None:
        assert client.app is not None
        super().__init__(client, client.app)
        self.token = token
        self.config_dir = config_dir
        self.service = chat
        """The app's chat service (built on first use by the hub; here, at once)."""
        self._ws: ClientWebSocketResponse | None = None
        self._next_id = 0

    async def add(self, domain: str, scope: str = "global") -> str:
        """Create an entry of a zero-step integration; its id."""
        answer = await self.start_flow(domain, scope=scope)
        assert answer["type"] == "create_entry", answer
        return str(answer["entry_id"])

    async def allow(self, *tools: str) -> None:
        """Let acting tools run without asking (approval rule ``always``), for tests of other things."""
        for tool in tools:
            resp = await self.client.put(f"/api/approvals/rules/{tool}", json={"rule": "always"})
            assert resp.status == 200, await resp.text()

    async def conversation(self, **body: Any) -> str:
        """A new conversation's id."""
        status, answer = await self.post("/api/conversations", body)
        assert status == 201, answer
        return str(answer["id"])

    async def socket(self) -> ClientWebSocketResponse:
        """The signed-in websocket (opened on first use)."""
        if self._ws is None:
            ws = await self.client.ws_connect("/api/websocket")
            assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": self.token})
            assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
            self._ws = ws
        return self._ws

    async def send(self, type_: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        """Send a command; its id and its result message."""
        ws = await self.socket()
        self._next_id += 1
        msg_id = self._next_id
        # As a browser's JSON.stringify: UTF-8 as it is, not \u-escaped.
        message = {"id": msg_id, "type": type_, **fields}
        await ws.send_str(json.dumps(message, ensure_ascii=False))
        while True:
            message = await ws.receive_json(timeout=10)
            if message["id"] == msg_id and message["type"] == "result":
                return msg_id, message

    async def events(self, msg_id: int) -> list[dict[str, Any]]:
        """A run's events up to and including ``done``."""
        ws = await self.socket()
        found: list[dict[str, Any]] = []
        while True:
            message = await ws.receive_json(timeout=20)
            if message.get("id") == msg_id and message["type"] == "event":
                found.append(message["event"])
                if message["event"]["kind"] == "done":
                    return found

    async def chat(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        """Send a message and collect the run's events."""
        msg_id, result = await self.send("chat/send", conversation_id=conversation_id, text=text)
        assert result["success"], result
        return await self.events(msg_id)
