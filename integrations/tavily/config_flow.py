"""The Tavily form: an API key, checked with one small search (one credit).

The API address is Tavily's own unless "another API address" is ticked: for a proxy in front of
Tavily, or a fake in tests. Hidden until then, and stored only when ticked.
"""

from __future__ import annotations

from typing import Any, Final

from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow
from hub.integrations.web import is_web_address

from .client import (
    BAD_REQUEST,
    DEFAULT_BASE_URL,
    SERVICE_ERROR,
    TavilyClient,
    TavilyError,
)

VALIDATE_TIMEOUT: Final = 10.0
CHECK_QUERY: Final = "tavily"
_CUSTOM: Final[dict[str, tuple[str | int | float | bool, ...]]] = {"custom_endpoint": (True,)}

SCHEMA: Final = [
    FieldDescriptor(
        name="api_key",
        label="field.api_key.label",
        type="secret",
        required=True,
        placeholder="field.api_key.placeholder",
        description="field.api_key.description",
    ),
    FieldDescriptor(
        name="custom_endpoint",
        label="field.custom_endpoint.label",
        type="bool",
        required=False,
        default=False,
        description="field.custom_endpoint.description",
    ),
    FieldDescriptor(
        name="api_url",
        label="field.api_url.label",
        type="text",
        required=True,
        default=DEFAULT_BASE_URL,
        description="field.api_url.description",
        show_when=_CUSTOM,
    ),
]


class TavilyConfigFlow(SimpleConfigFlow):
    """``invalid_key``, ``plan_limit``, ``paygo_limit``, ``rate_limited`` and the unreachable kinds."""

    domain = "tavily"
    SCHEMA = SCHEMA

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The required checks, then an http or https API address when another one is chosen."""
        errors = super().validate_fields(data)
        url = str(data.get("api_url") or "")
        if _custom(data) and "api_url" not in errors and not is_web_address(url):
            errors["api_url"] = "invalid_url"
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """One search for one result: the error key of whatever Tavily answered, else ``None``."""
        client = TavilyClient(data["api_key"], base_url=api_url(data), timeout=VALIDATE_TIMEOUT)
        try:
            await client.search(CHECK_QUERY, limit=1)
        except TavilyError as err:
            return SERVICE_ERROR if err.kind == BAD_REQUEST else err.kind
        return None

    def entry_title(self, data: dict[str, Any]) -> str:
        """``Tavily`` (the key is never a title)."""
        return "Tavily"

    def entry_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """The key, and the API address only when another one was chosen."""
        stored = {"api_key": data["api_key"]}
        if _custom(data):  # kept ticked, so editing the entry shows the address again
            stored |= {"custom_endpoint": True, "api_url": api_url(data)}
        return stored


def api_url(data: dict[str, Any]) -> str:
    """The API address an entry (or a submission) uses."""
    url = data.get("api_url") if _custom(data) else None
    return str(url).rstrip("/") if isinstance(url, str) and url else DEFAULT_BASE_URL


def _custom(data: dict[str, Any]) -> bool:
    return data.get("custom_endpoint") is True
