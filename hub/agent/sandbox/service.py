"""The sandbox service: which compute provider runs a run's programs, and running one through it.

The specification's precedence: the first applicable integration offering a compute provider (the
person's own entries, then global ones, each past the tier gate), else the built-in provider an
admin turned on (``sandbox.provider``), under its own tier setting. An integration's provider is
reached only through its entry's runtime, like every other provider. A provider of an untrusted
integration is never chosen: its results would engage the untrusted gate, which removes the tool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from hub.agent.capabilities import overrides, runtime_deadline
from hub.agent.governance import tier_ok
from hub.agent.sandbox.bubblewrap import BubblewrapProvider
from hub.config import SandboxConfig
from hub.core.errors import HubError, IntegrationError
from hub.integrations.capabilities import COMPUTE, PROVIDER_HOOKS
from hub.integrations.entry import ConfigEntry
from hub.integrations.integration import Integration
from hub.integrations.manifest import IntegrationManifest, Tier
from hub.integrations.runtime import EntryRuntime, provider_hook
from hub.integrations.sandbox import SandboxProgram, SandboxResult, SandboxRunner

_LOGGER = logging.getLogger(__name__)

BUILTIN: Final = "hub"
"""The ``domain`` of the built-in provider's option."""
_RUN_MARGIN_SECONDS: Final = 15.0
"""Beyond a program's own timeout, what a provider may take to start and report it."""


class SandboxUnavailableError(HubError):
    """No provider of the run can run a program now."""

    http_status = 503
    logged = False


@dataclass(frozen=True, slots=True)
class ComputeOption:
    """A provider a run may use, where it came from, and the runtime its calls go through."""

    runner: SandboxRunner
    domain: str
    runtime: EntryRuntime | None = None


@dataclass(frozen=True, slots=True)
class SandboxChoice:
    """A run's providers in precedence order; the first available one runs each program."""

    options: tuple[ComputeOption, ...]


class SandboxService:
    """Chooses a run's compute providers and runs programs on them."""

    def __init__(self, settings: SandboxConfig, builtin: SandboxRunner | None = None) -> None:
        self.settings = settings
        if builtin is None and settings.provider == "bubblewrap":
            builtin = BubblewrapProvider(settings)
        self.builtin = builtin

    def choose(
        self,
        candidates: Iterable[tuple[ConfigEntry, Integration, IntegrationManifest]],
        runtime_of: Callable[[str], EntryRuntime | None],
        tier: Tier,
    ) -> SandboxChoice | None:
        """The run's options: ``candidates`` come ordered and past the tier gate; ``None``: none."""
        hook = PROVIDER_HOOKS[COMPUTE]
        options: list[ComputeOption] = []
        for entry, integration, manifest in candidates:
            if manifest.trust_tier != "trusted" or not overrides(integration, hook):
                continue
            runtime = runtime_of(entry.entry_id)
            if runtime is None:
                continue
            try:
                offered = runtime.call_sync(provider_hook(hook, object))
            except IntegrationError:  # the runtime logged it; the run goes on without it
                continue
            if isinstance(offered, SandboxRunner):
                options.append(ComputeOption(offered, entry.domain, runtime))
            elif offered is not None:
                _LOGGER.debug("%s offers compute but cannot run a program", entry.domain)
        if self.builtin is not None and tier_ok(tier, self.settings.required_tier):
            options.append(ComputeOption(self.builtin, BUILTIN))
        return SandboxChoice(tuple(options)) if options else None

    async def run(self, choice: SandboxChoice, program: SandboxProgram) -> SandboxResult:
        """Run ``program`` on the first available option; a limit it hits is in the result."""
        for option in choice.options:
            try:
                if not await self._call(option, "available", timeout=None):
                    continue
            except IntegrationError:  # logged by the runtime; the next provider may do
                continue
            limit = program.timeout_seconds + _RUN_MARGIN_SECONDS
            result = await self._call(option, "run", timeout=limit, program=program)
            if not isinstance(result, SandboxResult):
                result = SandboxResult.model_validate(result)
            return result.model_copy(update={"provider_id": option.runner.id})
        raise SandboxUnavailableError("no sandbox can run a program now; try again later")

    async def _call(
        self,
        option: ComputeOption,
        method: str,
        *,
        timeout: float | None,  # noqa: ASYNC109  # a provider's deadline, kept by its runtime
        **kwargs: Any,
    ) -> Any:
        target = getattr(option.runner, method)
        runtime = option.runtime
        if runtime is None:
            return await target(**kwargs)
        return await runtime.call(
            provider_hook(method, object),
            timeout=timeout if timeout is not None else runtime_deadline(runtime),
            target=target,
            label=f"compute provider {method}",
            **kwargs,
        )
