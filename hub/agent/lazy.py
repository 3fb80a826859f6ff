"""The chat service, built on first use: the agent's modules stay out of the hub's start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core.lazy import Lazy

if TYPE_CHECKING:
    from hub.agent.chat import ChatService  # noqa: F401  # named (as text) in the base below


class LazyChat(Lazy["ChatService"]):
    """Holds the chat service once built: a person's first chat, models or picker call (its stored
    models and preferences are read then)."""
