"""A scriptable fake of the OpenAI chat-completions API, served by aiohttp on 127.0.0.1 for tests.

Serve ``fake.app()`` with pytest-aiohttp's ``aiohttp_server``; the base URL is
``str(server.make_url("/v1"))``. Each chat request takes the next scripted step (a reply or a
failure), or with the script empty answers ``default_reply``. Streams have the documented shape: a
role chunk, content and tool-call argument deltas in pieces, a finish-reason chunk, a usage chunk
when ``stream_options.include_usage`` is set, then ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A function call the fake model makes; ``arguments`` is a mapping or a raw JSON string."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One assistant turn: text, tool calls, or both."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


ReplyFn = Callable[[JsonDict], "Reply | str | Awaitable[Reply | str]"]


@dataclass(frozen=True)
class _Fail:
    status: int
    body: JsonDict | str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Garbage:
    body: JsonDict | list[Any] | str
    content_type: str | None


@dataclass(frozen=True)
class _Drop:
    reply: Reply
    after_chunks: int


_Step = Reply | _Fail | _Garbage | _Drop | ReplyFn


def error_body(message: str, type_: str, code: str | None = None) -> JsonDict:
    """An OpenAI-style error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def default_reply(body: JsonDict) -> Reply:
    """``"Tool result: <content>"`` when the conversation ends with a tool result, else ``"ok"``."""
    last: JsonDict = (body.get("messages") or [{}])[-1]
    if last.get("role") == "tool":
        return Reply(text=f"Tool result: {_text_of(last.get('content'))}")
    return Reply(text="ok")


def _text_of(content: Any) -> str:
    """Message content as text, joining the text parts of a list content."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _pieces(text: str, size: int) -> Iterator[str]:
    """``text`` cut into pieces of ``size`` characters."""
    return (text[i : i + size] for i in range(0, len(text), size))


class FakeOpenAI:
    """An OpenAI-compatible chat-completions server with a script of replies and failures."""

    def __init__(
        self, api_key: str | None = None, model: str = "fake-model", *, chunk_size: int = 4
    ) -> None:
        """Check ``Authorization: Bearer <api_key>`` when a key is given; stream in ``chunk_size`` pieces."""
        self.api_key = api_key
        self.model = model
        self.chunk_size = chunk_size
        self.requests: list[JsonDict] = []
        self.auth_headers: list[str] = []
        self.disconnects = 0  # requests whose client went away before the reply was complete
        self._script: deque[_Step] = deque()
        self._delays: deque[float] = deque()
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()  # set whenever a request arrives or a client goes away

    def reply(self, reply: Reply) -> None:
        """Queue a reply."""
        self._script.append(reply)

    def reply_text(self, text: str) -> None:
        """Queue a plain text reply."""
        self.reply(Reply(text=text))

    def reply_tool_call(
        self, name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
    ) -> None:
        """Queue a reply that calls one function tool."""
        self.reply(Reply(tool_calls=(ToolCall(name, arguments or {}, id),)))

    def reply_tool_calls(
        self, *calls: ToolCall | tuple[str, Mapping[str, Any]], text: str | None = None
    ) -> None:
        """Queue a reply that calls several tools at once, e.g. ``("a", {"x": 1}), ("b", {})``."""
        tool_calls = tuple(c if isinstance(c, ToolCall) else ToolCall(*c) for c in calls)
        self.reply(Reply(text=text, tool_calls=tool_calls))

    def reply_with(self, fn: ReplyFn) -> None:
        """Queue a reply computed from the request body; ``fn`` returns a ``Reply`` or text, maybe async."""
        self._script.append(fn)

    def fail_with(
        self,
        status: int = 500,
        body: JsonDict | str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Queue ``times`` error responses (an OpenAI-style error body unless ``body`` is given)."""
        if body is None:
            body = error_body(f"The fake failed with {status}.", "server_error")
        for _ in range(times):
            self._script.append(_Fail(status, body, dict(headers or {})))

    def reply_garbage(
        self, body: JsonDict | list[Any] | str = "not JSON", *, content_type: str | None = None
    ) -> None:
        """Queue a 200 whose body is not a completion: non-JSON text, or JSON of the wrong shape.

        Non-streaming, it is the whole body (``application/json`` unless ``content_type`` is given);
        streaming, it is the one SSE event before ``[DONE]``.
        """
        self._script.append(_Garbage(body, content_type))

    def drop_mid_stream(self, reply: Reply | None = None, *, after_chunks: int = 2) -> None:
        """Queue a reply cut off, its connection closed after ``after_chunks`` chunks (or half its body)."""
        self._script.append(_Drop(reply or Reply(text="Cut off mid-reply"), after_chunks))

    def delay(self, seconds: float) -> None:
        """Hold the next request's first byte for ``seconds`` (or until the client goes away)."""
        self._delays.append(seconds)

    @property
    def pending(self) -> int:
        """How many scripted steps are still unused."""
        return len(self._script)

    def messages(self, request_index: int = -1) -> list[JsonDict]:
        """The ``messages`` of a recorded request."""
        messages: list[JsonDict] = self.requests[request_index].get("messages", [])
        return messages

    def tool_names(self, request_index: int = -1) -> list[str]:
        """The names of the function tools offered in a recorded request."""
        tools = self.requests[request_index].get("tools", [])
        return [t["function"]["name"] for t in tools if t.get("type") == "function"]

    def tool_results(self, request_index: int = -1) -> list[str]:
        """The contents of the ``tool`` messages in a recorded request."""
        messages = self.messages(request_index)
        return [_text_of(m.get("content")) for m in messages if m.get("role") == "tool"]

    async def wait_for_requests(self, count: int = 1) -> None:
        """Wait until at least ``count`` chat requests have arrived (bound it with ``asyncio.timeout``)."""
        while len(self.requests) < count:
            self._changed.clear()
            await self._changed.wait()

    async def wait_for_disconnects(self, count: int = 1) -> None:
        """Wait until at least ``count`` clients have gone away before their reply was complete."""
        while self.disconnects < count:
            self._changed.clear()
            await self._changed.wait()

    def app(self) -> web.Application:
        """The aiohttp application serving ``/v1/chat/completions`` and ``/v1/models``."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    def _denied(self, request: web.Request) -> web.Response | None:
        if self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        body = error_body("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return web.json_response(body, status=401)

    async def _models(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}
        return web.json_response({"object": "list", "data": [model]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._answer(request)
        except asyncio.CancelledError:
            self._disconnected()  # a TestServer cancels the handler when the client goes away
            raise
        except ConnectionResetError:
            self._disconnected()
            return web.Response(status=499)

    def _disconnected(self) -> None:
        self.disconnects += 1
        self._changed.set()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            message = "We could not parse the JSON body of your request."
            return web.json_response(error_body(message, "invalid_request_error"), status=400)
        self.requests.append(body)
        self.auth_headers.append(request.headers.get("Authorization", ""))
        self._changed.set()
        if (denied := self._denied(request)) is not None:
            return denied
        step: _Step = self._script.popleft() if self._script else default_reply
        if self._delays:
            await self._hold(request, self._delays.popleft())
        stream = bool(body.get("stream"))
        if isinstance(step, _Fail):
            if isinstance(step.body, str):
                return web.Response(status=step.status, text=step.body, headers=step.headers)
            return web.json_response(step.body, status=step.status, headers=step.headers)
        if isinstance(step, _Garbage):
            return await self._garbage(request, step, stream)
        drop_after = step.after_chunks if isinstance(step, _Drop) else None
        reply = step.reply if isinstance(step, _Drop) else await self._resolve(step, body)
        if stream:
            chunks = (json.dumps(chunk) for chunk in self._chunks(reply, body))
            return await self._sse(request, chunks, drop_after)
        payload = json.dumps(self._completion(reply, body)).encode()
        if drop_after is None:
            return web.Response(body=payload, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[: len(payload) // 2])
        return self._hang_up(request, response)

    @staticmethod
    async def _hold(request: web.Request, seconds: float) -> None:
        """Sleep ``seconds``, stopping with ``ConnectionResetError`` as soon as the client disconnects."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError("the client went away")
            await asyncio.sleep(min(left, 0.01))

    @staticmethod
    async def _resolve(step: Reply | ReplyFn, body: JsonDict) -> Reply:
        if isinstance(step, Reply):
            return step
        result = step(body)
        if inspect.isawaitable(result):
            result = await result
        return Reply(text=result) if isinstance(result, str) else result

    @staticmethod
    def _hang_up(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return response

    async def _garbage(
        self, request: web.Request, step: _Garbage, stream: bool
    ) -> web.StreamResponse:
        text = step.body if isinstance(step.body, str) else json.dumps(step.body)
        if stream:
            return await self._sse(request, [text])
        return web.Response(text=text, content_type=step.content_type or "application/json")

    async def _sse(
        self, request: web.Request, events: Iterable[str], drop_after: int | None = None
    ) -> web.StreamResponse:
        """Send ``events`` as server-sent events then ``[DONE]``, or hang up after ``drop_after``."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for sent, event in enumerate(events):
            if sent == drop_after:
                return self._hang_up(request, response)
            await response.write(f"data: {event}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _calls(self, reply: Reply) -> list[tuple[str, str, str]]:
        """``(id, name, arguments JSON)`` for each tool call, numbering the ones without an id."""
        calls = []
        for call in reply.tool_calls:
            args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            calls.append((call.id or f"call_{next(self._ids)}", call.name, args))
        return calls

    @staticmethod
    def _usage(reply: Reply, body: JsonDict) -> JsonDict:
        """Rough, deterministic token counts: four characters a token."""
        prompt = 1 + len(json.dumps(body.get("messages", []))) // 4
        completion = 1 + len((reply.text or "") + "".join(c.name for c in reply.tool_calls)) // 4
        total = prompt + completion
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}

    def _envelope(self, object_: str, choices: list[JsonDict]) -> JsonDict:
        return {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": object_,
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
        }

    def _completion(self, reply: Reply, body: JsonDict) -> JsonDict:
        message: JsonDict = {"role": "assistant", "content": reply.text, "refusal": None}
        if calls := self._calls(reply):
            message["tool_calls"] = [
                {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}
                for id_, name, args in calls
            ]
        finish = "tool_calls" if calls else "stop"
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return self._envelope("chat.completion", [choice]) | {"usage": self._usage(reply, body)}

    def _chunks(self, reply: Reply, body: JsonDict) -> Iterator[JsonDict]:
        """The ``chat.completion.chunk`` objects of a streamed reply."""
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        extra: JsonDict = {"usage": None} if include_usage else {}

        def chunk(delta: JsonDict, finish: str | None = None) -> JsonDict:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return self._envelope("chat.completion.chunk", [choice]) | extra

        yield chunk({"role": "assistant", "content": "" if reply.text else None, "refusal": None})
        for piece in _pieces(reply.text or "", self.chunk_size):
            yield chunk({"content": piece})
        calls = self._calls(reply)
        for index, (id_, name, args) in enumerate(calls):
            start = {"index": index, "id": id_, "type": "function"}
            yield chunk({"tool_calls": [start | {"function": {"name": name, "arguments": ""}}]})
            for piece in _pieces(args, self.chunk_size):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls" if calls else "stop")
        if include_usage:
            yield self._envelope("chat.completion.chunk", []) | {"usage": self._usage(reply, body)}
