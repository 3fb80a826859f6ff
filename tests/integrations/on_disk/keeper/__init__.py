"""An integration that spreads secrets everywhere a diagnostics download looks (see ``tests/ops``).

It logs its password and its data's API token while it sets up, and its own diagnostics hold an
e-mail address, a serial number it names in ``diagnostics_redact``, and secret request headers.
``name`` picks a misbehaviour of ``async_get_diagnostics``: ``broken`` raises, ``stuck`` hangs.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from hub.integrations.integration import Integration, SetupContext
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow

_LOGGER = logging.getLogger(__name__)

SERIAL = "SN-7781-KEEPER"
CONTACT = "ada.lovelace@example.org"
HEADER_TOKEN = "hdr-3f9c1e77a2b4"
COOKIE = "sessionid=c00k1e-9f8e7d6c"


class KeeperFlow(SimpleConfigFlow):
    """One form: a name, a password (secret), an API token and a note (both plain data)."""

    domain = "keeper"
    TITLE_FIELD = "name"
    SCHEMA: ClassVar[list[FieldDescriptor]] = [
        FieldDescriptor(name="name", label="field.name.label"),
        FieldDescriptor(name="password", label="field.password.label", type="password"),
        FieldDescriptor(name="api_token", label="field.api_token.label", required=False),
        FieldDescriptor(name="note", label="field.note.label", required=False),
    ]


class Keeper(Integration):
    """Sets up at once; careless with secrets in its log and in its diagnostics."""

    config_flow_cls = KeeperFlow
    diagnostics_redact = ("serial_number",)

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        _LOGGER.warning(
            "keeper signing in as %s with password %s and token %s",
            ctx.data.get("name"),
            ctx.secrets.get("password"),
            ctx.data.get("api_token"),
        )
        return []

    async def async_get_diagnostics(self, ctx: SetupContext) -> Mapping[str, Any] | None:
        name = ctx.data.get("name")
        if name == "broken":
            raise RuntimeError("the diagnostics of keeper broke")
        if name == "stuck":
            await asyncio.sleep(3600)
        basic = base64.b64encode(f"{name}:{ctx.secrets.get('password')}".encode()).decode()
        return {
            "firmware": "4.2.1",
            "owner": f"Ada <{CONTACT}>",
            "serial_number": SERIAL,
            "last_request": {
                "url": "https://keeper.example/api/v1/status",
                "headers": {
                    "Authorization": f"Basic {basic}",
                    "X-Auth-Token": HEADER_TOKEN,
                    "Cookie": COOKIE,
                    "Accept": "application/json",
                },
            },
        }


INTEGRATION = Keeper()
