"""A flow step written as a plain ``def``: the flow manager awaits every step."""

from __future__ import annotations

from typing import Any

from hub.integrations.config_flow import ConfigFlow, FlowResult
from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor

SCHEMA = [FieldDescriptor(name="name", label="field.name.label")]


class SyncStepFlow(ConfigFlow):
    """Its first step is not a coroutine."""

    domain = "sync_step"

    def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:  # type: ignore[override]  # the mistake
        """The name."""
        return self.async_show_form(step_id="user", data_schema=SCHEMA)


class SyncStep(Integration):
    """Nothing but the flow."""

    config_flow_cls = SyncStepFlow


INTEGRATION = SyncStep()
