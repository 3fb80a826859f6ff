"""In-progress config flows, held in memory for a TTL, with their secret values kept encrypted."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core.crypto import EphemeralCipher
from hub.core.errors import FLOW_NOT_FOUND, NotFoundError
from hub.integrations.config_flow import FlowContext, FlowResult


class FlowNotFoundError(NotFoundError):
    """No flow with that id: it finished, was aborted, expired, or never existed."""

    code = FLOW_NOT_FOUND


@dataclass(slots=True, eq=False)
class FlowState:
    """Everything a flow needs between steps; plaintext secrets never sit in it."""

    flow_id: str
    context: FlowContext
    step_id: str
    language: str
    collected: dict[str, Any] = field(default_factory=dict)
    secret_fields: set[str] = field(default_factory=set)
    sealed: dict[str, bytes] = field(default_factory=dict, repr=False)
    last_form: FlowResult | None = None
    masked: dict[str, str] = field(default_factory=dict)
    started_by: str | None = None
    """The person driving the flow; nobody else may advance or abort it."""
    expires_at: float = 0.0


class FlowStore:
    """Flows by id; each step refreshes a flow's TTL, and an expired flow is gone for good.

    A person keeps at most ``max_per_person`` unfinished flows: starting one more drops their
    oldest (it answers ``flow_not_found`` from then on). Dropping rather than refusing, because a
    wizard closed by shutting its tab leaves its flow behind, and nobody should be locked out of
    adding an integration until their abandoned ones expire; only the person's own flows go.
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_per_person: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_per_person = max_per_person
        self._clock = clock
        # Ordered by expiry (every put moves a flow to the end with the same TTL), so purging
        # looks only at the front instead of at every flow on every step.
        self._flows: OrderedDict[str, FlowState] = OrderedDict()
        self._by_person: dict[str, OrderedDict[str, None]] = {}
        self._cipher = EphemeralCipher()

    @staticmethod
    def new_id() -> str:
        """A fresh, unguessable flow id."""
        return secrets.token_urlsafe(16)

    def put(self, state: FlowState) -> None:
        """Store (or refresh) a flow for another TTL; past the person's cap, drop their oldest."""
        self._purge()
        state.expires_at = self._clock() + self.ttl_seconds
        self._flows[state.flow_id] = state
        self._flows.move_to_end(state.flow_id)
        person = state.started_by
        if person is None:
            return
        mine = self._by_person.setdefault(person, OrderedDict())
        if state.flow_id not in mine:
            mine[state.flow_id] = None  # in order of starting: a step does not make it younger
        while self.max_per_person is not None and len(mine) > self.max_per_person:
            self.discard(next(iter(mine)))

    def count(self, person: str) -> int:
        """How many unfinished flows ``person`` has."""
        self._purge()
        return len(self._by_person.get(person, ()))

    def get(self, flow_id: str) -> FlowState:
        """The live flow, or ``FlowNotFoundError``."""
        self._purge()
        state = self._flows.get(flow_id)
        if state is None:
            raise FlowNotFoundError(
                f"no config flow {flow_id!r}: it finished, expired or never began"
            )
        return state

    def pop(self, flow_id: str) -> FlowState:
        """Remove and return a flow, or ``FlowNotFoundError``."""
        state = self.get(flow_id)
        self.discard(flow_id)
        return state

    def discard(self, flow_id: str) -> None:
        """Forget a flow if it is there."""
        state = self._flows.pop(flow_id, None)
        person = None if state is None else state.started_by
        if person is not None:
            mine = self._by_person.get(person)
            if mine is not None:
                mine.pop(flow_id, None)
                if not mine:
                    del self._by_person[person]

    def __len__(self) -> int:
        self._purge()
        return len(self._flows)

    def seal(self, state: FlowState, values: Mapping[str, Any]) -> None:
        """Encrypt secret values into the flow; an explicit empty value is kept (it clears)."""
        for name, value in values.items():
            state.sealed[name] = self._cipher.seal(state.flow_id, name, str(value))

    def unseal(self, state: FlowState) -> dict[str, str]:
        """The flow's secret values in plaintext, for the one step that needs them."""
        return {
            name: self._cipher.open(state.flow_id, name, sealed)
            for name, sealed in state.sealed.items()
        }

    def _purge(self) -> None:
        now = self._clock()
        while self._flows:
            flow_id, state = next(iter(self._flows.items()))
            if state.expires_at > now:
                return
            self.discard(flow_id)
