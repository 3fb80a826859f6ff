"""An entity type written as a plain dict holding a set: the web UI could never be sent it."""

from __future__ import annotations

from typing import Any

from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow


class OddDescriptorFlow(SimpleConfigFlow):
    """One field."""

    domain = "odd_descriptor"
    SCHEMA = (FieldDescriptor(name="name", label="field.name.label"),)


class OddDescriptor(Integration):
    """Declares its gauge as a dict instead of an EntityStateTypeDescriptor."""

    config_flow_cls = OddDescriptorFlow

    def entity_types(self) -> dict[str, Any]:
        """The gauge, with its units as a set."""
        return {"gauge": {"key": "gauge", "name": "Gauge", "units": {"kPa", "bar"}}}


INTEGRATION = OddDescriptor()
