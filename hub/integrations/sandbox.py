"""Running one short program on a compute provider: the hub's addition to the compute capability.

The specification's ``ComputeProvider`` starts long-lived units (``spawn`` / ``stop``). The agent's
``run_in_sandbox`` tool needs less and more: run one program and return its output. A compute
provider that can do that also has ``run(program)``; the hub's sandbox service uses the first
applicable one, else the built-in provider an admin turned on.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

Language = Literal["sh", "bash", "python"]
LANGUAGES: Final[tuple[str, ...]] = ("sh", "bash", "python")

Limit = Literal["timeout", "cpu", "memory", "output", "processes"]
"""Which limit ended a program: the wall clock, CPU time, memory, output size, process count."""

MAX_PROGRAM_CHARS: Final = 60_000
MAX_STDIN_CHARS: Final = 60_000


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class SandboxProgram(_Contract):
    """What to run: a shell ``command``, or a ``script`` in ``language``; ``stdin`` fed to it."""

    command: str | None = Field(default=None, max_length=MAX_PROGRAM_CHARS)
    script: str | None = Field(default=None, max_length=MAX_PROGRAM_CHARS)
    language: Language = "sh"
    stdin: str = Field(default="", max_length=MAX_STDIN_CHARS)
    timeout_seconds: float = Field(default=10.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_program(self) -> SandboxProgram:
        if (self.command is None) == (self.script is None):
            raise ValueError("give either a command or a script, not both and not neither")
        text = self.command if self.command is not None else self.script
        if not text or not text.strip() or "\x00" in text:
            raise ValueError("the program is empty or contains a NUL character")
        return self


class SandboxResult(_Contract):
    """How a program ended: its exit code (``None`` when killed), its output, and any limit hit."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    """Output was cut at the provider's limit."""
    killed: Limit | None = None
    """The limit that stopped the program, or that it ran into (a fork refused) and survived."""
    duration_seconds: float = Field(default=0.0, ge=0)
    provider_id: str = ""


@runtime_checkable
class SandboxRunner(Protocol):
    """A compute provider that runs one program and returns what it printed."""

    @property
    def id(self) -> str:
        """The provider's id."""
        ...

    async def available(self) -> bool:
        """Whether the provider can run a program now."""
        ...

    async def run(self, program: SandboxProgram) -> SandboxResult:
        """Run ``program`` under the provider's limits; a limit hit is a result, never a raise."""
        ...
