"""The SearXNG form: the instance's address, checked with one real search in JSON."""

from __future__ import annotations

from typing import Any, ClassVar, Final

from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow
from hub.integrations.web import is_web_address

from .client import SearxngClient, SearxngError

VALIDATE_TIMEOUT: Final = 10.0
CHECK_QUERY: Final = "searxng"

SCHEMA: Final = [
    FieldDescriptor(
        name="base_url",
        label="field.base_url.label",
        type="text",
        required=True,
        placeholder="field.base_url.placeholder",
        description="field.base_url.description",
    ),
]


class SearxngConfigFlow(SimpleConfigFlow):
    """``invalid_url``, then why the instance cannot serve the hub (JSON off, no answer, …)."""

    domain = "searxng"
    SCHEMA = SCHEMA
    TITLE_FIELD = "base_url"
    ENTRY_FIELDS: ClassVar[list[str]] = ["base_url"]

    def preprocess(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """Also drop a pasted ``/search``: the entry stores the instance's own address."""
        data = super().preprocess(user_input)
        url = data.get("base_url")
        if isinstance(url, str) and url.lower().endswith("/search"):
            data["base_url"] = url[: -len("/search")].rstrip("/")
        return data

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The required check, then a URL that starts with http:// or https://."""
        errors = super().validate_fields(data)
        url = str(data.get("base_url") or "")
        if "base_url" not in errors and not is_web_address(url):
            errors["base_url"] = "invalid_url"
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """One search in JSON: the error key of whatever stops it, else ``None``."""
        client = SearxngClient(data["base_url"], timeout=VALIDATE_TIMEOUT)
        try:
            await client.search(CHECK_QUERY, limit=1)
        except SearxngError as err:
            return err.kind
        return None
