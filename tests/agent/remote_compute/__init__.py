"""A test integration whose compute provider "runs" a program remotely: it answers who ran it.

The tests copy this folder into a hub's integrations directory; it stands for a cloud sandbox.
"""

from __future__ import annotations

from typing import Any

from hub.integrations.capabilities import ComputeHandle, ComputeSpec
from hub.integrations.integration import Integration
from hub.integrations.sandbox import SandboxProgram, SandboxResult

RAN: list[SandboxProgram] = []


class RemoteSandbox:
    """Spawns nothing; ``run`` answers at once with where the program went."""

    id = "remote"

    async def available(self) -> bool:
        """Always."""
        return True

    async def spawn(self, spec: ComputeSpec) -> ComputeHandle:
        """A unit that exists only in name."""
        return ComputeHandle(provider_id=self.id, handle=spec.name)

    async def stop(self, handle: ComputeHandle) -> None:
        """Nothing to stop."""

    async def is_alive(self, handle: ComputeHandle) -> bool:
        """Never alive."""
        return False

    async def run(self, program: SandboxProgram) -> SandboxResult:
        """Record the program and say it ran remotely."""
        RAN.append(program)
        return SandboxResult(exit_code=0, stdout=f"remote ran: {program.command}\n")


class RemoteCompute(Integration):
    """Offers its sandbox to every run that may see its entries."""

    def compute_provider(self, ctx: Any) -> RemoteSandbox:
        """The provider."""
        return RemoteSandbox()


INTEGRATION = RemoteCompute()
