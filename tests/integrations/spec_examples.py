"""The specification's example integrations, ported by the porting rule alone, and fakes of their services."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import BasicAuth, web


def port(text: str) -> str:
    """The porting rule, and nothing else."""
    return text.replace("personal_agent.integrations", "hub.integrations").replace(
        "PersonalAgentIntegration", "Integration"
    )


OPENPROJECT_CONFIG_FLOW = '''
from typing import Any, ClassVar

import httpx

from personal_agent.integrations.manifest import FieldDescriptor
from personal_agent.integrations.simple_flow import SimpleConfigFlow

SCHEMA = [
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
    domain = "openproject"
    SCHEMA = SCHEMA
    TITLE_FIELD = "base_url"
    ENTRY_FIELDS: ClassVar[list[str]] = ["base_url", "api_key"]

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        errors = super().validate_fields(data)  # required checks
        url = str(data.get("base_url") or "")
        if "base_url" not in errors and not url.startswith(("http://", "https://")):
            errors["base_url"] = "invalid_url"
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """Error key on a clear auth failure; None on success OR a network error."""
        try:
            async with httpx.AsyncClient(
                timeout=10.0, auth=httpx.BasicAuth("apikey", data["api_key"])
            ) as client:
                resp = await client.get(
                    f"{data['base_url']}/api/v3/users/me",
                    headers={"Accept": "application/json"},
                )
            if resp.status_code in (401, 403):
                return "auth_failed"
            return None
        except Exception:
            return None  # don't block a possibly-valid key behind a flaky endpoint
'''

# The "Build an integration" page's smallest flow: its TITLE_FIELD names the secret.
MYSERVICE_CONFIG_FLOW = """
from personal_agent.integrations.manifest import FieldDescriptor
from personal_agent.integrations.simple_flow import SimpleConfigFlow

SCHEMA = [
    FieldDescriptor(
        name="api_key",
        label="field.api_key.label",   # an i18n key resolved from translations/<lang>.json
        type="secret",                 # write-only, envelope-encrypted
        required=True,
        description="field.api_key.description",
    ),
]


class MyConfigFlow(SimpleConfigFlow):
    domain = "myservice"
    SCHEMA = SCHEMA
    TITLE_FIELD = "api_key"   # which field becomes the entry title

    async def validate(self, data):
        # Return a localized error KEY ("auth_failed") or None on success.
        # Raising is fine — the exception is logged but NEVER shown to the user.
        return None
"""


OPENPROJECT_KEY = "op-live-0123456789abcdef"


class FakeOpenProject:
    """OpenProject's ``/api/v3/users/me`` on 127.0.0.1: 200 for the right API key, 401 otherwise."""

    def __init__(self, key: str = OPENPROJECT_KEY) -> None:
        self.key = key
        self.requests = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v3/users/me", self.users_me)
        return app

    async def users_me(self, request: web.Request) -> web.Response:
        self.requests += 1
        header = request.headers.get("Authorization", "")
        auth = BasicAuth.decode(header) if header.startswith("Basic ") else None
        if auth is None or (auth.login, auth.password) != ("apikey", self.key):
            return web.json_response({"_type": "Error", "message": "Unauthenticated"}, status=401)
        return web.json_response({"_type": "User", "id": 1, "name": "Alice"})


SIGNAL_CONFIG_FLOW = """
from typing import Any

from personal_agent.integrations.config_flow import ConfigFlow, FlowResult
from personal_agent.integrations.manifest import FieldDescriptor

from .client import linked_numbers, qrcode_link
from .providers import DEFAULT_BASE

USER_SCHEMA = [
    FieldDescriptor(
        name="number",
        label="field.number.label",
        type="text",
        placeholder="field.number.placeholder",
        description="field.number.description",
    ),
    FieldDescriptor(
        name="base_url",
        label="field.base_url.label",
        type="text",
        required=False,
        default=DEFAULT_BASE,
        description="field.base_url.description",
    ),
]


def _qr_form(self: ConfigFlow, qr: str | None, label: str, error: str | None) -> FlowResult:
    fields = [FieldDescriptor(name="qr", label=label, type="note", required=False, image=qr)]
    return self.async_show_form(
        step_id="link", data_schema=fields, errors={"base": error} if error else None
    )


class SignalConfigFlow(ConfigFlow):
    domain = "signal"

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=USER_SCHEMA)
        number = str(user_input.get("number") or "").strip()
        base_url = str(user_input.get("base_url") or DEFAULT_BASE).strip().rstrip("/")
        if not number.startswith("+") or not number[1:].replace(" ", "").isdigit():
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"number": "invalid_number"}
            )
        try:
            nums = await linked_numbers(base_url)
        except Exception:
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base": "unreachable"}
            )
        if number in nums:  # already linked → done
            return self.async_create_entry(
                title=number, data={"number": number, "base_url": base_url}
            )
        try:
            qr = await qrcode_link(base_url)
        except Exception:
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base": "unreachable"}
            )
        return _qr_form(self, qr, "link.instructions", None)  # advance to the "link" step

    async def async_step_link(self, user_input: dict[str, Any] | None) -> FlowResult:
        # Values from the "user" step are on self._collected.
        number = str(self._collected.get("number") or "").strip()
        base_url = str(self._collected.get("base_url") or DEFAULT_BASE).strip().rstrip("/")
        try:
            nums = await linked_numbers(base_url)
        except Exception:
            nums = []
        if number in nums:
            return self.async_create_entry(
                title=number, data={"number": number, "base_url": base_url}
            )
        try:
            qr = await qrcode_link(base_url)  # re-issue a fresh QR
        except Exception:
            qr = None
        return _qr_form(self, qr, "link.not_linked", "not_linked")
"""

# The specification leaves the client out; this one speaks signal-cli-rest-api's two endpoints.
SIGNAL_CLIENT = '''
import base64

import httpx


async def linked_numbers(base_url: str) -> list[str]:
    """The numbers linked to the signal-cli REST API at ``base_url``."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        resp = await client.get(f"{base_url}/v1/accounts")
        resp.raise_for_status()
        return [str(number) for number in resp.json()]


async def qrcode_link(base_url: str) -> str:
    """A fresh device-link QR code as a data URL."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        resp = await client.get(f"{base_url}/v1/qrcodelink", params={"device_name": "hub"})
        resp.raise_for_status()
        return "data:image/png;base64," + base64.b64encode(resp.content).decode()
'''

PNG = b"\x89PNG\r\n\x1a\n-a-qr-code-"
NUMBER = "+4915112345678"


class FakeSignal:
    """signal-cli-rest-api on 127.0.0.1: accounts are linked when the test says the QR was scanned."""

    def __init__(self) -> None:
        self.accounts: list[str] = []
        self.qr_requests = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/accounts", self.list_accounts)
        app.router.add_get("/v1/qrcodelink", self.qrcodelink)
        return app

    async def list_accounts(self, request: web.Request) -> web.Response:
        return web.json_response(self.accounts)

    async def qrcodelink(self, request: web.Request) -> web.Response:
        assert request.query["device_name"] == "hub"
        self.qr_requests += 1
        return web.Response(body=PNG, content_type="image/png")


OPENPROJECT_INIT = """
from typing import Any

from personal_agent.integrations.integration import PersonalAgentIntegration, SetupContext

from .config_flow import OpenProjectConfigFlow


class OpenProjectIntegration(PersonalAgentIntegration):
    config_flow_cls = OpenProjectConfigFlow

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        return []


INTEGRATION = OpenProjectIntegration()
"""

OPENPROJECT_EN = {
    "title": "OpenProject",
    "field": {
        "base_url": {
            "label": "OpenProject URL",
            "placeholder": "https://openproject.example.com",
            "description": "Your OpenProject instance URL (without /api).",
        },
        "api_key": {"label": "API key", "description": "Your personal API key. Stored encrypted."},
    },
    "error": {
        "invalid_url": "Enter a URL starting with http:// or https://",
        "auth_failed": "Authentication failed — check the URL and API key.",
    },
}

OPENPROJECT_DE = {
    "title": "OpenProject",
    "field": {
        "base_url": {"label": "OpenProject-Adresse"},
        "api_key": {"label": "API-Schlüssel"},
    },
    "error": {"auth_failed": "Anmeldung fehlgeschlagen – Adresse und API-Schlüssel prüfen."},
}

SIGNAL_INIT = """
from personal_agent.integrations.integration import PersonalAgentIntegration

from .config_flow import SignalConfigFlow


class SignalIntegration(PersonalAgentIntegration):
    config_flow_cls = SignalConfigFlow


INTEGRATION = SignalIntegration()
"""


def write_openproject(root: Path) -> Path:
    """The specification's OpenProject integration as a folder the loader discovers."""
    folder = root / "openproject"
    (folder / "translations").mkdir(parents=True)
    (folder / "manifest.yaml").write_text(
        "domain: openproject\nname: OpenProject\nversion: '1.0.0'\nintegration_type: service\n"
        "config_flow: true\nsingle_instance: false\niot_class: cloud_polling\n"
        "required_tier: internal\n"
    )
    (folder / "__init__.py").write_text(port(OPENPROJECT_INIT))
    (folder / "config_flow.py").write_text(port(OPENPROJECT_CONFIG_FLOW))
    (folder / "translations" / "en.json").write_text(json.dumps(OPENPROJECT_EN))
    (folder / "translations" / "de.json").write_text(json.dumps(OPENPROJECT_DE))
    return folder


def write_signal(root: Path, default_base: str = "http://127.0.0.1:9") -> Path:
    """The specification's Signal integration (multi-step, QR link) as a discoverable folder."""
    folder = root / "signal"
    (folder / "translations").mkdir(parents=True)
    (folder / "manifest.yaml").write_text(
        "domain: signal\nname: Signal\nconfig_flow: true\nsingle_instance: false\n"
        "iot_class: local_push\n"
    )
    (folder / "__init__.py").write_text(port(SIGNAL_INIT))
    (folder / "config_flow.py").write_text(port(SIGNAL_CONFIG_FLOW))
    (folder / "client.py").write_text(SIGNAL_CLIENT)
    (folder / "providers.py").write_text(f"DEFAULT_BASE = {default_base!r}\n")
    (folder / "translations" / "en.json").write_text(
        json.dumps(
            {
                "title": "Signal",
                "field": {"number": {"label": "Phone number"}, "base_url": {"label": "API URL"}},
                "link": {
                    "instructions": "Scan this code in Signal: Settings → Linked devices.",
                    "not_linked": "Not linked yet. Scan the new code.",
                },
                "error": {
                    "not_linked": "The device is not linked yet.",
                    "unreachable": "No answer",
                },
            }
        )
    )
    return folder
