"""The webhook form: only a name; the URL and its token come from the created entry."""

from __future__ import annotations

from typing import ClassVar

from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow


class WebhookConfigFlow(SimpleConfigFlow):
    """A name that tells this webhook's senders apart; nothing to test, so no connection check."""

    domain = "webhook"
    TITLE_FIELD = "name"
    SCHEMA: ClassVar[list[FieldDescriptor]] = [
        FieldDescriptor(
            name="name",
            label="field.name.label",
            placeholder="field.name.placeholder",
            description="field.name.description",
        ),
    ]
