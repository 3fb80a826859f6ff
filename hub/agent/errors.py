"""What a failed chat run tells the person: a stable code and a sentence, never a secret."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from hub.core.errors import INTERNAL_ERROR, MODEL_ERROR, MODEL_UNAVAILABLE, HubError
from hub.core.redact import safe_text

if TYPE_CHECKING:
    from hub.agent.models import ModelEndpoint
    from hub.config import AgentConfig


def describe(err: Exception, endpoint: ModelEndpoint, config: AgentConfig) -> tuple[str, str]:
    """The chat's ``(code, message)`` for an exception that ended a run."""
    from pydantic_ai.exceptions import (
        ModelAPIError,
        ModelHTTPError,
        UnexpectedModelBehavior,
        UsageLimitExceeded,
    )

    where = f"the model {endpoint.name!r} ({endpoint.base_url})"
    if isinstance(err, HubError):
        return err.code, err.message
    if isinstance(err, TimeoutError):
        seconds = config.run_timeout_seconds
        return MODEL_UNAVAILABLE, f"{where} did not finish within {seconds:g} s"
    if isinstance(err, UsageLimitExceeded):
        return MODEL_ERROR, f"stopped: {safe_text(err)}"
    if isinstance(err, ModelHTTPError):
        status = err.status_code
        if status in (401, 403):
            return MODEL_ERROR, f"{where} refused the API key (HTTP {status})"
        if status == 404:
            return MODEL_ERROR, f"{where} does not know the model {endpoint.model!r} (HTTP 404)"
        if status >= 500 or status == 429:
            return MODEL_UNAVAILABLE, f"{where} answered HTTP {status}; try again later"
        return MODEL_ERROR, f"{where} refused the request (HTTP {status})"
    if isinstance(err, ModelAPIError):
        return (
            MODEL_UNAVAILABLE,
            f"{where} cannot be reached: {safe_text(err) or type(err).__name__}",
        )
    if isinstance(err, UnexpectedModelBehavior):
        return MODEL_ERROR, f"{where} answered something the hub cannot use: {safe_text(err)}"
    name = type(err).__module__.split(".")[0]
    if name in ("openai", "httpx", "httpcore"):
        return MODEL_UNAVAILABLE, f"{where} cannot be reached ({type(err).__name__})"
    correlation_id = secrets.token_hex(4)
    return INTERNAL_ERROR, f"the run failed; the hub's log has the details under {correlation_id}"
