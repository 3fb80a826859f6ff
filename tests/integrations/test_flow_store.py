"""The flow store: a TTL per flow, refreshed by each step, and secrets that stay encrypted."""

from __future__ import annotations

import pytest

from hub.integrations.config_flow import FlowContext
from hub.integrations.flow_store import FlowNotFoundError, FlowState, FlowStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(store: FlowStore) -> FlowState:
    return FlowState(store.new_id(), FlowContext(domain="x", scope="global"), "user", "en")


def test_each_step_refreshes_the_ttl_and_an_expired_flow_is_gone() -> None:
    clock = Clock()
    store = FlowStore(600, clock=clock)
    flow = state(store)
    store.put(flow)
    clock.now += 599
    assert store.get(flow.flow_id) is flow
    store.put(flow)  # a step
    clock.now += 599
    assert store.get(flow.flow_id) is flow
    clock.now += 2
    with pytest.raises(FlowNotFoundError) as info:
        store.get(flow.flow_id)
    assert info.value.code == "flow_not_found"
    assert len(store) == 0


def test_secrets_are_held_encrypted_and_bound_to_their_flow() -> None:
    store = FlowStore(600)
    first, second = state(store), state(store)
    store.seal(first, {"api_key": "sk-flow-secret-1"})
    assert b"sk-flow-secret-1" not in first.sealed["api_key"]
    assert "sk-flow-secret-1" not in repr(first)
    assert store.unseal(first) == {"api_key": "sk-flow-secret-1"}
    second.sealed = dict(first.sealed)  # copied onto another flow, it does not open
    with pytest.raises(Exception, match="Cannot decrypt"):
        store.unseal(second)
    assert FlowStore(600).new_id() != store.new_id()
