"""The OpenProject form: the instance's URL and a personal API key, checked against ``/users/me``."""

from __future__ import annotations

from typing import Any, ClassVar, Final

from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow

from .client import OpenProjectAuthError, OpenProjectClient, OpenProjectError

VALIDATE_TIMEOUT: Final = 10.0
_API_SUFFIXES: Final = ("/api/v3", "/api")

SCHEMA: Final = [
    FieldDescriptor(
        name="base_url",
        label="field.base_url.label",
        type="text",
        required=True,
        placeholder="field.base_url.placeholder",
        description="field.base_url.description",
    ),
    FieldDescriptor(
        name="api_key",
        label="field.api_key.label",
        type="secret",
        required=True,
        description="field.api_key.description",
    ),
]


class OpenProjectConfigFlow(SimpleConfigFlow):
    """The specification's flow: ``invalid_url`` and ``auth_failed``; an unreachable server never blocks."""

    domain = "openproject"
    SCHEMA = SCHEMA
    TITLE_FIELD = "base_url"
    ENTRY_FIELDS: ClassVar[list[str]] = ["base_url", "api_key"]

    def preprocess(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """Also drop a pasted ``/api/v3``: the entry stores the instance's own URL."""
        data = super().preprocess(user_input)
        url = data.get("base_url")
        if isinstance(url, str):
            for suffix in _API_SUFFIXES:
                if url.lower().endswith(suffix):
                    url = url[: -len(suffix)].rstrip("/")
                    break
            data["base_url"] = url
        return data

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The required checks, then a URL that starts with http:// or https://."""
        errors = super().validate_fields(data)
        url = str(data.get("base_url") or "")
        if "base_url" not in errors and not url.startswith(("http://", "https://")):
            errors["base_url"] = "invalid_url"
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """``auth_failed`` when OpenProject clearly refuses the key; else ``None``, even offline."""
        async with OpenProjectClient(
            data["base_url"], data["api_key"], timeout=VALIDATE_TIMEOUT
        ) as client:
            try:
                await client.me()
            except OpenProjectAuthError:
                return "auth_failed"
            except OpenProjectError:
                return None  # don't block a possibly-valid key behind a flaky endpoint
        return None
