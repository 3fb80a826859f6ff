"""Signal: an account linked through signal-cli-rest-api, read by polling its queue, replies approved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hub.integrations.capabilities import (
    MessageListenerProvider,
    MessageReaderProvider,
    MessageSenderProvider,
)
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.integration import (
    ConfigEntryError,
    ConfigEntryNotReady,
    HealthResult,
    Integration,
    SetupContext,
)

from .client import SignalClient, SignalConnectionError, SignalError
from .config_flow import SignalConfigFlow
from .entities import SIGNAL_MESSAGE, SIGNAL_MESSAGE_TYPE
from .providers import Mailbox, SignalListener, SignalReader, SignalSender

_NOT_LINKED: Final = "the number is no longer linked on the Signal bridge"


@dataclass(frozen=True, slots=True)
class _Account:
    """What a set-up entry keeps: its number and the one buffer its reader and listener share."""

    number: str
    mailbox: Mailbox


class SignalIntegration(Integration):
    """One entry per linked number; comms only: no agent tools, no entities but messages."""

    config_flow_cls = SignalConfigFlow

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """``signal_message``: a searchable chat message the inbox is made of."""
        return {SIGNAL_MESSAGE_TYPE: SIGNAL_MESSAGE}

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Ask the bridge once (no answer: retried), then keep the account's buffer; no tools."""
        number = str(ctx.data.get("number") or "")
        base_url = str(ctx.data.get("base_url") or "")
        if not number or not base_url:
            raise ConfigEntryError("the entry has no number or bridge address")
        client = SignalClient(base_url)
        ctx.async_on_unload(client.close)
        try:
            await client.about()
        except SignalConnectionError:
            raise ConfigEntryNotReady(
                f"the Signal bridge at {base_url} cannot be reached"
            ) from None
        except SignalError as err:
            raise ConfigEntryNotReady(f"the Signal bridge answered oddly: {err}") from None
        ctx.runtime_data = _Account(number, Mailbox(client, number))
        return []

    def message_reader_provider(self, ctx: SetupContext) -> MessageReaderProvider | None:
        """The account's reader over its buffer."""
        account = ctx.runtime_data
        return SignalReader(account.mailbox) if isinstance(account, _Account) else None

    def message_listener_provider(self, ctx: SetupContext) -> MessageListenerProvider | None:
        """A poll-drain listener over the same buffer (the hub runs one at a time per entry)."""
        account = ctx.runtime_data
        return SignalListener(account.mailbox) if isinstance(account, _Account) else None

    def message_sender_provider(self, ctx: SetupContext) -> MessageSenderProvider | None:
        """``POST /v2/send`` as the account; the hub reaches it only for an approved draft."""
        account = ctx.runtime_data
        if not isinstance(account, _Account):
            return None
        return SignalSender(account.mailbox.client, account.number)

    async def async_health(self, ctx: SetupContext) -> HealthResult:
        """OK while the bridge answers and lists the number; degraded while it cannot be reached."""
        account = ctx.runtime_data
        if not isinstance(account, _Account):
            return HealthResult(HealthResult.ERROR, "not set up", key="health.not_set_up")
        client = account.mailbox.client
        params: dict[str, str | int | float] = {"url": client.base_url, "number": account.number}
        try:
            await client.about()
            linked = account.number in await client.accounts()
        except SignalConnectionError:
            return HealthResult(
                HealthResult.DEGRADED,
                f"{client.base_url} cannot be reached",
                key="health.unreachable",
                params=params,
            )
        except SignalError:
            return HealthResult(
                HealthResult.DEGRADED,
                f"{client.base_url} answered oddly",
                key="health.garbled",
                params=params,
            )
        if not linked:
            return HealthResult(
                HealthResult.ERROR, _NOT_LINKED, key="health.not_linked", params=params
            )
        return HealthResult(
            HealthResult.OK, f"linked as {account.number}", key="health.linked", params=params
        )


INTEGRATION = SignalIntegration()
