"""Email: a mailbox over IMAP (read, and watched with IDLE) and SMTP (replies a person approved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hub.integrations.capabilities import (
    IncomingMessage,
    ListenerControls,
    MessageListenerProvider,
    MessageReaderProvider,
    MessageSenderProvider,
)
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.integration import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HealthResult,
    Integration,
    SetupContext,
)

from .config_flow import EmailConfigFlow
from .entities import EMAIL_MESSAGE, EMAIL_MESSAGE_TYPE
from .imap import ImapAuthError, ImapConnectionError, ImapError, ImapTlsError, check_login
from .listener import EmailListener
from .reader import EmailReader
from .settings import EmailSettings, EmailSettingsError
from .smtp import EmailSender
from .tls import InvalidCaError, UnencryptedRefusedError

CHECK_TIMEOUT: Final = 15.0
_REFUSED: Final = "the IMAP server refused the login"


@dataclass(frozen=True, slots=True)
class _Account:
    """What a set-up entry keeps: its settings and its one reader (one IMAP connection)."""

    settings: EmailSettings
    reader: EmailReader


class EmailIntegration(Integration):
    """One entry per mailbox; the hub's comms ingest pulls the reader, nothing syncs on a timer."""

    config_flow_cls = EmailConfigFlow

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """``email_message``: a searchable message the inbox is made of."""
        return {EMAIL_MESSAGE_TYPE: EMAIL_MESSAGE}

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Log in once (refused: reauth; no answer: retried), then keep a reader; no agent tools."""
        settings = _settings(ctx)
        await _check_imap(settings)
        reader = EmailReader(
            settings.imap,
            history_days=settings.history_days,
            own_addresses=settings.own_addresses,
        )
        ctx.runtime_data = _Account(settings, reader)
        ctx.async_on_unload(reader.aclose)
        return []

    def message_reader_provider(self, ctx: SetupContext) -> MessageReaderProvider | None:
        """The entry's reader: one IMAP connection, kept while the entry is set up."""
        account = ctx.runtime_data
        if not isinstance(account, _Account):
            return None
        return _Reader(account.reader)

    def message_listener_provider(self, ctx: SetupContext) -> MessageListenerProvider | None:
        """A fresh IDLE listener on the inbox (the hub runs one at a time per entry)."""
        return _Listener(EmailListener(_settings(ctx).imap))

    def message_sender_provider(self, ctx: SetupContext) -> MessageSenderProvider | None:
        """The entry's SMTP sender; the hub reaches it only for a draft a person approved."""
        settings = _settings(ctx)
        return EmailSender(settings.smtp, settings.from_address)

    async def async_health(self, ctx: SetupContext) -> HealthResult:
        """OK when IMAP takes the login; degraded while it cannot be reached; refused: reauth."""
        settings = _settings(ctx)
        try:
            await _check_imap(settings)
        except ConfigEntryNotReady:
            return HealthResult(
                HealthResult.DEGRADED,
                f"{settings.imap.host} cannot be reached",
                key="health.unreachable",
                params={"host": settings.imap.host},
            )
        return HealthResult(
            HealthResult.OK,
            f"signed in as {settings.imap.username}",
            key="health.signed_in_as",
            params={"name": settings.imap.username},
        )


def _settings(ctx: SetupContext) -> EmailSettings:
    account = ctx.runtime_data
    if isinstance(account, _Account):
        return account.settings
    try:
        return EmailSettings.from_entry(ctx.data, ctx.secrets)
    except EmailSettingsError as err:
        raise ConfigEntryError(f"the entry is incomplete: {err}") from None


async def _check_imap(settings: EmailSettings) -> None:
    try:
        await check_login(settings.imap, timeout=CHECK_TIMEOUT)
    except ImapAuthError:
        raise ConfigEntryAuthFailed(_REFUSED) from None
    except ImapTlsError:
        raise ConfigEntryNotReady(
            f"the certificate of {settings.imap.host} did not verify"
        ) from None
    except (ImapConnectionError, OSError, UnicodeError):
        raise ConfigEntryNotReady(f"cannot reach {settings.imap.host}") from None
    except (InvalidCaError, UnencryptedRefusedError) as err:
        raise ConfigEntryError(str(err)) from None
    except ImapError as err:
        raise ConfigEntryNotReady(f"{settings.imap.host} answered oddly: {err}") from None


class _Reader:
    """The entry's reader, with a refused login asking the person for a new password."""

    def __init__(self, reader: EmailReader) -> None:
        self._reader = reader

    async def list_messages(self, folder: str | None, limit: int) -> list[IncomingMessage]:
        try:
            return await self._reader.list_messages(folder, limit)
        except ImapAuthError:
            raise ConfigEntryAuthFailed(_REFUSED) from None


class _Listener:
    """The listener, likewise: a dropped connection still raises for the hub's restart with backoff."""

    def __init__(self, listener: EmailListener) -> None:
        self._listener = listener

    async def listen(self, controls: ListenerControls) -> None:
        try:
            await self._listener.listen(controls)
        except ImapAuthError:
            raise ConfigEntryAuthFailed(_REFUSED) from None


INTEGRATION = EmailIntegration()
