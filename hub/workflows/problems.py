"""What is wrong with a workflow: each problem's path, reason and sentence, and the shape check.

A reason's sentence is ``errors.workflow_invalid_<reason>``; a shape problem (``field``) also names
the ``validation.<type>`` sentence for its ``problem`` placeholder, so every language can say it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import ValidationError

from hub.core.errors import WORKFLOW_INVALID, BadRequestError, HubError, Param
from hub.core.yamlfile import dotted
from hub.workflows.model import WorkflowInput

Reason = Literal[
    "field",
    "entity_not_found",
    "action_not_declared",
    "argument_invalid",
    "cron_invalid",
    "expression_invalid",
    "event_type_reserved",
    "entry_not_found",
    "schedule_needs_one",
    "numeric_needs_one",
    "url_invalid",
    "person_not_found",
    "model_not_found",
]
REASONS: Final[tuple[Reason, ...]] = Reason.__args__  # type: ignore[attr-defined]


def reason_key(reason: str) -> str:
    """The translation key of a reason's sentence."""
    return f"errors.{WORKFLOW_INVALID}_{reason}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a workflow: where, why, the English sentence and its params.

    ``problem_type`` (with ``problem_params``) names a ``validation.<type>`` sentence for the
    ``problem`` placeholder, so it can be said in the reader's language too.
    """

    path: str
    reason: Reason
    message: str
    params: Mapping[str, Param] = field(default_factory=dict)
    problem_type: str | None = None
    problem_params: Mapping[str, Param] = field(default_factory=dict)

    def error(self) -> HubError:
        """This problem as an error (in English) of its own key."""
        return HubError(self.message, code=WORKFLOW_INVALID, **self.error_params())

    def error_params(self) -> dict[str, Any]:
        """The key and params of this problem's sentence."""
        return {
            "key": reason_key(self.reason),
            "path": self.path,
            "reason": self.reason,
            **self.params,
        }


class WorkflowInvalidError(BadRequestError):
    """A workflow that cannot be saved; ``problems`` holds every problem, the first is this one's."""

    code = WORKFLOW_INVALID

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        super().__init__(first.message, **first.error_params())
        self.problems = tuple(problems)


def parse_input(data: Any) -> WorkflowInput:
    """``data`` as a workflow's input; a ``WorkflowInvalidError`` names every field that is wrong."""
    try:
        return WorkflowInput.model_validate(data)
    except ValidationError as err:
        raise WorkflowInvalidError(
            [_shape_problem(error, data) for error in err.errors()]
        ) from None


def _shape_problem(error: Any, data: Any) -> Problem:
    path = dotted(_data_path(tuple(error["loc"]), data)) or "body"
    text = str(error["msg"]).removeprefix("Value error, ")
    context = error.get("ctx") or {}
    return Problem(
        path,
        "field",
        f"{path}: {text}",
        {"problem": text},
        problem_type=str(error["type"]),
        problem_params={name: str(value)[:100] for name, value in context.items()},
    )


def _data_path(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """``loc`` without the union tags pydantic puts in (``actions[0].entity_action.args``)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if (
            isinstance(part, str)
            and isinstance(current, dict)
            and part not in current
            and current.get("type") == part
        ):
            continue
        path.append(part)
        if isinstance(current, dict) and isinstance(part, str):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            current = None
    return tuple(path)
