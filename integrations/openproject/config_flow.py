"""The OpenProject form: the instance's URL and a personal API key, checked against ``/users/me``.

A refused key is a field error. A server that does not answer never blocks a key that may well
be right: the person is told what failed and chooses to add the entry anyway (it connects once
the server answers) or to go back and correct the address.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from hub.integrations.config_flow import BASE_ERROR, STEP_RECONFIGURE, STEP_USER, FlowResult
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import CONNECTION_FAILED, SimpleConfigFlow

from .client import (
    OpenProjectAuthError,
    OpenProjectClient,
    OpenProjectConnectionError,
    OpenProjectError,
)

VALIDATE_TIMEOUT: Final = 10.0
_API_SUFFIXES: Final = ("/api/v3", "/api")
STEP_UNREACHABLE: Final = "unreachable"
STEP_ADD_ANYWAY: Final = "add_anyway"
STEP_UNREACHABLE_EDIT: Final = "unreachable_edit"
STEP_SAVE_ANYWAY: Final = "save_anyway"
UNREACHABLE_KEYS: Final = frozenset(
    {"cannot_connect", "timeout", "service_unavailable", CONNECTION_FAILED}
)
"""The connection test's answers that mean "no answer", not "wrong input"."""

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
    """The specification's flow: ``invalid_url`` and ``auth_failed``; no answer asks what to do."""

    domain = "openproject"
    SCHEMA = SCHEMA
    TITLE_FIELD = "base_url"
    ENTRY_FIELDS: ClassVar[list[str]] = ["base_url", "api_key"]

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The form; a server that does not answer leads to the ``unreachable`` choice."""
        return self._ask_when_unreachable(await super().async_step_user(user_input), STEP_USER)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The same form, pre-filled; a server that does not answer leads to the same choice."""
        result = await super().async_step_reconfigure(user_input)
        return self._ask_when_unreachable(result, STEP_RECONFIGURE)

    async def async_step_add_anyway(self, user_input: dict[str, Any] | None) -> FlowResult:
        """Keep what was entered although the server did not answer; setup retries until it does."""
        data = self.preprocess(self._merged({}))
        return self.async_create_entry(title=self.entry_title(data), data=self.entry_data(data))

    async def async_step_save_anyway(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The same as ``add_anyway``, for an entry being edited."""
        return await self.async_step_add_anyway(user_input)

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
        """``auth_failed`` when OpenProject refuses the key; why, when it does not answer."""
        async with OpenProjectClient(
            data["base_url"], data["api_key"], timeout=VALIDATE_TIMEOUT
        ) as client:
            try:
                await client.me()
            except OpenProjectAuthError:
                return "auth_failed"
            except OpenProjectConnectionError as err:
                return err.kind
            except OpenProjectError:
                return None  # an odd answer (a proxy's page, say) does not block a valid key
        return None

    def _ask_when_unreachable(self, result: FlowResult, back: str) -> FlowResult:
        reason = result.errors.get(BASE_ERROR)
        if reason not in UNREACHABLE_KEYS:
            return result
        url = self.preprocess(self._merged({})).get("base_url") or ""
        editing = back == STEP_RECONFIGURE
        return self.async_show_menu(
            step_id=STEP_UNREACHABLE_EDIT if editing else STEP_UNREACHABLE,
            menu_options=[STEP_SAVE_ANYWAY if editing else STEP_ADD_ANYWAY, back],
            errors={BASE_ERROR: reason},
            description_placeholders={"url": str(url)},
        )
