"""Fuzzing the HTTP inputs of a real hub over loopback: config-flow answers, webhook bodies and
entity-action arguments. Each answer is a success or a 4xx in the one error envelope, never a
5xx; a refused input changes nothing (the flow's step, the entries, the entities).

How hypothesis drives the async code: the tests are ``async def`` with ``@given``; pytest-asyncio
runs each example as its own coroutine on the test's event loop, the loop the ``fuzz_hub`` fixture
started the hub on. So the hub starts once per test (one per example would eat the budget), every
example compares the state it cares about before and after its own request, and hypothesis
generates, shrinks and replays examples exactly as for a sync test.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from hub.api.state import FLOW_MANAGER
from tests.robustness.conftest import (
    LARGE_REPR,
    FuzzHub,
    LogWatch,
    assert_envelope,
    content_types,
    examples,
    huge_texts,
    json_values,
    raw_bodies,
)

pytestmark = LARGE_REPR

# Config flows

JSON = "application/json"
"""What a JSON route needs; the examples below aim past it, at the parser and the model."""
FIELD_NAMES = ["name", "kind", "min", "max", "step", "unit"]
"""The helpers form; the webhook form asks only for a name."""

numbers = (
    st.integers()
    | st.floats()
    | st.sampled_from([0, -0.0, 1e-300, 5e-324, 1e300, -1e308, 1e308, 10**30, 2**63])
)
field_values = (
    json_values
    | numbers
    | huge_texts
    | st.sampled_from(["toggle", "number", "button", "Toggle", "", " ", "\x00"])
)
good_inputs = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=12),
        "kind": st.sampled_from(["toggle", "number", "button"]),
        "min": numbers | st.none(),
        "max": numbers | st.none(),
        "step": numbers | st.none(),
        "unit": st.text(max_size=4) | st.none(),
    },
)
"""The helpers form's own fields with plausible values: the flow's checks get exercised too."""
user_inputs = good_inputs | st.dictionaries(
    st.sampled_from(FIELD_NAMES) | st.text(max_size=8), field_values, max_size=7
)
languages = st.none() | st.sampled_from(["en", "de", "xx", "de-AT", ""]) | st.text(max_size=6)


def _flow_body(user_input: Any, language: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"user_input": user_input}
    if language is not None:
        body["language"] = language
    return body


flow_bodies = st.builds(_flow_body, user_inputs, languages) | st.builds(
    _flow_body, json_values, st.none()
)
"""``{"user_input": ...}`` with fuzzed fields, and with ``user_input`` of any JSON type."""


def _encode(value: Any) -> bytes:
    # Like most clients' encoders, json.dumps writes NaN and Infinity, which strict JSON lacks.
    return json.dumps(value).encode()


flow_requests = st.tuples(flow_bodies.map(_encode), st.just("application/json")) | st.tuples(
    raw_bodies, content_types
)


@examples(0.5)
@given(domain=st.sampled_from(["helpers", "webhook"]), request=flow_requests)
@example(domain="helpers", request=(_encode({"user_input": {"name": "x", "min": 1e309}}), JSON))
@example(domain="helpers", request=(b'{"user_input": ' * 5_000 + b"}" * 5_000, JSON))
@example(domain="webhook", request=(b'{"user_input": {"name": 1' + b"0" * 5_000 + b"}}", JSON))
async def test_a_flow_answer_is_a_step_or_a_typed_error_and_a_refusal_changes_nothing(
    fuzz_hub: FuzzHub, log_watch: LogWatch, domain: str, request: tuple[bytes, str]
) -> None:
    """``POST /api/config-flows/{id}``: the next step, the entry, or a 4xx; refused, nothing moves."""
    hub = fuzz_hub
    body, content_type = request
    form = await hub.start_flow(domain)
    flow_id, step = form["flow_id"], form["step_id"]
    state = hub.app[FLOW_MANAGER].store.get(flow_id)
    collected = dict(state.collected)
    entries = await hub.entry_views()

    status, answer = await hub.raw(f"/api/config-flows/{flow_id}", body, content_type)

    assert status < 500, answer
    event(f"HTTP {status}")
    if status >= 400:
        assert_envelope(answer)
        after = hub.app[FLOW_MANAGER].store.get(flow_id)
        assert (after.step_id, after.collected) == (step, collected), "a refusal moves nothing"
        assert await hub.entry_views() == entries
    elif answer["type"] == "create_entry":
        created = [e for e in await hub.entry_views() if e not in entries]
        assert [e["entry_id"] for e in created] == [answer["entry_id"]]
        await hub.remove_entry(answer["entry_id"])
    else:
        assert answer["type"] == "form", answer
        assert answer["step_id"] == step, "a form sent back is the same step"
        assert answer["errors"], "a form sent back says what to fix"
        assert await hub.entry_views() == entries
    hub.app[FLOW_MANAGER].store.discard(flow_id)  # an unfinished flow would only wait for its TTL
    log_watch.check()


# Webhooks

entity_ids = st.sampled_from(["door", "temp", "x"]) | st.text(max_size=5) | json_values
posted_entity = st.fixed_dictionaries(
    {},
    optional={
        "id": entity_ids,
        "name": st.text(max_size=10) | json_values | huge_texts,
        "state": json_values | numbers,
        "attributes": json_values | st.dictionaries(st.text(max_size=5), numbers),
        "extra": json_values,
    },
)
posted_event = st.fixed_dictionaries(
    {}, optional={"type": st.text(max_size=6) | json_values, "data": json_values, "x": json_values}
)
_plain_state = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
good_entity: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"id": st.sampled_from(["door", "temp", "x"])},
    optional={
        "name": st.text(min_size=1, max_size=10).filter(str.strip),
        "state": _plain_state,
        "attributes": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    },
)


def _posted_id(entity: dict[str, Any]) -> str:
    return str(entity["id"])


_good_body: dict[str, st.SearchStrategy[Any]] = {
    "entities": st.lists(good_entity, max_size=3, unique_by=_posted_id)
}
good_payloads = good_entity | st.fixed_dictionaries(
    _good_body,
    optional={"event": st.fixed_dictionaries({"type": st.sampled_from(["ring", "open"])})},
)
"""Bodies the Webhook integration accepts, so the path that applies them is fuzzed too."""
webhook_payloads = st.one_of(
    good_payloads,
    posted_entity,
    st.fixed_dictionaries(
        {},
        optional={
            "entities": st.lists(posted_entity, max_size=4) | json_values,
            "event": posted_event | json_values,
            "id": entity_ids,
        },
    ),
    json_values,
)
webhook_requests = st.tuples(
    webhook_payloads.map(_encode), content_types | st.just("application/json")
) | st.tuples(raw_bodies, content_types)
tokens = st.sampled_from(["right", "right", "right", "wrong", "none"])


@pytest.fixture
async def webhook_entry(fuzz_hub: FuzzHub) -> str:
    """A configured bundled Webhook entry: its senders are who the fuzzer plays."""
    return await fuzz_hub.create_entry("webhook", {"name": "Fuzzed sender"})


@examples(0.6)
@given(request=webhook_requests, token=tokens)
@example(request=(b"[" * 30_000 + b"]" * 30_000, "application/json"), token="right")
@example(request=(b'{"id": "a", "state": ' + b"1" * 5_000 + b"}", ""), token="right")
@example(request=(b'{"id": "a", "state": NaN}', "application/json"), token="right")
@example(request=(b'{"id": "a", "attributes": {"x": Infinity}}', ""), token="right")
async def test_a_webhook_body_is_applied_or_refused_with_4xx_and_changes_nothing(
    fuzz_hub: FuzzHub,
    log_watch: LogWatch,
    webhook_entry: str,
    request: tuple[bytes, str],
    token: str,
) -> None:
    """``POST /webhooks/integration/{id}``: 200, or a 4xx envelope and the entities as they were."""
    hub = fuzz_hub
    body, content_type = request
    path = hub.webhook_path(webhook_entry)
    if token == "wrong":
        path = path[:-4] + "AAAA"
    elif token == "none":
        path = path.split("?")[0]
    before = await hub.entities(entry_id=webhook_entry)

    status, answer = await hub.raw(path, body, content_type)

    assert status < 500, answer
    event(f"HTTP {status}")
    if status >= 400:
        assert_envelope(answer)
        assert await hub.entities(entry_id=webhook_entry) == before, (
            "a refused body changes nothing"
        )
    else:
        assert token == "right"
        assert answer["ok"] is True, answer
    log_watch.check()


# Entity actions

DECLARED = {
    "toggle": ["toggle", "turn_on", "turn_off"],
    "number": ["set_value", "increment", "decrement"],
    "button": ["press"],
}
ACTIONS = [action for actions in DECLARED.values() for action in actions]
action_args = st.dictionaries(
    st.sampled_from(["value"]) | st.text(max_size=6), field_values, max_size=3
)


def _action_body(action: Any, args: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "args": args, **extra}


action_bodies = st.builds(
    _action_body,
    st.sampled_from(ACTIONS) | st.text(max_size=70) | json_values,
    action_args | json_values,
    st.dictionaries(st.sampled_from(["extra", "entity_id"]), json_values, max_size=1),
)
action_requests = st.tuples(action_bodies.map(_encode), st.just("application/json")) | st.tuples(
    raw_bodies, content_types
)
kinds = st.sampled_from(list(DECLARED))
declared_calls = st.sampled_from(
    [(k, a) for k, actions in DECLARED.items() for a in actions]
).flatmap(
    lambda call: st.tuples(
        st.just(call[0]),
        st.tuples(
            st.builds(
                _action_body,
                st.just(call[1]),
                st.fixed_dictionaries({}, optional={"value": numbers}),
                st.just({}),
            ).map(_encode),
            st.just("application/json"),
        ),
    )
)
"""A declared action of the entity's kind with a fuzzed value: the integration's own checks run."""
action_calls = declared_calls | st.tuples(kinds, action_requests)


@examples(0.6)
@given(call=action_calls)
@example(call=("number", (_encode({"action": "set_value", "args": {"value": 1e308}}), JSON)))
@example(call=("number", (b'{"action": "set_value", "args": {"value": NaN}}', JSON)))
async def test_an_action_call_is_run_or_refused_with_4xx_and_the_entity_unchanged(
    fuzz_hub: FuzzHub,
    log_watch: LogWatch,
    helpers: dict[str, int],
    call: tuple[str, tuple[bytes, str]],
) -> None:
    """``POST /api/entities/{id}/action`` on the bundled helpers: 200, or 4xx and no change."""
    hub = fuzz_hub
    kind, request = call
    entity_id = helpers[kind]
    before = await hub.entity(entity_id)

    status, answer = await hub.raw(f"/api/entities/{entity_id}/action", *request)

    assert status < 500, answer
    event(f"HTTP {status}")
    after = await hub.entity(entity_id)
    if status >= 400:
        assert_envelope(answer)
        assert after == before, "a refused call changes nothing"
    else:
        assert answer["entity"] == after, "the answer shows the entity as stored"
    log_watch.check()


@examples(0.3)
@given(entity_path=st.text(max_size=25) | st.integers().map(str), request=action_requests)
@example(entity_path="99999999999999999999999", request=(b"{}", JSON))
@example(entity_path="%00", request=(b"{}", JSON))
async def test_an_action_on_an_unknown_entity_is_a_typed_error(
    fuzz_hub: FuzzHub, log_watch: LogWatch, entity_path: str, request: tuple[bytes, str]
) -> None:
    """Junk or unknown entity ids in the path: 4xx in the envelope, never a 5xx."""
    entities = await fuzz_hub.entities()
    path = "/api/entities/" + "".join(c if c not in "/?#" else "_" for c in entity_path)
    status, answer = await fuzz_hub.raw(path + "/action", *request)
    assert status < 500, answer
    event(f"HTTP {status}")
    if status >= 400:
        assert_envelope(answer)
        assert await fuzz_hub.entities() == entities
    log_watch.check()


finite = (
    st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-300, 5e-324, 1e300, 10**30])
)


@examples(0.3)
@given(
    low=finite,
    span=finite.filter(lambda value: value > 0),
    steps=st.integers(1, 10**6) | st.floats(1, 1e12),
    calls=st.lists(
        st.tuples(st.sampled_from(["set_value", "increment", "decrement"]), finite | field_values),
        min_size=1,
        max_size=4,
    ),
)
@example(low=0, span=10**30, steps=10**30, calls=[("set_value", 10**29)])
@example(low=-1e308, span=1e308, steps=1e300, calls=[("increment", 0), ("set_value", 1.0)])
async def test_a_number_helper_with_any_range_answers_every_call_without_a_5xx(
    fuzz_hub: FuzzHub,
    log_watch: LogWatch,
    low: float,
    span: float,
    steps: float,
    calls: list[tuple[str, Any]],
) -> None:
    """A number helper over a range the form accepts, then set/increment/decrement: 200 or 4xx."""
    hub = fuzz_hub
    high = low + span
    step = span / steps
    if not (math.isfinite(high) and step > 0):
        return
    form = await hub.start_flow("helpers")
    user_input = {"name": "n", "kind": "number", "min": low, "max": high, "step": step}
    done = await hub.submit(form["flow_id"], user_input)
    if done["type"] != "create_entry":
        assert done["type"] == "form", done
        assert done["errors"], done
        return
    entity_id = (await hub.only_entity(done["entry_id"]))["id"]
    try:
        for action, value in calls:
            before = await hub.entity(entity_id)
            body = {"action": action, "args": {"value": value} if action == "set_value" else {}}
            status, answer = await hub.raw(f"/api/entities/{entity_id}/action", _encode(body), "")
            assert status < 500, (action, value, answer)
            event(f"HTTP {status}")
            if status >= 400:
                assert_envelope(answer)
                assert await hub.entity(entity_id) == before
            else:
                state = answer["entity"]["state"]
                assert isinstance(state, int | float), answer
                assert math.isfinite(state), answer
                assert low <= state <= high, (low, high, state)
    finally:
        await hub.remove_entry(done["entry_id"])
    log_watch.check()
