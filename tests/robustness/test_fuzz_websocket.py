"""Fuzzing ``/api/websocket`` on a real hub over loopback: the sign-in, frames of every shape
(not JSON, JSON of any shape, known commands with fuzzed fields, ids that go backwards, binary),
and ``chat/send``. Every frame is answered by one ``result`` (``success: false`` with a typed code,
never ``internal_error``, and no entry or entity changed) or by a success; the socket stays open,
a ``ping`` still gets its ``pong``, and the hub logs no traceback.

Hypothesis drives the async tests as in ``test_fuzz_http``: ``@given`` on ``async def``, each
example a coroutine on the loop the ``fuzz_hub`` fixture started the hub on; each example opens
its own socket, so no example sees another's ids or subscriptions.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from hypothesis import event, example, given
from hypothesis import strategies as st

from hub.api.websocket_commands import COMMANDS
from hub.core.errors import (
    BAD_REQUEST,
    CONVERSATION_NOT_FOUND,
    ID_REUSE,
    INVALID_FORMAT,
    NO_MODEL,
)
from tests.robustness.conftest import (
    LARGE_REPR,
    FuzzHub,
    LogWatch,
    examples,
    json_values,
    odd_json_texts,
    strict_json,
    typed_codes,
)

pytestmark = LARGE_REPR

Frame = tuple[str, Any]
"""``("text", str)``, ``("json", value)`` sent as JSON text, ``("binary", bytes)``, or
``("command", dict)``: JSON text too, with the next id the hub expects."""

FIELDS = sorted({name for c in COMMANDS.values() for name in c.model.model_fields} - {"id", "type"})
ids = (
    st.integers(-3, 12)
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.none()
    | st.text(max_size=3)
)
"""Small ints (so ids repeat and go backwards), any int, and ids that are not whole numbers."""
field_values = (
    json_values
    | ids
    | st.sampled_from(["helpers", "webhook", "text_tools", "nope", "*", "entity.*", "a*b", "user"])
    | st.text(min_size=60, max_size=300)
)
commands = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(COMMANDS))},
    optional={"id": ids, **dict.fromkeys(FIELDS, field_values), "extra": json_values},
)
"""Known command types with any of the fields any command has, right or wrong for this one."""
texts = st.text(max_size=200) | odd_json_texts.filter(lambda text: len(text) < 60_000)
"""Text frames: mostly not JSON, and JSON near-misses under the 64 KiB message limit."""
plausible = {
    "event_type": st.sampled_from(["*", "entity.*", "config_entry.created", "a*b", ""]),
    "subscription": st.integers(-1, 20),
    "domain": st.sampled_from(["helpers", "webhook", "text_tools", "nope", ""]),
    "entity_id": st.integers(-1, 5),
    "action": st.sampled_from(["toggle", "press", "set_value", "nope"]),
    "scope": st.sampled_from(["user", "global", "org"]),
    "limit": st.integers(-1, 20_000),
    "conversation_id": st.text(max_size=8),
    "text": st.text(max_size=20),
}


def _well_formed(name: str) -> st.SearchStrategy[dict[str, Any]]:
    fields = {f: i for f, i in COMMANDS[name].model.model_fields.items() if f not in ("id", "type")}
    return st.fixed_dictionaries(
        {"type": st.just(name)}
        | {f: plausible.get(f, field_values) for f, info in fields.items() if info.is_required()},
        optional={
            f: plausible.get(f, field_values)
            for f, info in fields.items()
            if not info.is_required()
        },
    )


well_formed = st.sampled_from(sorted(COMMANDS)).flatmap(_well_formed)
"""A command with only its own fields, most of them plausible; the test gives it the next id."""
frames: st.SearchStrategy[Frame] = st.one_of(
    st.tuples(st.just("command"), well_formed),
    st.tuples(st.just("json"), commands),
    st.tuples(st.just("json"), json_values),
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("binary"), st.binary(max_size=64)),
)


async def connect(hub: FuzzHub) -> aiohttp.ClientWebSocketResponse:
    """A socket signed in with the owner's token."""
    ws = await hub.client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
    token = hub.client.session.headers["Authorization"].removeprefix("Bearer ")
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    return ws


async def send(ws: aiohttp.ClientWebSocketResponse, frame: Frame) -> None:
    """Send one frame as it is."""
    kind, value = frame
    if kind == "binary":
        await ws.send_bytes(value)
    else:
        await ws.send_str(value if kind == "text" else json.dumps(value, ensure_ascii=False))


async def reply(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next answer to a command, skipping events of subscriptions an example opened."""
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type is WSMsgType.TEXT, f"the socket must stay open: {msg}"
        answer = strict_json(msg.data)
        assert isinstance(answer, dict), answer
        if answer.get("type") != "event":
            return answer


async def state(hub: FuzzHub) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What a command could change: the config entries and the entities."""
    return await hub.entry_views(), await hub.entities()


def sent_id(frame: Frame) -> int | None:
    """The whole-number id the frame carries, as the hub reads it; ``None`` for any other frame."""
    kind, value = frame
    if kind == "text":
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    msg_id = value.get("id") if kind != "binary" and isinstance(value, dict) else None
    return msg_id if type(msg_id) is int else None


@examples(0.6)
@given(batch=st.lists(frames, min_size=1, max_size=6))
@example(batch=[("text", "[" * 20_000 + "]" * 20_000)])
@example(batch=[("text", '{"id": 1' + "0" * 5_000 + ', "type": "ping"}')])
@example(batch=[("json", {"id": 5, "type": "ping"}), ("json", {"id": 5, "type": "ping"})])
@example(batch=[("json", {"id": 2**70, "type": "auth/current_user"})])
@example(batch=[("json", {"id": 1, "type": "entities/action", "entity_id": 2**64})])
@example(batch=[("json", {"id": 1, "type": "config_flow/advance", "flow_id": "x" * 64})])
async def test_every_frame_gets_one_typed_answer_and_the_socket_stays_open(
    fuzz_hub: FuzzHub, log_watch: LogWatch, helpers: dict[str, int], batch: list[Frame]
) -> None:
    """Each frame: one ``result`` (a typed error, changing nothing, or a success) or a ``pong``."""
    codes = typed_codes()
    ws = await connect(fuzz_hub)
    last = 0
    try:
        for frame in batch:
            if frame[0] == "command":
                frame = ("json", {"id": last + 1, **frame[1]})
            before = await state(fuzz_hub)
            await send(ws, frame)
            answer = await reply(ws)
            expected = sent_id(frame)
            assert answer["id"] in (None, expected), (frame, answer)
            if answer["type"] == "pong":
                assert answer["id"] == expected, (frame, answer)
            else:
                assert answer["type"] == "result", (frame, answer)
                if answer["success"] is not True:
                    assert answer["success"] is False, answer
                    assert answer["error"]["code"] in codes, answer
                    assert answer["error"]["message"], answer
                    assert await state(fuzz_hub) == before, "a refused frame changes nothing"
            code = answer.get("error", {}).get("code")
            event(f"{answer['type']} {code or 'success'}")
            if answer["id"] is not None and code != ID_REUSE:
                assert answer["id"] > last, "an accepted id is greater than every earlier one"
                last = answer["id"]
            if answer["id"] is None:
                assert code == INVALID_FORMAT, answer
        await ws.send_json({"id": last + 1, "type": "ping"})
        assert await reply(ws) == {"id": last + 1, "type": "pong"}
        assert not ws.closed
    finally:
        await ws.close()
    log_watch.check()


@examples(0.3)
@given(first=frames)
@example(first=("json", {"type": "auth", "access_token": "x" * 5_000}))
@example(first=("json", {"type": "auth", "access_token": None}))
async def test_a_fuzzed_sign_in_is_refused_and_closed_cleanly(
    fuzz_hub: FuzzHub, log_watch: LogWatch, first: Frame
) -> None:
    """A first frame that is not a valid ``auth``: ``auth_invalid``, then a close with 1008."""
    ws = await fuzz_hub.client.ws_connect("/api/websocket")
    try:
        assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
        await send(ws, first)
        refused = await ws.receive_json(timeout=5)
        assert refused["type"] == "auth_invalid", refused
        closing = await ws.receive(timeout=5)
        assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1008), closing
    finally:
        await ws.close()
    log_watch.check()


# The agent's chat


@pytest.fixture
async def conversation(fuzz_hub: FuzzHub) -> str:
    """A conversation of the owner's; the hub has no model configured."""
    status, created = await fuzz_hub.post("/api/conversations", {"title": "fuzz"})
    assert status == 201, created
    return str(created["id"])


def weighted(**branches: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of ``branches``, each as likely; the first is the one shrinking heads for."""
    return st.sampled_from(list(branches)).flatmap(branches.__getitem__)


CHAT_CODES = frozenset({NO_MODEL, CONVERSATION_NOT_FOUND, INVALID_FORMAT, BAD_REQUEST})


def _chat(conversation_id: Any, text: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "text": text, **extra}


_long = st.builds(
    lambda unit, count: unit * count, st.sampled_from(["a", "é"]), st.integers(19_990, 20_010)
)
chat_messages = weighted(
    plausible=st.builds(
        _chat,
        st.just("mine") | st.text(min_size=1, max_size=64),
        st.text(min_size=1, max_size=50) | _long,
        st.just({}),
    ),
    fuzzed=st.builds(
        _chat,
        weighted(mine=st.just("mine"), text=st.text(max_size=70), json=json_values),
        weighted(
            text=st.text(max_size=50),
            edge=st.sampled_from(["", " ", "\n\t", "\x00", "hello"]),
            long=_long,
            json=json_values,
        ),
        st.dictionaries(st.sampled_from(["model", "x"]), json_values, max_size=1),
    ),
)
"""``chat/send`` fields: plausible ones (the service's own checks run) and fuzzed ones."""


@examples(0.4)
@given(fields=chat_messages)
@example(fields=_chat("mine", "hello", {}))
@example(fields=_chat("mine", "   ", {}))
async def test_chat_send_with_fuzzed_text_and_conversation_is_a_typed_refusal(
    fuzz_hub: FuzzHub, log_watch: LogWatch, conversation: str, fields: dict[str, Any]
) -> None:
    """``chat/send``: ``no_model`` (none configured) or another typed refusal; nothing is stored."""
    if fields["conversation_id"] == "mine":
        fields = {**fields, "conversation_id": conversation}
    status, before = await fuzz_hub.get(f"/api/conversations/{conversation}")
    assert status == 200, before
    ws = await connect(fuzz_hub)
    try:
        message = {"id": 1, "type": "chat/send", **fields}
        # As a browser sends it: UTF-8, not \u escapes, so 20,000 characters fit in one message.
        await ws.send_str(json.dumps(message, ensure_ascii=False))
        answer = await reply(ws)
        assert answer["id"] == 1, answer
        assert answer["success"] is False, answer
        assert answer["error"]["code"] in CHAT_CODES, answer
        event(answer["error"]["code"])
        await ws.send_json({"id": 2, "type": "ping"})
        assert await reply(ws) == {"id": 2, "type": "pong"}
    finally:
        await ws.close()
    status, after = await fuzz_hub.get(f"/api/conversations/{conversation}")
    assert (status, after) == (200, before), "a refused message is not stored"
    log_watch.check()
