"""The one way into an entry's integration code: its lock, retry, context and what a call's outcome is.

Every caller (setup, unload, sync, health, actions, webhooks, providers, agent tools) goes through
``EntryRuntime.call``, so a failure means the same whoever called: ``ConfigEntryAuthFailed`` asks
the person to reauthenticate, ``ConfigEntryNotReady`` is retryable, the integration's own
``TimeoutError`` is apart from the caller's deadline, a refused connection (``ConnectionError``)
is retryable too and logged as one line, refused input is the caller's 400, and
anything else (a wrong return type too) is logged once with a correlation id and is a 502.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from hub.core.disk import DiskFaultError
from hub.core.errors import (
    ACTION_FAILED,
    ACTION_REJECTED,
    BAD_REQUEST,
    INTEGRATION_FAILED,
    UPSTREAM_TIMEOUT,
    WEBHOOK_FAILED,
    WEBHOOK_PAYLOAD_INVALID,
    EntryNeedsReauthError,
    EntryNotReadyError,
    IntegrationError,
    IntegrationFailedError,
    IntegrationRejectedError,
    IntegrationTimeoutError,
)
from hub.core.logs import ENTRY_ID
from hub.core.redact import safe_text
from hub.integrations.entities import EntityStateActionResult, EntityStateSyncResult
from hub.integrations.integration import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HealthResult,
    Integration,
    SetupContext,
    WebhookPayloadError,
)
from hub.integrations.toolsets import DeferredToolset
from hub.integrations.webhooks import WebhookVerification

_LOGGER = logging.getLogger(__name__)

RETRY_DELAYS: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds before each retry of a setup that was not ready; the last repeats."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds each caller gives integration code (setup, sync and unload have their own)."""

    action: float = 30.0
    webhook: float = 30.0
    provider: float = 30.0
    tool: float = 120.0


@dataclass(frozen=True, slots=True)
class Hook:
    """One way the hub calls an integration: the method, what it may return, what is refused input."""

    name: str
    returns: tuple[type, ...] = ()
    """Types a result may have besides ``None``; empty: the caller takes anything."""
    rejects: tuple[type[Exception], ...] = ()
    """Exceptions that mean the caller's input was wrong (a 400), not the integration's bug."""
    failed_code: str = INTEGRATION_FAILED
    rejected_code: str = BAD_REQUEST
    names_rejection: bool = True
    """Whether a refusal's message starts with the call's label (``set_level: …``)."""
    reauth: bool = True
    """Whether a refusal of the credentials asks for reauth here (setup records it itself)."""
    warns: bool = True
    """Whether an expected failure (not ready, timed out) is logged here; setup's is logged once,
    as the entry state it leads to, with the same reason."""


SETUP: Final = Hook("async_setup_entry", (list, tuple), reauth=False, warns=False)
UNLOAD: Final = Hook("async_unload_entry", reauth=False)
MIGRATE: Final = Hook("async_migrate_entry", (dict,), reauth=False)
INITIAL_ENTITIES: Final = Hook("async_initial_entities", (list, tuple))
HEALTH: Final = Hook("async_health", (HealthResult,))
SYNC: Final = Hook("async_sync_entities", (EntityStateSyncResult,))
ACTION: Final = Hook(
    "async_call_action",
    (EntityStateActionResult,),
    rejects=(ValueError,),
    failed_code=ACTION_FAILED,
    rejected_code=ACTION_REJECTED,
)
WEBHOOK: Final = Hook(
    "async_handle_webhook_delivery",
    (EntityStateSyncResult,),
    rejects=(WebhookPayloadError,),
    failed_code=WEBHOOK_FAILED,
    rejected_code=WEBHOOK_PAYLOAD_INVALID,
    names_rejection=False,  # the sender reads the integration's own words about its body
)
WEBHOOK_VERIFICATION: Final = Hook("webhook_verification", (WebhookVerification,))
WEBHOOK_PREVIEW: Final = Hook(
    "async_preview_webhook",
    (Mapping,),
    rejects=(WebhookPayloadError, ValueError),
    rejected_code=WEBHOOK_PAYLOAD_INVALID,
    names_rejection=False,
)
TOOL: Final = Hook("tool", rejects=(ValueError,))
"""An agent tool of the entry's toolsets; ``target`` is the call."""
TOOLSET_BUILD: Final = Hook("toolset build")
"""A deferred toolset's ``build``, on the first run that needs it; ``target`` is the build."""


def provider_hook(name: str, protocol: type) -> Hook:
    """The hook of a capability provider (``web_search_provider``…) or of a provider's method."""
    return Hook(name, (protocol,)) if protocol is not object else Hook(name, rejects=(ValueError,))


def refused_reason(err: BaseException) -> str:
    """What an entry records when its service refused the stored credentials (secrets masked)."""
    return f"credentials refused: {safe_text(err)}" if str(err) else "credentials refused"


class EntryRuntime:
    """One entry's way into its integration: lock, retry, the setup context, and ``call``."""

    def __init__(
        self,
        entry_id: str,
        domain: str,
        *,
        request_reauth: Callable[[str, str], Awaitable[None]],
        request_reauth_soon: Callable[[str, str], None] | None = None,
        deadlines: Callable[[], Deadlines] = Deadlines,
    ) -> None:
        self.entry_id = entry_id
        self.domain = domain
        self.lock = asyncio.Lock()
        """Held while the entry is set up or unloaded, so the two never interleave."""
        self.integration: Integration | None = None
        self.ctx: SetupContext | None = None
        """Built once per setup (secrets decrypted then), kept until unload."""
        self.toolsets: list[Any] = []
        self._request_reauth = request_reauth
        self._request_reauth_soon = request_reauth_soon
        self._deadlines = deadlines
        self._attempt = 0
        self._retry: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        """The hub's loop, so a plain call made on a worker thread can still ask for reauth."""

    @property
    def deadlines(self) -> Deadlines:
        """How long each caller gives this entry's code (the hub's current setting)."""
        return self._deadlines()

    # Setup and unload

    @property
    def loaded(self) -> bool:
        """Whether the entry is set up: a context is bound and its toolsets are kept."""
        return self.ctx is not None and self.integration is not None

    def bind(self, integration: Integration, ctx: SetupContext) -> None:
        """Hold the context a setup runs with; every later hook gets the same one."""
        self.integration, self.ctx = integration, ctx
        self._loop = asyncio.get_running_loop()

    async def release(self, deadline: float) -> None:
        """Forget the context and run the integration's unload callbacks, newest first."""
        ctx, self.ctx, self.toolsets = self.ctx, None, []
        if ctx is None:
            return
        callbacks, ctx.slot.on_unload = list(ctx.slot.on_unload), []
        for callback in reversed(callbacks):
            with contextlib.suppress(IntegrationError):  # logged by ``call``; the rest still run
                await self.call(UNLOAD, timeout=deadline, target=callback, ctx=ctx, quiet=True)
        ctx.slot.data = None

    # Retry

    def schedule_retry(self, retry: Callable[[], None]) -> float:
        """Call ``retry`` after the next backoff delay; the delay, in seconds."""
        self.cancel_retry(reset=False)
        delay = RETRY_DELAYS[min(self._attempt, len(RETRY_DELAYS) - 1)]
        self._attempt += 1
        self._retry = asyncio.get_running_loop().call_later(delay, retry)
        return delay

    def cancel_retry(self, *, reset: bool) -> None:
        """Stop a pending retry; with ``reset`` the next backoff starts from the first delay."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if reset:
            self._attempt = 0

    # The call

    async def call(self, hook: Hook, *args: Any, timeout: float, **kwargs: Any) -> Any:  # noqa: ASYNC109
        """``_call`` with the entry's id on every log record the integration writes meanwhile."""
        token = ENTRY_ID.set(self.entry_id)
        try:
            return await self._call(hook, *args, timeout=timeout, **kwargs)
        finally:
            ENTRY_ID.reset(token)

    def call_sync(self, hook: Hook, *args: Any, **kwargs: Any) -> Any:
        """``_call_sync`` with the entry's id on every log record the integration writes meanwhile."""
        token = ENTRY_ID.set(self.entry_id)
        try:
            return self._call_sync(hook, *args, **kwargs)
        finally:
            ENTRY_ID.reset(token)

    async def _call(
        self,
        hook: Hook,
        *args: Any,
        timeout: float,  # noqa: ASYNC109  # the caller's deadline, told apart from the integration's
        target: Callable[..., Any] | None = None,
        ctx: SetupContext | None = None,
        label: str | None = None,
        passthrough: tuple[type[BaseException], ...] = (),
        quiet: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call ``hook`` (or ``target``) under ``timeout``; any failure becomes an ``IntegrationError``.

        Without ``target`` the integration's method named by the hook is called with the entry's
        context first. ``passthrough`` exceptions go to the caller untouched (pydantic-ai's control
        flow); so does ``DiskFaultError`` (the hub's disk, not the integration). ``quiet`` logs a
        failure without asking for reauth (unload callbacks).
        """
        what = label or hook.name
        if target is None:
            integration, context = self.integration, ctx or self.ctx
            if integration is None or context is None:
                raise self._not_set_up(hook)
            target, args = getattr(integration, hook.name), (context, *args)
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                result = target(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except passthrough:
            raise
        except DiskFaultError:
            raise
        except ConfigEntryAuthFailed as err:
            raise await self._refused(hook, what, err, quiet) from None
        except ConfigEntryNotReady as err:
            reason = safe_text(err) or "not ready"
            self._warn(hook, what, reason)
            raise self._not_ready(what, reason) from None
        except ConnectionError as err:
            # A service that refused or dropped the connection is expected, not a bug: one line.
            detail = safe_text(err)
            reason = f"cannot connect ({type(err).__name__}{': ' + detail if detail else ''})"
            self._warn(hook, what, reason)
            raise self._not_ready(what, reason) from None
        except TimeoutError as err:
            raise self._timed_out(hook, what, err, timeout, deadline.expired()) from None
        except hook.rejects as err:
            text = safe_text(err, limit=500) or "the input was refused"
            raise IntegrationRejectedError(
                f"{label}: {text}" if label and hook.names_rejection else text,
                reason=f"{type(err).__name__}: {text}",
                code=hook.rejected_code,
            ) from None
        except ConfigEntryError as err:  # the integration's own words: expected, no traceback
            reason = safe_text(err) or f"{what} failed"
            self._warn(hook, what, reason)
            raise IntegrationFailedError(reason, reason=reason, code=hook.failed_code) from None
        except Exception as err:  # noqa: BLE001  # an integration bug stays inside its call
            raise self._failed(hook, what, f"raised {type(err).__name__}", err) from None
        if result is not None and hook.returns and not isinstance(result, hook.returns):
            raise self._failed(hook, what, f"returned {type(result).__name__}", None)
        return result

    def _call_sync(
        self,
        hook: Hook,
        *args: Any,
        target: Callable[..., Any] | None = None,
        label: str | None = None,
    ) -> Any:
        """Call a plain (not async) hook such as a provider factory, with the same outcomes.

        Without ``target`` the integration's method named by the hook is called with the entry's
        context first. A plain call cannot be timed out; a refused key asks for reauth as soon as
        the loop may, also when the call ran on a worker thread.
        """
        what = label or hook.name
        if target is None:
            integration, ctx = self.integration, self.ctx
            if integration is None or ctx is None:
                raise self._not_set_up(hook)
            target, args = getattr(integration, hook.name), (ctx, *args)
        try:
            result = target(*args)
        except DiskFaultError:
            raise
        except ConfigEntryAuthFailed as err:
            reason = refused_reason(err)
            if hook.reauth:
                self._reauth_soon(reason)
            raise self._needs_reauth(reason) from None
        except ConfigEntryNotReady as err:
            reason = safe_text(err) or "not ready"
            self._warn(hook, what, reason)
            raise self._not_ready(what, reason) from None
        except Exception as err:  # noqa: BLE001  # an integration bug stays inside its call
            raise self._failed(hook, what, f"raised {type(err).__name__}", err) from None
        if result is not None and hook.returns and not isinstance(result, hook.returns):
            raise self._failed(hook, what, f"returned {type(result).__name__}", None)
        return result

    def build_toolset(self, returned: Any) -> Any:
        """The toolset behind what setup returned: a deferred one is built through ``call_sync``.

        A build that fails is an ``IntegrationError`` like any other call's (reauth, not ready,
        logged once with a correlation id), and the next run tries it again.
        """
        if not isinstance(returned, DeferredToolset):
            return returned
        from pydantic_ai.toolsets import AbstractToolset  # what the build has just imported

        hook = Hook(TOOLSET_BUILD.name, (AbstractToolset,))
        label = f"toolset {returned.label}"
        toolset = self.call_sync(hook, target=returned.get, label=label)
        if toolset is None:
            raise self._failed(hook, label, "returned None", None)
        return toolset

    def _reauth_soon(self, reason: str) -> None:
        if self._request_reauth_soon is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread (the picker builds toolsets there)
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._request_reauth_soon, self.entry_id, reason)
            return
        self._request_reauth_soon(self.entry_id, reason)

    async def _refused(
        self, hook: Hook, what: str, err: ConfigEntryAuthFailed, quiet: bool
    ) -> EntryNeedsReauthError:
        reason = refused_reason(err)
        if hook.reauth and not quiet:
            await self._request_reauth(self.entry_id, reason)
        return self._needs_reauth(reason)

    def _timed_out(
        self, hook: Hook, what: str, err: TimeoutError, timeout: float, ours: bool
    ) -> IntegrationTimeoutError:
        if ours:
            reason = f"timed out after {timeout:g} s"
            self._warn(hook, what, reason)
            return IntegrationTimeoutError(
                f"{what} of {self.domain} did not finish within {timeout:g} s",
                reason=reason,
                key="errors.integration_call_timed_out",
                integration=self.domain,
                call=what,
                seconds=int(timeout) if float(timeout).is_integer() else timeout,
            )
        detail = safe_text(err)
        reason = f"its service timed out{': ' + detail if detail else ''}"
        self._warn(hook, what, reason)
        return IntegrationTimeoutError(
            f"{self.domain}'s service did not answer in time",
            reason=reason,
            code=UPSTREAM_TIMEOUT,
            key="errors.integration_service_timed_out",
            integration=self.domain,
        )

    def _failed(
        self, hook: Hook, what: str, how: str, err: BaseException | None
    ) -> IntegrationFailedError:
        correlation_id = secrets.token_hex(4)
        _LOGGER.error(
            "%s of %s (%s) %s [correlation id %s]",
            what,
            self.entry_id,
            self.domain,
            how,
            correlation_id,
            exc_info=err,
        )
        # The entry keeps the exception's text (masked), as a person fixing it needs it.
        text = safe_text(err) if err is not None else ""
        failure = IntegrationFailedError(
            f"{what} of {self.domain} failed; the hub's log has the details under {correlation_id}",
            reason=f"{type(err).__name__}: {text}" if err is not None and text else f"{what} {how}",
            code=hook.failed_code,
            key="errors.integration_call_failed",
            integration=self.domain,
            call=what,
            correlation_id=correlation_id,
        )
        failure.cause = type(err).__name__ if err is not None else None
        return failure

    def _needs_reauth(self, reason: str) -> EntryNeedsReauthError:
        # The general sentence would not say which of the person's integrations to sign in to.
        return EntryNeedsReauthError(
            f"{self.domain} needs new credentials",
            reason=reason,
            key="errors.integration_needs_reauth",
            integration=self.domain,
        )

    def _not_ready(self, what: str, reason: str) -> EntryNotReadyError:
        return EntryNotReadyError(
            f"{self.domain} is not ready: {what}",
            reason=reason,
            key="errors.integration_not_ready",
            integration=self.domain,
        )

    def _not_set_up(self, hook: Hook) -> IntegrationFailedError:
        return IntegrationFailedError(
            f"{self.domain} is not set up",
            reason="not set up",
            code=hook.failed_code,
            key="errors.integration_not_set_up",
            integration=self.domain,
        )

    def _warn(self, hook: Hook, what: str, reason: str) -> None:
        if hook.warns:
            _LOGGER.warning("%s of %s (%s): %s", what, self.entry_id, self.domain, reason)
