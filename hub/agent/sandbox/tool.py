"""The agent's ``run_in_sandbox`` tool: run a short program, get its exit code and output.

High-privilege (it runs code the model wrote): the untrusted gate removes it, a run gets it only
when its sandbox choice is not empty, which the tier gate already shaped, and it is not read-only,
so by default a person approves each call (``hub.agent.approvals``).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError

from hub.agent.deps import context_tool
from hub.agent.sandbox.service import SandboxService
from hub.core.errors import BadRequestError
from hub.integrations.sandbox import Language, SandboxProgram, SandboxResult

TOOL_NAME: Final = "run_in_sandbox"

_NOTES: Final = {
    "timeout": "stopped: it ran past its time limit",
    "cpu": "stopped: it used up its CPU-time limit",
    "memory": "it ran out of memory: the sandbox's memory limit refused an allocation",
    "output": "stopped: it printed more than the output limit; the output is cut",
    "processes": "it hit the sandbox's process limit (a fork was refused)",
}


def sandbox_toolset(service: SandboxService) -> Any:
    """One tool, reading the run's provider choice from ``ctx.deps.sandbox``."""
    from pydantic_ai.toolsets import FunctionToolset

    async def run_in_sandbox(
        ctx: Any,
        command: str | None = None,
        script: str | None = None,
        language: Language = "sh",
        stdin: str = "",
        timeout: float = 10.0,  # noqa: ASYNC109  # the program's limit, passed to the sandbox
    ) -> dict[str, Any]:
        """Run a short program in an isolated sandbox with no network and a scratch directory.

        Give either a one-line ``command`` or a multi-line ``script``. Returns the exit code,
        stdout and stderr (cut when long), and which limit stopped the program, if any.

        Args:
            command: A command line, e.g. ``ls -la`` (sh), or code for ``python -c``.
            script: A whole program's source, run by the interpreter of ``language``.
            language: ``sh``, ``bash`` or ``python``.
            stdin: Text given to the program on its standard input.
            timeout: Seconds the program may run; the sandbox's own limit may be shorter.
        """
        choice = ctx.deps.sandbox
        if choice is None:  # the assembler offers the tool only with a choice; a stale run
            raise BadRequestError("no sandbox is available to this conversation")
        try:
            program = SandboxProgram(
                command=command,
                script=script,
                language=language,
                stdin=stdin,
                timeout_seconds=max(0.1, min(timeout, 3600.0)),
            )
        except ValidationError as err:
            reason = "; ".join(str(e["msg"]) for e in err.errors())
            raise BadRequestError(f"cannot run that: {reason}") from None
        return describe(await service.run(choice, program))

    return FunctionToolset([context_tool(run_in_sandbox)], id="sandbox")


def describe(result: SandboxResult) -> dict[str, Any]:
    """What the model is told: the result, with a sentence for the limit it hit."""
    answer = result.model_dump(exclude_defaults=True)
    answer["exit_code"] = result.exit_code
    if result.killed is not None:
        answer["note"] = _NOTES[result.killed]
    elif result.truncated:
        answer["note"] = "the output is cut at the sandbox's output limit"
    return answer
