"""A flow whose form names a step the class does not have: it would fail only in front of a person."""

from __future__ import annotations

from typing import Any

from hub.integrations.config_flow import ConfigFlow, FlowResult
from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor

SCHEMA = [FieldDescriptor(name="name", label="field.name.label")]


class UnknownStepFlow(ConfigFlow):
    """Asks for a name, then shows a ``confirm`` step it never defined."""

    domain = "unknown_step"

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The name; then the confirmation that has no step to receive it."""
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=SCHEMA)
        return self.async_show_form(step_id="confirm", data_schema=SCHEMA)


class UnknownStep(Integration):
    """Nothing but the flow."""

    config_flow_cls = UnknownStepFlow


INTEGRATION = UnknownStep()
