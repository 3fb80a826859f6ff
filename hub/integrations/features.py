"""What an integration does for its entries, read from which hooks it overrides (for the UI)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.integrations.integration import Integration


@dataclass(frozen=True, slots=True)
class Features:
    """Whether an integration's entries take webhooks, report health, pull on a schedule, read
    messages into the inbox, and listen for them in real time."""

    webhooks: bool
    health: bool
    pulls: bool
    messages: bool = False
    listens: bool = False

    def to_json(self) -> dict[str, bool]:
        """As ``GET /api/integrations`` shows it."""
        return {
            "webhooks": self.webhooks,
            "health": self.health,
            "pulls": self.pulls,
            "messages": self.messages,
            "listens": self.listens,
        }


def features(integration: Integration) -> Features:
    """The hooks ``integration`` overrides: a default hook contributes nothing, so it is no feature."""
    kind = type(integration)
    return Features(
        webhooks=kind.async_handle_webhook is not Integration.async_handle_webhook
        or kind.async_handle_webhook_delivery is not Integration.async_handle_webhook_delivery,
        health=kind.async_health is not Integration.async_health,
        # Pulling also needs entity types to pull; the scheduler asks this same rule.
        pulls=kind.async_sync_entities is not Integration.async_sync_entities
        and bool(integration.entity_types()),
        messages=kind.message_reader_provider is not Integration.message_reader_provider
        and any(descriptor.message for descriptor in integration.entity_types().values()),
        listens=kind.message_listener_provider is not Integration.message_listener_provider,
    )
